#!/usr/bin/env python3
"""The metrics an alert needs (issue 22 item 4): vault_up and its reason
from the background probe, without traffic; one probe per interval for a
whole pool; one start time for the pool; METRICS_PREFIX.
  test_probe.py CASE
"""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import fcgi_client as fc  # noqa: E402
import procs  # noqa: E402

BRIDGE = procs.binary("vault-mcp-fcgi")
SIM = procs.binary("vault-sim")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    print("ok  ", msg)


class Bridge:
    """One bridge process on a loopback FastCGI port; run_dir shared by
    the processes of one "pool"."""

    def __init__(self, tmp, run_dir, env):
        self.port = procs.free_port()
        e = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        e.update({"LOG_DIR": os.path.join(tmp, "logs"), "RUN_DIR": run_dir,
                  "VAULT_TOKEN": "root", "HEALTH_PROBE_SECONDS": "1",
                  "API_KEYS_JSON": json.dumps({"k" * 40: "agent_a"})})
        e.update(env)
        with open(os.path.join(tmp, "stderr-%d.txt" % self.port), "w") as err:
            self.proc = subprocess.Popen([BRIDGE, "--listen", "127.0.0.1:%d" % self.port,
                                          "--threads", "2"], env=e, cwd=tmp, stderr=err)
        procs.wait_port(self.port, proc=self.proc)

    def metrics(self):
        r = fc.request(("127.0.0.1", self.port), "GET", "/metrics")
        return r[2].decode() if isinstance(r[2], bytes) else r[2]

    def stop(self):
        # A clean exit 0 on SIGTERM: the probe thread is joined, and under
        # ASan a leak would make it non-zero.
        rc = procs.stop(self.proc, timeout=15.0)
        check(rc == 0, "bridge %d exited cleanly (rc %r)" % (self.proc.pid, rc))


def sample(text, name, labels=None):
    pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)$"
    for line in text.splitlines():
        m = re.match(pat, line)
        if m:
            return float(m.group(1))
    return None


def reason(text, prefix=""):
    for line in text.splitlines():
        m = re.match(re.escape(prefix) + r'vault_probe_reason\{reason="([a-z_]+)"\} 1$', line)
        if m:
            return m.group(1)
    return None


def wait_reason(b, want, timeout=15.0):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = reason(b.metrics())
        if got == want:
            return got
        time.sleep(0.2)
    return got


def start_sim(port, token="root"):
    with tempfile.TemporaryFile() as err:   # read again by procs.stop
        p = subprocess.Popen([SIM, "--dev", "--dev-root-token-id", token,
                              "--dev-listen-address", "127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=err)
    procs.wait_port(port, proc=p)
    return p


def case_vault_states():
    """ok, sealed, then refused when Vault stops - with no request to the
    bridge except the scrapes."""
    tmp = tempfile.mkdtemp(prefix="vmb-alert-")
    vport = procs.free_port()
    sim = start_sim(vport)
    b = None
    try:
        b = Bridge(tmp, os.path.join(tmp, "run"), {"VAULT_ADDR": "http://127.0.0.1:%d" % vport})
        text = b.metrics()
        check(sample(text, "vault_up") is None, "no vault_up before the first probe")
        check(wait_reason(b, "ok") == "ok", "vault_up: probe finds Vault ok")
        text = b.metrics()
        check(sample(text, "vault_up") == 1.0, "vault_up 1")
        n = sum(1 for ln in text.splitlines() if ln.startswith("vault_probe_reason{"))
        check(n == 9, "every reason of the bounded list is a series (%d)" % n)
        check(time.time() - sample(text, "vault_probe_timestamp_seconds") < 5,
              "probe timestamp is recent")
        # Seal it (the simulator implements sys/seal).
        import urllib.request
        req = urllib.request.Request("http://127.0.0.1:%d/v1/sys/seal" % vport, method="PUT",
                                     headers={"X-Vault-Token": "root"}, data=b"{}")
        urllib.request.urlopen(req, timeout=5).read()
        check(wait_reason(b, "sealed") == "sealed", "sealed Vault: reason sealed")
        check(sample(b.metrics(), "vault_up") == 0.0, "vault_up 0 when sealed")
        procs.stop(sim)
        check(wait_reason(b, "refused") == "refused", "Vault stopped: reason refused")
        check(sample(b.metrics(), "vault_up") == 0.0, "vault_up 0")
    finally:
        if b:
            b.stop()
        procs.stop(sim)
        shutil.rmtree(tmp, ignore_errors=True)


def case_vault_timeout_dns():
    """A Vault that accepts and never answers is a timeout; a name that
    does not resolve is dns."""
    tmp = tempfile.mkdtemp(prefix="vmb-alert-")
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    hold.listen(16)   # accepted by the kernel, never answered
    b = b2 = None
    try:
        b = Bridge(tmp, os.path.join(tmp, "run1"),
                   {"VAULT_ADDR": "http://127.0.0.1:%d" % hold.getsockname()[1],
                    "VAULT_TIMEOUT_MS": "300"})
        check(wait_reason(b, "timeout") == "timeout", "silent Vault: reason timeout")
        b2 = Bridge(tmp, os.path.join(tmp, "run2"),
                    {"VAULT_ADDR": "http://vault.example.invalid:8200", "VAULT_TIMEOUT_MS": "2000"})
        check(wait_reason(b2, "dns") == "dns", "unresolvable name: reason dns")
    finally:
        for x in (b, b2):
            if x:
                x.stop()
        hold.close()
        shutil.rmtree(tmp, ignore_errors=True)


class CountingVault(http.server.BaseHTTPRequestHandler):
    hits = 0
    lock = threading.Lock()

    def do_GET(self):
        if self.path.startswith("/v1/sys/health"):
            with CountingVault.lock:
                CountingVault.hits += 1
        body = b'{"initialized":true,"sealed":false,"standby":false}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def case_pool_one_probe_and_start_time():
    """Three processes sharing RUN_DIR send one probe per interval between
    them, and report one start time: the oldest worker's."""
    tmp = tempfile.mkdtemp(prefix="vmb-alert-")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingVault)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    run = os.path.join(tmp, "run")
    pool = []
    try:
        env = {"VAULT_ADDR": "http://127.0.0.1:%d" % srv.server_address[1]}
        t0 = time.time()
        pool.append(Bridge(tmp, run, env))
        time.sleep(1.2)   # a clearly older first worker
        pool.append(Bridge(tmp, run, env))
        pool.append(Bridge(tmp, run, env))
        starts = [sample(b.metrics(), "process_start_time_seconds") for b in pool]
        check(len(set(starts)) == 1 and abs(starts[0] - t0) < 1.0,
              "every worker reports the oldest worker's start: %r (t0 %.3f)" % (starts, t0))
        time.sleep(2.5)
        with CountingVault.lock:
            CountingVault.hits = 0
        window = 5.0
        time.sleep(window)
        with CountingVault.lock:
            hits = CountingVault.hits
        # One probe per 1 s interval for the pool (three processes would
        # make about 15 without the shared claim).
        check(3 <= hits <= window + 2, "%d probes in %.0f s from 3 processes" % (hits, window))
        pool[0].stop()
        pool.pop(0)
        later = sample(pool[0].metrics(), "process_start_time_seconds")
        check(later > starts[0], "the oldest gone, the pool's start moves to the next one")
    finally:
        for b in pool:
            b.stop()
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


class FakeKms(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # KMS answers an unsigned GET with an error: still "reachable".
        body = b'{"__type":"MissingAuthenticationTokenException"}'
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def case_kms_probe():
    """kms_up: 1 when the endpoint answers (any HTTP status), 0 with reason
    refused when nothing listens; absent when KMS is disabled. The probes
    go through the one outbound client: a proxy named in the environment
    is not used, and their calls are counted under upstream_*."""
    tmp = tempfile.mkdtemp(prefix="vmb-alert-")
    vault = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingVault)
    kms = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKms)
    for srv in (vault, kms):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    dead = procs.free_port()
    bs = []
    try:
        base = {"VAULT_ADDR": "http://127.0.0.1:%d" % vault.server_address[1],
                "AWS_KMS_ENABLED": "true", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x" * 40}
        # A proxy that nothing listens on: a probe that used it would see
        # "refused" instead of the endpoint's answer.
        proxy = "http://127.0.0.1:%d" % procs.free_port()
        up = Bridge(tmp, os.path.join(tmp, "run1"), dict(
            base, AWS_KMS_ENDPOINT="http://127.0.0.1:%d/" % kms.server_address[1],
            http_proxy=proxy, HTTP_PROXY=proxy, https_proxy=proxy, HTTPS_PROXY=proxy,
            ALL_PROXY=proxy, all_proxy=proxy, no_proxy="", NO_PROXY=""))
        bs.append(up)
        down = Bridge(tmp, os.path.join(tmp, "run2"), dict(
            base, AWS_KMS_ENDPOINT="http://127.0.0.1:%d/" % dead))
        bs.append(down)
        off = Bridge(tmp, os.path.join(tmp, "run3"), {"VAULT_ADDR": base["VAULT_ADDR"]})
        bs.append(off)

        def kms_state(b):
            deadline = time.time() + 15
            while time.time() < deadline:
                t = b.metrics()
                m = re.search(r'^kms_probe_reason\{reason="([a-z_]+)"\} 1$', t, re.M)
                if m:
                    return sample(t, "kms_up"), m.group(1)
                time.sleep(0.2)
            return None, None
        check(kms_state(up) == (1.0, "ok"),
              "reachable KMS endpoint: kms_up 1, ok (the environment's proxy is not used)")
        t = up.metrics()
        check((sample(t, "upstream_requests_total", 'upstream="kms"') or 0) >= 1 and
              (sample(t, "upstream_requests_total", 'upstream="vault"') or 0) >= 1,
              "probe calls counted under upstream_requests_total (kms and vault)")
        check(kms_state(down) == (0.0, "refused"), "nothing listens: kms_up 0, refused")
        check(wait_reason(off, "ok") == "ok" and "kms_up" not in off.metrics(),
              "KMS disabled: no kms_up series")
    finally:
        for b in bs:
            b.stop()
        vault.shutdown()
        kms.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def case_prefix():
    """METRICS_PREFIX goes before every metric name; promtool accepts the
    result; a bad prefix stops start-up."""
    tmp = tempfile.mkdtemp(prefix="vmb-alert-")
    vport = procs.free_port()
    sim = start_sim(vport)
    b = None
    try:
        b = Bridge(tmp, os.path.join(tmp, "run"), {"VAULT_ADDR": "http://127.0.0.1:%d" % vport,
                                                   "METRICS_PREFIX": "vault_mcp_"})
        deadline = time.time() + 15
        while time.time() < deadline and "vault_mcp_vault_up 1" not in b.metrics():
            time.sleep(0.2)
        text = b.metrics()
        names = set()
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                names.add(line.split()[2])
            elif line and not line.startswith("#"):
                names.add(re.split(r"[{ ]", line)[0])
        bad = sorted(n for n in names if not n.startswith("vault_mcp_"))
        check(names and not bad, "%d names, all prefixed (unprefixed: %r)" % (len(names), bad))
        check("vault_mcp_vault_up 1" in text, "vault_mcp_vault_up 1")
        promtool = shutil.which("promtool")
        check(promtool is not None, "promtool present (Debian package prometheus)")
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 0, "promtool check metrics: %s" % (p.stdout + p.stderr)[:300])
        for bad in ("9bad", "vault-mcp", "a" * 49):
            p = subprocess.run([BRIDGE, "--check-config"], capture_output=True, text=True,
                               env={"PATH": os.environ["PATH"], "METRICS_PREFIX": bad},
                               timeout=10)
            check(p.returncode == 2 and "METRICS_PREFIX" in p.stderr,
                  "prefix %r refused: %r" % (bad[:12], p.stderr.strip()))
    finally:
        if b:
            b.stop()
        procs.stop(sim)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
    print("ok:", sys.argv[1])
