// The v2 TypeScript client (@modelcontextprotocol/client, 2026-07-28)
// against the bridge, unmodified, over Streamable HTTP or stdio: discover,
// every tool (valid and invalid arguments, the dotted alias), resources,
// prompts, subscriptions/listen, and the errors a 2026-07-28 server owes.
//
// Usage: node v2_client.mjs --http URL --key KEY [--era auto|legacy]
//        node v2_client.mjs --stdio BINARY [--era auto|legacy]
// --era auto (default) lets the client probe with server/discover and
// expects the modern era; legacy forces the 2025 initialize handshake on
// the same endpoint. Environment: VMB_SUBJECT (default alice).
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const args = process.argv.slice(2);
const opt = (n) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : undefined; };
const url = opt("--http"), key = opt("--key"), bin = opt("--stdio");
const era = opt("--era") || "auto";
const subject = process.env.VMB_SUBJECT || "alice";
const base = `v2-${era}`;           // each run its own secrets
const mode = `${url ? "http" : "stdio"}/${era}`;
let checks = 0;

function ok(cond, what, detail) {
  checks++;
  if (!cond) {
    console.error(`FAIL [${mode}] ${what}`, detail === undefined ? "" : JSON.stringify(detail).slice(0, 800));
    process.exit(1);
  }
  console.log(`ok [${mode}] ${what}`);
}

async function rejects(p, code, what) {
  const codes = Array.isArray(code) ? code : [code];
  try {
    const r = await p;
    ok(false, `${what}: expected error ${code}`, r);
  } catch (e) {
    ok(e && codes.includes(e.code), `${what} -> ${code}`, { code: e && e.code, message: e && e.message });
  }
}

const b64 = (s) => Buffer.from(s).toString("base64");
const SSH_PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEhDx0wGqHUAzwJ2mhZ1g9kL9gXzq9bEDUeSxS4rnFB0 test";

function synth(schema) {
  const out = {};
  for (const name of schema.required || []) {
    const p = schema.properties[name];
    const t = Array.isArray(p.type) ? p.type[0] : p.type;
    if (p.enum) out[name] = p.enum[0];
    else if (t === "integer" || t === "number") out[name] = Math.max(1, p.minimum || 1);
    else if (t === "boolean") out[name] = false;
    else if (t === "array") out[name] = p.items && p.items.type === "integer" ? [1] : ["x"];
    else if (t === "object") out[name] = {};
    else out[name] = name === "plaintext" || name === "input" ? b64("x") : `${base}/synth`;
  }
  return out;
}

const transport = url
  ? new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { "X-API-Key": key } } })
  : new StdioClientTransport({ command: bin, args: [], env: process.env, stderr: "inherit" });
const client = new Client({ name: "vmb-v2-test", version: "1.0.0" },
                          { versionNegotiation: { mode: era } });
await client.connect(transport);

const expectEra = era === "legacy" ? "legacy" : "modern";
ok(client.getProtocolEra() === expectEra, `era ${expectEra}`, client.getProtocolEra());
ok(client.getNegotiatedProtocolVersion() === (era === "legacy" ? "2025-11-25" : "2026-07-28"),
   "negotiated version", client.getNegotiatedProtocolVersion());
const info = client.getServerVersion();
ok(info && info.name === "vault-mcp-bridge", "serverInfo", info);
const caps = client.getServerCapabilities();
ok(caps.tools && caps.resources && caps.prompts, "capabilities", caps);
if (expectEra === "modern") {
  const d = await client.discover();
  ok(d.supportedVersions.includes("2026-07-28") && !caps.logging, "server/discover", d);
  ok(typeof client.getInstructions() === "string" && /kv_/.test(client.getInstructions()), "instructions");
}

// ---- tools ----
const { tools } = await client.listTools();
ok(Array.isArray(tools) && tools.length > 0, `tools/list (${tools.length} tools)`);
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
for (const t of tools) {
  ok(/^[a-zA-Z0-9_-]{1,64}$/.test(t.name), `${t.name} is a portable name`);
  ok(t.inputSchema && t.inputSchema.type === "object", `${t.name} inputSchema`);
}
for (const need of ["kv_read", "kv_write", "kv_list", "kv_delete", "transit_encrypt"])
  ok(byName[need], `tool ${need} listed`);

async function call(name, a) {
  const r = await client.callTool({ name, arguments: a });
  ok(Array.isArray(r.content) && r.content.length > 0 && r.content[0].type === "text", `${name} content`, r);
  if (!r.isError)
    ok(r.structuredContent && typeof r.structuredContent === "object", `${name} structuredContent`);
  return r;
}

const state = {};
const plan = [
  ["kv_write", () => ({ path: `${base}/app`, data: { user: "u2" } })],
  ["kv_write", () => ({ path: `${base}/tmp`, data: { t: "1" } })],
  ["kv_read", () => ({ path: `${base}/app` }), (r) => ok(r.structuredContent.data.user === "u2", "kv_read value")],
  ["kv_patch", () => ({ path: `${base}/app`, data: { pw: "p" } })],
  ["kv_list", () => ({ prefix: `${base}/` }), (r) => ok(r.structuredContent.keys.includes("app"), "kv_list keys")],
  ["kv_metadata", () => ({ path: `${base}/app` })],
  ["kv_delete", () => ({ path: `${base}/tmp` })],
  ["kv_undelete", () => ({ path: `${base}/tmp`, versions: [1] })],
  ["kv_destroy", () => ({ path: `${base}/tmp`, versions: [1] })],
  ["transit_encrypt", () => ({ key: "mcp-default", plaintext: b64("hello") }), (r) => { state.ct = r.structuredContent.ciphertext; }],
  ["transit_decrypt", () => ({ key: "mcp-default", ciphertext: state.ct }), (r) => ok(r.structuredContent.plaintext === b64("hello"), "decrypt roundtrip")],
  ["transit_rewrap", () => ({ key: "mcp-default", ciphertext: state.ct })],
  ["transit_sign", () => ({ key: "mcp-signing", input: b64("msg") }), (r) => { state.sig = r.structuredContent.signature; }],
  ["transit_verify", () => ({ key: "mcp-signing", input: b64("msg"), signature: state.sig })],
  ["transit_random", () => ({ bytes: 16 })],
  ["transit_hmac", () => ({ key: "mcp-default", input: b64("msg") })],
];
const called = new Set();
for (const [name, mk, after] of plan) {
  if (!byName[name]) continue;
  const r = await call(name, mk());
  called.add(name);
  ok(!r.isError, `${name} succeeds`, r.content[0].text);
  if (after) after(r);
}
const extra = {
  db_issue_creds: { role: "readonly" },
  ssh_otp: { role: "otp_role", ip: "127.0.0.1", username: "ubuntu" },
  ssh_sign: { role: "ca_role", public_key: SSH_PUBKEY },
};
for (const t of tools) {
  if (called.has(t.name)) continue;
  const r = await call(t.name, extra[t.name] || synth(t.inputSchema));
  ok(typeof r.isError === "boolean", `${t.name} with schema-valid args -> isError=${r.isError}`);
}
for (const t of tools) {
  const r = await call(t.name, { ...synth(t.inputSchema), bogus_field_x: 1 });
  ok(r.isError === true && /bogus_field_x/.test(r.content[0].text), `${t.name} unknown field -> isError`);
}
const alias = await client.callTool({ name: "kv.read", arguments: { path: `${base}/app` } });
ok(!alias.isError && alias.structuredContent.data.user === "u2", "kv.read alias of kv_read", alias);
await rejects(client.callTool({ name: "no_such_tool", arguments: {} }), -32602, "unknown tool");

// ---- resources ----
const { resources } = await client.listResources();
ok(resources.length === 1 && resources[0].uri === `kv://${subject}/`, "resources/list", resources);
const { resourceTemplates } = await client.listResourceTemplates();
ok(resourceTemplates.length === 1 && resourceTemplates[0].uriTemplate === "kv://{subject}/{+path}",
   "resources/templates/list", resourceTemplates);
const rd = await client.readResource({ uri: `kv://${subject}/${base}/app` });
const doc = JSON.parse(rd.contents[0].text);
ok(doc.data.user === "u2" && doc.data.pw === "p" && doc.version === 2, "resources/read secret", doc);
const ls = JSON.parse((await client.readResource({ uri: `kv://${subject}/${base}/` })).contents[0].text);
ok(Array.isArray(ls.keys) && ls.keys.includes("app"), "resources/read folder", ls);
// Not found: -32602 on 2026-07-28 (SEP-2164); the bridge answers -32002 on
// the 2025 revisions (the SDK 1.x test sees it on the wire), which this
// client reports as -32602 (it folds the old code into the new one).
await rejects(client.readResource({ uri: `kv://${subject}/${base}/none` }), expectEra === "modern" ? -32602 : [-32002, -32602],
              "resources/read missing");
await rejects(client.readResource({ uri: "kv://someone-else/v2/app" }), -32602, "another subject's URI");

// ---- prompts ----
const { prompts } = await client.listPrompts();
ok(prompts.map((p) => p.name).sort().join(",") === "kv_read,kv_write", "prompts/list", prompts);
const pr = await client.getPrompt({ name: "kv_read", arguments: { path: `${base}/app` } });
ok(pr.messages.length > 0 && /kv_read/.test(pr.messages[0].content.text), "prompts/get kv_read", pr);
const pw = await client.getPrompt({ name: "kv_write", arguments: { path: `${base}/x`, data: '{"a":"b"}' } });
ok(pw.messages[0].content.text.includes('"a":"b"'), "prompts/get kv_write", pw);
await rejects(client.getPrompt({ name: "kv_read", arguments: {} }), -32602, "prompt missing argument");

// ---- subscriptions/listen (2026-07-28) ----
if (expectEra === "modern") {
  const sub = await client.listen({ toolsListChanged: true, promptsListChanged: true });
  ok(sub && Object.keys(sub.honoredFilter).length === 0,
     "subscriptions/listen acknowledged (list changes not offered: the lists never change)", sub.honoredFilter);
  await sub.close();
  ok((await sub.closed) === "local", "subscription closed");
}

await client.close();
console.log(`PASS [${mode}] ${checks} checks`);
process.exit(0);
