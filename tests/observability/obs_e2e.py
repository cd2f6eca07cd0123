#!/usr/bin/env python3
"""End-to-end observability tests (issue 9), one case per invocation.

    obs_e2e.py --bin build/bin/vault-mcp-fcgi CASE

Real responder processes share one listening FastCGI socket (the way
spawn-fcgi -F N hands fd 0 to each worker). Requests are sent by a small
stdlib FastCGI client below. A fake Vault and an OTLP/HTTP receiver run on
loopback ports below 32768. Every process started here is stopped here.
Exit 0 = pass, 1 = fail, 77 = skipped (a tool is missing).
"""
import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import procs  # noqa: E402

API_KEY = "obs-e2e-key-7f3a9c-0123456789abcdef0123"
PLANTED = "PLANTEDsecret9Q"          # must never show up in metrics or spans
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# A blocked export would cost a request the 3 s export timeout; anything
# well below that (with room for sanitizer builds) proves it does not block.
SLOW = 1.0
PARENT_ID = "00f067aa0ba902b7"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---- a minimal FastCGI client -------------------------------------------

def _fcgi_record(rtype, req_id, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack("!BBHHBB", 1, rtype, req_id, len(content), pad, 0) + content + b"\0" * pad


def _fcgi_nv(name, value):
    def ln(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    n, v = name.encode(), value.encode()
    return ln(len(n)) + ln(len(v)) + n + v


def fcgi_request(sock_path, method, path, query="", headers=None, body=b"", timeout=30):
    """Returns (status, headers dict lower-case, body bytes)."""
    params = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
        "REQUEST_URI": path + ("?" + query if query else ""), "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "CONTENT_LENGTH": str(len(body)),
    }
    for k, v in (headers or {}).items():
        key = k.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            params["CONTENT_TYPE"] = v
        else:
            params["HTTP_" + key] = v
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        out = _fcgi_record(1, 1, struct.pack("!HB5x", 1, 0))   # BEGIN_REQUEST, responder
        pbytes = b"".join(_fcgi_nv(k, v) for k, v in params.items())
        out += _fcgi_record(4, 1, pbytes) + _fcgi_record(4, 1, b"")
        if body:
            out += _fcgi_record(5, 1, body)
        out += _fcgi_record(5, 1, b"")
        s.sendall(out)
        stdout, buf = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            done = False
            while len(buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == 6:
                    stdout += content
                elif rtype == 3:
                    done = True
            if done:
                break
    finally:
        s.close()
    head, _, rest = stdout.partition(b"\r\n\r\n")
    status, hdrs = 200, {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if "status" in hdrs:
        status = int(hdrs["status"].split()[0])
    return status, hdrs, rest


# ---- helpers: ports, fake Vault, OTLP receiver ----------------------------

def free_port():
    for _ in range(200):
        port = random.randint(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise Fail("no free port")


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, x):
        with self.lock:
            self.items.append(x)

    def all(self):
        with self.lock:
            return list(self.items)


def start_http(handler_cls, recorder):
    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
    srv.daemon_threads = True
    srv.recorder = recorder
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, port


class FakeVault(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.recorder.add({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/v1/sys/health"):
            body = json.dumps({"initialized": True, "sealed": False, "standby": False,
                               "version": "1.15.0"}).encode()
            self.send_response(200)
        else:
            body = b'{"errors":[]}'
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OtlpReceiver(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.server.recorder.add({"path": self.path, "ctype": self.headers.get("Content-Type"),
                                  "raw": data.decode("utf-8", "replace")})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def spans_of(recorder):
    out = []
    for item in recorder.all():
        doc = json.loads(item["raw"])
        for rs in doc.get("resourceSpans", []):
            res = {a["key"]: a["value"] for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    sp = dict(sp)
                    sp["_resource"] = res
                    sp["_attrs"] = {a["key"]: list(a["value"].values())[0] for a in sp.get("attributes", [])}
                    out.append(sp)
    return out


class BlackHole:
    """Accepts connections and never answers (a hung collector)."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.conns = []
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        for c in self.conns:
            c.close()
        self.sock.close()


# ---- the responder pool ---------------------------------------------------

class Pool:
    """N worker processes sharing one FastCGI listening socket (fd 0)."""

    def __init__(self, binary, workdir, workers=2, threads=2, env=None):
        self.workdir = workdir
        self.sock_path = os.path.join(workdir, "fcgi.sock")
        self.run_dir = os.path.join(workdir, "run")
        self.log_dir = os.path.join(workdir, "logs")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        self.listener.listen(256)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "OTEL_", "API_KEYS"))}
        base.update({
            "API_KEYS_JSON": json.dumps({API_KEY: {"subject": "obs-tester", "scopes": [
                                             "read", "write", "delete", "list", "admin"]},
                                         "obs-noread-key-1-0123456789abcdef0123": {"subject": "writer", "scopes": ["write"]},
                                         "obs-reader-key-1-0123456789abcdef0123": {"subject": "reader", "scopes": ["read", "list"]}}),
            "RUN_DIR": self.run_dir, "LOG_DIR": self.log_dir, "THREADS": str(threads),
            "RATE_LIMIT_ENABLED": "false", "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "root",
            "VAULT_TIMEOUT_MS": "2000", "LOG_LEVEL": "info",
        })
        base.update(env or {})
        self.env = base
        self.binary = binary
        self.procs = []
        for _ in range(workers):
            self.add_worker()

    def add_worker(self):
        p = subprocess.Popen([self.binary], stdin=self.listener.fileno(), cwd=self.workdir,
                             env=self.env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.workdir, "stderr.log"), "ab"))
        self.procs.append(p)
        time.sleep(0.15)   # distinct start times; lets init finish
        check(p.poll() is None, "worker exited at start-up: see %s/stderr.log" % self.workdir)
        procs.watch(p)
        return p

    def req(self, method, path, query="", headers=None, key=True):
        h = dict(headers or {})
        if key:
            h.setdefault("X-API-Key", API_KEY)
        return fcgi_request(self.sock_path, method, path, query, h)

    def metrics(self):
        st, hd, body = self.req("GET", "/metrics", key=False)
        check(st == 200, "/metrics answered %d" % st)
        check(hd.get("content-type", "").startswith("text/plain; version=0.0.4"),
              "/metrics content type %r" % hd.get("content-type"))
        return body.decode()

    def stop(self, timeout=15):
        t0 = time.time()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        rcs = []
        for p in self.procs:
            try:
                rcs.append(p.wait(timeout=max(0.1, timeout - (time.time() - t0))))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rcs.append(None)
        self.listener.close()
        took = time.time() - t0
        # Each worker's exit status and the shared stderr (procs.stop's check).
        for p, rc in zip(self.procs, rcs):
            procs.check_stopped(p, rc)
        # A sanitizer build reports into the workers' stderr: fail on it.
        path = os.path.join(self.workdir, "stderr.log")
        if os.path.exists(path):
            err = open(path, errors="replace").read()
            for marker in ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer",
                           "runtime error:", "ERROR: LeakSanitizer"):
                check(marker not in err, "sanitizer report in %s" % path)
        return took


def sample(text, series):
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def total_requests(text):
    return sum(float(v) for v in re.findall(r"^http_requests_total\{[^}]*\} (\S+)$", text, re.M))


def hist_count_total(text):
    return sum(float(v) for v in re.findall(r"^http_request_duration_seconds_count\{[^}]*\} (\S+)$", text, re.M))


# ---- cases ----------------------------------------------------------------

def case_pool_exact_1000(args, wd):
    """Two workers behind one socket serve 1000 requests: /metrics from
    either reports exactly 1000 plus the scrapes; a killed worker loses
    nothing and is no longer counted as live."""
    pool = Pool(args.bin, wd, workers=2, threads=2)
    try:
        routes = [("/healthz", {}), ("/whoami", {}), ("/no/such/route", {}),
                  ("/healthz", {"X-Correlation-Id": "corr-1"})]
        errors, lock, counter = [], threading.Lock(), [0]

        def client(n):
            for i in range(n):
                path, hdrs = routes[i % len(routes)]
                try:
                    st, _, _ = pool.req("GET", path, headers=hdrs)
                    if st not in (200, 404):
                        raise Fail("status %d for %s" % (st, path))
                    with lock:
                        counter[0] += 1
                except Exception as e:  # noqa: BLE001 - collected and reported
                    with lock:
                        errors.append(repr(e))

        def burst(total, nthreads=8):
            ts = [threading.Thread(target=client, args=(total // nthreads,)) for _ in range(nthreads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        burst(1000)
        check(not errors, "client errors: %s" % errors[:3])
        check(counter[0] == 1000, "sent %d" % counter[0])
        starts, scrapes = set(), 0
        for _ in range(12):
            text = pool.metrics()
            got = total_requests(text)
            check(got == 1000 + scrapes, "scrape %d shows %s requests, want %d" % (scrapes, got, 1000 + scrapes))
            check(hist_count_total(text) == got, "histogram count disagrees with the counter")
            check(sample(text, "worker_processes") == 2, "worker_processes %s" % sample(text, "worker_processes"))
            want_corr = 8 * len([i for i in range(1000 // 8) if i % len(routes) == 3])
            check(sample(text, "http_requests_with_correlation_total") == want_corr,
                  "correlation count %s, want %d" % (sample(text, "http_requests_with_correlation_total"), want_corr))
            starts.add(sample(text, "worker_start_time_seconds"))
            scrapes += 1
        check(len(starts) == 2, "scrapes were answered by %d distinct workers, want both" % len(starts))
        # A worker dies (SIGKILL, no cleanup) between requests: nothing lost.
        victim = pool.procs[0]
        procs.exempt(victim, "killed with SIGKILL: a worker dies between requests")
        victim.kill()
        victim.wait()
        burst(96)
        check(not errors, "client errors after kill: %s" % errors[:3])
        text = pool.metrics()
        check(total_requests(text) == 1000 + scrapes + 96,
              "after a worker died: %s, want %d" % (total_requests(text), 1000 + scrapes + 96))
        check(sample(text, "worker_processes") == 1, "dead worker still counted")
        check(sample(text, "http_requests_in_flight") == 1, "in flight (the scrape itself) %s"
              % sample(text, "http_requests_in_flight"))
        print("pool: 1000 requests exact across 2 workers; %d scrapes from both; kill -9 lost nothing" % scrapes)
    finally:
        pool.stop()


def ensure_promtool():
    if shutil.which("promtool"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return shutil.which("promtool") is not None


def case_promtool_check(args, wd):
    """Every metric family populated (auth failures, Vault calls, 404s),
    then `promtool check metrics` on the scrape."""
    if not ensure_promtool():
        # A missing tool is a failure, never a skip: the suite installs it.
        print("FAIL: promtool not available (Debian package prometheus)")
        return 1
    vault_rec = Recorder()
    vsrv, vport = start_http(FakeVault, vault_rec)
    pool = Pool(args.bin, wd, workers=2, env={"VAULT_ADDR": "http://127.0.0.1:%d" % vport})
    try:
        pool.req("GET", "/healthz")
        pool.req("GET", "/whoami", headers={"X-API-Key": "wrong-key"})
        pool.req("GET", "/whoami", key=False)
        pool.req("GET", "/observability/summary")
        pool.req("POST", "/nope")
        pool.req("BREW", "/healthz")
        # An MCP tools/call (Vault answers 404 for the secret): tool counter.
        rpc = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "kv.read", "arguments": {"path": "app/x"}}}).encode()
        fcgi_request(pool.sock_path, "POST", "/mcp/rpc", "",
                     {"X-API-Key": API_KEY, "Content-Type": "application/json",
                      "Accept": "application/json, text/event-stream"}, rpc)
        text = pool.metrics()
        check('mcp_tool_calls_total{tool="kv.read",outcome="error"} 1' in text, "tool counter")
        for fam in ("http_requests_total", "http_request_duration_seconds_bucket",
                    "vault_requests_total", "vault_request_duration_seconds_bucket",
                    "auth_failures_total", "worker_processes", "build_info"):
            check(re.search(r"^" + fam + r"[{ ]", text, re.M), "family %s missing" % fam)
        check('vault_requests_total{operation="sys.health",status="200"} 1' in text, "vault counter")
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode()
        check(p.returncode == 0, "promtool check metrics failed:\n" + out)
        print("promtool check metrics: ok (%d lines)" % text.count("\n"))
    finally:
        pool.stop()
        vsrv.shutdown()


def wait_for(pred, timeout=10.0, step=0.1):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def case_otlp_spans(args, wd):
    """Spans reach a loopback OTLP receiver: server/auth/Vault spans with
    correct parent links, the client's trace id, traceparent sent to Vault."""
    vault_rec, otlp_rec = Recorder(), Recorder()
    vsrv, vport = start_http(FakeVault, vault_rec)
    osrv, oport = start_http(OtlpReceiver, otlp_rec)
    pool = Pool(args.bin, wd, workers=1, env={
        "VAULT_ADDR": "http://127.0.0.1:%d" % vport,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d/" % oport,
        "OTEL_SERVICE_NAME": "obs-e2e-bridge",
        # one Vault span per request: the fake Vault has no registry
        "REGISTRY_ENABLED": "false"})
    try:
        tp = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
        st, hd, body = pool.req("GET", "/observability/summary", headers={"traceparent": tp})
        check(st == 200, "summary answered %d: %s" % (st, body[:200]))
        check(hd.get("x-trace-id") == TRACE_ID, "X-Trace-Id %r" % hd.get("x-trace-id"))
        summary = json.loads(body)
        check(summary["vault"]["status"] == "ok", "vault status %r" % summary["vault"])
        check(summary["tracing"]["enabled"] is True, "tracing not reported on")

        spans = wait_for(lambda: [s for s in spans_of(otlp_rec) if s["traceId"] == TRACE_ID and
                                  len([x for x in spans_of(otlp_rec) if x["traceId"] == TRACE_ID]) >= 3],
                         timeout=10)
        check(spans, "no spans for the trace arrived; got %d spans" % len(spans_of(otlp_rec)))
        spans = [s for s in spans_of(otlp_rec) if s["traceId"] == TRACE_ID]
        check(all(i["path"] == "/v1/traces" for i in otlp_rec.all()), "export path")
        check(all(i["ctype"] == "application/json" for i in otlp_rec.all()), "export content type")
        server = [s for s in spans if s["kind"] == 2]
        auth = [s for s in spans if s["name"] == "authenticate"]
        vault = [s for s in spans if s["kind"] == 3]
        check(len(server) == 1 and len(auth) == 1 and len(vault) == 1,
              "want 1 server, 1 auth, 1 vault span; got %s" % [(s["name"], s["kind"]) for s in spans])
        server, auth, vault = server[0], auth[0], vault[0]
        check(server.get("parentSpanId") == PARENT_ID, "server span parent %r" % server.get("parentSpanId"))
        check(server["name"] == "GET /observability/summary", "server span name %r" % server["name"])
        check(server["_attrs"].get("http.route") == "/observability/summary", "http.route")
        check(server["_attrs"].get("http.response.status_code") == "200", "status attr")
        check(server["_attrs"].get("vmb.operation") == "observability.summary", "op id attr")
        check(auth.get("parentSpanId") == server["spanId"], "auth span is not a child of the server span")
        check(auth["_attrs"].get("vmb.auth.mode") == "api_key", "auth mode attr")
        check(vault.get("parentSpanId") == server["spanId"], "vault span is not a child of the server span")
        check(vault["_attrs"].get("vmb.vault.operation") == "sys.health", "vault op attr")
        check(server["_resource"].get("service.name") == {"stringValue": "obs-e2e-bridge"} or
              server["_resource"].get("service.name") == "obs-e2e-bridge", "service.name")
        for s in (server, auth, vault):
            check(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), "span times")
        check(int(server["startTimeUnixNano"]) <= int(vault["startTimeUnixNano"]), "child starts before parent")
        # Vault saw a traceparent naming the Vault client span.
        seen = [r["headers"].get("traceparent") for r in vault_rec.all() if r["path"].startswith("/v1/sys/health")]
        check(seen and seen[-1] == "00-%s-%s-01" % (TRACE_ID, vault["spanId"]),
              "traceparent to Vault %r, vault span %s" % (seen, vault["spanId"]))

        # Invalid traceparent (upper-case hex): a fresh trace is started.
        bad = "00-%s-%s-01" % (TRACE_ID.upper(), PARENT_ID)
        st, hd, _ = pool.req("GET", "/healthz", headers={"traceparent": bad})
        tid = hd.get("x-trace-id", "")
        check(re.fullmatch(r"[0-9a-f]{32}", tid) and tid != TRACE_ID, "bad traceparent gave %r" % tid)
        # Not sampled: ids propagate, nothing is exported for it.
        unsampled = "00-%s-%s-00" % ("1" * 32, PARENT_ID)
        st, hd, _ = pool.req("GET", "/healthz", headers={"traceparent": unsampled})
        check(hd.get("x-trace-id") == "1" * 32, "unsampled trace id not kept")
        wait_for(lambda: any(s["traceId"] == tid for s in spans_of(otlp_rec)), timeout=5)
        check(any(s["traceId"] == tid for s in spans_of(otlp_rec)), "new trace not exported")
        check(not any(s["traceId"] == "1" * 32 for s in spans_of(otlp_rec)), "unsampled trace exported")
        # The exporter counts a batch after the collector answered, so the
        # collector can hold the spans a moment before the counter moves.
        def exported():
            n = sample(pool.metrics(), "otel_spans_exported_total") or 0
            return n if n >= 4 else 0
        check(wait_for(exported, timeout=5), "exported counter")
        print("otlp: server/auth/vault spans linked; trace id kept; traceparent sent to Vault")
    finally:
        pool.stop()
        vsrv.shutdown()
        osrv.shutdown()


def case_otlp_collector_down(args, wd):
    """A hung collector, then a dead one: requests stay fast, spans are
    dropped and counted, shutdown is bounded."""
    hole = BlackHole()
    pool = Pool(args.bin, wd, workers=1, threads=4, env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % hole.port})
    try:
        def timed(n):
            worst, t0 = 0.0, time.time()
            for _ in range(n):
                a = time.time()
                st, hd, _ = pool.req("GET", "/healthz", headers={"traceparent": "00-%s-%s-01" % (TRACE_ID, PARENT_ID)})
                worst = max(worst, time.time() - a)
                check(st == 200 and hd.get("x-trace-id") == TRACE_ID, "request failed")
            return worst, time.time() - t0

        worst, total = timed(600)    # more than a batch: the exporter is stuck on the hole
        check(worst < SLOW, "a request took %.3fs with a hung collector" % worst)
        # The queue fills up (2048) while the exporter is stuck: drops counted.
        for _ in range(5):
            timed(600)
        m = wait_for(lambda: (lambda t: t if (sample(t, "otel_spans_dropped_total") or 0) > 0 else None)(pool.metrics()),
                     timeout=15, step=0.5)
        check(m, "no dropped spans counted with a hung collector")
        hole.close()
        # Dead collector (connection refused).
        worst2, _ = timed(300)
        check(worst2 < SLOW, "a request took %.3fs with a dead collector" % worst2)
        took = pool.stop(timeout=20)
        check(took < 10, "shutdown took %.1fs with a dead collector" % took)
        print("collector down: worst request %.1f ms (hung), %.1f ms (dead); drops counted; stop %.1fs"
              % (worst * 1000, worst2 * 1000, took))
    finally:
        hole.close()
        pool.stop()


def case_log_tail(args, wd):
    """The log-tail endpoint: bounds, scopes, empty, rotated and huge files."""
    pool = Pool(args.bin, wd, workers=1)
    try:
        for i in range(5):
            pool.req("GET", "/healthz", headers={"X-Correlation-Id": "tail-%d" % i})
        st, _, body = pool.req("GET", "/observability/logs/requests", "lines=3")
        check(st == 200, "tail answered %d: %s" % (st, body[:200]))
        doc = json.loads(body)
        check(doc["count"] == 3 and len(doc["lines"]) == 3, "want 3 lines: %s" % doc)
        check([l["correlation_id"] for l in doc["lines"]] == ["tail-2", "tail-3", "tail-4"],
              "wrong lines or order: %s" % [l.get("correlation_id") for l in doc["lines"]])
        st, _, body = pool.req("GET", "/observability/logs/requests")
        check(st == 200 and json.loads(body)["requested"] == 100, "default lines")
        for q in ("lines=0", "lines=1001", "lines=abc", "lines=-1"):
            st, _, _ = pool.req("GET", "/observability/logs/requests", q)
            check(st == 400, "%s answered %d" % (q, st))
        st, _, _ = pool.req("GET", "/observability/logs/secrets")
        check(st == 400, "unknown stream answered %d" % st)
        st, _, _ = pool.req("GET", "/observability/logs/..%2Fetc")
        check(st in (400, 404), "traversal answered %d" % st)
        st, _, _ = pool.req("GET", "/observability/logs/requests", key=False)
        check(st == 401, "no credential answered %d" % st)
        st, _, _ = pool.req("GET", "/observability/logs/requests", headers={"X-API-Key": "obs-noread-key-1-0123456789abcdef0123"})
        check(st == 403, "without read scope answered %d" % st)
        # The logs name every subject of the host: admin only (issue 13).
        st, _, _ = pool.req("GET", "/observability/logs/requests", headers={"X-API-Key": "obs-reader-key-1-0123456789abcdef0123"})
        check(st == 403, "a read-scoped non-admin key answered %d" % st)

        resp_log = os.path.join(pool.log_dir, "responses.log")
        # Empty.
        open(resp_log, "w").close()
        st, _, body = pool.req("GET", "/observability/logs/responses", "lines=10")
        check(st == 200 and json.loads(body)["lines"] == [], "empty file: %s" % body[:200])
        # Rotated: renamed away, nothing at the path yet, then a new file.
        os.rename(resp_log, resp_log + ".1")
        st, _, body = pool.req("GET", "/observability/logs/responses", "lines=10")
        check(st == 200 and json.loads(body)["count"] == 0, "rotated-away file")
        with open(resp_log, "w") as f:
            f.write('{"msg":"fresh-1"}\n{"msg":"fresh-2"}\nnot json\n')
        st, _, body = pool.req("GET", "/observability/logs/responses", "lines=2")
        doc = json.loads(body)
        check(doc["lines"] == [{"msg": "fresh-2"}, "not json"], "after rotation: %s" % doc["lines"])
        # Truncated in place (copytruncate).
        os.truncate(resp_log, 0)
        st, _, body = pool.req("GET", "/observability/logs/responses", "lines=2")
        check(json.loads(body)["count"] == 0, "after truncation")
        # Huge: 8 GiB sparse, lines at the end; must answer fast.
        with open(resp_log, "wb") as f:
            f.truncate(8 << 30)
            f.seek(0, 2)
            f.write(b"\n" + b"".join(b'{"msg":"end-%d"}\n' % i for i in range(1000)))
        a = time.time()
        st, _, body = pool.req("GET", "/observability/logs/responses", "lines=1000")
        took = time.time() - a
        doc = json.loads(body)
        check(st == 200 and doc["count"] == 1000 and doc["lines"][-1] == {"msg": "end-999"}
              and doc["lines"][0] == {"msg": "end-0"}, "huge file tail wrong")
        check(took < 2.0, "huge file took %.2fs" % took)
        os.unlink(resp_log)
        print("log tail: bounds, scopes, empty, rotated, truncated and 8 GiB files ok (%.0f ms)" % (took * 1000))
    finally:
        pool.stop()


def case_planted_secrets(args, wd):
    """Credentials, paths and query values sent by clients never appear
    in /metrics or in exported spans."""
    vault_rec, otlp_rec = Recorder(), Recorder()
    vsrv, vport = start_http(FakeVault, vault_rec)
    osrv, oport = start_http(OtlpReceiver, otlp_rec)
    pool = Pool(args.bin, wd, workers=2, env={
        "VAULT_ADDR": "http://127.0.0.1:%d" % vport,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % oport})
    try:
        pool.req("GET", "/secrets/" + PLANTED + "/x", "token=" + PLANTED)
        pool.req("GET", "/whoami", headers={"X-API-Key": PLANTED})
        pool.req("GET", "/whoami", headers={"Authorization": "Bearer " + PLANTED})
        pool.req(PLANTED, "/healthz")
        pool.req("GET", "/" + PLANTED)
        pool.req("GET", "/observability/summary", "q=" + PLANTED,
                 headers={"X-Correlation-Id": PLANTED, "traceparent": PLANTED})
        pool.req("GET", "/observability/logs/requests", "lines=5")
        text = pool.metrics()
        check(PLANTED.lower() not in text.lower(), "planted value in /metrics")
        check(API_KEY not in text and "obs-tester" not in text, "key or subject in /metrics")
        wait_for(lambda: len(spans_of(otlp_rec)) >= 8, timeout=10)
        raw = "".join(i["raw"] for i in otlp_rec.all())
        check(len(spans_of(otlp_rec)) >= 8, "spans did not arrive (%d)" % len(spans_of(otlp_rec)))
        check(PLANTED.lower() not in raw.lower(), "planted value in exported spans")
        check(API_KEY not in raw and "obs-tester" not in raw, "key or subject in spans")
        check("root" not in re.sub(r'"[a-z_.]*root[a-z_.]*"', "", raw), "vault token in spans")
        print("planted secrets: absent from /metrics and from %d spans" % len(spans_of(otlp_rec)))
    finally:
        pool.stop()
        vsrv.shutdown()
        osrv.shutdown()


def case_upstream_client(args, wd):
    """The one outbound client: a proxy named in the environment is never
    used (Vault and the OTLP collector are reached directly, the proxy sees
    no connection), and every upstream call is counted per upstream."""
    vault_rec, otlp_rec = Recorder(), Recorder()
    vsrv, vport = start_http(FakeVault, vault_rec)
    osrv, oport = start_http(OtlpReceiver, otlp_rec)
    proxy = BlackHole()
    purl = "http://127.0.0.1:%d" % proxy.port
    pool = Pool(args.bin, wd, workers=1, env={
        "VAULT_ADDR": "http://127.0.0.1:%d" % vport,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d/" % oport,
        "http_proxy": purl, "https_proxy": purl, "HTTP_PROXY": purl,
        "HTTPS_PROXY": purl, "ALL_PROXY": purl, "all_proxy": purl, "no_proxy": "",
        "NO_PROXY": ""})
    try:
        for _ in range(3):
            st, _, body = pool.req("GET", "/observability/summary")
            check(st == 200, "summary answered %d: %s" % (st, body[:200]))
        check(len(vault_rec.all()) >= 3, "Vault saw %d calls" % len(vault_rec.all()))
        wait_for(lambda: otlp_rec.all(), timeout=10)
        check(otlp_rec.all(), "no span export reached the collector")
        check(not proxy.conns, "the environment's proxy got %d connections" % len(proxy.conns))

        def counted():
            m = pool.metrics()
            return m if (sample(m, 'upstream_requests_total{upstream="otlp"}') or 0) >= 1 else None
        m = wait_for(counted, timeout=10)
        check(m, "no otlp call in upstream_requests_total")
        vault_calls = sample(m, 'upstream_requests_total{upstream="vault"}') or 0
        check(vault_calls >= 3, "upstream_requests_total{vault} = %r" % vault_calls)
        # The fake Vault answers GET only (other methods get 501, which
        # the registry's writes may meet): errors are counted, but never
        # for every call, and never more than the calls.
        errors = sample(m, 'upstream_errors_total{upstream="vault"}')
        check(errors is not None and errors < vault_calls,
              "upstream_errors_total{vault} = %r of %r calls" % (errors, vault_calls))
        check(sample(m, 'upstream_request_duration_seconds_count{upstream="vault"}') == vault_calls,
              "duration histogram count differs from the call count")
        check('upstream="kms"' not in m, "a label for an upstream never called")
        print("upstream client: no proxy from the environment; %d vault calls counted" % vault_calls)
    finally:
        pool.stop()
        proxy.close()
        vsrv.shutdown()
        osrv.shutdown()


class FakeJwks(BaseHTTPRequestHandler):
    """Serves server.jwks (swapped by the test) and records each fetch."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.recorder.add({"path": self.path,
                                  "headers": {k.lower(): v for k, v in self.headers.items()}})
        body = json.dumps(self.server.jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rs256_key(wd):
    """An RSA key made with the openssl tool: (PEM path, JWK n member)."""
    pem = os.path.join(wd, "jwks-key.pem")
    subprocess.run(["openssl", "genrsa", "-out", pem, "2048"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-modulus"], check=True,
                         capture_output=True, text=True).stdout.strip()
    return pem, b64url(bytes.fromhex(out.split("=", 1)[1]))


def rs256_token(pem, kid, claims):
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    body = b64url(json.dumps(claims).encode())
    signing = ("%s.%s" % (head, body)).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=signing,
                         check=True, capture_output=True).stdout
    return "%s.%s.%s" % (head, body, b64url(sig))


def case_jwks_span(args, wd):
    """A JWKS fetch made for a request (here: the token names a kid the
    cached set lacks) is a client span of that request, like a Vault call,
    with traceparent sent to the issuer, and is counted under upstream
    "jwks"."""
    pem, n = rs256_key(wd)
    jwks_rec, otlp_rec = Recorder(), Recorder()
    jsrv, jport = start_http(FakeJwks, jwks_rec)
    jsrv.jwks = {"keys": [{"kty": "RSA", "kid": "old", "use": "sig", "alg": "RS256",
                           "n": n, "e": "AQAB"}]}
    osrv, oport = start_http(OtlpReceiver, otlp_rec)
    pool = Pool(args.bin, wd, workers=1, env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d/" % oport,
        "OTEL_SERVICE_NAME": "obs-e2e-bridge", "REGISTRY_ENABLED": "false",
        "AUTH_JWT_ENABLED": "true", "JWT_ISSUER": "obs-issuer", "JWT_AUDIENCE": "obs-aud",
        "JWT_JWKS_URL": "http://127.0.0.1:%d/jwks" % jport,
        "JWT_JWKS_ALLOW_HTTP_LOOPBACK": "true", "JWT_JWKS_CACHE_SECONDS": "3600"})
    try:
        check(wait_for(lambda: len(jwks_rec.all()) >= 1, timeout=10), "no start-up JWKS fetch")
        started = time.time()
        # The issuer rotates: the same key under a new kid.
        jsrv.jwks = {"keys": [{"kty": "RSA", "kid": "new", "use": "sig", "alg": "RS256",
                               "n": n, "e": "AQAB"}]}
        now = int(time.time())
        tok = rs256_token(pem, "new", {"iss": "obs-issuer", "aud": "obs-aud", "sub": "jwt-user",
                                       "scope": "read", "iat": now, "exp": now + 600})
        # Unknown kids refetch at most once per 10 s (JWKS_MIN_REFETCH_S),
        # counted from the start-up fetch.
        time.sleep(max(0.0, 10.5 - (time.time() - started)))
        tp = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
        st, hd, body = pool.req("GET", "/whoami", key=False,
                                headers={"traceparent": tp, "Authorization": "Bearer " + tok})
        check(st == 200 and json.loads(body)["subject"] == "jwt-user",
              "whoami with the rotated kid answered %d: %s" % (st, body[:200]))
        check(len(jwks_rec.all()) == 2, "JWKS fetches: %d" % len(jwks_rec.all()))

        def linked():
            sp = [s for s in spans_of(otlp_rec) if s["traceId"] == TRACE_ID]
            return sp if any(s["kind"] == 2 for s in sp) and any(s["kind"] == 3 for s in sp) else None
        spans = wait_for(linked, timeout=10)
        check(spans, "no server and client span for the trace; got %r" %
              [(s["name"], s["kind"]) for s in spans_of(otlp_rec)])
        server = [s for s in spans if s["kind"] == 2]
        client = [s for s in spans if s["kind"] == 3]
        check(len(server) == 1 and len(client) == 1,
              "want 1 server and 1 client span; got %r" % [(s["name"], s["kind"]) for s in spans])
        server, client = server[0], client[0]
        check(client["name"] == "jwks jwks.fetch", "client span name %r" % client["name"])
        check(client.get("parentSpanId") == server["spanId"],
              "the JWKS span is not a child of the request's server span")
        seen = jwks_rec.all()[-1]["headers"].get("traceparent")
        check(seen == "00-%s-%s-01" % (TRACE_ID, client["spanId"]),
              "traceparent to the JWKS endpoint %r, span %s" % (seen, client["spanId"]))
        m = pool.metrics()
        check((sample(m, 'upstream_requests_total{upstream="jwks"}') or 0) >= 1,
              "the JWKS fetch is not counted in upstream_requests_total")
        check(sample(m, 'upstream_request_duration_seconds_count{upstream="jwks"}') ==
              sample(m, 'upstream_requests_total{upstream="jwks"}'), "jwks duration count")
        print("jwks: the request-driven fetch is a client span of the request and counted")
    finally:
        pool.stop()
        jsrv.shutdown()
        osrv.shutdown()


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        print("FAIL: %s not built" % args.bin)
        return 1
    wd = tempfile.mkdtemp(prefix="vmb-obs-e2e-")
    keep = False
    try:
        rc = CASES[args.case](args, wd)
        return rc or 0
    except Fail as e:
        keep = True
        print("FAIL: %s (work dir kept: %s)" % (e, wd))
        return 1
    finally:
        if not keep and not os.environ.get("OBS_KEEP"):
            shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
