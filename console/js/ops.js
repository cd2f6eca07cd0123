// ops.js - Operations hub: KV browser, Transit, Database (lease
// countdown), SSH and MCP tools (a form generated from inputSchema).
import { call, mcp } from './api.js';
import { el, clear, show, showError, tabs, fmtLeft, status } from './ui.js';
import { renderOps } from './opforms.js';
import { schemaForm } from './schemaform.js';

const enc = p => p.split('/').map(encodeURIComponent).join('/');
let timers = [];

export async function render(root) {
  for (const t of timers) clearInterval(t);
  timers = [];
  const body = el('div', { class: 'card' });
  const t = tabs(['KV', 'Transit', 'Database', 'SSH', 'MCP'], async name => {
    clear(body);
    if (name === 'KV') kv(body);
    else if (name === 'Transit') await renderOps(body, '/transit/');
    else if (name === 'Database') await db(body);
    else if (name === 'SSH') await renderOps(body, '/ssh/');
    else await mcpTab(body);
  });
  root.append(el('h2', {}, 'Operations'), t.bar, body);
  t.pick('KV');
  status('operations');
}

function kv(box) {
  const prefix = el('input', { type: 'text', id: 'kv-prefix', placeholder: 'folder, e.g. demo/' });
  const listing = el('ul', { id: 'kv-list' });
  const path = el('input', { type: 'text', id: 'kv-path', placeholder: 'e.g. demo/db' });
  const data = el('textarea', { id: 'kv-data', placeholder: '{"user": "svc"}' });
  const version = el('input', { type: 'number', id: 'kv-version', min: 1, placeholder: 'latest' });
  const versions = el('input', { type: 'text', id: 'kv-versions', placeholder: '1 2' });
  // Response wrapping (docs/wrapping.md): with a TTL the read answers a
  // single-use wrapping token and the secret never reaches this page.
  const wrapTtl = el('input', { type: 'text', id: 'kv-wrap', placeholder: 'e.g. 60s (empty: no wrapping)' });
  const out = el('pre', { class: 'out', id: 'kv-out' });
  const run = fn => async () => { out.classList.remove('error'); try { show(out, await fn()); } catch (e) { showError(out, e); } };
  const vlist = () => versions.value.split(/[\s,]+/).filter(Boolean).map(Number);
  async function browse() {
    clear(listing);
    const q = prefix.value ? '?prefix=' + encodeURIComponent(prefix.value) : '';
    const r = await call('GET', '/secrets' + q);
    const keys = r.keys || r.data?.keys || [];
    for (const k of keys) {
      const full = (prefix.value || '') + k;
      listing.append(el('li', {}, el('a', { href: '#ops', 'data-kv': full, onclick: async ev => {
        ev.preventDefault();
        if (k.endsWith('/')) { prefix.value = full; await run(browse)(); } else { path.value = full; await run(read)(); }
      } }, k)));
    }
    return r;
  }
  async function read() {
    const params = new URLSearchParams();
    if (version.value) params.set('version', version.value);
    if (wrapTtl.value.trim()) params.set('wrap_ttl', wrapTtl.value.trim());
    const q = params.toString() ? '?' + params.toString() : '';
    const r = await call('GET', '/secrets/' + enc(path.value) + q);
    if (r && r.data && typeof r.data === 'object') data.value = JSON.stringify(r.data, null, 2);
    return r;
  }
  box.append(el('div', { class: 'grid2' },
    el('div', {}, el('h3', {}, 'Browse'), el('label', {}, 'Prefix', prefix),
      el('button', { type: 'button', id: 'kv-browse', onclick: run(browse) }, 'List'), listing),
    el('div', {}, el('h3', {}, 'Secret'), el('label', {}, 'Path', path), el('label', {}, 'Version', version),
      el('label', {}, 'Wrap TTL (answer a wrapping token instead of the secret)', wrapTtl),
      el('label', {}, 'Data (JSON object)', data),
      el('div', { class: 'row' },
        el('button', { type: 'button', id: 'kv-read', onclick: run(read) }, 'Read'),
        el('button', { type: 'button', id: 'kv-write', onclick: run(async () => {
          let d; try { d = JSON.parse(data.value); } catch { throw new Error('data: not valid JSON'); }
          return call('PUT', '/secrets/' + enc(path.value), { data: d });
        }) }, 'Write'),
        el('button', { type: 'button', class: 'secondary', id: 'kv-meta', onclick: run(() => call('GET', '/secrets/' + enc(path.value) + ':metadata')) }, 'Versions'),
        el('button', { type: 'button', class: 'danger', id: 'kv-delete', onclick: run(() => call('DELETE', '/secrets/' + enc(path.value))) }, 'Delete latest')),
      el('label', {}, 'Versions for undelete / destroy', versions),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'secondary', id: 'kv-undelete', onclick: run(() => call('POST', '/secrets/' + enc(path.value) + ':undelete', { versions: vlist() })) }, 'Undelete'),
        el('button', { type: 'button', class: 'danger', id: 'kv-destroy', onclick: run(() => {
          if (!confirm('Destroy these versions for good?')) throw new Error('cancelled');
          return call('POST', '/secrets/' + enc(path.value) + ':destroy', { versions: vlist() });
        }) }, 'Destroy')),
      out)));
}

async function db(box) {
  const leases = el('table', { id: 'db-leases' }, el('thead', {}, el('tr', {}, ['Lease', 'User', 'Left', ''].map(h => el('th', {}, h)))));
  const tbody = el('tbody'); leases.append(tbody);
  await renderOps(box, '/db/', { onResult(entry, r) {
    if (!r || !r.lease_id || entry.path !== '/db/creds/{role}') return;
    addLease(r);
  } });
  box.append(el('h3', {}, 'Leases issued in this page'), leases);
  function addLease(r) {
    let deadline = Date.now() + (r.lease_duration || 0) * 1000;
    const left = el('td', { class: 'countdown' }, '');
    const tick = () => { left.textContent = fmtLeft(deadline - Date.now()); };
    const out = el('span', { class: 'muted' });
    const tr = el('tr', { 'data-lease': r.lease_id }, el('td', {}, r.lease_id), el('td', {}, r.username || ''), left,
      el('td', {},
        el('button', { type: 'button', class: 'secondary', onclick: async () => {
          try { const x = await call('POST', '/db/renew', { lease_id: r.lease_id });
                deadline = Date.now() + (x.lease_duration || 0) * 1000; tick(); out.textContent = 'renewed'; }
          catch (e) { out.textContent = e.describe ? e.describe() : String(e); }
        } }, 'Renew'),
        el('button', { type: 'button', class: 'danger', onclick: async () => {
          try { await call('POST', '/db/revoke', { lease_id: r.lease_id }); deadline = 0; tick(); out.textContent = 'revoked'; }
          catch (e) { out.textContent = e.describe ? e.describe() : String(e); }
        } }, 'Revoke'), out));
    tbody.append(tr); tick();
    timers.push(setInterval(tick, 1000));
  }
}

async function mcpTab(box) {
  const out = el('pre', { class: 'out', id: 'mcp-out' });
  const formBox = el('div', { id: 'mcp-form' });
  const picker = el('select', { id: 'mcp-tool' });
  box.append(el('div', { class: 'row' }, el('button', { type: 'button', id: 'mcp-list', onclick: list }, 'tools/list')),
    el('label', {}, 'Tool', picker), formBox, out);
  let tools = [];
  async function list() {
    out.classList.remove('error');
    try {
      const r = await mcp('tools/list');
      tools = r.tools || [];
      clear(picker).append(...tools.map((t, i) => el('option', { value: String(i) }, t.name)));
      build();
      show(out, `${tools.length} tools`);
    } catch (e) { showError(out, e); }
  }
  function build() {
    clear(formBox);
    const t = tools[Number(picker.value)];
    if (!t) return;
    const sf = schemaForm(t.inputSchema || {}, 'mcp-' + t.name.replace(/\W/g, '_'));
    const form = el('form', { id: 'mcp-call-form' }, el('p', { class: 'muted' }, t.description || ''), sf.element,
      el('button', { type: 'submit', id: 'mcp-call' }, 'tools/call ' + t.name));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      out.classList.remove('error');
      try {
        const r = await mcp('tools/call', { name: t.name, arguments: sf.collect() });
        show(out, r);
        if (r && r.isError) out.classList.add('error');
      } catch (e) { showError(out, e); }
    });
    formBox.append(form);
  }
  picker.addEventListener('change', build);
  await list();
}
