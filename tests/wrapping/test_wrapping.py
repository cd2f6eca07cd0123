"""Response wrapping end to end (issue 19, docs/wrapping.md): vault-sim over
real HTTP, the FastCGI responder (two processes sharing one RUN_DIR, as a
pool does), nginx in front for MCP over HTTP, the stdio binary, a fake KMS
and an OTLP sink. Every secret planted here is searched for afterwards in
every log, trace, SSE event and MCP answer of the case.

usage: test_wrapping.py <case>   (one ctest per case, label wrapping)"""

import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
sys.path.insert(0, os.path.join(ROOT, "tests", "mcp"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kms"))
import opslib as L  # noqa: E402
from opslib import b64, check, expect_err, expect_ok  # noqa: E402
import mcplib  # noqa: E402
import fakekms  # noqa: E402
import procs  # noqa: E402

ALICE_KEY = "wrap-key-alice-" + secrets.token_hex(16)
BOB_KEY = "wrap-key-bob-" + secrets.token_hex(16)
KEYS = {ALICE_KEY: {"subject": "alice", "scopes": ["read", "write", "list"]},
        BOB_KEY: {"subject": "bob", "scopes": ["read", "write", "list"]}}
AKID = "AKIDWRAP" + secrets.token_hex(4).upper()
AWS_SECRET = "wrap-aws-secret-" + secrets.token_hex(16)
WRAP_KEYS = {"token", "accessor", "ttl", "creation_time", "creation_path"}


class Sink:
    """An OTLP/HTTP collector that keeps every body it is sent."""

    def __init__(self, cl):
        outer = self
        self.bodies = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(self.rfile.read(n))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", procs.free_port()), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        cl.add(self.server.shutdown)


class Stack:
    """vault-sim, two bridge processes sharing a RUN_DIR, optional KMS."""

    def __init__(self, cl, env=None, kms=False, sink=None):
        self.cl = cl
        self.v = L.Vault(cl)
        L.provision(self.v)
        self.tmp = mcplib.tmpdir(cl, "vmb-wrap-")
        e = {"RUN_DIR": os.path.join(self.tmp, "run"), "WRAP_TTL_MAX": "5m"}
        if kms:
            self.kms = fakekms.FakeKMS(procs.free_port(), {"akid": AKID, "secret": AWS_SECRET,
                                                           "token": None})
            cl.add(self.kms.close)
            e.update({"AWS_KMS_ENABLED": "true", "AWS_REGION": "us-east-1",
                      "AWS_KMS_ENDPOINT": self.kms.url, "AWS_KMS_DEFAULT_KEY_ID": "alias/app",
                      "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
                      "HOME": "/nonexistent", "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None,
                      "AWS_SHARED_CREDENTIALS_FILE": None})
        if sink:
            e["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
        e.update(env or {})
        self.env = e
        self.a = L.Bridge(cl, self.v.addr, KEYS, env=e)
        self.b = L.Bridge(cl, self.v.addr, KEYS, env=e)   # another process of the pool

    def logs(self):
        out = {}
        for br in (self.a, self.b):
            for name, data in br.logs().items():
                out["%s/%s" % (br.tmp, name)] = data
            p = os.path.join(br.tmp, "stderr.txt")
            if os.path.exists(p):
                out[p] = open(p, "rb").read()
        return out


def op(br, op_id, args, key=ALICE_KEY):
    return br.op(op_id, args, key=key)


def wrapped(res, what):
    doc = expect_ok(res, what)
    check(set(doc) == {"wrap_info"}, "%s: only wrap_info in %r" % (what, doc))
    check(set(doc["wrap_info"]) == WRAP_KEYS, "%s: wrap_info fields %r" % (what, doc))
    check(doc["wrap_info"]["creation_path"] == "sys/wrapping/wrap", "%s: path %r" % (what, doc))
    return doc["wrap_info"]


def no_secret(blobs, planted):
    for where, data in blobs.items():
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        for what, val in planted.items():
            check(val not in text, "%s found in %s" % (what, where))
            check(b64(val) not in text, "%s (base64) found in %s" % (what, where))


# ---- REST: a wrapped read, unwrapped once by another process ----------------------

def case_rest(cl):
    sink = Sink(cl)
    s = Stack(cl, sink=sink)
    secret = "wrap-planted-" + secrets.token_hex(10)
    expect_ok(op(s.a, "kv.write", {"path": "app/db", "data": {"pw": secret}}), "write")
    seen = {}
    res = op(s.a, "kv.read", {"path": "app/db", "wrap_ttl": "2m"})
    seen["kv.read answer"] = json.dumps(res[1])
    wi = wrapped(res, "wrapped kv.read")
    check(wi["ttl"] == 120, "ttl 2m -> 120: %r" % wi)
    # lookup (any process) does not spend it
    lk = expect_ok(op(s.b, "wrap.lookup", {"token": wi["token"]}), "lookup")
    check(lk.get("creation_ttl") == 120 and lk.get("creation_path") == "sys/wrapping/wrap",
          "lookup %r" % lk)
    # the other process unwraps, once
    res = op(s.b, "wrap.unwrap", {"token": wi["token"]})
    un = expect_ok(res, "unwrap")
    check(un["data"] == {"pw": secret} and un["path"] == "app/db" and un["version"] == 1,
          "unwrapped is the kv.read answer: %r" % un)
    expect_err(op(s.a, "wrap.unwrap", {"token": wi["token"]}), 400, "wrap_invalid",
               "already used", "second unwrap")
    expect_err(op(s.b, "wrap.lookup", {"token": wi["token"]}), 400, "wrap_invalid",
               what="lookup of a used wrap")
    # a consumer unwraps at Vault directly (the usual hand-off): the bridge
    # never sees that answer, and the wrap is then spent for it too.
    wi2 = wrapped(op(s.a, "kv.read", {"path": "app/db", "wrap_ttl": "60"}), "wrap 60")
    check(wi2["ttl"] == 60, "ttl 60 %r" % wi2)
    req = urllib.request.Request(s.v.addr + "/v1/sys/wrapping/unwrap", data=b"{}",
                                 method="POST", headers={"X-Vault-Token": wi2["token"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        direct = json.loads(r.read())
    check(direct["data"]["data"] == {"pw": secret}, "direct unwrap at Vault %r" % direct)
    expect_err(op(s.a, "wrap.unwrap", {"token": wi2["token"]}), 400, "wrap_invalid",
               what="unwrap after the consumer")
    # the bridge's logs and traces never hold the secret or a wrap token;
    # stopping the processes flushes their logs and the span exporter
    ops = [r for r in s.a.responses() if r.get("operation") == "kv.read"]
    s.a.close()
    s.b.close()
    deadline = time.time() + 15
    while not sink.bodies and time.time() < deadline:
        time.sleep(0.1)
    blobs = s.logs()
    blobs.update({"otlp %d" % i: body for i, body in enumerate(sink.bodies)})
    check(sink.bodies, "traces were exported")
    no_secret(blobs, {"planted secret": secret, "wrap token": wi["token"],
                      "wrap token 2": wi2["token"]})
    no_secret(seen, {"planted secret": secret})
    check(ops and ops[0].get("wrapped") is True and ops[0].get("wrap_ttl") == 120,
          "responses.log says wrapped: %r" % ops)
    print("ok rest: wrap, lookup, unwrap once by another process, second unwrap refused")


# ---- every secret-returning operation --------------------------------------------------

def case_every_op(cl):
    s = Stack(cl, kms=True)
    secret = "wrap-every-" + secrets.token_hex(8)
    expect_ok(op(s.a, "kv.write", {"path": "e/1", "data": {"k": secret}}), "write")
    ct = expect_ok(op(s.a, "transit.encrypt", {"key": "mcp-default", "plaintext": b64(secret)}),
                   "encrypt")["ciphertext"]
    kct = expect_ok(op(s.a, "kms.encrypt", {"plaintext": b64(secret)}), "kms encrypt")
    kblob = kct["ciphertext"]
    calls = [
        ("kv.read", {"path": "e/1"}, lambda d: d["data"]["k"] == secret),
        ("transit.decrypt", {"key": "mcp-default", "ciphertext": ct},
         lambda d: d["plaintext"] == b64(secret)),
        ("db.issue_creds", {"role": "readonly"},
         lambda d: d["password"] and d["username"] and d["lease_id"]),
        ("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}, lambda d: d["key"]),
        ("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY},
         lambda d: d["signed_key"].startswith("ssh-ed25519-cert")),
        ("kms.decrypt", {"ciphertext": kblob}, lambda d: d["plaintext"] == b64(secret)),
        ("kms.generate_data_key", {}, lambda d: d["plaintext"] and d["ciphertext"]),
    ]
    table = L.TABLE
    for op_id, args, ok in calls:
        check(op_id in table, op_id)
        wi = wrapped(op(s.a, op_id, dict(args, wrap_ttl="30s")), op_id)
        check(wi["ttl"] == 30, "%s ttl %r" % (op_id, wi))
        un = expect_ok(op(s.b, "wrap.unwrap", {"token": wi["token"]}), op_id + " unwrap")
        check(ok(un), "%s: unwrapped answer %r" % (op_id, un))
        expect_err(op(s.b, "wrap.unwrap", {"token": wi["token"]}), 400, "wrap_invalid",
                   what=op_id + " second unwrap")
        print("ok", op_id)
    # the table's wrappable rows are exactly these seven
    src = open(L.OPS_TABLE).read()
    wrappable = {rid for rid in table if "WRAPPABLE" in
                 src[src.index('.id = "%s"' % rid):].split(".id =", 2)[1]}
    check(wrappable == {c[0] for c in calls}, "WRAPPABLE rows %r" % sorted(wrappable))
    # the operations that return no secret do not take wrap_ttl
    expect_err(op(s.a, "transit.encrypt", {"key": "mcp-default", "plaintext": b64("x"),
                                           "wrap_ttl": "30s"}), 400, "bad_request",
               "wrap_ttl", "encrypt refuses wrap_ttl")
    # the answer a consumer gets from Vault directly is the same document
    wi = wrapped(op(s.a, "kv.read", {"path": "e/1", "wrap_ttl": "30s"}), "kv again")
    st, doc = s.v.api("POST", "sys/wrapping/unwrap", {"token": wi["token"]})
    check(st == 200 and doc["data"]["data"] == {"k": secret}, "vault unwrap %r" % doc)
    no_secret(s.logs(), {"planted secret": secret})
    print("ok every secret-returning operation wraps; nothing else does")


# ---- wrap_ttl bounds and expiry -----------------------------------------------------------

def case_bounds(cl):
    s = Stack(cl)
    expect_ok(op(s.a, "kv.write", {"path": "b/1", "data": {"k": "v"}}), "write")
    for bad in ("0", "0s", "-1", "1.5s", "6m", "301", "abc", "5 m", "1d", "m", "5m30",
                "99999999999", "1h", "+5"):
        expect_err(op(s.a, "kv.read", {"path": "b/1", "wrap_ttl": bad}), 400, "bad_request",
                   "wrap_ttl", "wrap_ttl %r" % bad)
    st, doc = s.a.raw("POST", "/transit/decrypt", key=ALICE_KEY,
                      body={"key": "mcp-default", "ciphertext": "vault:v1:x", "wrap_ttl": 60})
    check(st == 400 and "wrap_ttl" in doc["error"]["message"], "integer wrap_ttl %r" % doc)
    for good, secs in (("1", 1), ("300", 300), ("5m", 300), ("1m30s", 90), ("45s", 45)):
        wi = wrapped(op(s.a, "kv.read", {"path": "b/1", "wrap_ttl": good}), good)
        check(wi["ttl"] == secs, "%r -> %d: %r" % (good, secs, wi))
    # nothing was sent to Vault for a refused wrap_ttl: no credentials issued
    before = len(s.v.must("LIST", "sys/leases/lookup/database/creds/readonly/")
                 .get("data", {}).get("keys", []) if s.v.api(
                     "LIST", "sys/leases/lookup/database/creds/readonly/")[0] == 200 else [])
    expect_err(op(s.a, "db.issue_creds", {"role": "readonly", "wrap_ttl": "1h"}), 400,
               "bad_request", "wrap_ttl")
    st, doc = s.v.api("LIST", "sys/leases/lookup/database/creds/readonly/")
    after = len(doc["data"]["keys"]) if st == 200 else 0
    check(after == before, "no credentials issued for a refused wrap_ttl (%d -> %d)"
          % (before, after))
    # expiry: a 1 s wrap becomes invalid; lookup polls until Vault says so
    wi = wrapped(op(s.a, "kv.read", {"path": "b/1", "wrap_ttl": "1s"}), "1s")
    deadline = time.time() + 15
    while time.time() < deadline:
        st, doc = op(s.a, "wrap.lookup", {"token": wi["token"]})
        if st != 200:
            break
        time.sleep(0.2)
    check(st == 400 and doc["error"]["code"] == "wrap_invalid", "expired lookup %r" % doc)
    expect_err(op(s.a, "wrap.unwrap", {"token": wi["token"]}), 400, "wrap_invalid",
               what="expired unwrap")
    # made-up and malformed tokens
    expect_err(op(s.a, "wrap.unwrap", {"token": "hvs.madeup" + secrets.token_hex(8)}), 400,
               "wrap_invalid", what="made-up token")
    expect_err(op(s.a, "wrap.unwrap", {"token": "a b/../c"}), 400, "bad_request",
               what="malformed token")
    expect_err(op(s.a, "wrap.unwrap", {"token": "x" * 257}), 400, "bad_request",
               what="long token")
    print("ok bounds, expiry, made-up tokens")


# ---- only the creator unwraps (unless the setting says otherwise) -------------------------

def case_other_subject(cl):
    s = Stack(cl)
    secret = "wrap-other-" + secrets.token_hex(8)
    expect_ok(op(s.a, "kv.write", {"path": "o/1", "data": {"k": secret}}), "write")
    wi = wrapped(op(s.a, "kv.read", {"path": "o/1", "wrap_ttl": "60s"}), "alice wraps")
    expect_err(op(s.b, "wrap.unwrap", {"token": wi["token"]}, key=BOB_KEY), 400, "wrap_invalid",
               what="bob unwraps alice's wrap")
    expect_err(op(s.a, "wrap.lookup", {"token": wi["token"]}, key=BOB_KEY), 400, "wrap_invalid",
               what="bob looks up alice's wrap")
    # bob's attempt did not spend it
    un = expect_ok(op(s.a, "wrap.unwrap", {"token": wi["token"]}), "alice unwraps")
    check(un["data"]["k"] == secret, "alice's answer %r" % un)
    # a wrap made outside the bridge is nobody's
    st, doc = s.v.api("POST", "sys/wrapping/wrap", {"x": "y"})
    check(st == 400, "sim needs the header: %r" % doc)
    req = urllib.request.Request(s.v.addr + "/v1/sys/wrapping/wrap", data=b'{"x":"y"}',
                                 method="POST", headers={"X-Vault-Token": L.ROOT_TOKEN,
                                                         "X-Vault-Wrap-TTL": "60s"})
    with urllib.request.urlopen(req, timeout=10) as r:
        foreign = json.loads(r.read())["wrap_info"]["token"]
    expect_err(op(s.a, "wrap.unwrap", {"token": foreign}), 400, "wrap_invalid",
               what="a wrap not made by the bridge")
    # with WRAP_UNWRAP_ANY_SUBJECT=true, a wrap may be handed to another subject
    c = L.Bridge(cl, s.v.addr, KEYS, env=dict(s.env, WRAP_UNWRAP_ANY_SUBJECT="true"))
    wi = wrapped(op(s.a, "kv.read", {"path": "o/1", "wrap_ttl": "60s"}), "alice wraps again")
    un = expect_ok(op(c, "wrap.unwrap", {"token": wi["token"]}, key=BOB_KEY), "bob, allowed")
    check(un["data"]["k"] == secret, "bob's answer %r" % un)
    un = expect_ok(op(c, "wrap.unwrap", {"token": foreign}, key=BOB_KEY), "foreign, allowed")
    check(un == {"x": "y"}, "foreign payload %r" % un)
    print("ok other subjects refused by default, allowed by the setting")


# ---- MCP over HTTP (nginx) and stdio ------------------------------------------------------

def mcp_call(url, key, name, args):
    msg = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
           "params": {"name": name, "arguments": args}}
    req = urllib.request.Request(url + "/mcp/rpc", data=json.dumps(msg).encode(), method="POST",
                                 headers={"X-API-Key": key, "Content-Type": "application/json",
                                          "Accept": "application/json, text/event-stream",
                                          "MCP-Protocol-Version": "2025-06-18"})
    with urllib.request.urlopen(req, timeout=20) as r:
        raw = r.read()
    return raw, json.loads(raw)


def case_mcp_http(cl):
    s = Stack(cl)
    ng = mcplib.Nginx(cl, s.tmp, [s.a, s.b])
    secret = "wrap-mcp-" + secrets.token_hex(8)
    expect_ok(op(s.a, "kv.write", {"path": "m/1", "data": {"k": secret}}), "write")
    # tools/list documents wrap_ttl on the seven tools, and the wrap tools exist
    msg = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    req = urllib.request.Request(ng.url + "/mcp/rpc", data=json.dumps(msg).encode(),
                                 method="POST", headers={
                                     "X-API-Key": ALICE_KEY, "Content-Type": "application/json",
                                     "Accept": "application/json, text/event-stream",
                                     "MCP-Protocol-Version": "2025-06-18"})
    with urllib.request.urlopen(req, timeout=20) as r:
        tools = {t["name"]: t for t in json.loads(r.read())["result"]["tools"]}
    for name in ("kv_read", "transit_decrypt", "db_issue_creds", "ssh_otp", "ssh_sign",
                 "kms_decrypt", "kms_generate_data_key"):
        p = tools[name]["inputSchema"]["properties"]
        check("wrap_ttl" in p and "WRAP_TTL_MAX" in p["wrap_ttl"]["description"],
              "%s documents wrap_ttl: %r" % (name, p.get("wrap_ttl")))
    check("wrap_unwrap" in tools and "wrap_lookup" in tools, "wrap tools listed")
    check("wrap_ttl" not in tools["kv_write"]["inputSchema"]["properties"], "kv_write has none")
    # OpenAPI too
    with urllib.request.urlopen(ng.url + "/openapi.json", timeout=20) as r:
        oa = r.read().decode()
    check("wrap_ttl" in oa and "/wrap/unwrap" in oa, "openapi documents wrapping")
    # SSE stream of alice's events, open during the wrapped call
    stream = mcplib.FcgiStream(s.b.addr, "/mcp/sse", {"X-API-Key": ALICE_KEY,
                                                     "Accept": "text/event-stream"})
    cl.add(stream.close)
    check(stream.read_until(b"retry:", 5), "sse open")
    raw, doc = mcp_call(ng.url, ALICE_KEY, "kv_read", {"path": "m/1", "wrap_ttl": "60s"})
    res = doc["result"]
    check(not res.get("isError") and set(res["structuredContent"]) == {"wrap_info"},
          "structuredContent is wrap_info only: %r" % res)
    token = res["structuredContent"]["wrap_info"]["token"]
    check(secret not in raw.decode() and all(secret not in c.get("text", "")
                                             for c in res["content"]), "no secret in MCP answer")
    check(stream.read_until(b'"tool":"kv.read"', 5), "tool.completed event: %r" % stream.out[-300:])
    # another process (through nginx, either upstream) unwraps once
    raw2, doc2 = mcp_call(ng.url, ALICE_KEY, "wrap_unwrap", {"token": token})
    un = doc2["result"]["structuredContent"]
    check(un["data"] == {"k": secret}, "unwrapped over MCP %r" % doc2)
    raw3, doc3 = mcp_call(ng.url, ALICE_KEY, "wrap_unwrap", {"token": token})
    r3 = doc3["result"]
    check(r3.get("isError") and r3["structuredContent"]["error"]["code"] == "wrap_invalid",
          "second unwrap over MCP %r" % doc3)
    # bob over MCP: refused
    wi = mcp_call(ng.url, ALICE_KEY, "kv_read", {"path": "m/1", "wrap_ttl": "60s"})[1]
    t2 = wi["result"]["structuredContent"]["wrap_info"]["token"]
    r4 = mcp_call(ng.url, BOB_KEY, "wrap_unwrap", {"token": t2})[1]["result"]
    check(r4.get("isError") and r4["structuredContent"]["error"]["code"] == "wrap_invalid",
          "bob over MCP %r" % r4)
    time.sleep(0.3)
    stream.read_until(b"never", 0.5)
    blobs = s.logs()
    blobs["sse"] = stream.out
    blobs["mcp answer"] = raw
    blobs["mcp error"] = raw3
    blobs["nginx"] = b"".join(open(os.path.join(ng.dir, f), "rb").read()
                              for f in ("access.log", "error.log")
                              if os.path.exists(os.path.join(ng.dir, f)))
    no_secret(blobs, {"planted secret": secret})
    no_secret({k: v for k, v in blobs.items() if k not in ("mcp answer",)},
              {"wrap token": token})
    print("ok MCP over HTTP: documented, wrapped, unwrapped once, SSE and logs clean")


def case_stdio(cl):
    s = Stack(cl)
    secret = "wrap-stdio-" + secrets.token_hex(8)
    expect_ok(op(s.a, "kv.write", {"path": "s/1", "data": {"k": secret}}), "write")
    e = mcplib.bridge_env(s.tmp, s.v.addr, dict(s.env, SUBJECT="alice",
                                                 LOG_DIR=os.path.join(s.tmp, "stdio-logs")))
    e["VAULT_TOKEN"] = L.ROOT_TOKEN
    p = subprocess.Popen([procs.binary("vault-mcp-stdio")], env=e, cwd=s.tmp,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(s.tmp, "stdio-stderr.txt"), "w"))
    cl.add(lambda: procs.stop(p))

    def rpc(rid, method, params):
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method,
                                  "params": params}).encode() + b"\n")
        p.stdin.flush()
        while True:
            line = p.stdout.readline()
            check(line, "stdio closed (exit %r)" % p.poll())
            doc = json.loads(line)
            if doc.get("id") == rid:
                return line, doc

    rpc(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "wrap-test", "version": "1"}})
    p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    line, doc = rpc(2, "tools/call", {"name": "kv_read",
                                      "arguments": {"path": "s/1", "wrap_ttl": "60s"}})
    res = doc["result"]
    check(not res.get("isError") and set(res["structuredContent"]) == {"wrap_info"},
          "stdio wrapped %r" % res)
    check(secret.encode() not in line, "no secret on stdout")
    token = res["structuredContent"]["wrap_info"]["token"]
    # another process: the FastCGI responder, same subject, same RUN_DIR
    un = expect_ok(op(s.b, "wrap.unwrap", {"token": token}), "unwrap by the responder")
    check(un["data"] == {"k": secret}, "unwrapped %r" % un)
    line2, doc2 = rpc(3, "tools/call", {"name": "wrap_unwrap", "arguments": {"token": token}})
    r2 = doc2["result"]
    check(r2.get("isError") and r2["structuredContent"]["error"]["code"] == "wrap_invalid",
          "second unwrap over stdio %r" % doc2)
    p.stdin.close()
    check(p.wait(10) == 0, "stdio exit")
    blobs = s.logs()
    for root, _, files in os.walk(os.path.join(s.tmp, "stdio-logs")):
        for f in files:
            blobs[os.path.join(root, f)] = open(os.path.join(root, f), "rb").read()
    blobs["stdio stderr"] = open(os.path.join(s.tmp, "stdio-stderr.txt"), "rb").read()
    blobs["stdio answer"] = line
    blobs["stdio error"] = line2
    no_secret(blobs, {"planted secret": secret})
    print("ok stdio: wrapped, unwrapped once by another process, second refused")


# ---- child tokens and an AppRole bridge without the default policy ---------------------

def case_child_tokens(cl):
    """Wrapping runs under the bridge's token: the bridge's policy from
    scripts/provision-vault.sh (its sys/wrapping lines) is enough, with
    child tokens on and no default policy anywhere."""
    v = L.Vault(cl)
    L.provision(v)
    script = open(os.path.join(ROOT, "scripts", "provision-vault.sh")).read()
    wrap_lines = [ln for ln in script.splitlines() if ln.startswith('path "sys/wrapping/')]
    check(len(wrap_lines) == 3, "provision-vault.sh grants wrap, lookup, unwrap: %r" % wrap_lines)
    v.policy("mcp-bridge", L.BRIDGE_POLICY + "\n".join(wrap_lines) + "\n")
    v.must("POST", "sys/auth/approle", {"type": "approle"})
    v.must("POST", "auth/approle/role/mcp-bridge", {"token_policies": ["mcp-bridge"],
                                                    "token_no_default_policy": True,
                                                    "token_ttl": "1h"})
    role_id = v.must("GET", "auth/approle/role/mcp-bridge/role-id")["data"]["role_id"]
    secret_id = v.must("POST", "auth/approle/role/mcp-bridge/secret-id")["data"]["secret_id"]
    v.policy(L.policy_name("alice"), L.gen_policy("--subject", "alice", "--transit-key", "mcp-default",
                                             "--db-role", "readonly"))
    tmp = mcplib.tmpdir(cl, "vmb-wrap-child-")
    e = {"VAULT_TOKEN": None, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id,
         "CHILD_TOKEN_ENABLED": "true", "RUN_DIR": os.path.join(tmp, "run")}
    a = L.Bridge(cl, v.addr, KEYS, env=e)
    b = L.Bridge(cl, v.addr, KEYS, env=e)
    secret = "wrap-child-" + secrets.token_hex(8)
    expect_ok(op(a, "kv.write", {"path": "c/1", "data": {"k": secret}}), "write")
    ct = expect_ok(op(a, "transit.encrypt", {"key": "mcp-default", "plaintext": b64(secret)}),
                   "encrypt")["ciphertext"]
    for op_id, args, ok in (
            ("kv.read", {"path": "c/1"}, lambda d: d["data"]["k"] == secret),
            ("transit.decrypt", {"key": "mcp-default", "ciphertext": ct},
             lambda d: d["plaintext"] == b64(secret)),
            ("db.issue_creds", {"role": "readonly"}, lambda d: d["password"])):
        wi = wrapped(op(a, op_id, dict(args, wrap_ttl="30s")), op_id)
        lk = expect_ok(op(b, "wrap.lookup", {"token": wi["token"]}), op_id + " lookup")
        check(lk["creation_ttl"] == 30, "lookup %r" % lk)
        un = expect_ok(op(b, "wrap.unwrap", {"token": wi["token"]}), op_id + " unwrap")
        check(ok(un), "%s: %r" % (op_id, un))
    # the agent's own policy still decides what may be read at all
    expect_err(op(a, "transit.decrypt", {"key": "mcp-other", "ciphertext": ct,
                                         "wrap_ttl": "30s"}), 403, "permission_denied",
               what="denied before any wrapping")
    no_secret(a.logs(), {"planted secret": secret})
    print("ok child tokens, bridge policy from provision-vault.sh")


# ---- the per-subject policy in the registry record -----------------------------------------

def case_policy(cl):
    """Registry field wrap: never refuses wrap_ttl, always refuses unwrapped
    secret answers (REST and MCP), optional is the default with and
    without a record."""
    admin_key = "adm-" + secrets.token_hex(16)
    s = Stack(cl, env={"API_KEYS_JSON": json.dumps(dict(KEYS, **{
        admin_key: {"subject": "ops-admin", "scopes": ["admin"]}}))})
    grants = {"transit_keys": ["*"], "db_roles": ["*"], "ssh_roles": ["*"], "kms_keys": ["*"]}
    subj_keys = {}
    for name, pol in (("w_never", "never"), ("w_always", "always"), ("w_opt", None)):
        body = {"subject": name, "grants": grants}
        if pol:
            body["wrap"] = pol
        st, doc = s.a.raw("POST", "/admin/subjects", key=admin_key, body=body)
        check(st == 201 and doc.get("wrap") == (pol or "optional"), "create %s: %d %r"
              % (name, st, doc))
        st, doc = s.a.raw("POST", "/admin/subjects/%s/api-keys" % name, key=admin_key)
        check(st == 201, "key for %s: %r" % (name, doc))
        subj_keys[name] = doc["api_key"]
    st, doc = s.a.raw("POST", "/admin/subjects", key=admin_key,
                      body={"subject": "w_bad", "wrap": "sometimes"})
    check(st == 400 and "wrap" in doc["error"]["message"], "bad wrap value %r" % doc)
    secret = "wrap-policy-" + secrets.token_hex(8)
    for name, k in subj_keys.items():
        expect_ok(op(s.a, "kv.write", {"path": "p/1", "data": {"k": secret}}, key=k),
                  name + " write")
    kn, ka, ko = subj_keys["w_never"], subj_keys["w_always"], subj_keys["w_opt"]
    # never: wrap_ttl refused on every secret-returning op, before any work
    expect_err(op(s.a, "kv.read", {"path": "p/1", "wrap_ttl": "60s"}, key=kn), 403,
               "wrap_policy", "wrap never", "never + wrap_ttl")
    expect_err(op(s.a, "db.issue_creds", {"role": "readonly", "wrap_ttl": "60s"}, key=kn), 403,
               "wrap_policy", what="never + db")
    check(expect_ok(op(s.a, "kv.read", {"path": "p/1"}, key=kn), "never, plain")["data"]["k"]
          == secret, "never reads plainly")
    # always: unwrapped answers refused, wrapped ones served
    for op_id, args in (("kv.read", {"path": "p/1"}), ("db.issue_creds", {"role": "readonly"}),
                        ("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"})):
        expect_err(op(s.a, op_id, args, key=ka), 403, "wrap_policy", "wrap always",
                   "always, unwrapped " + op_id)
    # ... over MCP too (a tool result with isError)
    msg = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
           "params": {"name": "kv_read", "arguments": {"path": "p/1"}}}
    st, doc = s.b.raw("POST", "/mcp/rpc", key=ka, body=msg, headers={
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"})
    res = doc["result"]
    check(res.get("isError") and res["structuredContent"]["error"]["code"] == "wrap_policy" and
          secret not in json.dumps(doc), "always over MCP %r" % doc)
    wi = wrapped(op(s.a, "kv.read", {"path": "p/1", "wrap_ttl": "60s"}, key=ka), "always wraps")
    un = expect_ok(op(s.b, "wrap.unwrap", {"token": wi["token"]}, key=ka), "always unwraps")
    check(un["data"]["k"] == secret, "always: unwrapped %r" % un)
    # operations that return no secret are unaffected
    expect_ok(op(s.a, "kv.write", {"path": "p/2", "data": {"a": "b"}}, key=ka), "always writes")
    # optional: both ways; a config subject without a record likewise
    expect_ok(op(s.a, "kv.read", {"path": "p/1"}, key=ko), "optional plain")
    wrapped(op(s.a, "kv.read", {"path": "p/1", "wrap_ttl": "60s"}, key=ko), "optional wrapped")
    expect_ok(op(s.a, "kv.write", {"path": "p/3", "data": {"a": "b"}}), "no record")
    expect_ok(op(s.a, "kv.read", {"path": "p/3"}), "no record plain")
    wrapped(op(s.a, "kv.read", {"path": "p/3", "wrap_ttl": "60s"}), "no record wrapped")
    # a patch changes the policy for the next request
    st, doc = s.a.raw("PATCH", "/admin/subjects/w_always", key=admin_key, body={"wrap": "optional"})
    check(st == 200 and doc["wrap"] == "optional", "patch %r" % doc)
    expect_ok(op(s.b, "kv.read", {"path": "p/1"}, key=ka), "after patch: plain allowed")
    print("ok policy never / always / optional")


if __name__ == "__main__":
    name = sys.argv[1]
    cl = L.Cleanup()
    try:
        globals()["case_" + name](cl)
    finally:
        cl.run()
