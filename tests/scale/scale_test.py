#!/usr/bin/env python3
"""Several hosts as one (issue 16): shared state in Redis, on loopback.

Each case starts what it needs and stops it, whatever happens:
  - one redis-server (own port, own directory, no persistence), with a
    password or TLS (certificates from scripts/gen-certs.sh) when the
    case asks;
  - two "hosts": each a pool of bridge worker processes (fd 0 = a shared
    FastCGI socket, as spawn-fcgi does) with its own RUN_DIR and LOG_DIR,
    behind its own lighttpd on its own port; clients speak HTTP to the
    lighttpds only.

  scale_test.py --bin BRIDGE CASE
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Cleanup, check, tmpdir  # noqa: E402
import procs  # noqa: E402
from procs import free_port, wait_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEYS = {
    "scale-key-alice-0123456789abcdef0001": {"subject": "alice", "scopes": ["read", "write", "list"]},
    "scale-key-bob-0123456789abcdef000001": {"subject": "bob", "scopes": ["read", "write", "list"]},
    "scale-key-probe-0123456789abcdef00001": {"subject": "probe", "scopes": ["read"]},
    "scale-key-admin-0123456789abcdef00001": {"subject": "ops-admin", "scopes": ["admin"]},
}
ADMIN = "scale-key-admin-0123456789abcdef00001"
ALICE, BOB, PROBE = "scale-key-alice-0123456789abcdef0001", "scale-key-bob-0123456789abcdef000001", "scale-key-probe-0123456789abcdef00001"
PREFIX = "vmbtest:"
SANITIZER_REPORTS = []


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


class Redis:
    """A throw-away redis-server on loopback."""

    def __init__(self, wd, cleanup, password=None, tls_dir=None, extra=None):
        self.dir = os.path.join(wd, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.tls_dir = tls_dir
        self.extra = list(extra or [])
        self.proc = None
        cleanup.add(self.stop)
        self.start()

    def args(self):
        a = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        if self.tls_dir:
            a += ["--port", "0", "--tls-port", str(self.port),
                  "--tls-cert-file", os.path.join(self.tls_dir, "server.crt"),
                  "--tls-key-file", os.path.join(self.tls_dir, "server.key"),
                  "--tls-ca-cert-file", os.path.join(self.tls_dir, "ca.crt"),
                  "--tls-auth-clients", "no"]
        else:
            a += ["--port", str(self.port)]
        if self.password:
            a += ["--requirepass", self.password]
        return a + self.extra

    def start(self):
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, 15, self.proc)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def url(self, password=None):
        pw = password if password is not None else self.password
        auth = (":%s@" % pw) if pw else ""
        scheme = "rediss" if self.tls_dir else "redis"
        return "%s://%s127.0.0.1:%d/0" % (scheme, auth, self.port)

    def cli(self, *cmd):
        a = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.password:
            a += ["--no-auth-warning", "-a", self.password]
        if self.tls_dir:
            a += ["--tls", "--cacert", os.path.join(self.tls_dir, "ca.crt")]
        return subprocess.run(a + list(cmd), capture_output=True, text=True,
                              timeout=10).stdout


class Sim:
    """The Vault simulator both hosts share."""

    def __init__(self, binary, wd, cleanup):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--dev", "--dev-root-token-id", "root",
             "--dev-listen-address", "127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(wd, "vault-sim.log"), "ab"))
        cleanup.add(self.stop)
        wait_port(self.port, 15, self.proc)

    def addr(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        try:
            procs.stop(self.proc)
        except procs.StopCheckFailed as e:   # main() fails the case on these
            SANITIZER_REPORTS.append("vault-sim: %s" % e)


class Host:
    """A bridge pool (workers x threads) behind its own lighttpd."""

    def __init__(self, name, binary, wd, cleanup, env, workers=4, threads=4):
        self.name = name
        self.dir = os.path.join(wd, name)
        os.makedirs(self.dir)
        self.sock_path = os.path.join(self.dir, "fcgi.sock")
        self.log_dir = os.path.join(self.dir, "logs")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        self.listener.listen(256)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("VAULT_", "OTEL_", "API_KEYS", "REDIS_", "RATE_LIMIT"))}
        base.update({
            "API_KEYS_JSON": json.dumps(KEYS),
            "RUN_DIR": os.path.join(self.dir, "run"), "LOG_DIR": self.log_dir,
            "THREADS": str(threads), "VAULT_ADDR": "http://127.0.0.1:9",
            "VAULT_TOKEN": "root", "VAULT_TIMEOUT_MS": "2000", "LOG_LEVEL": "info",
            "REDIS_KEY_PREFIX": PREFIX, "HEALTH_PROBE_SECONDS": "0",
        })
        base.update(env)
        self.procs = []
        self.stderr = os.path.join(self.dir, "stderr.log")
        cleanup.add(self.stop)
        for _ in range(workers):
            p = subprocess.Popen([binary], stdin=self.listener.fileno(), cwd=self.dir,
                                 env=base, stdout=subprocess.DEVNULL,
                                 stderr=open(self.stderr, "ab"))
            self.procs.append(p)
            procs.watch(p)
        time.sleep(0.3)
        for p in self.procs:
            check(p.poll() is None, "%s: a worker exited at start-up: %s" %
                  (name, open(self.stderr, errors="replace").read()[-2000:]))
        self.port = free_port()
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write('server.document-root = "%s"\n' % self.dir)
            f.write('server.bind = "127.0.0.1"\nserver.port = %d\n' % self.port)
            f.write('server.errorlog = "%s"\n' % os.path.join(self.dir, "lighttpd-error.log"))
            f.write('server.modules = ( "mod_fastcgi" )\n')
            f.write('server.max-connections = 256\nserver.stream-response-body = 2\n')
            f.write('fastcgi.server = ( "/" => (( "socket" => "%s", '
                    '"check-local" => "disable", "fix-root-scriptname" => "enable" )) )\n'
                    % self.sock_path)
        self.web = subprocess.Popen(["lighttpd", "-D", "-f", conf],
                                    stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(self.dir, "lighttpd.out"), "ab"))
        wait_port(self.port, 15, self.web)

    def req(self, method, path, key=ALICE, body=None, headers=None, timeout=30):
        h = dict(headers or {})
        if key:
            h["X-API-Key"] = key
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def server_log(self):
        p = os.path.join(self.log_dir, "server.log")
        return open(p, errors="replace").read() if os.path.exists(p) else ""

    def stop(self):
        if getattr(self, "web", None) and self.web.poll() is None:
            self.web.terminate()
            try:
                self.web.wait(10)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        rcs = []
        for p in self.procs:
            try:
                rcs.append(p.wait(15))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rcs.append(None)
        self.listener.close()
        for p, rc in zip(self.procs, rcs):   # exit status, as procs.stop checks it
            try:
                procs.check_stopped(p, rc)
            except procs.StopCheckFailed as e:
                SANITIZER_REPORTS.append("%s: %s" % (self.name, e))
        err = open(self.stderr, errors="replace").read() if os.path.exists(self.stderr) else ""
        # Cleanup swallows exceptions; main() fails the case on these.
        for marker in ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer",
                       "runtime error:", "ERROR: LeakSanitizer"):
            if marker in err:
                SANITIZER_REPORTS.append("%s: %s in %s" % (self.name, marker, self.stderr))


def burst(hosts, key, per_host, nthreads=8):
    """per_host requests of GET /whoami to each host at once; returns the
    list of (status, headers)."""
    out, lock = [], threading.Lock()

    def worker(h, n):
        for _ in range(n):
            st, hd, _ = h.req("GET", "/whoami", key=key)
            with lock:
                out.append((st, hd))
    ts = []
    for h in hosts:
        share = [per_host // nthreads + (1 if i < per_host % nthreads else 0) for i in range(nthreads)]
        for n in share:
            ts.append(threading.Thread(target=worker, args=(h, n)))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def fresh_window(host, window):
    """Wait, if needed, so that a burst of a few seconds stays in one
    fixed window (the windows are aligned to the epoch on Redis' clock)."""
    st, hd, _ = host.req("GET", "/whoami", key=PROBE)
    check(st == 200 and "ratelimit-reset" in hd, "probe request: %d %r" % (st, hd))
    reset = int(hd["ratelimit-reset"])
    if reset < 20:
        time.sleep(reset + 0.5)
    return window


# ---- cases ---------------------------------------------------------------

def two_hosts(args, wd, cleanup, redis, env_a=None, env_b=None, **kw):
    sim = Sim(args.sim, wd, cleanup)
    env = {"REDIS_URL": redis.url(), "RATE_LIMIT_REQUESTS": str(kw.pop("limit", 40)),
           "VAULT_ADDR": sim.addr(),
           "RATE_LIMIT_WINDOW_SECONDS": "600", "REDIS_TIMEOUT_MS": "200"}
    a = Host("hostA", args.bin, wd, cleanup, dict(env, **(env_a or {})), **kw)
    b = Host("hostB", args.bin, wd, cleanup, dict(env, **(env_b or {})), **kw)
    return a, b


def case_ratelimit_exact(args, wd, cleanup):
    """Limit N across two hosts (4 processes x 4 threads each) allows
    exactly N, with RateLimit-* headers from the shared count."""
    redis = Redis(wd, cleanup)
    limit = 40
    a, b = two_hosts(args, wd, cleanup, redis, limit=limit)
    fresh_window(a, 600)
    res = burst([a, b], ALICE, per_host=45, nthreads=8)
    ok = [hd for st, hd in res if st == 200]
    limited = [hd for st, hd in res if st == 429]
    check(len(res) == 90, "every request answered: %d" % len(res))
    check(len(ok) == limit, "exactly %d allowed across both hosts, got %d (429: %d, other: %r)"
          % (limit, len(ok), len(limited), sorted({st for st, _ in res})))
    check(len(limited) == 90 - limit, "the rest are 429: %d" % len(limited))
    remaining = sorted(int(hd["ratelimit-remaining"]) for hd in ok)
    check(remaining == list(range(limit)), "each allowed request saw a distinct remaining: %r"
          % remaining)
    check(all(hd.get("ratelimit-limit") == str(limit) for hd in ok), "RateLimit-Limit")
    check(all("retry-after" in hd for hd in limited), "429 carries Retry-After")
    # Another subject has its own count.
    st, hd, _ = b.req("GET", "/whoami", key=BOB)
    check(st == 200 and hd.get("ratelimit-remaining") == str(limit - 1),
          "bob's own count: %d %r" % (st, hd))
    keys = redis.cli("--scan", "--pattern", PREFIX + "rl:*")
    check(PREFIX + "rl:alice:" in keys, "the count lives in Redis under the prefix: %r" % keys)
    # /readyz reports Redis; /metrics reports its health.
    st, _, body = a.req("GET", "/readyz", key=None)
    doc = json.loads(body)
    check(doc.get("redis", {}).get("ok") is True, "/readyz redis member: %r" % doc)
    st, _, body = a.req("GET", "/metrics", key=None)
    text = body.decode()
    check("\nredis_up 1\n" in text, "redis_up 1 in /metrics")
    check('upstream_requests_total{upstream="redis"}' in text, "redis upstream counted")


def case_backend_down(args, wd, cleanup):
    """Redis stopped (no answer), killed and restarted under load: host A
    (deny) refuses promptly with 503, host B (allow) serves without
    RateLimit headers; /readyz and the log say why; no worker hangs; both
    recover when Redis is back."""
    redis = Redis(wd, cleanup)
    a, b = two_hosts(args, wd, cleanup, redis, limit=100000, workers=2, threads=4,
                     env_a={"RATE_LIMIT_ON_BACKEND_ERROR": "deny"},
                     env_b={"RATE_LIMIT_ON_BACKEND_ERROR": "allow"})
    for h in (a, b):
        st, hd, _ = h.req("GET", "/whoami")
        check(st == 200 and "ratelimit-remaining" in hd, "%s healthy first: %d" % (h.name, st))

    def outage(label, reason):
        # Under load: 8 threads per host; each answer must come back well
        # within the client timeout (a hung worker would not).
        res = burst([a], ALICE, per_host=24, nthreads=8)
        sts = sorted({st for st, _ in res})
        check(sts == [503], "%s: deny host answers 503 only, got %r" % (label, sts))
        res = burst([b], ALICE, per_host=24, nthreads=8)
        check(all(st == 200 for st, _ in res), "%s: allow host serves: %r" % (label, sorted({st for st, _ in res})))
        check(all("ratelimit-remaining" not in hd for _, hd in res),
              "%s: no RateLimit headers without the shared count" % label)
        st, hd, body = a.req("GET", "/whoami")
        doc = json.loads(body)
        check(st == 503 and "Redis" in json.dumps(doc), "%s: the 503 says why: %r" % (label, doc))
        st, _, body = a.req("GET", "/readyz", key=None)
        doc = json.loads(body)
        check(st == 503 and "redis unavailable" in doc.get("error", ""), "%s: A not ready: %r" % (label, doc))
        check(doc["redis"]["error"] == reason, "%s: reason %r in %r" % (label, reason, doc))
        st, _, body = b.req("GET", "/readyz", key=None)
        doc = json.loads(body)
        check(doc.get("redis", {}).get("ok") is False, "%s: B's readyz shows redis down: %r" % (label, doc))
        check("redis unavailable" in a.server_log(), "%s: A's server.log says why" % label)

    # 1. Redis stops answering (SIGSTOP): every request waits at most the timeout.
    redis.proc.send_signal(signal.SIGSTOP)
    t0 = time.time()
    outage("stopped", "timeout")
    took = time.time() - t0
    redis.proc.send_signal(signal.SIGCONT)
    check(took < 60, "the stopped-Redis round finished (%.1fs)" % took)

    def recovered():
        # Every worker thread must be back: a burst wide enough to reach
        # them all, each answer counted by Redis again.
        res = burst([a, b], ALICE, per_host=16, nthreads=8)
        return all(st == 200 and "ratelimit-remaining" in hd for st, hd in res)
    # Each thread backs off at most 2 s before trying again.
    check(wait_for(recovered, 20, 0.2), "recovered after SIGCONT")
    # 2. Killed: refused connections.
    redis.kill()
    outage("killed", "refused")
    redis.start()
    check(wait_for(recovered, 20, 0.2), "recovered after restart")
    res = burst([a, b], ALICE, per_host=32, nthreads=8)
    check(all(st == 200 for st, _ in res), "all served after recovery")
    st, _, body = a.req("GET", "/readyz", key=None)
    check(st == 200, "A ready again: %s" % body)
    check("redis reachable" in a.server_log(), "A's server.log says it is back")
    for h in (a, b):
        for p in h.procs:
            check(p.poll() is None, "%s: every worker still runs" % h.name)


MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}


def rpc(host, key, method, params=None, sid=None, rid=1):
    h = dict(MCP_HEADERS)
    if sid:
        h["Mcp-Session-Id"] = sid
    msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
    st, hd, body = host.req("POST", "/mcp/rpc", key=key, body=msg, headers=h)
    return st, hd, (json.loads(body) if body else None)


def case_session_shared(args, wd, cleanup):
    """An MCP session (2025 revision) begun on host A works on host B, is
    refused to another subject, and DELETE on B ends it on A."""
    redis = Redis(wd, cleanup)
    a, b = two_hosts(args, wd, cleanup, redis, limit=1000, workers=2, threads=2)
    st, hd, doc = rpc(a, ALICE, "initialize", {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "scale-test", "version": "1"}})
    sid = hd.get("mcp-session-id")
    check(st == 200 and sid, "initialize on A: %d %r %r" % (st, hd, doc))
    ttl = int(redis.cli("TTL", PREFIX + "sess:" + sid).strip() or -2)
    check(ttl > 3600, "the session is a Redis key with an expiry: TTL %d" % ttl)
    st, _, doc = rpc(b, ALICE, "tools/list", sid=sid, rid=2)
    check(st == 200 and "result" in doc, "the session works on B: %d %r" % (st, doc))
    st, _, doc = rpc(b, BOB, "tools/list", sid=sid, rid=3)
    check(st == 404, "another subject holding the id gets 404 on B: %d %r" % (st, doc))
    st, _, _ = b.req("DELETE", "/mcp/rpc", key=BOB, headers={"Mcp-Session-Id": sid})
    check(st == 404, "another subject cannot end it: %d" % st)
    st, _, _ = rpc(a, ALICE, "tools/list", sid=sid, rid=4)
    check(st == 200, "still alive on A after bob's attempts: %d" % st)
    st, _, _ = b.req("DELETE", "/mcp/rpc", key=ALICE, headers={"Mcp-Session-Id": sid})
    check(st == 204, "DELETE on B: %d" % st)
    for h in (a, b):
        st, _, doc = rpc(h, ALICE, "tools/list", sid=sid, rid=5)
        check(st == 404, "ended everywhere: %s answered %d %r" % (h.name, st, doc))
    st, _, _ = rpc(a, ALICE, "tools/list", sid="0" * 32 + "zz", rid=6)
    check(st == 404, "a malformed id is unknown: %d" % st)


def case_session_delete_outage(args, wd, cleanup):
    """DELETE of a session while Redis cannot be asked answers 503 with
    the error body and request id (not 204): the session was not ended,
    and once Redis is back it still works until a DELETE that reaches
    Redis ends it."""
    redis = Redis(wd, cleanup)
    a, b = two_hosts(args, wd, cleanup, redis, limit=1000, workers=1, threads=2)
    st, hd, doc = rpc(a, ALICE, "initialize", {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "scale-test", "version": "1"}})
    sid = hd.get("mcp-session-id")
    check(st == 200 and sid, "initialize on A: %d %r" % (st, doc))
    # Keep the key over the restart below (the Redis of the test has no
    # automatic persistence; SAVE writes its dump once).
    check(redis.cli("SAVE").strip() == "OK", "SAVE")
    redis.kill()
    st, hd, body = b.req("DELETE", "/mcp/rpc", key=ALICE, headers={"Mcp-Session-Id": sid})
    check(st == 503, "DELETE with Redis away is refused, not 204: %d %r" % (st, body[:300]))
    doc = json.loads(body)
    err = doc.get("error", {})
    check(err.get("code") == "upstream_unavailable" and "not ended" in err.get("message", ""),
          "the error says the session was not ended: %r" % doc)
    check(err.get("request_id") and err["request_id"] == hd.get("x-request-id"),
          "the body carries the request id of X-Request-Id: %r %r" % (doc, hd))
    check(hd.get("retry-after") == "1", "Retry-After: %r" % hd)
    redis.start()
    check(redis.cli("EXISTS", PREFIX + "sess:" + sid).strip() == "1", "the key came back with Redis")
    # B's thread backs off up to 2 s after the refused connection.
    check(wait_for(lambda: rpc(b, ALICE, "tools/list", sid=sid, rid=2)[0] == 200, 10, 0.2),
          "the session still works on B once Redis is back")
    check(wait_for(lambda: b.req("DELETE", "/mcp/rpc", key=ALICE,
                                 headers={"Mcp-Session-Id": sid})[0] == 204, 10, 0.2),
          "a DELETE that reaches Redis ends it")
    for h in (a, b):
        st, _, doc = rpc(h, ALICE, "tools/list", sid=sid, rid=3)
        check(st == 404, "ended everywhere: %s answered %d %r" % (h.name, st, doc))


def subject_with_key(a, subject):
    """Create subject and an API key for it through host A's admin API:
    (key, key_id)."""
    st, _, body = a.req("POST", "/admin/subjects", key=ADMIN, body={"subject": subject})
    check(st == 201, "create %s on A: %d %s" % (subject, st, body[:300]))
    st, _, body = a.req("POST", "/admin/subjects/%s/api-keys" % subject, key=ADMIN, body=b"")
    doc = json.loads(body)
    check(st == 201 and doc.get("api_key"), "key for %s: %d %s" % (subject, st, body[:300]))
    return doc["api_key"], doc["key_id"]


def seen_on_b(b, key, subject):
    check(wait_for(lambda: b.req("GET", "/whoami", key=key)[0] == 200, 2.0),
          "B accepts %s's new key (it learnt of the change)" % subject)


def case_registry_revoke(args, wd, cleanup):
    """A key revoked, and a subject disabled, through host A's admin API
    are refused on host B within 1 s (REGISTRY_REFRESH_SECONDS is an hour,
    so only the Redis notice can explain it)."""
    redis = Redis(wd, cleanup)
    env = {"REGISTRY_REFRESH_SECONDS": "3600"}
    a, b = two_hosts(args, wd, cleanup, redis, limit=100000, workers=2, threads=2,
                     env_a=env, env_b=env)
    key, key_id = subject_with_key(a, "carol")
    st, _, body = a.req("POST", "/admin/subjects/carol/api-keys", key=ADMIN, body=b"")
    key2 = json.loads(body)["api_key"]
    seen_on_b(b, key, "carol")

    def refused_within(what, pred):
        t0 = time.time()
        ok = wait_for(pred, 1.0, 0.02)
        took = time.time() - t0
        check(ok, "%s: still accepted on B after %.2fs" % (what, took))
        return took
    st, _, body = a.req("DELETE", "/admin/subjects/carol/api-keys/" + key_id, key=ADMIN)
    check(st == 200, "revoke on A: %d %s" % (st, body[:200]))
    t1 = refused_within("revoked key", lambda: b.req("GET", "/whoami", key=key)[0] == 401)
    check(b.req("GET", "/whoami", key=key2)[0] == 200, "carol's other key still works on B")
    st, _, body = a.req("PATCH", "/admin/subjects/carol", key=ADMIN, body={"enabled": False})
    check(st == 200, "disable on A: %d %s" % (st, body[:200]))
    t2 = refused_within("disabled subject", lambda: b.req("GET", "/whoami", key=key2)[0] == 403)
    print("refused on B after: revoked key %.3fs, disabled subject %.3fs" % (t1, t2))


def case_registry_after_restart(args, wd, cleanup):
    """Redis restarted empty: a key revoked through host A right after
    another change is still refused on host B within 1 s. (A change
    counter would start again from 1 and come back to the value B read
    last - two changes before the restart, two after - so B would not
    notice; the notice is a random token instead.)"""
    redis = Redis(wd, cleanup)
    env = {"REGISTRY_REFRESH_SECONDS": "3600"}
    a, b = two_hosts(args, wd, cleanup, redis, limit=100000, workers=1, threads=2,
                     env_a=env, env_b=env)
    key, key_id = subject_with_key(a, "erin")
    seen_on_b(b, key, "erin")
    redis.kill()
    redis.start()
    # Two changes in quick succession, before B has any reason to look.
    st, _, body = a.req("POST", "/admin/subjects", key=ADMIN, body={"subject": "frank"})
    check(st == 201, "create frank on A after the restart: %d %s" % (st, body[:300]))
    st, _, body = a.req("DELETE", "/admin/subjects/erin/api-keys/" + key_id, key=ADMIN)
    check(st == 200, "revoke on A: %d %s" % (st, body[:200]))
    t0 = time.time()
    ok = wait_for(lambda: b.req("GET", "/whoami", key=key)[0] == 401, 1.0, 0.02)
    check(ok, "revoked key still accepted on B %.2fs after the revocation" % (time.time() - t0))


def case_registry_outage(args, wd, cleanup):
    """A key revoked through host A while Redis is away (the change cannot
    be announced) is refused on host B soon after Redis returns, not only
    at B's periodic reload (REGISTRY_REFRESH_SECONDS is an hour here):
    A announces the change as soon as Redis answers again. Redis comes
    back with its data (dump), so B reads the same token as before the
    outage unless A announces."""
    redis = Redis(wd, cleanup)
    env = {"REGISTRY_REFRESH_SECONDS": "3600"}
    a, b = two_hosts(args, wd, cleanup, redis, limit=100000, workers=1, threads=2,
                     env_a=env, env_b=env)
    key, key_id = subject_with_key(a, "gina")
    seen_on_b(b, key, "gina")
    check(redis.cli("SAVE").strip() == "OK", "SAVE")
    redis.kill()
    st, _, body = a.req("DELETE", "/admin/subjects/gina/api-keys/" + key_id, key=ADMIN)
    check(st == 200, "revoke on A while Redis is away: %d %s" % (st, body[:200]))
    check(wait_for(lambda: "registry change not announced" in a.server_log(), 5),
          "A logs that it could not announce: %s" % a.server_log()[-1000:])
    check(b.req("GET", "/whoami", key=key)[0] == 200,
          "B cannot know yet (nothing told it; its reload is an hour away)")
    redis.start()
    t0 = time.time()

    def refused_on_b():
        a.req("GET", "/whoami", key=ALICE)        # A serves traffic as usual
        return b.req("GET", "/whoami", key=key)[0] == 401
    # A's thread backs off at most 2 s after the refused connection; the
    # check runs every 250 ms.
    ok = wait_for(refused_on_b, 8.0, 0.1)
    check(ok, "revoked key still accepted on B %.2fs after Redis returned" % (time.time() - t0))
    print("refused on B %.2fs after Redis returned" % (time.time() - t0))
    check("now announced in Redis" in a.server_log(), "A logs the late announcement")


class SseReader:
    """GET /mcp/sse held open in a thread; events collected as dicts."""

    def __init__(self, host, key):
        self.events, self.ready = [], threading.Event()
        self.conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=60)
        self.conn.request("GET", "/mcp/sse", headers={"X-API-Key": key,
                                                      "Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        check(self.resp.status == 200, "/mcp/sse on %s: %d" % (host.name, self.resp.status))
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        check(self.ready.wait(10), "the stream's first comment arrived")

    def run(self):
        ev = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.ready.set()
                elif line.startswith("id: "):
                    ev["id"] = int(line[4:])
                elif line.startswith("data: "):
                    ev["data"] = json.loads(line[6:])
                elif line == "" and ev:
                    self.events.append(ev)
                    ev = {}
        except Exception:
            return

    def close(self):
        self.conn.close()


def case_events_cross_host(args, wd, cleanup):
    """tool.completed of a call served by host A reaches the caller's
    /mcp/sse stream held on host B, in order, never another subject's."""
    redis = Redis(wd, cleanup)
    a, b = two_hosts(args, wd, cleanup, redis, limit=100000, workers=2, threads=4)
    alice_b = SseReader(b, ALICE)
    cleanup.add(alice_b.close)
    bob_b = SseReader(b, BOB)
    cleanup.add(bob_b.close)
    calls = ["kv_list", "kv_write", "kv_read"]
    for i, tool in enumerate(calls):
        params = {"name": tool, "arguments": {}}
        if tool == "kv_write":
            params["arguments"] = {"path": "scale/e", "data": {"v": "1"}}
        elif tool == "kv_read":
            params["arguments"] = {"path": "scale/e"}
        st, _, doc = rpc(a if i != 1 else b, ALICE, "tools/call", params, rid=10 + i)
        check(st == 200 and "result" in doc, "%s: %d %r" % (tool, st, doc))
    got = wait_for(lambda: len(alice_b.events) >= 3 and alice_b.events, 10)
    check(got, "alice's stream on B got her events: %r (keys %r)" % (alice_b.events, redis.cli("KEYS", "*")))
    tools = [e["data"]["tool"] for e in alice_b.events]
    check(tools == ["kv.list", "kv.write", "kv.read"], "in order, from both hosts: %r" % tools)
    check(all(e["data"]["subject"] == "alice" for e in alice_b.events), "only alice's")
    ids = [e["id"] for e in alice_b.events]
    check(ids == sorted(ids) and len(set(ids)) == 3, "increasing ids: %r" % ids)
    # bob calls one tool: his stream gets exactly that, never alice's.
    st, _, _ = rpc(a, BOB, "tools/call", {"name": "kv_list", "arguments": {}}, rid=20)
    check(st == 200, "bob's call")
    check(wait_for(lambda: bob_b.events, 10), "bob's stream got his event")
    time.sleep(0.5)   # a leak would have arrived by now: streams poll every 100 ms
    check([e["data"]["subject"] for e in bob_b.events] == ["bob"],
          "bob's stream holds only bob's event: %r" % bob_b.events)
    check(len(alice_b.events) == 3, "alice's stream did not get bob's: %r" % alice_b.events)


def case_event_expiry(args, wd, cleanup):
    """The event keys (ev:<subject>, ev:all) expire 24 h after their last
    publish, and every publish refreshes the expiry; MAXLEN still caps
    them. (They used to have no expiry: ~50 KB kept per subject that ever
    called a tool.)"""
    redis = Redis(wd, cleanup)
    a, _ = two_hosts(args, wd, cleanup, redis, limit=100000, workers=1, threads=2)
    day = 24 * 3600

    def call(rid):
        st, _, doc = rpc(a, ALICE, "tools/call", {"name": "kv_list", "arguments": {}}, rid=rid)
        check(st == 200 and "result" in doc, "tools/call: %d %r" % (st, doc))
    call(1)
    for key in (PREFIX + "ev:alice", PREFIX + "ev:all"):
        check(redis.cli("TYPE", key).strip() == "stream", "%s is a stream: %r" % (key, redis.cli("KEYS", "*")))
        ttl = int(redis.cli("TTL", key).strip())
        check(day - 60 < ttl <= day, "%s expires about 24 h after the publish: TTL %d" % (key, ttl))
    # Shorten the expiry by hand; the next publish puts it back.
    redis.cli("EXPIRE", PREFIX + "ev:alice", "30")
    check(int(redis.cli("TTL", PREFIX + "ev:alice").strip()) <= 30, "expiry shortened")
    call(2)
    ttl = int(redis.cli("TTL", PREFIX + "ev:alice").strip())
    check(day - 60 < ttl <= day, "the publish refreshed the expiry: TTL %d" % ttl)
    check(redis.cli("XLEN", PREFIX + "ev:alice").strip() == "2", "both events are kept")
    # The cap is still applied by the same script (MAXLEN ~ 1024): a key
    # made longer by hand is trimmed by the next publish.
    pipe = "\n".join("XADD %sev:alice * tool x ts 0" % PREFIX for _ in range(1500)) + "\n"
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port)], input=pipe,
                   capture_output=True, text=True, timeout=30, check=True)
    check(int(redis.cli("XLEN", PREFIX + "ev:alice").strip()) > 1500, "padded by hand")
    call(3)
    n = int(redis.cli("XLEN", PREFIX + "ev:alice").strip())
    check(1024 <= n < 1500, "MAXLEN ~ 1024 still trims: XLEN %d" % n)


def case_password(args, wd, cleanup):
    """requirepass: the right password in REDIS_URL works, a wrong one is
    refused and reported as auth, never echoed."""
    redis = Redis(wd, cleanup, password="s3cret-redis-pass")
    a = Host("hostA", args.bin, wd, cleanup,
             {"REDIS_URL": redis.url(), "RATE_LIMIT_REQUESTS": "5", "RATE_LIMIT_WINDOW_SECONDS": "600"},
             workers=1, threads=2)
    b = Host("hostB", args.bin, wd, cleanup,
             {"REDIS_URL": redis.url(password="wrong-pass-xyz"), "RATE_LIMIT_REQUESTS": "5",
              "RATE_LIMIT_WINDOW_SECONDS": "600", "RATE_LIMIT_ON_BACKEND_ERROR": "deny"},
             workers=1, threads=2)
    st, hd, _ = a.req("GET", "/whoami")
    check(st == 200 and hd.get("ratelimit-limit") == "5", "password accepted: %d %r" % (st, hd))
    check(PREFIX + "rl:alice:" in redis.cli("--scan", "--pattern", PREFIX + "rl:*"), "count in Redis")
    st, _, body = b.req("GET", "/readyz", key=None)
    doc = json.loads(body)
    check(st == 503 and doc["redis"]["error"] == "auth", "wrong password reported: %r" % doc)
    st, _, body = b.req("GET", "/whoami")
    check(st == 503, "deny with a refused password: %d" % st)
    for h in (a, b):
        text = h.server_log() + open(h.stderr, errors="replace").read()
        check("s3cret-redis-pass" not in text and "wrong-pass-xyz" not in text,
              "%s: no password in the logs" % h.name)
    st, _, body = a.req("GET", "/metrics", key=None)
    check(b"s3cret" not in body, "no password in /metrics")


def case_tls(args, wd, cleanup):
    """rediss:// with a test CA: verified against REDIS_CACERT; without the
    CA the handshake is refused (reason tls)."""
    certs = os.path.join(wd, "certs")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "gen-certs.sh"), certs],
                   check=True, capture_output=True)
    redis = Redis(wd, cleanup, password="tls-pass-123", tls_dir=certs)
    a = Host("hostA", args.bin, wd, cleanup,
             {"REDIS_URL": redis.url(), "REDIS_CACERT": os.path.join(certs, "ca.crt"),
              "RATE_LIMIT_REQUESTS": "3", "RATE_LIMIT_WINDOW_SECONDS": "600"},
             workers=1, threads=2)
    b = Host("hostB", args.bin, wd, cleanup,
             {"REDIS_URL": redis.url(), "REDIS_CACERT": os.path.join(certs, "rogue-ca.crt"),
              "RATE_LIMIT_REQUESTS": "3", "RATE_LIMIT_WINDOW_SECONDS": "600"},
             workers=1, threads=2)
    fresh_window(a, 600)
    sts = [a.req("GET", "/whoami")[0] for _ in range(5)]
    check(sts == [200, 200, 200, 429, 429], "limit 3 over TLS: %r" % sts)
    st, _, body = b.req("GET", "/readyz", key=None)
    doc = json.loads(body)
    check(doc["redis"]["ok"] is False and doc["redis"]["error"] == "tls",
          "an untrusted server certificate is refused: %r" % doc)


# The ACL of docs/scaling.md ("TLS and AUTH"): the only commands and keys
# the bridge uses, including the commands its scripts run inside Redis.
ACL_RULES = ("on >acl-pass-4567 ~vmbtest:* resetchannels -@all +ping +select +get +set "
             "+incr +expire +del +time +eval +evalsha +xadd +xread +xrevrange")


def case_acl_user(args, wd, cleanup):
    """An ACL user limited to the commands and key prefix docs/scaling.md
    lists (the default user off) serves every Redis-backed path: limits,
    sessions (new, touch, end), events (publish, stream), registry
    notices, /readyz; Redis' ACL LOG records no denied command."""
    # redis-server takes a directive's words as separate arguments
    redis = Redis(wd, cleanup, extra=["--user", "default", "off", "--user", "vmb"] + ACL_RULES.split() +
                  ["--user", "root", "on", ">root-pass-890", "~*", "&*", "+@all"])
    url = "redis://vmb:acl-pass-4567@127.0.0.1:%d/0" % redis.port
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port), "--user", "root",
           "--pass", "root-pass-890", "--no-auth-warning"]

    def root(*cmd):
        return subprocess.run(cli + list(cmd), capture_output=True, text=True, timeout=10).stdout
    check(root("ACL", "WHOAMI").strip() == "root", "the test's own Redis user works")
    env = {"REGISTRY_REFRESH_SECONDS": "3600", "REDIS_URL": url, "RATE_LIMIT_REQUESTS": "1000",
           "RATE_LIMIT_WINDOW_SECONDS": "600", "RATE_LIMIT_ON_BACKEND_ERROR": "deny"}
    sim = Sim(args.sim, wd, cleanup)
    env["VAULT_ADDR"] = sim.addr()
    a = Host("hostA", args.bin, wd, cleanup, env, workers=1, threads=4)
    b = Host("hostB", args.bin, wd, cleanup, env, workers=1, threads=4)
    st, _, body = a.req("GET", "/readyz", key=None)
    check(st == 200 and json.loads(body)["redis"]["ok"] is True, "readyz (PING) as the ACL user: %s" % body)
    st, hd, _ = a.req("GET", "/whoami")
    check(st == 200 and "ratelimit-remaining" in hd, "rate limit script: %d %r" % (st, hd))
    sse = SseReader(b, ALICE)                     # XREVRANGE, then XREAD polls
    cleanup.add(sse.close)
    st, hd, doc = rpc(a, ALICE, "initialize", {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "scale-test", "version": "1"}})
    sid = hd.get("mcp-session-id")
    check(st == 200 and sid, "initialize (SET): %d %r" % (st, doc))
    check(root("EXISTS", PREFIX + "sess:" + sid).strip() == "1", "the session is stored")
    st, _, doc = rpc(b, ALICE, "tools/call", {"name": "kv_list", "arguments": {}}, sid=sid, rid=2)
    check(st == 200 and "result" in doc, "tools/call in the session (touch script, XADD): %d %r" % (st, doc))
    check(wait_for(lambda: sse.events, 10), "the event reached the stream on B")
    st, _, _ = a.req("DELETE", "/mcp/rpc", headers={"Mcp-Session-Id": sid})
    check(st == 204, "DELETE (end script): %d" % st)
    check(root("EXISTS", PREFIX + "sess:" + sid).strip() == "0", "the session key is gone")
    # Registry notices: a key made on A works on B at once (B only reloads
    # because the counter in Redis moved: REGISTRY_REFRESH_SECONDS is 3600).
    st, _, body = a.req("POST", "/admin/subjects", key=ADMIN, body={"subject": "dave"})
    check(st == 201, "admin write: %d %s" % (st, body[:200]))
    st, _, body = a.req("POST", "/admin/subjects/dave/api-keys", key=ADMIN, body=b"")
    check(st == 201, "key for dave: %d %s" % (st, body[:200]))
    key = json.loads(body)["api_key"]
    check(wait_for(lambda: b.req("GET", "/whoami", key=key)[0] == 200, 2.0),
          "B accepts dave's new key (SET and GET of registry:gen)")
    denied = root("ACL", "LOG")
    check(denied.strip() == "", "Redis denied nothing to the bridge's user: %r" % denied[:2000])
    # (A refused command is an error reply, not an outage, so the ACL LOG
    # above is the check; the change notice also logs when it is refused.)
    for h in (a, b):
        check("not announced" not in h.server_log(),
              "%s: the registry notice was refused: %s" % (h.name, h.server_log()[-1000:]))


def case_unset_unchanged(args, wd, cleanup):
    """REDIS_URL unset: the host-wide shared-memory limiter as before, and
    no Redis member in /readyz or series in /metrics."""
    a = Host("hostA", args.bin, wd, cleanup,
             {"RATE_LIMIT_REQUESTS": "3", "RATE_LIMIT_WINDOW_SECONDS": "600"},
             workers=2, threads=2)
    fresh_window(a, 600)
    sts = [a.req("GET", "/whoami")[0] for _ in range(5)]
    check(sts == [200, 200, 200, 429, 429], "shm limiter: %r" % sts)
    check(os.path.exists(os.path.join(a.dir, "run", "ratelimit.v1")), "the shm table is used")
    _, _, body = a.req("GET", "/readyz", key=None)
    check("redis" not in json.loads(body), "no redis member: %s" % body)
    _, _, body = a.req("GET", "/metrics", key=None)
    series = [ln for ln in body.decode().splitlines() if "redis" in ln and not ln.startswith("#")]
    check(not series, "no redis series in /metrics: %r" % series)


def asan_runtime(binary):
    """The path of the ASan runtime the binary is linked with, or None:
    it must come first in LD_PRELOAD when a shim is preloaded too."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for ln in out.splitlines():
        if "libasan.so" in ln and "=>" in ln:
            return ln.split("=>")[1].split("(")[0].strip()
    return None


def case_shutdown_event_in_flight(args, wd, cleanup):
    """An event reaching a process from Redis while it shuts down leaks
    nothing. The process' Redis reader (a blocking XREAD on ev:all) must
    have ended, and redis.c freed its connection, before vmb_redis_cleanup
    deletes the per-thread key: a reader still running then (it used to be
    detached and never waited for) ended after an event woke it without
    the key's destructor, and LeakSanitizer reported its connection at
    exit (seen once in scale__events_cross_host, host B). The shim
    (keydelete_shim.c) holds the process just after the key is deleted
    while an event is published, so the old race happens every time.
    The leak itself is only seen in the ASan build (Host.stop fails the
    case on a LeakSanitizer report); every build checks the clean exit."""
    check(args.keydelete_shim, "--keydelete-shim is required")
    redis = Redis(wd, cleanup)
    mark = os.path.join(wd, "key-deleted")
    pre = args.keydelete_shim
    asan = asan_runtime(args.bin)
    if asan:
        pre = asan + ":" + pre
    b = Host("hostB", args.bin, wd, cleanup,
             {"REDIS_URL": redis.url(), "LD_PRELOAD": pre,
              "VMB_TEST_KEYDELETE_MARK": mark, "VMB_TEST_KEYDELETE_DELAY_MS": "1500"},
             workers=1, threads=2)
    # The stream starts the process' reader (placed synchronously before
    # the stream parks); the hello comment means it is parked.
    alice = SseReader(b, ALICE)
    cleanup.add(alice.close)
    check(not os.path.exists(mark), "no key deleted before shutdown")
    p = b.procs[0]
    p.send_signal(signal.SIGTERM)
    check(wait_for(lambda: os.path.exists(mark), 30), "the process reached vmb_redis_cleanup")
    # The key is gone and the process is held: an event now answers the
    # XREAD of a reader that is still running (before the fix).
    redis.cli("XADD", PREFIX + "ev:all", "*", "id", "1-1", "subject", "alice",
              "tool", "kv.list", "ts", "0")
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        check(False, "host B did not exit after SIGTERM")
    err = open(b.stderr, errors="replace").read()
    check(p.returncode == 0, "host B exited cleanly: %r\n%s" % (p.returncode, err[-3000:]))
    check("LeakSanitizer" not in err, "no leak at exit:\n%s" % err[-3000:])


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--keydelete-shim", default=None)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.sim = os.path.abspath(args.sim)
    if args.keydelete_shim:
        args.keydelete_shim = os.path.abspath(args.keydelete_shim)
    for tool in ("redis-server", "redis-cli", "lighttpd"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            print("missing %s (scripts/lib/deps.sh installs it)" % tool, file=sys.stderr)
            return 1
    cleanup = Cleanup()
    try:
        wd = tmpdir(cleanup, "vmb-scale-")
        CASES[args.case](args, wd, cleanup)
    finally:
        cleanup.run()
    if SANITIZER_REPORTS:
        print("\n".join(SANITIZER_REPORTS), file=sys.stderr)
        return 1
    print("ok", args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
