// api.js - the one place that holds the credential and talks to the bridge.
// The credential lives in sessionStorage only (this tab, cleared on
// sign-out); it never goes into a URL, localStorage or a cookie. Every call
// is same-origin (relative URLs) so the page's CSP connect-src 'self' holds.
const KEY = 'vmb.console.credential';

export function getCredential() {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try { return JSON.parse(raw); } catch { return null; }
}
export function setCredential(kind, secret) {
  sessionStorage.setItem(KEY, JSON.stringify({ kind, secret }));
}
export function clearCredential() { sessionStorage.removeItem(KEY); sessionStorage.clear(); }

export function authHeaders(cred = getCredential()) {
  if (!cred) return {};
  return cred.kind === 'bearer' ? { Authorization: 'Bearer ' + cred.secret }
                                : { 'X-API-Key': cred.secret };
}

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message || code || ('HTTP ' + status));
    this.status = status; this.code = code; this.requestId = requestId;
  }
  describe() {
    return `${this.status} ${this.code || ''}: ${this.message}` +
      (this.requestId ? ` (request ${this.requestId})` : '');
  }
}

// call(method, path, body, opts): JSON in, JSON (or text) out; a non-2xx
// answer throws ApiError with the bridge's {error:{code,message,request_id}}.
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...authHeaders(opts.credential), ...(opts.headers || {}) };
  const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = text;
  if ((res.headers.get('Content-Type') || '').includes('json') && text) {
    try { data = JSON.parse(text); } catch { /* leave as text */ }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    throw new ApiError(res.status, e.code, e.message || (typeof data === 'string' ? data.slice(0, 300) : ''),
                       e.request_id || res.headers.get('X-Request-Id'));
  }
  return opts.raw ? { data, headers: res.headers, status: res.status } : data;
}

// MCP over Streamable HTTP: one JSON-RPC message per POST, no session
// needed for tools/list and tools/call. The answer may be JSON or one SSE
// "message" event; both are read here.
let rpcId = 0;
export async function mcp(method, params) {
  const headers = { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' };
  const r = await call('POST', '/mcp/rpc', { jsonrpc: '2.0', id: ++rpcId, method, params: params || {} },
                       { headers, raw: true });
  let msg = r.data;
  if (typeof msg === 'string') {
    const line = msg.split('\n').find(l => l.startsWith('data:'));
    msg = line ? JSON.parse(line.slice(5)) : {};
  }
  if (msg.error) throw new ApiError(200, String(msg.error.code), msg.error.message);
  return msg.result;
}

let openapiCache = null;
export async function openapi() {
  if (!openapiCache) openapiCache = await call('GET', '/openapi.json');
  return openapiCache;
}
