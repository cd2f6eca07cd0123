#!/usr/bin/env python3
"""MCP tests (issue 6). One case per ctest:

  stdio_hostile    vault-mcp-stdio: malformed, wrong types, huge ids, deep
                   nesting, batches, oversized lines, shutdown, EOF
  fcgi_hostile     the same messages and the Streamable HTTP rules through
                   the FastCGI responder (auth, Origin, Accept, versions,
                   202s, 405s, 413s, sessions, tools derived from the table)
  sse              GET /mcp/sse across two processes of one pool: events,
                   keepalives, per-subject and per-process limits, resume,
                   client gone, shutdown
  oauth            RFC 9728 metadata and the WWW-Authenticate pointer
  sdk_http         the official SDK client through nginx (vault-sim)
  sdk_stdio        the official SDK client over stdio (vault-sim)
  conformance:S    the official conformance suite, scenario S, through
                   nginx and an auth-adding loopback proxy

Usage: test_mcp.py CASE"""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcplib as m  # noqa: E402
from mcplib import ALICE, BOB, READER, check  # noqa: E402
import procs  # noqa: E402

OPS_TABLE = os.path.join(m.ROOT, "core", "src", "entry", "ops_table.c")


def table_tools():
    """name -> scope names of every VMB_OP_TOOL row, read from the C table."""
    src = open(OPS_TABLE).read()
    body = src[src.index("vmb_ops[] = {"):]
    out = {}
    for mt in re.finditer(r'\{\s*\.id\s*=\s*"([^"]+)"(.*?)(?=\{\s*\.id\s*=|\n\};)', body, re.S):
        rid, rest = mt.group(1), mt.group(2)
        flags = re.search(r'\.flags\s*=\s*([^,]+),', rest)
        if not (flags and "VMB_OP_TOOL" in flags.group(1)):
            continue
        scope = re.search(r'\.scope\s*=\s*([^,]+),', rest)
        out[rid] = set(re.findall(r'VMB_SCOPE_(\w+)', scope.group(1))) if scope else set()
    return out


PORTABLE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def portable(op_id):
    """The MCP tool name of an operation id by default: kv.read -> kv_read."""
    return op_id.replace(".", "_")


# ---- hostile messages, shared by stdio and HTTP ----------------------------

def hostile_messages():
    """(label, raw text, expectation). Expectation: an int JSON-RPC error
    code, "none" (no reply), "result", "isError"."""
    deep = "[" * 100000 + "]" * 100000
    nested_args = {"path": "x", "data": {}}
    cur = nested_args["data"]
    for _ in range(50):
        cur["a"] = {}
        cur = cur["a"]
    return [
        ("garbage", "garbage", -32700),
        ("truncated", '{"jsonrpc":"2.0","id":1,"method":"ping"', -32700),
        ("single quotes", "{'jsonrpc':'2.0','id':1,'method':'ping'}", -32700),
        ("trailing junk", '{"jsonrpc":"2.0","id":1,"method":"ping"} x', -32700),
        ("deep nesting", deep, -32700),
        # json-c cannot tell a complete top-level number from a cut one.
        ("number", "42", (-32600, -32700)),
        ("string", '"ping"', -32600),
        ("null", "null", -32600),
        ("empty batch", "[]", -32600),
        ("batch", '[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600),
        ("no jsonrpc", '{"id":1,"method":"ping"}', -32600),
        ("jsonrpc 1.0", '{"jsonrpc":"1.0","id":1,"method":"ping"}', -32600),
        ("method number", '{"jsonrpc":"2.0","id":1,"method":5}', -32600),
        ("id null", '{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600),
        ("id bool", '{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600),
        ("id object", '{"jsonrpc":"2.0","id":{},"method":"ping"}', -32600),
        ("id float", '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600),
        ("id huge", '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}', -32600),
        ("id -huge", '{"jsonrpc":"2.0","id":-123456789012345678901234567890,"method":"ping"}', -32600),
        ("id 1e400", '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', -32600),
        ("id long string", json.dumps({"jsonrpc": "2.0", "id": "x" * 5000, "method": "ping"}), -32600),
        ("id big ok", '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}', "result"),
        ("id string ok", '{"jsonrpc":"2.0","id":"abc\\u00e9","method":"ping"}', "result"),
        ("params array", '{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}', -32602),
        ("params string", '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":"x"}', -32602),
        ("unknown method", '{"jsonrpc":"2.0","id":1,"method":"nope/nope"}', -32601),
        # 2026-07-28 only: without _meta it is malformed (-32602; over
        # HTTP the missing Mcp-Method header is found first: -32020).
        ("server/discover", '{"jsonrpc":"2.0","id":1,"method":"server/discover"}', (-32602, -32020)),
        ("notification", '{"jsonrpc":"2.0","method":"notifications/initialized"}', "none"),
        ("unknown notification", '{"jsonrpc":"2.0","method":"x/y","params":5}', "none"),
        ("response", '{"jsonrpc":"2.0","id":7,"result":{}}', "none"),
        ("error response", '{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"m"}}', "none"),
        ("init no version", '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}', -32602),
        ("init version number", '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":5}}', -32602),
        ("call no name", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', -32602),
        ("call name number", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}', -32602),
        ("call unknown tool", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x.y"}}', -32602),
        ("call args string", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":"x"}}', "isError"),
        ("call args array", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":[1]}}', "isError"),
        ("call wrong type", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":{"path":5}}}', "isError"),
        ("call NUL in path", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":{"path":"a\\u0000b"}}}', "isError"),
        ("call deep data", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                       "params": {"name": "kv.write", "arguments": nested_args}}), "isError"),
        ("list bad cursor", '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"abc"}}', -32602),
        ("read no uri", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}', -32602),
        ("read bad pct", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://alice/%zz"}}', -32602),
        ("read pct NUL", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://alice/a%00b"}}', -32602),
        ("read other subject", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://bob/x"}}', -32602),
        ("read empty subject", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv:///x"}}', -32602),
        ("read bad version", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://alice/x?version=0"}}', -32602),
        ("read other query", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://alice/x?a=b"}}', -32602),
        ("read dotdot", '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"kv://alice/a/%2e%2e/b"}}', -32602),
        ("read huge uri", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                                      "params": {"uri": "kv://alice/" + "a" * 5000}}), -32602),
        ("prompt arg number", '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"kv_read","arguments":{"path":5}}}', -32602),
        ("prompt args array", '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"kv_read","arguments":[]}}', -32602),
        ("setLevel bad", '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}', -32602),
        ("ping", '{"jsonrpc":"2.0","id":1,"method":"ping"}', "result"),
    ]


def judge(label, expect, replies):
    if expect == "none":
        check(replies == [], "%s: wanted no reply, got %r" % (label, replies))
        return
    check(len(replies) == 1, "%s: wanted one reply, got %r" % (label, replies))
    r = replies[0]
    check(r.get("jsonrpc") == "2.0", "%s: not JSON-RPC %r" % (label, r))
    if isinstance(expect, (int, tuple)):
        codes = expect if isinstance(expect, tuple) else (expect,)
        check("error" in r and r["error"].get("code") in codes,
              "%s: wanted error %r, got %r" % (label, expect, r))
        check(isinstance(r["error"].get("message"), str) and r["error"]["message"],
              "%s: error without message" % label)
    elif expect == "result":
        check("result" in r, "%s: wanted a result, got %r" % (label, r))
    elif expect == "isError":
        check("result" in r and r["result"].get("isError") is True,
              "%s: wanted isError, got %r" % (label, r))
        check(r["result"]["content"][0]["text"], "%s: isError without text" % label)
    print("ok %s" % label)


# ---- stdio -------------------------------------------------------------------

class Stdio:
    def __init__(self, cleanup, tmp, env=None):
        e = m.bridge_env(tmp, None, dict({"SUBJECT": "alice"}, **(env or {})))
        self.proc = subprocess.Popen([procs.binary("vault-mcp-stdio")], env=e, cwd=tmp,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(tmp, "stdio-stderr.txt"), "w"))
        cleanup.add(lambda: procs.stop(self.proc))
        self.n = 0

    def send(self, text):
        """Send one line and return the replies it produced: a ping with a
        marker id follows it, and everything before the marker's reply
        belongs to the line."""
        self.n += 1
        mark = "mark-%d" % self.n
        data = text.encode() if isinstance(text, str) else text
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": mark, "method": "ping"}).encode() + b"\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.proc.stdout.readline()
            check(line, "stdio closed stdout (exit %r)" % self.proc.poll())
            doc = json.loads(line)   # every line must be JSON
            if doc.get("id") == mark:
                return out
            out.append(doc)


def case_stdio_hostile(cl):
    tmp = m.tmpdir(cl, "vmb-mcp-stdio-")
    s = Stdio(cl, tmp, {"MAX_BODY_BYTES": "65536"})
    init = s.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    check(init[0]["result"]["protocolVersion"] == "2025-06-18", "initialize %r" % init)
    for label, text, expect in hostile_messages():
        if len(text) > 65536:
            continue     # the oversized-line check below covers these
        judge(label, expect, s.send(text))
    # Over MAX_BODY_BYTES: one clean error, and the next line still works.
    judge("oversized line", -32600, s.send("{" + " " * 70000 + "}"))
    judge("deep nesting (large)", -32600, s.send("[" * 100000 + "]" * 100000))
    judge("blank line", "none", s.send("   "))
    judge("invalid UTF-8", -32700, s.send(b'{"jsonrpc":"2.0","id":"\xff","method":"ping"}'))
    # Identity comes from SUBJECT: the resources are alice's.
    r = s.send('{"jsonrpc":"2.0","id":2,"method":"resources/list"}')
    check(r[0]["result"]["resources"][0]["uri"] == "kv://alice/", "stdio subject %r" % r)
    # shutdown: answered, then the process ends with status 0.
    s.proc.stdin.write(b'{"jsonrpc":"2.0","id":"bye","method":"shutdown"}\n')
    s.proc.stdin.flush()
    check(json.loads(s.proc.stdout.readline())["id"] == "bye", "shutdown reply")
    check(s.proc.wait(5) == 0, "exit status after shutdown")
    # EOF: exit 0, and nothing but JSON-RPC on stdout.
    p = subprocess.run([procs.binary("vault-mcp-stdio")], input=b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n',
                       env=m.bridge_env(tmp, None, {"SUBJECT": "alice", "LOG_DIR": ""}),
                       capture_output=True, timeout=10)
    check(p.returncode == 0, "exit on EOF: %r" % p.returncode)
    lines = p.stdout.decode().splitlines()
    check(len(lines) == 1 and json.loads(lines[0])["result"] == {}, "stdout is only JSON-RPC: %r" % lines)
    # No SUBJECT: refuses to start, says why on stderr.
    e = m.bridge_env(tmp, None)
    e.pop("SUBJECT", None)
    p = subprocess.run([procs.binary("vault-mcp-stdio")], input=b"", env=e, capture_output=True, timeout=10)
    check(p.returncode == 2 and b"SUBJECT" in p.stderr and p.stdout == b"", "no SUBJECT: %r" % (p,))
    # SCOPES narrows the tools.
    s2 = Stdio(cl, tmp, {"SCOPES": "read"})
    names = [t["name"] for t in s2.send('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')[0]["result"]["tools"]]
    tt = {portable(k): v for k, v in table_tools().items()}
    check(names and all(tt[n] <= {"READ"} for n in names), "SCOPES=read lists %r" % names)
    check("kv_write" not in names, "kv_write hidden without write scope")
    print("ok scopes")
    # MCP_TOOL_NAMES_DOTTED lists the table ids instead; both forms call.
    s3 = Stdio(cl, tmp, {"MCP_TOOL_NAMES_DOTTED": "true"})
    names = {t["name"] for t in s3.send('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')[0]["result"]["tools"]}
    check(names == set(table_tools()), "dotted names %r" % sorted(names))
    for n in ("kv.read", "kv_read"):
        r = s3.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                "params": {"name": n, "arguments": {"path": "x"}}}))[0]
        check("result" in r and r["result"]["isError"] is True and
              "kv.read failed" in r["result"]["content"][0]["text"], "call %s in dotted mode: %r" % (n, r))
    print("ok dotted names")


# ---- FastCGI ---------------------------------------------------------------------

def case_fcgi_hostile(cl):
    tmp = m.tmpdir(cl, "vmb-mcp-fcgi-")
    b = m.Bridge(cl, tmp, None, env={"MAX_BODY_BYTES": "65536",
                                     "CORS_ALLOW_ORIGINS": "https://inspector.example"})
    for label, text, expect in hostile_messages():
        if len(text) > 65536:
            continue
        st, hd, doc = b.post(text.encode())
        if expect == "none":
            check(st == 202 and doc is None, "%s: wanted 202 without body, got %d %r" % (label, st, doc))
            print("ok %s" % label)
            continue
        check(isinstance(doc, dict), "%s: body %r" % (label, doc))
        # Invalid messages get 400, with the id when it could be read.
        rejected = isinstance(expect, (int, tuple)) and (
            doc.get("id") is None or doc.get("error", {}).get("code") == -32600)
        modern = label == "server/discover"     # 2026-07-28 envelope errors are 400
        check(st == (400 if rejected or modern else 200), "%s: HTTP %d %r" % (label, st, doc))
        judge(label, expect, [doc])
    check(b.alive(), "responder survived the hostile messages")

    # Transport rules.
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=None)
    check(st == 401 and "www-authenticate" in hd, "no credential: %d %r" % (st, hd))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, key="wrong-key-000000000000")
    check(st == 401, "wrong key: %d" % st)
    st, hd, _ = b.http("GET", "/mcp/rpc")
    check(st == 405 and "POST" in hd.get("allow", ""), "GET /mcp/rpc: %d %r" % (st, hd))
    st, hd, _ = b.http("PUT", "/mcp/rpc", b"{}", {"Content-Type": "application/json"})
    check(st == 405, "PUT /mcp/rpc: %d" % st)
    st, hd, doc = b.post(b"")
    check(st == 400 and doc["error"]["code"] == -32700, "empty body: %d %r" % (st, doc))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                         headers={"Content-Type": "text/plain"})
    check(st == 415, "text/plain: %d %r" % (st, doc))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": "text/html"})
    check(st == 406, "Accept text/html: %d %r" % (st, doc))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                         headers={"Accept": "application/json;q=0, text/event-stream"})
    check(st == 200 and hd.get("content-type", "").startswith("text/event-stream") and
          isinstance(doc, bytes) and b'data: {"jsonrpc":"2.0","id":1,"result":{}}' in doc,
          "SSE-only Accept: %d %r %r" % (st, hd, doc))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": None})
    check(st == 200, "no Accept: %d" % st)
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                         headers={"MCP-Protocol-Version": "1999-01-01"})
    check(st == 400 and "MCP-Protocol-Version" in doc["error"]["message"] and
          doc["error"]["code"] == -32022 and doc["id"] == 1 and
          doc["error"]["data"]["requested"] == "1999-01-01", "bad version header: %d %r" % (st, doc))
    for v in ("2025-03-26", "2025-06-18", "2025-11-25", None):
        st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"MCP-Protocol-Version": v})
        check(st == 200, "version header %r: %d" % (v, st))
    for asked, got in (("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"),
                       ("2024-11-05", "2025-06-18"), ("2099-01-01", "2025-06-18")):
        r = b.rpc("initialize", {"protocolVersion": asked, "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "1"}})
        check(r["result"]["protocolVersion"] == got, "negotiate %s -> %r" % (asked, r))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                         headers={"Origin": "http://evil.example.com"})
    check(st == 403 and doc["error"]["code"] and doc.get("id") is None, "foreign Origin: %d %r" % (st, doc))
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                         headers={"Origin": "https://inspector.example"})
    check(st == 200 and hd.get("access-control-allow-origin") == "https://inspector.example",
          "allowed Origin: %d %r" % (st, hd))
    st, hd, _ = b.http("OPTIONS", "/mcp/rpc", key=None, headers={
        "Origin": "https://inspector.example", "Access-Control-Request-Method": "POST"})
    check(st == 204 and "POST" in hd.get("access-control-allow-methods", "") and
          "mcp-protocol-version" in hd.get("access-control-allow-headers", "").lower(),
          "CORS preflight: %d %r" % (st, hd))
    st, hd, doc = b.post(b"{" + b" " * 70000 + b"}")
    check(st == 413, "oversized body: %d %r" % (st, doc))
    print("ok transport rules")

    # Sessions: issued on initialize, bound to the subject, ended by DELETE.
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    sid = hd.get("mcp-session-id", "")
    check(re.fullmatch(r"[0-9a-f]{32}", sid), "session id %r" % sid)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    check(b.post(ping, headers={"Mcp-Session-Id": sid})[0] == 200, "session use")
    check(b.post(ping, key=BOB, headers={"Mcp-Session-Id": sid})[0] == 404, "other subject's session")
    check(b.post(ping, headers={"Mcp-Session-Id": "0" * 32})[0] == 404, "unknown session")
    check(b.post(ping, headers={"Mcp-Session-Id": sid}, key=None)[0] == 401, "session is no credential")
    check(b.http("DELETE", "/mcp/rpc", headers={"Mcp-Session-Id": sid}, key=BOB)[0] == 404, "DELETE by other")
    check(b.http("DELETE", "/mcp/rpc")[0] == 400, "DELETE without id")
    check(b.http("DELETE", "/mcp/rpc", headers={"Mcp-Session-Id": sid})[0] == 204, "DELETE")
    check(b.post(ping, headers={"Mcp-Session-Id": sid})[0] == 404, "ended session -> 404")
    check(b.http("DELETE", "/mcp/rpc", headers={"Mcp-Session-Id": sid})[0] == 404, "DELETE twice")
    print("ok sessions")

    # Tools come from the table, filtered by the caller's scopes.
    tt = table_tools()
    for key, scopes in ((ALICE, {"READ", "WRITE", "DELETE", "LIST"}), (READER, {"READ", "LIST"})):
        names = {t["name"] for t in b.rpc("tools/list", key=key)["result"]["tools"]}
        want = {portable(n) for n, s in tt.items() if s <= scopes}
        check(all(PORTABLE.match(n) for n in names), "portable names %r" % sorted(names))
        check(names == want, "tools/list for %s: %r != %r" % (scopes, sorted(names), sorted(want)))
    r = b.rpc("tools/call", {"name": "kv.write", "arguments": {"path": "a", "data": {}}}, key=READER)
    check(r["result"]["isError"] and "scope" in r["result"]["content"][0]["text"], "scope enforced %r" % r)
    r = b.rpc("prompts/list", key=READER)
    check([p["name"] for p in r["result"]["prompts"]] == ["kv_read"], "prompts follow scopes %r" % r)
    print("ok tools from the table (%d tools)" % len(tt))
    # Tool calls are logged with via=mcp, and carry no argument values.
    lines = [x for x in b.log_lines("responses.log") if x.get("via") == "mcp"]
    check(lines and all(x.get("subject") for x in lines), "responses.log via=mcp")
    check(b.alive(), "responder still alive")


# ---- 2026-07-28 on the same endpoint ------------------------------------------------

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}


def modern_msg(method, params=None, rid=1, meta=None):
    p = dict(params or {})
    p["_meta"] = META if meta is None else meta
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": p}


def modern_headers(msg, **over):
    h = {"MCP-Protocol-Version": MODERN, "Mcp-Method": msg["method"]}
    prm = msg.get("params") or {}
    if msg["method"] in ("tools/call", "prompts/get") and "name" in prm:
        h["Mcp-Name"] = prm["name"]
    if msg["method"] == "resources/read" and "uri" in prm:
        h["Mcp-Name"] = prm["uri"]
    for k, v in over.items():
        h[k.replace("_", "-")] = v
    return h


def mpost(b, msg, key=ALICE, **over):
    """POST a 2026-07-28 request with its standard headers (override or
    drop one with a keyword: Mcp_Name=None)."""
    return b.post(msg, key=key, headers=modern_headers(msg, **over))


def modern_error(label, st, doc, status, code, rid):
    check(st == status and isinstance(doc, dict) and doc.get("error", {}).get("code") == code and
          doc.get("id") == rid, "%s: wanted HTTP %d / %d / id %r, got %d %r" % (label, status, code, rid, st, doc))
    print("ok %s" % label)


def case_modern_http(cl):
    v = m.Vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-modern-")
    b = m.Bridge(cl, tmp, v.addr, env={"MCP_LIST_TTL_MS": "60000", "MCP_MAX_STREAMS_PER_SUBJECT": "2",
                                       "PUBLIC_HOSTS": "bridge.example.com, api.example.com:8443",
                                       "CORS_ALLOW_ORIGINS": "https://inspector.example"})

    # server/discover: versions, capabilities matching the handlers, identity.
    st, hd, doc = mpost(b, modern_msg("server/discover", rid="d1"))
    r = doc["result"]
    check(st == 200 and r["resultType"] == "complete" and r["supportedVersions"][0] == MODERN and
          set(r["supportedVersions"]) == {MODERN, "2025-11-25", "2025-06-18"} and
          set(r["capabilities"]) == {"tools", "resources", "prompts"} and
          r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "vault-mcp-bridge" and
          r["ttlMs"] == 60000 and r["cacheScope"] == "public" and "kv_read" in r["instructions"],
          "discover %d %r" % (st, doc))
    print("ok server/discover")

    # Lists: resultType, caching hints (private: they depend on the caller),
    # portable names; resources/read is never fresh (ttlMs 0).
    for meth, field in (("tools/list", "tools"), ("resources/list", "resources"),
                        ("resources/templates/list", "resourceTemplates"), ("prompts/list", "prompts")):
        st, hd, doc = mpost(b, modern_msg(meth))
        r = doc["result"]
        check(st == 200 and r["resultType"] == "complete" and r["ttlMs"] == 60000 and
              r["cacheScope"] == "private" and isinstance(r[field], list) and r[field],
              "%s %d %r" % (meth, st, doc))
    names = [t["name"] for t in mpost(b, modern_msg("tools/list"))[2]["result"]["tools"]]
    check(sorted(names) == sorted(portable(n) for n in table_tools()) and
          all(PORTABLE.match(n) for n in names), "modern tool names %r" % names)
    st, hd, doc = mpost(b, modern_msg("tools/call", {"name": "kv_write",
                                                      "arguments": {"path": "m/a", "data": {"k": "v"}}}))
    check(st == 200 and doc["result"]["isError"] is False and doc["result"]["resultType"] == "complete" and
          "ttlMs" not in doc["result"], "modern tools/call %d %r" % (st, doc))
    st, hd, doc = mpost(b, modern_msg("tools/call", {"name": "kv.read", "arguments": {"path": "m/a"}}))
    check(st == 200 and doc["result"]["structuredContent"]["data"] == {"k": "v"}, "dotted alias %r" % doc)
    st, hd, doc = mpost(b, modern_msg("resources/read", {"uri": "kv://alice/m/a"}))
    check(st == 200 and doc["result"]["ttlMs"] == 0 and doc["result"]["cacheScope"] == "private",
          "resources/read hints %r" % doc)
    # One naming rule everywhere: OpenAPI operationId = the table id,
    # x-mcp-tool = the listed MCP name.
    st, hd, body = b.http("GET", "/openapi.json")
    ops = [o for p in json.loads(body)["paths"].values() for o in p.values() if isinstance(o, dict)]
    mapping = {o["operationId"]: o["x-mcp-tool"] for o in ops if "x-mcp-tool" in o}
    check(mapping == {n: portable(n) for n in table_tools()} and sorted(mapping.values()) == sorted(names),
          "openapi x-mcp-tool %r" % mapping)
    # The metrics label is the operation id whichever name was called.
    st, hd, body = b.http("GET", "/metrics")
    check(b'mcp_tool_calls_total{tool="kv.read"' in body and b'tool="kv_read"' not in body and
          b'tool="kv_write"' not in body, "metrics tool label %r" % body[-600:])
    print("ok results: resultType, ttlMs/cacheScope, portable names")

    # Resource not found: -32602 with data.uri (2025: -32002).
    st, hd, doc = mpost(b, modern_msg("resources/read", {"uri": "kv://alice/m/none"}, rid=7))
    modern_error("not found -> -32602", st, doc, 200, -32602, 7)
    check(doc["error"]["data"]["uri"] == "kv://alice/m/none", "data.uri %r" % doc)
    st, hd, doc = mpost(b, modern_msg("resources/read", {"uri": "test://elsewhere"}, rid=8))
    modern_error("foreign scheme -> -32602", st, doc, 200, -32602, 8)
    check(doc["error"]["data"]["uri"] == "test://elsewhere", "data.uri %r" % doc)
    r = b.rpc("resources/read", {"uri": "kv://alice/m/none"})
    check(r["error"]["code"] == -32002 and r["error"]["data"]["uri"] == "kv://alice/m/none",
          "2025-06-18 keeps -32002: %r" % r)

    # _meta: missing pieces -> -32602 / 400, with the request's id.
    for label, meta in (("no _meta", None), ("no protocolVersion", {
            "io.modelcontextprotocol/clientCapabilities": {}}),
            ("no clientCapabilities", {"io.modelcontextprotocol/protocolVersion": MODERN}),
            ("capabilities not an object", dict(META, **{"io.modelcontextprotocol/clientCapabilities": []})),
            ("clientInfo without version", dict(META, **{"io.modelcontextprotocol/clientInfo": {"name": "x"}})),
            ("bad logLevel", dict(META, **{"io.modelcontextprotocol/logLevel": "loud"}))):
        msg = {"jsonrpc": "2.0", "id": "m-" + label, "method": "tools/list",
               "params": {} if meta is None else {"_meta": meta}}
        st, hd, doc = mpost(b, msg)
        modern_error("_meta: " + label, st, doc, 400, -32602, "m-" + label)
    st, hd, doc = mpost(b, modern_msg("tools/list", meta={k: v for k, v in META.items()
                                                          if "clientInfo" not in k}))
    check(st == 200 and "result" in doc, "clientInfo is optional %r" % doc)

    # Versions: header and body must agree; unknown -> -32022 with data.
    msg = modern_msg("server/discover", meta=dict(META, **{"io.modelcontextprotocol/protocolVersion": "v9"}),
                     rid=21)
    st, hd, doc = mpost(b, msg)
    modern_error("header 2026 / body v9 -> -32020", st, doc, 400, -32020, 21)
    st, hd, doc = mpost(b, msg, MCP_Protocol_Version="v9")
    modern_error("v9 both -> -32022", st, doc, 400, -32022, 21)
    check(doc["error"]["data"]["requested"] == "v9" and MODERN in doc["error"]["data"]["supported"],
          "-32022 data %r" % doc)
    st, hd, doc = mpost(b, modern_msg("tools/list", rid=22), MCP_Protocol_Version=None)
    modern_error("body 2026 without the header -> -32020", st, doc, 400, -32020, 22)
    msg = modern_msg("tools/list", meta=dict(META, **{"io.modelcontextprotocol/protocolVersion": "2025-06-18"}),
                     rid=23)
    st, hd, doc = mpost(b, msg, MCP_Protocol_Version="2025-06-18")
    modern_error("per-request 2025-06-18 -> -32022", st, doc, 400, -32022, 23)

    # Mcp-Method / Mcp-Name mirror the body; values case-sensitive, OWS trimmed.
    msg = modern_msg("tools/list", rid=31)
    for label, over in (("Mcp-Method missing", {"Mcp_Method": None}),
                        ("Mcp-Method other", {"Mcp_Method": "prompts/list"}),
                        ("Mcp-Method case", {"Mcp_Method": "TOOLS/LIST"})):
        st, hd, doc = mpost(b, msg, **over)
        modern_error(label, st, doc, 400, -32020, 31)
    st, hd, doc = mpost(b, msg, Mcp_Method="  tools/list\t")
    check(st == 200 and "result" in doc, "Mcp-Method with whitespace %d %r" % (st, doc))
    call = modern_msg("tools/call", {"name": "kv_read", "arguments": {"path": "m/a"}}, rid=32)
    for label, over in (("Mcp-Name missing", {"Mcp_Name": None}), ("Mcp-Name other", {"Mcp_Name": "kv_list"}),
                        ("Mcp-Name bad base64", {"Mcp_Name": "=?base64?%%%%?="}),
                        ("Mcp-Name base64 of other", {"Mcp_Name": "=?base64?a3ZfbGlzdA==?="})):
        st, hd, doc = mpost(b, call, **over)
        modern_error(label, st, doc, 400, -32020, 32)
    for label, val in (("Mcp-Name with whitespace", "  kv_read "), ("Mcp-Name base64", "=?base64?a3ZfcmVhZA==?=")):
        st, hd, doc = mpost(b, call, Mcp_Name=val)
        check(st == 200 and doc["result"]["isError"] is False, "%s %d %r" % (label, st, doc))
    rd = modern_msg("resources/read", {"uri": "kv://alice/m/a"}, rid=33)
    st, hd, doc = mpost(b, rd, Mcp_Name="kv://alice/m/b")
    modern_error("Mcp-Name vs params.uri", st, doc, 400, -32020, 33)
    pg = modern_msg("prompts/get", {"name": "kv_read", "arguments": {"path": "m/a"}}, rid=34)
    st, hd, doc = mpost(b, pg, Mcp_Name=None)
    modern_error("prompts/get without Mcp-Name", st, doc, 400, -32020, 34)
    check(mpost(b, pg)[0] == 200, "prompts/get with Mcp-Name")
    print("ok request headers")

    # Removed and unknown methods: 404 with -32601, the id kept.
    for i, meth in enumerate(("initialize", "ping", "logging/setLevel", "resources/subscribe",
                              "resources/unsubscribe", "resources/get", "shutdown", "no/such")):
        st, hd, doc = mpost(b, modern_msg(meth, rid=100 + i))
        modern_error("removed/unknown %s -> 404" % meth, st, doc, 404, -32601, 100 + i)

    # The hostile messages again, as 2026-07-28 traffic: never a crash,
    # always a JSON-RPC answer (or 202), and every error to a request whose
    # id could be read carries that id.
    for label, text, expect in hostile_messages():
        if len(text) > 60000:
            continue
        try:
            sent = json.loads(text)
        except ValueError:
            sent = None
        meth = sent.get("method") if isinstance(sent, dict) and isinstance(sent.get("method"), str) else "x"
        st, hd, doc = b.post(text.encode(), headers={"MCP-Protocol-Version": MODERN, "Mcp-Method": meth})
        check(st in (200, 202, 400, 404) and (st == 202 or (isinstance(doc, dict) and doc.get("jsonrpc") == "2.0")),
              "modern %s: %d %r" % (label, st, doc))
        if isinstance(doc, dict) and "error" in doc and isinstance(sent, dict) and isinstance(sent.get("id"), (str, int)) \
                and not isinstance(sent.get("id"), bool) and isinstance(sent.get("method"), str) and \
                len(str(sent["id"])) <= 1024 and abs(sent["id"] if isinstance(sent["id"], int) else 0) < 2 ** 63 - 1:
            check(doc.get("id") == sent["id"], "modern %s: error without the id %r" % (label, doc))
    check(b.alive(), "responder survived the hostile 2026-07-28 messages")
    print("ok hostile messages as 2026-07-28")

    # Stateless: a session id is ignored (no 404), none is minted.
    st, hd, doc = mpost(b, modern_msg("tools/list"), Mcp_Session_Id="0" * 32)
    check(st == 200 and "mcp-session-id" not in hd, "session id ignored %d %r" % (st, hd))
    # The same endpoint still serves 2025-06-18 unchanged.
    r = b.rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "t", "version": "1"}})
    check(r["result"]["protocolVersion"] == "2025-06-18" and "resultType" not in r["result"], "legacy %r" % r)
    r = b.rpc("initialize", {"protocolVersion": MODERN, "capabilities": {},
                             "clientInfo": {"name": "t", "version": "1"}})
    check(r["result"]["protocolVersion"] == "2025-06-18", "initialize never offers 2026-07-28 %r" % r)
    r = b.rpc("tools/list")
    check("resultType" not in r["result"] and "ttlMs" not in r["result"], "legacy tools/list %r" % r)
    print("ok dual era on one endpoint")

    # Host and Origin (DNS rebinding), as the SDKs check them.
    ping = modern_msg("tools/list", rid=41)
    for host, origin, want in (
            ("localhost:8089", None, 200), ("127.0.0.1", None, 200), ("[::1]:9", None, 200),
            ("bridge.example.com:444", None, 200), ("api.example.com:8443", None, 200),
            ("api.example.com:8444", None, 403), ("evil.example.com", None, 403),
            ("localhost:8089", "http://localhost:8089", 200),       # same origin, not listed
            ("localhost", "http://localhost:18765", 200),           # web server dropped the port
            ("localhost:8089", "http://localhost:9999", 403),       # other port
            ("localhost:8089", "http://evil.example.com", 403),
            ("evil.example.com", "http://evil.example.com", 403),   # rebound name, "same" origin
            ("localhost:8089", "https://inspector.example", 200),   # CORS_ALLOW_ORIGINS
            ("localhost:8089", "null", 403)):
        h = modern_headers(ping, Host=host)
        if origin:
            h["Origin"] = origin
        st, hd, doc = b.post(ping, headers=h)
        check(st == want, "Host %r Origin %r: wanted %d, got %d %r" % (host, origin, want, st, doc))
    st, hd, body = b.http("GET", "/mcp/sse", headers={"Host": "evil.example.com",
                                                       "Accept": "text/event-stream"}, timeout=5)
    check(st == 403, "/mcp/sse with a foreign Host: %d" % st)
    print("ok Host and Origin")

    # subscriptions/listen: acknowledgement first, our tool events on
    # request, tagged with the subscription id (= the request id).
    def listen(flt, rid):
        msg = modern_msg("subscriptions/listen", {"notifications": flt}, rid=rid)
        h = dict(modern_headers(msg), **{"X-API-Key": ALICE, "Content-Type": "application/json",
                                          "Accept": "application/json, text/event-stream"})
        return m.FcgiStream(b.addr, "/mcp/rpc", h, method="POST", body=json.dumps(msg).encode())

    def frames(stream):
        return [json.loads(l[6:]) for l in stream.out.decode().splitlines() if l.startswith("data: ")]

    s1 = listen({"vmb/toolCompleted": True, "toolsListChanged": True}, "sub-1")
    s2 = listen({"promptsListChanged": True}, 2)
    check(s1.read_until(b"acknowledged", 5) and s2.read_until(b"acknowledged", 5), "acks %r" % s1.out[:300])
    check(b"X-Accel-Buffering: no" in s1.out and b"text/event-stream" in s1.out, "listen head %r" % s1.out[:300])
    a1, a2 = frames(s1)[0], frames(s2)[0]
    check(a1["method"] == "notifications/subscriptions/acknowledged" and
          a1["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1" and
          a1["params"]["notifications"] == {"vmb/toolCompleted": True}, "ack 1 %r" % a1)
    check(a2["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 2 and
          a2["params"]["notifications"] == {}, "ack 2 %r" % a2)
    mpost(b, modern_msg("tools/call", {"name": "kv_list", "arguments": {}}), key=BOB)
    mpost(b, modern_msg("tools/call", {"name": "kv_read", "arguments": {"path": "m/a"}}))
    check(s1.read_until(b"tool_completed", 5), "event on the listen stream %r" % s1.out[-300:])
    ev = [f for f in frames(s1) if f.get("method") == "notifications/vmb/tool_completed"]
    check(len(ev) == 1 and ev[0]["params"]["tool"] == "kv.read" and ev[0]["params"]["subject"] == "alice" and
          ev[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1", "events %r" % ev)
    check(s2.read_until(b": keepalive", 3) and not any(
        f.get("method", "").startswith("notifications/vmb") for f in frames(s2)), "unrequested types stay away")
    st, hd, doc = mpost(b, modern_msg("subscriptions/listen", {"notifications": {"toolsListChanged": 1}}, rid=51))
    modern_error("listen with a bad filter", st, doc, 400, -32602, 51)
    # A third stream of alice's is over MCP_MAX_STREAMS_PER_SUBJECT (2).
    st, hd, doc = mpost(b, modern_msg("subscriptions/listen", {"notifications": {}}, rid=52))
    check(st == 429 and doc["id"] == 52 and "retry-after" in hd, "stream limit %d %r" % (st, doc))
    # Shutdown ends each subscription with its listen response.
    b.proc.send_signal(signal.SIGTERM)
    check(s1.read_until(b'"resultType":"complete"', 8), "graceful end %r" % s1.out[-300:])
    end = frames(s1)[-1]
    check(end["id"] == "sub-1" and end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1",
          "listen response %r" % end)
    check(b.proc.wait(10) == 0, "responder stopped")
    s1.close()
    s2.close()
    print("ok subscriptions/listen")


def case_modern_stdio(cl):
    tmp = m.tmpdir(cl, "vmb-mcp-modern-stdio-")
    s = Stdio(cl, tmp)
    r = s.send(json.dumps(modern_msg("server/discover", rid="d")))
    check(len(r) == 1 and r[0]["result"]["supportedVersions"][0] == MODERN and
          r[0]["result"]["resultType"] == "complete", "stdio discover %r" % r)
    r = s.send(json.dumps(modern_msg("tools/list")))
    check(all(PORTABLE.match(t["name"]) for t in r[0]["result"]["tools"]) and
          r[0]["result"]["cacheScope"] == "private", "stdio tools/list %r" % r[0]["result"].get("cacheScope"))
    r = s.send(json.dumps(modern_msg("ping", rid=5)))
    check(r[0]["error"]["code"] == -32601 and r[0]["id"] == 5, "stdio removed method %r" % r)
    r = s.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}}))
    check(r[0]["error"]["code"] == -32602 and r[0]["id"] == 6, "stdio _meta without capabilities %r" % r)
    r = s.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "server/discover"}))
    check(r[0]["error"]["code"] == -32602 and r[0]["id"] == 6, "stdio discover without _meta %r" % r)
    # Legacy on the same process: initialize, ping.
    r = s.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    check(r[0]["result"]["protocolVersion"] == "2025-11-25", "stdio legacy initialize %r" % r)
    # listen: the ack now; a tool call's reply is followed by its event;
    # notifications/cancelled ends it; shutdown ends the rest gracefully.
    r = s.send(json.dumps(modern_msg("subscriptions/listen", {"notifications": {"vmb/toolCompleted": True}},
                                     rid="L1")))
    check(len(r) == 1 and r[0]["method"] == "notifications/subscriptions/acknowledged" and
          r[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L1", "stdio ack %r" % r)
    s.send(json.dumps(modern_msg("subscriptions/listen", {"notifications": {"vmb/toolCompleted": True}},
                                 rid="L2")))
    r = s.send(json.dumps(modern_msg("tools/call", {"name": "kv_read", "arguments": {"path": "x"}}, rid=8)))
    check(len(r) == 3 and r[0]["id"] == 8 and
          [x["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] for x in r[1:]] == ["L1", "L2"] and
          r[1]["params"]["tool"] == "kv.read", "stdio events %r" % r)
    check(s.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                             "params": {"requestId": "L1"}})) == [], "cancel is silent")
    r = s.send(json.dumps(modern_msg("tools/call", {"name": "kv_list", "arguments": {}}, rid=9)))
    check(len(r) == 2 and r[1]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L2",
          "after cancel %r" % r)
    s.proc.stdin.write(b'{"jsonrpc":"2.0","id":"bye","method":"shutdown"}\n')
    s.proc.stdin.flush()
    out = [json.loads(s.proc.stdout.readline()) for _ in range(2)]
    check(out[0]["id"] == "bye" and out[1]["id"] == "L2" and out[1]["result"]["resultType"] == "complete",
          "stdio shutdown ends subscriptions %r" % out)
    check(s.proc.wait(5) == 0, "exit after shutdown")
    print("ok stdio 2026-07-28")


# ---- SSE across a pool -----------------------------------------------------------

def sse(b, key, headers=None):
    h = {"X-API-Key": key, "Accept": "text/event-stream"}
    h.update(headers or {})
    return m.FcgiStream(b.addr, "/mcp/sse", h)


def call_tool(b, key, name="kv.list", args=None):
    return b.rpc("tools/call", {"name": name, "arguments": args or {}}, key=key)


def case_sse(cl):
    tmp = m.tmpdir(cl, "vmb-mcp-sse-")
    env = {"MCP_MAX_STREAMS_PER_SUBJECT": "2", "MCP_MAX_STREAMS_PER_PROCESS": "2",
           "MCP_SSE_KEEPALIVE_SECONDS": "1"}
    a = m.Bridge(cl, tmp, None, env=env, threads=3)
    b = m.Bridge(cl, tmp, None, env=env, threads=3)
    s1 = sse(a, ALICE)
    check(s1.read_until(b"\r\n\r\n", 5) and b"Status: 200" in s1.out and
          b"text/event-stream" in s1.out, "stream head %r" % s1.out[:300])
    check(s1.read_until(b": keepalive", 4), "keepalive within 4 s")
    # A call served by the other process reaches alice's stream; bob's not.
    call_tool(b, BOB)
    call_tool(b, ALICE, "kv.read", {"path": "x"})
    check(s1.read_until(b'"tool":"kv.read"', 5), "event from the other process: %r" % s1.out[-400:])
    ev = [json.loads(l[6:]) for l in s1.out.decode().splitlines() if l.startswith("data: ")]
    check(len(ev) == 1 and ev[0]["type"] == "tool.completed" and ev[0]["subject"] == "alice" and
          ev[0]["tool"] == "kv.read" and re.match(r"\d{4}-\d\d-\d\dT", ev[0]["ts"]),
          "event shape %r" % ev)
    check(b"bob" not in s1.out, "no other subject's events")
    first_id = int(re.search(rb"id: (\d+)", s1.out).group(1))
    print("ok events across processes")

    # Per-subject limit (host-wide): a second stream on B, a third refused.
    s2 = sse(b, ALICE)
    check(s2.read_until(b"retry:", 5), "second alice stream")
    st, hd, body = a.http("GET", "/mcp/sse", headers={"Accept": "text/event-stream"}, timeout=5)
    check(st == 429 and "retry-after" in hd, "third alice stream: %d %r" % (st, body))
    # Per-process limit (MCP_MAX_STREAMS_PER_PROCESS 2): a third is refused;
    # streams are parked, so every thread is left for ordinary requests.
    s3 = sse(a, BOB)
    check(s3.read_until(b"retry:", 5), "bob's stream on A")
    st, hd, body = a.http("GET", "/mcp/sse", key=READER, headers={"Accept": "text/event-stream"}, timeout=5)
    check(st == 429, "process limit: %d %r" % (st, body))
    check(a.rpc("ping")["result"] == {}, "A still serves requests with 2 streams open")
    print("ok limits")

    # Client gone: the slot frees once a keepalive write fails.
    s1.close()
    deadline = time.time() + 8
    while time.time() < deadline:
        s4 = sse(a, ALICE)
        s4.read_until(b"\r\n\r\n", 3)
        if b"Status: 200" in s4.out:
            break
        s4.close()
        time.sleep(0.5)
    check(b"Status: 200" in s4.out, "slot freed after the client left: %r" % s4.out[:200])
    print("ok client gone")
    s4.close()
    s2.close()
    time.sleep(2.5)

    # Resume: Last-Event-ID replays what the ring still holds.
    s5 = sse(b, ALICE, {"Last-Event-ID": str(first_id - 1)})
    check(s5.read_until(b'"tool":"kv.read"', 5), "replay after Last-Event-ID: %r" % s5.out[-300:])
    print("ok resume")

    # Shutdown with streams open: the responder stops promptly.
    t0 = time.time()
    b.proc.send_signal(signal.SIGTERM)
    rc = b.proc.wait(10)
    check(rc == 0 and time.time() - t0 < 8, "stop with an open stream: rc %r in %.1fs" % (rc, time.time() - t0))
    s3.close()
    s5.close()
    print("ok shutdown")


# ---- OAuth metadata ------------------------------------------------------------

def case_oauth(cl):
    tmp = m.tmpdir(cl, "vmb-mcp-oauth-")
    b = m.Bridge(cl, tmp, None, env={
        "AUTH_JWT_ENABLED": "true", "JWT_HS256_SECRET": "s" * 40, "JWT_ISSUER": "https://issuer.example",
        "JWT_AUDIENCE": "mcp-agents",
        "OAUTH_AUTHORIZATION_SERVERS": "https://auth.example.com, https://auth2.example.com"})
    hdr = {"Host": "bridge.example:8443"}
    st, hd, body = b.http("GET", "/.well-known/oauth-protected-resource/mcp/rpc", key=None, headers=hdr)
    doc = json.loads(body)
    check(st == 200 and doc["resource"] == "http://bridge.example:8443/mcp/rpc" and
          doc["authorization_servers"] == ["https://auth.example.com", "https://auth2.example.com"] and
          doc["bearer_methods_supported"] == ["header"] and "read" in doc["scopes_supported"],
          "path-suffixed metadata %d %r" % (st, doc))
    st, hd, body = b.http("GET", "/.well-known/oauth-protected-resource", key=None, headers=hdr)
    check(st == 200 and json.loads(body)["resource"] == "http://bridge.example:8443", "root metadata %r" % body)
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=None, headers=hdr)
    wa = hd.get("www-authenticate", "")
    check(st == 401 and wa.startswith("Bearer ") and
          'resource_metadata="http://bridge.example:8443/.well-known/oauth-protected-resource/mcp/rpc"' in wa,
          "401 challenge %r" % wa)
    st, hd, doc = b.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=None,
                         headers=dict(hdr, Authorization="Bearer not.a.jwt"))
    check(st == 401 and "resource_metadata=" in hd.get("www-authenticate", ""), "invalid token %r" % hd)
    print("ok metadata on")
    b2 = m.Bridge(cl, tmp, None, env={"AUTH_JWT_ENABLED": "false"})
    st, hd, body = b2.http("GET", "/.well-known/oauth-protected-resource", key=None)
    check(st == 404, "metadata without JWT: %d" % st)
    st, hd, doc = b2.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=None)
    check(st == 401 and "resource_metadata" not in hd.get("www-authenticate", ""), "no pointer without JWT")
    print("ok metadata off")


# ---- the official SDK client ------------------------------------------------------

def provisioned_vault(cl):
    v = m.Vault(cl)
    p = subprocess.run(["bash", os.path.join(m.ROOT, "scripts", "provision-vault.sh")],
                       env=dict(os.environ, VAULT_ADDR=v.addr, VAULT_TOKEN=m.ROOT_TOKEN),
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "provision-vault.sh: %s" % p.stderr[-1500:])
    return v


def run_node(node, args, env=None, timeout=300):
    p = subprocess.run([node] + args, cwd=m.NODE_DIR, capture_output=True, text=True,
                       timeout=timeout, env=env)
    sys.stdout.write(p.stdout[-6000:])
    sys.stderr.write(p.stderr[-4000:])
    check(p.returncode == 0, "%s exited %d" % (args[0], p.returncode))
    return p.stdout


def case_sdk_http(cl):
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-sdk-")
    b1 = m.Bridge(cl, tmp, v.addr)
    b2 = m.Bridge(cl, tmp, v.addr)
    n = m.Nginx(cl, tmp, [b1, b2])     # one pool of two processes
    run_node(node, ["sdk_client.mjs", "--http", n.url + "/mcp/rpc", "--key", ALICE])


def case_sdk_stdio(cl):
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-sdk-")
    env = m.bridge_env(tmp, v.addr, {"SUBJECT": "alice", "LOG_DIR": os.path.join(tmp, "logs")})
    run_node(node, ["sdk_client.mjs", "--stdio", procs.binary("vault-mcp-stdio")], env=env)


# ---- the v2 client and MCP Inspector (2026-07-28) ---------------------------------

def case_v2_http(cl):
    """@modelcontextprotocol/client 2.x through nginx to a pool of two
    processes: the modern era (server/discover probe), then the legacy
    handshake on the same endpoint."""
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-v2-")
    b1 = m.Bridge(cl, tmp, v.addr)
    b2 = m.Bridge(cl, tmp, v.addr)
    n = m.Nginx(cl, tmp, [b1, b2])
    for era in ("auto", "legacy"):
        run_node(node, ["v2_client.mjs", "--http", n.url + "/mcp/rpc", "--key", ALICE, "--era", era])


def case_v2_stdio(cl):
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-v2-")
    env = m.bridge_env(tmp, v.addr, {"SUBJECT": "alice", "LOG_DIR": os.path.join(tmp, "logs")})
    for era in ("auto", "legacy"):
        run_node(node, ["v2_client.mjs", "--stdio", procs.binary("vault-mcp-stdio"), "--era", era],
                 env=env)


def synth_args(schema):
    """Schema-valid arguments for a tool: its required fields only."""
    out = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        t = prop.get("type")
        t = t[0] if isinstance(t, list) else t
        if "enum" in prop:
            out[name] = prop["enum"][0]
        elif t in ("integer", "number"):
            out[name] = max(1, prop.get("minimum", 1))
        elif t == "boolean":
            out[name] = False
        elif t == "array":
            out[name] = [1] if prop.get("items", {}).get("type") == "integer" else ["x"]
        elif t == "object":
            out[name] = {}
        else:
            out[name] = "eA==" if name in ("plaintext", "input") else "insp/synth"
    return out


class Inspector:
    """The MCP Inspector CLI (2.x, --cli) against one target: every call is
    one `inspector --cli ... --method M --format json` run, as a user would
    script it. HOME points into the case's directory: the Inspector keeps a
    catalog and client config there."""

    def __init__(self, node, tmp, target, era):
        self.node = node
        self.cli = os.path.join(m.NODE_DIR, "node_modules", "@modelcontextprotocol", "inspector",
                                "clients", "launcher", "build", "index.js")
        self.target = target
        self.era = era
        self.env = dict(os.environ, HOME=os.path.join(tmp, "home"))
        os.makedirs(self.env["HOME"], exist_ok=True)

    def run(self, method, *extra, want_error=False):
        argv = [self.node, self.cli, "--cli"] + self.target + [
            "--protocol-era", self.era, "--method", method, "--format", "json", "-q"] + list(extra)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=self.env)
        if want_error:
            check(p.returncode != 0, "inspector %s: wanted a failure, got %r" % (method, p.stdout[:300]))
            return p.stderr
        # A tool result with isError: true still prints the result, and
        # the Inspector exits with its own status for it (tool_is_error).
        check(p.returncode == 0 or ("tool_is_error" in p.stderr and p.stdout.strip()),
              "inspector %s %r: exit %d %s %s" % (method, extra, p.returncode,
                                                  p.stdout[-500:], p.stderr[-800:]))
        doc = json.loads(p.stdout)
        return doc.get("result", doc)


def inspector_session(ins, subject):
    """List and call every tool, read resources, get prompts."""
    modern = ins.era == "modern"
    tools = ins.run("tools/list")["tools"]
    names = [t["name"] for t in tools]
    check(names and all(PORTABLE.match(n) for n in names) and "kv_read" in names,
          "inspector tools/list %r" % names)
    base = "insp-%s" % ins.era
    r = ins.run("tools/call", "--tool-name", "kv_write", "--tool-args-json",
                json.dumps({"path": base + "/app", "data": {"user": "ins"}}))
    check(r["isError"] is False, "inspector kv_write %r" % r)
    # Results carry the server's identity in _meta only on 2026-07-28.
    check(("_meta" in r and "io.modelcontextprotocol/serverInfo" in r["_meta"]) == modern,
          "inspector era %s: %r" % (ins.era, r))
    r = ins.run("tools/call", "--tool-name", "kv_read", "--tool-args-json",
                json.dumps({"path": base + "/app"}))
    check(r["structuredContent"]["data"] == {"user": "ins"}, "inspector kv_read %r" % r)
    # (The Inspector only calls listed names, so the kv.read alias is
    # exercised by the SDK tests instead.)
    for t in tools:
        r = ins.run("tools/call", "--tool-name", t["name"], "--tool-args-json",
                    json.dumps(synth_args(t["inputSchema"])))
        check(isinstance(r.get("isError"), bool) and r["content"][0]["type"] == "text",
              "inspector %s: %r" % (t["name"], r))
    print("ok inspector [%s] %d tools called" % (ins.era, len(tools)))
    res = ins.run("resources/list")["resources"]
    check([x["uri"] for x in res] == ["kv://%s/" % subject], "inspector resources/list %r" % res)
    tpl = ins.run("resources/templates/list")["resourceTemplates"]
    check(tpl[0]["uriTemplate"] == "kv://{subject}/{+path}", "inspector templates %r" % tpl)
    r = ins.run("resources/read", "--uri", "kv://%s/%s/app" % (subject, base))
    check(json.loads(r["contents"][0]["text"])["data"] == {"user": "ins"}, "inspector resources/read %r" % r)
    r = ins.run("resources/read", "--uri", "kv://%s/%s/" % (subject, base))
    check("app" in json.loads(r["contents"][0]["text"])["keys"], "inspector folder read %r" % r)
    err = ins.run("resources/read", "--uri", "kv://%s/%s/none" % (subject, base), want_error=True)
    # The Inspector reports the error's message, not its code.
    check("Resource not found" in err, "inspector missing resource: %s" % err[-300:])
    pr = ins.run("prompts/list")["prompts"]
    check(sorted(p["name"] for p in pr) == ["kv_read", "kv_write"], "inspector prompts/list %r" % pr)
    r = ins.run("prompts/get", "--prompt-name", "kv_read", "--prompt-args", "path=%s/app" % base)
    check("kv_read" in r["messages"][0]["content"]["text"], "inspector prompts/get %r" % r)
    r = ins.run("prompts/get", "--prompt-name", "kv_write", "--prompt-args", "path=%s/x" % base,
                'data={"a":"b"}')
    check(r["suggested_tool"]["arguments"]["data"] == {"a": "b"}, "inspector prompts/get kv_write %r" % r)
    print("ok inspector [%s] resources and prompts" % ins.era)


def case_inspector_http(cl):
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-insp-")
    b1 = m.Bridge(cl, tmp, v.addr)
    b2 = m.Bridge(cl, tmp, v.addr)
    n = m.Nginx(cl, tmp, [b1, b2])
    for era in ("modern", "legacy"):
        inspector_session(Inspector(node, tmp, [n.url + "/mcp/rpc", "--transport", "http",
                                                "--header", "X-API-Key: " + ALICE], era), "alice")


def case_inspector_stdio(cl):
    node = m.node_ready()
    v = provisioned_vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-insp-")
    env = m.bridge_env(tmp, v.addr, {"SUBJECT": "alice"})
    pass_env = []
    for k in ("SUBJECT", "VAULT_ADDR", "VAULT_TOKEN", "LOG_DIR", "RUN_DIR", "RATE_LIMIT_ENABLED"):
        pass_env += ["-e", "%s=%s" % (k, env[k])]
    for era in ("modern", "legacy"):
        inspector_session(Inspector(node, tmp, ["--transport", "stdio"] + pass_env +
                                    [procs.binary("vault-mcp-stdio")], era), "alice")


# ---- the official conformance suite -----------------------------------------------

def case_conformance(cl, scenario):
    node = m.node_ready()
    tmp = m.tmpdir(cl, "vmb-mcp-conf-")
    pport = procs.free_port()
    # The suite connects to the proxy; the valid-Origin check of
    # dns-rebinding-protection sends the proxy's own origin, which the
    # bridge accepts as same-origin (no CORS_ALLOW_ORIGINS needed).
    b = m.Bridge(cl, tmp, None)
    n = m.Nginx(cl, tmp, [b])
    m.Proc(cl, [node, os.path.join(m.NODE_DIR, "proxy.mjs"), str(pport), str(n.port), ALICE])
    conf = os.path.join(m.NODE_DIR, "node_modules", "@modelcontextprotocol", "conformance",
                        "dist", "index.js")
    out = run_node(node, [conf, "server", "--url", "http://127.0.0.1:%d/mcp/rpc" % pport,
                          "--scenario", scenario], timeout=180)
    mt = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", re.sub(r"\x1b\[[0-9;]*m", "", out))
    check(mt and mt.group(1) == mt.group(2) and int(mt.group(2)) > 0 and mt.group(3) == "0",
          "%s: %s" % (scenario, mt.group(0) if mt else "no summary"))


CONFORMANCE_2026_BASELINE = os.path.join(m.HERE, "conformance-2026-baseline.yml")


def conformance_stack(cl):
    """vault-sim, a pool of two processes behind nginx, and the proxy that
    adds the API key (the suite sends no credentials). No
    CORS_ALLOW_ORIGINS: the suite's valid Origin is the proxy's own
    origin, which the bridge accepts as same-origin. Returns (node, url)."""
    node = m.node_ready()
    v = m.Vault(cl)
    tmp = m.tmpdir(cl, "vmb-mcp-conf26-")
    pport = procs.free_port()
    b1 = m.Bridge(cl, tmp, v.addr)
    b2 = m.Bridge(cl, tmp, v.addr)
    n = m.Nginx(cl, tmp, [b1, b2])
    m.Proc(cl, [node, os.path.join(m.NODE_DIR, "proxy.mjs"), str(pport), str(n.port), ALICE])
    return node, "http://localhost:%d/mcp/rpc" % pport


def conformance_026(node, url, revision, scenario):
    """One scenario of conformance 0.2.0-alpha.12 at revision: exit 0, no
    warnings, and no failure but the checks baselined for it."""
    conf = os.path.join(m.NODE_DIR, "node_modules", "conformance-2026", "dist", "index.js")
    args = [conf, "server", "--url", url, "--spec-version", revision, "--scenario", scenario]
    # Checks excused by the baseline (fixture-only); the suite itself
    # fails the run on any other failure and on a stale entry.
    excused = [l.split(":", 1)[1].strip() for l in open(CONFORMANCE_2026_BASELINE)
               if l.strip().startswith("- %s:" % scenario)] if revision == "2026-07-28" else []
    if excused:
        args += ["--expected-failures", CONFORMANCE_2026_BASELINE]
    out = run_node(node, args, timeout=240)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    mt = re.search(r"Passed: (\d+)/(\d+), (\d+) failed, (\d+) warnings", plain)
    check(mt and int(mt.group(2)) > 0, "%s: no summary" % scenario)
    failed = set(re.findall(r"\[([\w-]+)\s*\] FAILURE", plain))
    check(failed == set(excused) and int(mt.group(3)) == len(excused) and mt.group(4) == "0",
          "%s: %s; failed %r, excused %r" % (scenario, mt.group(0), sorted(failed), excused))
    print("FIGURES conformance 0.2.0-alpha.12 %s %s: %s" % (revision, scenario, mt.group(0)))


def case_conformance_2026(cl, scenario):
    node, url = conformance_stack(cl)
    conformance_026(node, url, "2026-07-28", scenario)


# The scenarios of the 2025 revisions that need no fixture tools, run by
# the same 0.2.0-alpha.12 suite (which adds wire-schema and session checks
# to what 0.1.16 runs).
LEGACY_026 = {
    "2025-06-18": ["server-initialize", "server-session-lifecycle", "logging-set-level", "ping",
                   "tools-list", "resources-list", "prompts-list"],
    "2025-11-25": ["server-initialize", "server-session-lifecycle", "logging-set-level", "ping",
                   "tools-list", "resources-list", "prompts-list", "server-sse-multiple-streams",
                   "dns-rebinding-protection"],
}


def case_conformance_026_legacy(cl, revision):
    node, url = conformance_stack(cl)
    for scenario in LEGACY_026[revision]:
        conformance_026(node, url, revision, scenario)


CASES = {
    "stdio_hostile": case_stdio_hostile,
    "fcgi_hostile": case_fcgi_hostile,
    "sse": case_sse,
    "oauth": case_oauth,
    "modern_http": case_modern_http,
    "modern_stdio": case_modern_stdio,
    "sdk_http": case_sdk_http,
    "sdk_stdio": case_sdk_stdio,
    "v2_http": case_v2_http,
    "v2_stdio": case_v2_stdio,
    "inspector_http": case_inspector_http,
    "inspector_stdio": case_inspector_stdio,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    name = sys.argv[1]
    cl = m.Cleanup()
    try:
        if name.startswith("conformance026:"):
            case_conformance_026_legacy(cl, name.split(":", 1)[1])
        elif name.startswith("conformance2026:"):
            case_conformance_2026(cl, name.split(":", 1)[1])
        elif name.startswith("conformance:"):
            case_conformance(cl, name.split(":", 1)[1])
        else:
            CASES[name](cl)
    finally:
        cl.run()
    print("PASS %s" % name)


if __name__ == "__main__":
    main()
