#!/usr/bin/env python3
"""FastCGI round-trip tests of vault-mcp-fcgi (issue 2).

Each case starts the responder on a loopback port with its own LOG_DIR
and a stand-in Vault (a tiny HTTP server that answers sys/health and
lookup-self after a configurable delay), then talks FastCGI to it.
Its scratch directories are removed when the case ends (CLEANUP)."""

import hashlib
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fcgi_client as fc  # noqa: E402
import procs  # noqa: E402
from harness import Cleanup, tmpdir  # noqa: E402

# What the running case made: run once it ends, whatever happened.
CLEANUP = Cleanup()

API_KEY = "fcgi-test-key-0123456789abcdef0123"


class SlowVault(http.server.ThreadingHTTPServer):
    daemon_threads = True
    delay = 0.0
    mode = "ok"   # ok | sealed | token_refused


class SlowVaultHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(self.server.delay)
        status = 200
        if self.path.startswith("/v1/sys/health"):
            sealed = self.server.mode == "sealed"
            body = {"initialized": True, "sealed": sealed, "standby": False}
            status = 503 if sealed else 200
        elif self.path.startswith("/v1/auth/token/lookup-self"):
            body = {"data": {"policies": ["root"]}}
            if self.server.mode == "token_refused":
                body, status = {"errors": ["permission denied"]}, 403
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Stack:
    def __init__(self, threads=4, vault_delay=0.0, env=None):
        self.tmp = tmpdir(CLEANUP, "vmb-fcgi-")
        self.vault = SlowVault(("127.0.0.1", 0), SlowVaultHandler)
        self.vault.delay = vault_delay
        threading.Thread(target=self.vault.serve_forever, daemon=True).start()
        self.port = procs.free_port()
        e = dict(os.environ)
        e.update({
            "LOG_DIR": os.path.join(self.tmp, "logs"),
            "RUN_DIR": os.path.join(self.tmp, "run"),
            "API_KEYS_JSON": json.dumps({API_KEY: "agent_fcgi"}),
            "VAULT_ADDR": "http://127.0.0.1:%d" % self.vault.server_address[1],
            "VAULT_TOKEN": "root",
            "RATE_LIMIT_ENABLED": "false",
            # /echo-headers is a debug route, off unless enabled (issue 13)
            "DEBUG_ROUTES_ENABLED": "true",
        })
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        self.proc = subprocess.Popen(
            [procs.binary("vault-mcp-fcgi"), "--listen", "127.0.0.1:%d" % self.port,
             "--threads", str(threads)], env=e, cwd=self.tmp,
            stderr=open(os.path.join(self.tmp, "stderr.txt"), "w"))
        CLEANUP.add(lambda: procs.stop(self.proc))
        procs.wait_port(self.port, proc=self.proc)
        self.addr = ("127.0.0.1", self.port)

    def req(self, *a, **kw):
        return fc.request(self.addr, *a, **kw)

    def close(self):
        rc = procs.stop(self.proc)
        self.vault.shutdown()
        return rc


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def error_of(status, body, want_status, want_code):
    check(status == want_status, "status %d, wanted %d: %r" % (status, want_status, body))
    doc = json.loads(body)
    check(doc["error"]["code"] == want_code, "code %r, wanted %r" % (doc, want_code))
    check(re.fullmatch(r"[0-9a-f]{32}", doc["error"]["request_id"]), "request id %r" % doc)
    return doc


def case_basics():
    s = Stack()
    try:
        st, h, b = s.req("GET", "/healthz")
        check(st == 200 and json.loads(b) == {"ok": True}, "healthz %d %r" % (st, b))
        check(re.fullmatch(r"[0-9a-f]{32}", h["x-request-id"]), "x-request-id %r" % h)
        check(h["x-correlation-id"] == h["x-request-id"], "generated correlation id")
        st, h, b = s.req("GET", "/livez", headers={"X-Correlation-Id": "abc-123"})
        check(st == 200 and h["x-correlation-id"] == "abc-123", "correlation taken")
        st, h, b = s.req("GET", "/livez", headers={"X-Correlation-Id": "bad id\"<x>"})
        check(h["x-correlation-id"] != "bad id\"<x>", "unsafe correlation id replaced")
        # method, path, query, headers and body arrive intact
        body = os.urandom(3000) + b"\r\n\0end"
        st, h, b = s.req("PUT", "/echo-headers", query="a=1&b=%20x",
                         headers={"X-Custom": "v1", "Content-Type": "application/octet-stream"},
                         body=body)
        doc = json.loads(b)
        check(st == 200, "echo status %d" % st)
        check(doc["method"] == "PUT" and doc["path"] == "/echo-headers", "echo %r" % doc)
        check(doc["query"] == "a=1&b=%20x", "query %r" % doc["query"])
        check(doc["headers"]["x-custom"] == "v1", "header %r" % doc["headers"])
        check(doc["body_bytes"] == len(body), "body length %r" % doc["body_bytes"])
        check(doc["body_sha256"] == hashlib.sha256(body).hexdigest(), "body digest")
        # credentials are redacted
        st, h, b = s.req("GET", "/echo-headers", headers={
            "X-API-Key": "k-secret-1", "Authorization": "Bearer t-secret-2",
            "Cookie": "s=c-secret-3", "X-Session-Token": "t-secret-4",
            "X-Forwarded-Client-Cert": "Hash=h-secret-5;Subject=\"CN=x\"",
            "X-SSL-Client-S-DN": "CN=dn-secret-6", "X-SSL-Client-Verify": "SUCCESS-secret-7",
            "X-Client-Cert": "pem-secret-8"})
        check(b"secret" not in b, "credentials redacted: %r" % b)
        # auth
        st, h, b = s.req("GET", "/whoami")
        error_of(st, b, 401, "unauthenticated")
        check(h["www-authenticate"].startswith("Bearer"), "WWW-Authenticate on 401")
        st, h, b = s.req("GET", "/whoami", headers={"X-API-Key": "wrong-key-value"})
        error_of(st, b, 401, "unauthenticated")
        check("invalid_token" in h["www-authenticate"], "invalid_token on a bad key")
        st, h, b = s.req("GET", "/whoami", headers={"X-API-Key": API_KEY})
        check(st == 200 and json.loads(b)["subject"] == "agent_fcgi", "whoami %r" % b)
        # routing errors
        st, h, b = s.req("GET", "/nope")
        error_of(st, b, 404, "not_found")
        st, h, b = s.req("POST", "/healthz")
        error_of(st, b, 405, "method_not_allowed")
        check(h["allow"] == "GET", "Allow %r" % h.get("allow"))
        st, h, b = s.req("GET", "/a/../healthz")
        error_of(st, b, 400, "invalid_path")
        st, h, b = s.req("GET", "//healthz")
        error_of(st, b, 400, "invalid_path")
        # body errors are decided before any Vault call
        key = {"X-API-Key": API_KEY}
        st, h, b = s.req("PUT", "/secrets/a", headers=dict(key, **{"Content-Type": "text/plain"}),
                         body=b'{"data":{}}')
        error_of(st, b, 415, "unsupported_media_type")
        st, h, b = s.req("PUT", "/secrets/a", headers=dict(key, **{"Content-Type": "application/json"}),
                         body=b'{"data":')
        error_of(st, b, 400, "invalid_json")
        st, h, b = s.req("PUT", "/secrets/a", headers=dict(key, **{"Content-Type": "application/json"}),
                         body=b'[' * 5000 + b']' * 5000)
        error_of(st, b, 400, "invalid_json")
        st, h, b = s.req("PUT", "/secrets/a", headers=dict(key, **{"Content-Type": "application/json"}),
                         body=b'{"data":{},"nope":1}')
        doc = error_of(st, b, 400, "bad_request")
        check("nope" in doc["error"]["message"], "names the field: %r" % doc)
        # the OpenAPI document comes from the operation table
        st, h, b = s.req("GET", "/openapi.json")
        doc = json.loads(b)
        check(st == 200 and doc["openapi"].startswith("3."), "openapi %d" % st)
        ops = {m["operationId"] for p in doc["paths"].values() for m in p.values()}
        for op in ("kv.read", "kv.write", "kv.list", "kv.delete", "health.readyz"):
            check(op in ops, "operation %s missing from openapi.json" % op)
        check(set(doc["paths"]["/secrets/{path}"]) >= {"get", "put", "delete"}, "secrets methods")
        # documents say their media type, and it is the one served
        for path, media in (("/metrics", "text/plain"), ("/admin/subjects.csv", "text/csv"),
                            ("/openapi.json", "application/json")):
            ok = doc["paths"][path]["get"]["responses"]["200"]
            check(list(ok.get("content", {})) == [media], "%s 200 content %r" % (path, ok))
        st, h, b = s.req("GET", "/metrics")
        served = {k.lower(): v for k, v in dict(h).items()}.get("content-type")
        check(st == 200 and served ==
              doc["paths"]["/metrics"]["get"]["responses"]["200"]["x-content-type"],
              "/metrics Content-Type %r" % served)
        # readiness against the stand-in Vault
        st, h, b = s.req("GET", "/readyz")
        check(st == 200 and json.loads(b)["ok"] is True, "readyz %d %r" % (st, b))
        # logs: one JSON object per line with the core fields
        logs = os.path.join(s.tmp, "logs", "requests.log")
        lines = open(logs).read().splitlines()
        check(len(lines) >= 10, "requests.log has %d lines" % len(lines))
        for line in lines:
            rec = json.loads(line)
            for k in ("ts", "lvl", "msg", "logger", "request_id", "status", "duration_ms"):
                check(k in rec, "log field %s missing in %r" % (k, rec))
        all_logs = "".join(open(os.path.join(s.tmp, "logs", f)).read()
                           for f in os.listdir(os.path.join(s.tmp, "logs")))
        for secret in ("k-secret-1", "t-secret-2", "c-secret-3", "wrong-key-value", API_KEY):
            check(secret not in all_logs, "secret %s found in logs" % secret)
    finally:
        check(s.close() == 0, "exit status after SIGTERM")


def case_readyz():
    s = Stack()
    try:
        for mode, needle in (("sealed", "sealed"), ("token_refused", "token")):
            s.vault.mode = mode
            st, h, b = s.req("GET", "/readyz")
            doc = json.loads(b)
            check(st == 503 and doc["ok"] is False and needle in doc["error"],
                  "%s: %d %r" % (mode, st, b))
            check("root" not in b.decode(), "no token in the body")
        s.vault.mode = "ok"
        st, h, b = s.req("GET", "/readyz")
        check(st == 200, "ready again: %d" % st)
        s.vault.shutdown()
        s.vault.server_close()
        st, h, b = s.req("GET", "/readyz")
        check(st == 503 and "unreachable" in json.loads(b)["error"], "down: %d %r" % (st, b))
    finally:
        procs.stop(s.proc)


def case_debug_routes_off():
    """Without DEBUG_ROUTES_ENABLED the public echo route does not exist
    (issue 13): every method answers 404 like any unknown path."""
    s = Stack(env={"DEBUG_ROUTES_ENABLED": None})
    try:
        for m in ("GET", "POST", "PUT", "DELETE"):
            st, h, b = s.req(m, "/echo-headers", headers={"X-API-Key": API_KEY})
            error_of(st, b, 404, "not_found")
        st, h, b = s.req("GET", "/healthz")
        check(st == 200, "healthz %d" % st)
    finally:
        procs.stop(s.proc)


def case_logrotate():
    # A log renamed away (logrotate without copytruncate) is followed: new
    # lines go to a fresh file at the configured path within a second.
    s = Stack()
    try:
        logs = os.path.join(s.tmp, "logs")
        s.req("GET", "/healthz")
        os.rename(os.path.join(logs, "requests.log"), os.path.join(logs, "requests.log.1"))
        time.sleep(1.2)
        for _ in range(3):
            s.req("GET", "/healthz")
        fresh = os.path.join(logs, "requests.log")
        check(os.path.exists(fresh), "requests.log recreated")
        lines = open(fresh).read().splitlines()
        check(len(lines) >= 2, "new lines in the new file: %d" % len(lines))
        for line in lines:
            json.loads(line)
    finally:
        check(s.close() == 0, "exit status")


def case_unixsocket():
    # --listen /path.sock: a unix socket, mode 0660, stale file replaced.
    tmp = tmpdir(CLEANUP, "vmb-fcgi-unix-")
    sock = os.path.join(tmp, "app.sock")
    open(sock, "w").close()          # a stale file where the socket goes
    e = dict(os.environ, LOG_DIR=os.path.join(tmp, "logs"), RUN_DIR=os.path.join(tmp, "run"))
    p = subprocess.Popen([procs.binary("vault-mcp-fcgi"), "--listen", sock, "--threads", "2"],
                         env=e, cwd=tmp, stderr=open(os.path.join(tmp, "stderr.txt"), "w"))
    procs.watch(p)
    try:
        deadline = time.time() + 10
        while True:
            try:
                st, h, b = fc.request(sock, "GET", "/healthz")
                break
            except OSError:
                check(time.time() < deadline and p.poll() is None, "unix socket never answered")
                time.sleep(0.05)
        check(st == 200 and json.loads(b) == {"ok": True}, "healthz over unix: %d %r" % (st, b))
        mode = os.stat(sock).st_mode & 0o777
        check(mode == 0o660, "socket mode %o" % mode)
    finally:
        check(procs.stop(p) == 0, "exit status")


def case_concurrency():
    # 16 concurrent /readyz, each costing two 0.3 s Vault calls: one
    # thread would need ~9.6 s; eight threads finish in ~1.2 s.
    s = Stack(threads=8, vault_delay=0.3)
    try:
        results = []
        lock = threading.Lock()

        def one():
            st, _, b = s.req("GET", "/readyz", timeout=30)
            with lock:
                results.append(st)
        t0 = time.time()
        ts = [threading.Thread(target=one) for _ in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        took = time.time() - t0
        check(results == [200] * 16, "results %r" % results)
        check(took < 4.8, "16 requests took %.2fs: not served in parallel" % took)
        print("16 concurrent requests in %.2fs" % took)
    finally:
        check(s.close() == 0, "exit status")


def case_limits():
    s = Stack(env={"MAX_BODY_BYTES": "4096"})
    try:
        st, h, b = s.req("PUT", "/echo-headers", body=b"x" * 4096)
        check(st == 200 and json.loads(b)["body_bytes"] == 4096, "body at the cap")
        st, h, b = s.req("PUT", "/echo-headers", body=b"x" * 4097)
        error_of(st, b, 413, "payload_too_large")
        # CONTENT_LENGTH lies (Caddy sends -1, nginx ""): the stream decides
        for cl in ("-1", "", "5"):
            st, h, b = s.req("POST", "/echo-headers", body=b"y" * 100,
                             extra_params={"CONTENT_LENGTH": cl})
            check(st == 200 and json.loads(b)["body_bytes"] == 100, "CL=%r: %r" % (cl, b))
        st, h, b = s.req("POST", "/echo-headers", body=b"z" * (3 * 1024 * 1024))
        error_of(st, b, 413, "payload_too_large")
        st, h, b = s.req("GET", "/healthz")
        check(st == 200, "still serving after 413")
    finally:
        check(s.close() == 0, "exit status")


def case_disconnect():
    s = Stack(threads=2, vault_delay=0.3)
    try:
        # 1: request sent, connection closed before the response
        for _ in range(5):
            sock = fc.connect(s.addr)
            sock.sendall(fc.encode_request({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/readyz"}))
            sock.close()
        # 2: connection closed in the middle of the body
        sock = fc.connect(s.addr)
        data = fc.encode_request({"REQUEST_METHOD": "PUT", "SCRIPT_NAME": "/echo-headers"},
                                 body=b"q" * 50000)
        sock.sendall(data[:len(data) // 2])
        sock.close()
        # 3: garbage instead of FastCGI
        sock = fc.connect(s.addr)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(500))
        sock.close()
        time.sleep(1.0)
        check(s.proc.poll() is None, "responder died")
        st, h, b = s.req("GET", "/healthz")
        check(st == 200, "serving after disconnects: %d" % st)
        logs = open(os.path.join(s.tmp, "logs", "server.log")).read()
        check("client went away" in logs, "a vanished client is logged")
    finally:
        check(s.close() == 0, "exit status")


def case_shutdown():
    # An idle responder exits 0 promptly on SIGTERM.
    s = Stack(threads=4)
    t0 = time.time()
    rc = s.close()
    check(rc == 0 and time.time() - t0 < 3, "idle SIGTERM: rc=%r after %.1fs" % (rc, time.time() - t0))
    # In-flight requests finish before the process exits.
    s = Stack(threads=2, vault_delay=0.8)
    out = {}

    def slow():
        out["r"] = s.req("GET", "/readyz", timeout=30)
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    t.join()
    rc = s.proc.wait(10)
    s.vault.shutdown()
    check(out["r"][0] == 200, "in-flight request finished: %r" % (out["r"][0],))
    check(rc == 0, "exit status %r" % rc)
    # Refuses to start without a socket, with a clear message.
    p = subprocess.run([procs.binary("vault-mcp-fcgi")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 2 and "not a FastCGI socket" in p.stderr, "no socket: %r" % p.stderr)
    p = subprocess.run([procs.binary("vault-mcp-fcgi"), "--bogus-flag"], capture_output=True,
                       text=True, timeout=10)
    check(p.returncode == 2 and "unknown argument" in p.stderr, "bad flag: %r" % p.stderr)
    p = subprocess.run([procs.binary("vault-mcp-fcgi"), "--help"], capture_output=True,
                       text=True, timeout=10)
    check(p.returncode == 0 and "--vault-addr" in p.stdout, "help")


def case_apikey_length():
    """Issue 13: a configured API key under 32 bytes stops start-up (exit 2)
    with a message naming the subject, never the key, from the environment
    and from a config file alike; --check-config refuses it the same way;
    a 32-byte key passes --check-config, starts and authenticates."""
    short = "demo-agent-key-31b-0123456789ab"
    ok = "demo-agent-key-32b-0123456789abc"
    check(len(short) == 31 and len(ok) == 32, "key lengths")
    tmp = tmpdir(CLEANUP, "vmb-fcgi-keys-")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("API_KEYS", "APP_CONFIG", "VAULT_"))}
    base.update({"LOG_DIR": os.path.join(tmp, "logs"), "RUN_DIR": os.path.join(tmp, "run"),
                 "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "root"})
    conf = os.path.join(tmp, "config.yaml")
    with open(conf, "w") as f:
        f.write('API_KEYS_JSON:\n  "%s": agent_short_file\n' % short)
    forms = (("env", dict(base, API_KEYS_JSON=json.dumps({ok: "agent_ok", short: "agent_short"})),
              "agent_short"),
             ("file", dict(base, APP_CONFIG_FILE=conf), "agent_short_file"))
    for form, env, subject in forms:
        p = subprocess.run([procs.binary("vault-mcp-fcgi"), "--listen",
                            os.path.join(tmp, "s-%s.sock" % form)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=env, cwd=tmp, timeout=30)
        check(p.returncode == 2, "%s: exit %d, stderr %r" % (form, p.returncode, p.stderr))
        check('subject "%s"' % subject in p.stderr and "too short" in p.stderr
              and "32..512 bytes" in p.stderr, "%s: message %r" % (form, p.stderr))
        check(short not in p.stderr + p.stdout, "%s: the key is in the output" % form)
        # --check-config refuses the same configuration with the same
        # message (before, it printed the configuration and exited 0).
        c = subprocess.run([procs.binary("vault-mcp-fcgi"), "--check-config"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=env, cwd=tmp, timeout=30)
        check(c.returncode == 2, "%s: --check-config exit %d, stderr %r"
              % (form, c.returncode, c.stderr))
        check('subject "%s"' % subject in c.stderr and "too short" in c.stderr
              and "32..512 bytes" in c.stderr, "%s: --check-config message %r"
              % (form, c.stderr))
        check(short not in c.stderr + c.stdout, "%s: --check-config shows the key" % form)
        for name in os.listdir(os.path.join(tmp, "logs")) if os.path.isdir(
                os.path.join(tmp, "logs")) else []:
            with open(os.path.join(tmp, "logs", name), errors="replace") as f:
                check(short not in f.read(), "%s: the key is in %s" % (form, name))
    c = subprocess.run([procs.binary("vault-mcp-fcgi"), "--check-config"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=dict(base, API_KEYS_JSON=json.dumps({ok: "agent_ok"})),
                       cwd=tmp, timeout=30)
    check(c.returncode == 0 and c.stdout.lstrip().startswith("{"),
          "32-byte key: --check-config exit %d, %r" % (c.returncode, c.stderr))
    check(ok not in c.stdout + c.stderr, "32-byte key: --check-config shows the key")
    s = Stack(env={"API_KEYS_JSON": json.dumps({ok: "agent_ok"})})
    try:
        st, _, b = s.req("GET", "/whoami", headers={"X-API-Key": ok})
        check(st == 200 and json.loads(b)["subject"] == "agent_ok", "32-byte key: %d %r" % (st, b))
    finally:
        check(s.close() == 0, "32-byte key: clean exit")


if __name__ == "__main__":
    try:
        globals()["case_" + sys.argv[1]]()
    finally:
        CLEANUP.run()
    print("ok:", sys.argv[1])
