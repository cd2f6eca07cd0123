// The official MCP TypeScript SDK client against the bridge, unmodified:
// over Streamable HTTP (--http URL --key API_KEY) or over stdio
// (--stdio BINARY, settings from the environment). Connects, lists tools,
// resources, templates and prompts, calls every listed tool with valid
// and with invalid arguments, reads resources and gets prompts.
// Prints one line per check; exits 1 on the first failed expectation.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const url = opt("--http");
const key = opt("--key");
const bin = opt("--stdio");
const subject = opt("--subject") || "alice";
const mode = url ? "http" : "stdio";

let checks = 0;
function ok(cond, what, detail) {
  checks++;
  if (!cond) {
    console.error(`FAIL [${mode}] ${what}${detail !== undefined ? ": " + JSON.stringify(detail) : ""}`);
    process.exit(1);
  }
  console.log(`ok [${mode}] ${what}`);
}

async function rejects(promise, code, what) {
  try {
    const r = await promise;
    ok(false, what + " (expected JSON-RPC error " + code + ")", r);
  } catch (e) {
    ok(e && e.code === code, what + ` -> ${e && e.code}`, e && e.message);
  }
}

const b64 = (s) => Buffer.from(s).toString("base64");
const SSH_PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sdk@test";

// Schema-valid arguments for one tool, from its inputSchema: every
// required property gets a value of its declared type.
function synth(schema) {
  const out = {};
  for (const name of schema.required || []) {
    const p = schema.properties[name] || {};
    if (p.enum) out[name] = p.enum[0];
    else if (p.type === "integer") out[name] = p.minimum && p.minimum > 1 ? p.minimum : 1;
    else if (p.type === "boolean") out[name] = false;
    else if (p.type === "object") out[name] = {};
    else if (p.type === "array") out[name] = p.items && p.items.type === "integer" ? [1] : ["x"];
    else if (p.contentEncoding === "base64") out[name] = b64("hello");
    else out[name] = "x".repeat(Math.max(1, p.minLength || 1));
  }
  return out;
}

const transport = url
  ? new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { "X-API-Key": key } } })
  : new StdioClientTransport({ command: bin, args: [], env: process.env, stderr: "inherit" });
const client = new Client({ name: "vmb-sdk-test", version: "1.0.0" });
await client.connect(transport);

const info = client.getServerVersion();
ok(info && info.name === "vault-mcp-bridge", "serverInfo", info);
const caps = client.getServerCapabilities();
ok(caps.tools && caps.resources && caps.prompts, "capabilities", caps);
await client.ping();
ok(true, "ping");

// ---- tools ----
const { tools } = await client.listTools();
ok(Array.isArray(tools) && tools.length > 0, `tools/list (${tools.length} tools)`);
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
for (const t of tools) {
  ok(t.inputSchema && t.inputSchema.type === "object" && t.inputSchema.additionalProperties === false,
     `${t.name} inputSchema`, t.inputSchema);
  ok(typeof t.description === "string" && t.description.length > 0, `${t.name} description`);
  ok(t.annotations && typeof t.annotations.readOnlyHint === "boolean" &&
     typeof t.annotations.destructiveHint === "boolean" &&
     typeof t.annotations.idempotentHint === "boolean", `${t.name} annotations`, t.annotations);
  ok(t.outputSchema && t.outputSchema.type === "object", `${t.name} outputSchema`);
}
for (const need of ["kv_read", "kv_write", "kv_list", "kv_delete"])
  ok(byName[need], `tool ${need} listed`);

async function call(name, args) {
  const r = await client.callTool({ name, arguments: args });
  ok(Array.isArray(r.content) && r.content.length > 0 && r.content[0].type === "text",
     `${name} content`, r);
  if (!r.isError) {
    ok(r.structuredContent && typeof r.structuredContent === "object", `${name} structuredContent`);
    ok(JSON.stringify(JSON.parse(r.content[0].text)) === JSON.stringify(r.structuredContent),
       `${name} text equals structuredContent`);
  }
  return r;
}

// Calls that must succeed against a provisioned Vault, in order; each
// may use earlier results.
const state = {};
const plan = [
  ["kv_write", () => ({ path: "sdk/app", data: { user: "u1" } })],
  ["kv_write", () => ({ path: "sdk/tmp", data: { t: "1" } })],
  ["kv_read", () => ({ path: "sdk/app" }), (r) => ok(r.structuredContent.data.user === "u1", "kv_read value")],
  ["kv_patch", () => ({ path: "sdk/app", data: { pw: "p" } })],
  ["kv_list", () => ({ prefix: "sdk/" }), (r) => ok(r.structuredContent.keys.includes("app"), "kv_list keys", r.structuredContent)],
  ["kv_metadata", () => ({ path: "sdk/app" })],
  ["kv_delete", () => ({ path: "sdk/tmp" })],
  ["kv_undelete", () => ({ path: "sdk/tmp", versions: [1] })],
  ["kv_destroy", () => ({ path: "sdk/tmp", versions: [1] })],
  ["transit_encrypt", () => ({ key: "mcp-default", plaintext: b64("hello") }), (r) => { state.ct = r.structuredContent.ciphertext; }],
  ["transit_decrypt", () => ({ key: "mcp-default", ciphertext: state.ct }), (r) => ok(r.structuredContent.plaintext === b64("hello"), "decrypt roundtrip")],
  ["transit_rewrap", () => ({ key: "mcp-default", ciphertext: state.ct })],
  ["transit_sign", () => ({ key: "mcp-signing", input: b64("msg") }), (r) => { state.sig = r.structuredContent.signature; }],
  ["transit_verify", () => ({ key: "mcp-signing", input: b64("msg"), signature: state.sig })],
  ["transit_random", () => ({ bytes: 16 })],
];
const called = new Set();
const mustSucceed = process.env.VMB_SDK_NO_VAULT ? false : true;
for (const [name, mk, after] of plan) {
  if (!byName[name]) continue;
  const r = await call(name, mk());
  called.add(name);
  if (mustSucceed) {
    ok(!r.isError, `${name} succeeds`, r.content[0].text);
    if (after) after(r);
  }
}
// Every other tool: schema-valid arguments. Vault may refuse them (an
// unknown role, KMS off): the answer must still be a proper tool result.
const extra = {
  "db_issue_creds": { role: "readonly" },
  "ssh_otp": { role: "otp_role", ip: "127.0.0.1", username: "ubuntu" },
  "ssh_sign": { role: "ca_role", public_key: SSH_PUBKEY },
  "transit_hmac": { key: "mcp-default", input: b64("msg") },
};
for (const t of tools) {
  if (called.has(t.name)) continue;
  const args = extra[t.name] || synth(t.inputSchema);
  const r = await call(t.name, args);
  ok(typeof r.isError === "boolean", `${t.name} with schema-valid args -> isError=${r.isError}`);
}
// Invalid arguments for every tool: an unknown field, and (where there
// is a required field) nothing at all. Both are tool errors, never
// protocol errors (2025-11-25, SEP-1303).
for (const t of tools) {
  const r = await call(t.name, { ...synth(t.inputSchema), bogus_field_x: 1 });
  ok(r.isError === true && /bogus_field_x/.test(r.content[0].text), `${t.name} unknown field -> isError`, r.content[0].text);
  if ((t.inputSchema.required || []).length) {
    const r2 = await call(t.name, {});
    ok(r2.isError === true && /missing/.test(r2.content[0].text), `${t.name} missing field -> isError`, r2.content[0].text);
  }
}
await rejects(client.callTool({ name: "no.such_tool", arguments: {} }), -32602, "unknown tool");
// The seed's dotted names stay accepted as aliases of the listed ones.
if (mustSucceed) {
  const alias = await client.callTool({ name: "kv.read", arguments: { path: "sdk/app" } });
  ok(!alias.isError && alias.structuredContent.data.user === "u1", "kv.read alias of kv_read", alias);
}
for (const t of tools)
  ok(/^[a-zA-Z0-9_-]{1,64}$/.test(t.name), `${t.name} is a portable tool name`);

// ---- resources ----
const { resources } = await client.listResources();
ok(resources.length === 1 && resources[0].uri === `kv://${subject}/`, "resources/list", resources);
const { resourceTemplates } = await client.listResourceTemplates();
ok(resourceTemplates.length === 1 && resourceTemplates[0].uriTemplate === "kv://{subject}/{+path}",
   "resources/templates/list", resourceTemplates);
if (mustSucceed) {
  const rd = await client.readResource({ uri: `kv://${subject}/sdk/app` });
  const doc = JSON.parse(rd.contents[0].text);
  ok(doc.data.user === "u1" && doc.data.pw === "p" && doc.version === 2, "resources/read secret", doc);
  const v1 = JSON.parse((await client.readResource({ uri: `kv://${subject}/sdk/app?version=1` })).contents[0].text);
  ok(v1.version === 1 && v1.data.pw === undefined, "resources/read ?version=1", v1);
  const ls = JSON.parse((await client.readResource({ uri: `kv://${subject}/sdk/` })).contents[0].text);
  ok(Array.isArray(ls.keys) && ls.keys.includes("app"), "resources/read folder", ls);
  const root = JSON.parse((await client.readResource({ uri: `kv://${subject}/` })).contents[0].text);
  ok(Array.isArray(root.keys) && root.keys.includes("sdk/"), "resources/read root", root);
  await rejects(client.readResource({ uri: `kv://${subject}/sdk/none` }), -32002, "resources/read missing");
  const alias = await client.request({ method: "resources/get", params: { uri: `kv://${subject}/sdk/app` } },
                                     (await import("@modelcontextprotocol/sdk/types.js")).ReadResourceResultSchema);
  ok(JSON.parse(alias.contents[0].text).data.user === "u1", "resources/get alias");
}
await rejects(client.readResource({ uri: "kv://someone-else/sdk/app" }), -32602, "another subject's URI");
await rejects(client.readResource({ uri: "http://example.com/x" }), -32602, "foreign scheme");
await rejects(client.readResource({ uri: `kv://${subject}/a/../b` }), -32602, "dot-dot path");

// ---- prompts ----
const { prompts } = await client.listPrompts();
const names = prompts.map((p) => p.name).sort();
ok(names.join(",") === "kv_read,kv_write", "prompts/list", names);
for (const p of prompts) ok(Array.isArray(p.arguments) && p.arguments.some((a) => a.name === "path" && a.required), `${p.name} arguments`);
const pr = await client.getPrompt({ name: "kv_read", arguments: { path: "sdk/app" } });
ok(pr.messages.length > 0 && pr.messages[0].role === "user" && pr.suggested_tool &&
   pr.suggested_tool.name === "kv_read" && pr.suggested_tool.arguments.path === "sdk/app", "prompts/get kv_read", pr);
const pw = await client.getPrompt({ name: "kv_write", arguments: { path: "sdk/x", data: '{"a":"b"}' } });
ok(pw.suggested_tool.arguments.data.a === "b", "prompts/get kv_write", pw);
await rejects(client.getPrompt({ name: "kv_read", arguments: {} }), -32602, "prompt missing argument");
await rejects(client.getPrompt({ name: "nope", arguments: {} }), -32602, "unknown prompt");
await rejects(client.getPrompt({ name: "kv_write", arguments: { path: "x", data: "not json" } }), -32602, "prompt bad data");

await client.setLoggingLevel("info");
ok(true, "logging/setLevel");
await rejects(client.request({ method: "no/such_method", params: {} },
                             (await import("@modelcontextprotocol/sdk/types.js")).EmptyResultSchema),
              -32601, "unknown method");

await client.close();
console.log(`PASS [${mode}] ${checks} checks`);
process.exit(0);
