#!/usr/bin/env python3
"""Redis round trips per request (issue 16), for bench/redis.sh.

Runs an exact number of requests of one kind, one at a time, against the
fronts bench/redis.sh started, and counts what reached Redis meanwhile:

  - round trips: every command a client sent, from `redis-cli MONITOR`
    (commands a Lua script runs inside Redis show up there as "[db lua]"
    and are counted apart: they cost Redis time, not a round trip);
  - commands executed and Redis' own time, from the INFO commandstats
    delta of a second, identical pass without MONITOR (calls and usec per
    command; Redis counts the script's inner commands there too, and
    would count feeding MONITOR inside a script's time).

The bench's own INFO/CONFIG/MONITOR commands are left out. Prints one
JSON document: {scenario: {"n", "seconds", "trips": {cmd: calls},
"inner": {cmd: calls}, "n_stats", "stats": {cmd: [calls, usec]}}}.

  redis_trips.py --redis-port P --front-a PORT --front-b PORT --key K
                 --admin-key K --n N --stream-seconds S --procs N
"""
import argparse
import http.client
import json
import re
import subprocess
import sys
import threading
import time

MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18",
               "Content-Type": "application/json"}
OWN = {"info", "config", "monitor", "ping"}


class Front:
    """One keep-alive HTTP connection to a front web server."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def req(self, method, path, headers, body=None):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body=body, headers=headers)
                r = self.c.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except (http.client.HTTPException, ConnectionError):
                # the front closed an idle keep-alive connection: once more
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def cli(port, *cmd):
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(cmd),
                          capture_output=True, text=True, timeout=10, check=True).stdout


def commandstats(port):
    out = {}
    for line in cli(port, "INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m and m.group(1).split("|")[0] not in OWN:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


class Monitor:
    """redis-cli MONITOR in the background, stopped by us (our own pid)."""

    LINE = re.compile(r'^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"')

    def __init__(self, port):
        self.p = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "MONITOR"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines = []
        first = self.p.stdout.readline()          # "OK" once MONITOR is on
        if first.strip() != "OK":
            raise RuntimeError("MONITOR did not start: %r" % first)
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    def stop(self):
        time.sleep(0.3)                           # let the last commands arrive
        self.p.terminate()
        self.p.wait(10)
        self.t.join(5)
        trips, inner = {}, {}
        for line in self.lines:
            m = self.LINE.match(line)
            if not m:
                continue
            who, cmd = m.group(1), m.group(2).lower()
            if cmd in OWN:
                continue
            d = inner if who == "lua" else trips
            d[cmd] = d.get(cmd, 0) + 1
        return trips, inner


def measure(port, name, n, fn, results):
    """fn runs twice: with MONITOR on (round trips), then without it
    (commandstats: Redis feeds MONITOR inside a script's run, which would
    inflate the scripts' time). fn returns how many requests it made, or
    None for n."""
    mon = Monitor(port)
    t0 = time.time()
    n1 = fn()
    secs = time.time() - t0
    trips, inner = mon.stop()
    # "window": MONITOR on to off, for what is counted per second whether
    # or not a request is running (an idle stream's polls)
    window = time.time() - t0
    cli(port, "CONFIG", "RESETSTAT")
    n2 = fn()
    time.sleep(0.3)
    results[name] = {"n": n if n1 is None else n1, "seconds": round(secs, 3),
                     "window": round(window, 3), "trips": trips, "inner": inner,
                     "n_stats": n if n2 is None else n2, "stats": commandstats(port)}


def main():
    ap = argparse.ArgumentParser()
    for a in ("--redis-port", "--front-a", "--front-b", "--n", "--procs"):
        ap.add_argument(a, type=int, required=True)
    ap.add_argument("--stream-seconds", type=float, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--admin-key", required=True)
    args = ap.parse_args()
    a, b = Front(args.front_a), Front(args.front_b)
    key = {"X-API-Key": args.key}
    results = {}

    def expect(st, want, what, body):
        if st != want:
            raise SystemExit("%s: HTTP %d, wanted %d: %r" % (what, st, want, body[:300]))

    # Warm-up: every script loaded (EVALSHA, not EVAL), every worker's
    # connection open, the registry snapshot loaded.
    for i in range(40):
        for f in (a, b):
            st, _, body = f.req("GET", "/secrets/bench/item", key)
            expect(st, 200, "warm-up", body)

    def kv_reads():
        for i in range(args.n):
            st, _, body = (a, b)[i % 2].req("GET", "/secrets/bench/item", key)
            expect(st, 200, "kv read", body)
    measure(args.redis_port, "kv_read", args.n, kv_reads, results)

    # The registry change counter: each process reads it at most every
    # 250 ms, whatever the request rate; KV reads from 4 clients for
    # --stream-seconds keep every process of both hosts busy.
    lock = threading.Lock()

    def registry_poll():
        reg = {"n": 0}
        stop = time.time() + args.stream_seconds

        def worker(port):
            f, done = Front(port), 0
            while time.time() < stop:
                st, _, body = f.req("GET", "/secrets/bench/item", key)
                expect(st, 200, "kv read", body)
                done += 1
            with lock:
                reg["n"] += done
        ts = [threading.Thread(target=worker, args=(p,))
              for p in (args.front_a, args.front_b, args.front_a, args.front_b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return reg["n"]
    measure(args.redis_port, "registry_poll", 0, registry_poll, results)

    # MCP session: initialize once (not counted), then requests that carry
    # the session id, alternating between the hosts.
    st, hd, body = a.req("POST", "/mcp/rpc", dict(key, **MCP_HEADERS), {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "redis-bench", "version": "1"}}})
    expect(st, 200, "initialize", body)
    sid = hd.get("mcp-session-id")
    if not sid:
        raise SystemExit("initialize gave no Mcp-Session-Id: %r" % hd)
    sess = dict(key, **MCP_HEADERS)
    sess["Mcp-Session-Id"] = sid

    for i in range(4):   # warm-up: the session and publish scripts loaded
        st, _, body = (a, b)[i % 2].req("POST", "/mcp/rpc", sess, {
            "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        expect(st, 200, "tools/list in a session", body)
        st, _, body = (a, b)[i % 2].req("POST", "/mcp/rpc", sess, {
            "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "kv_read", "arguments": {"path": "bench/item"}}})
        expect(st, 200, "tools/call", body)

    def session_use():
        for i in range(args.n):
            st, _, body = (a, b)[i % 2].req("POST", "/mcp/rpc", sess, {
                "jsonrpc": "2.0", "id": 10 + i, "method": "tools/list", "params": {}})
            expect(st, 200, "tools/list in a session", body)
    measure(args.redis_port, "mcp_session", args.n, session_use, results)

    def tool_calls():
        for i in range(args.n):
            st, _, body = (a, b)[i % 2].req("POST", "/mcp/rpc", sess, {
                "jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
                "params": {"name": "kv_read", "arguments": {"path": "bench/item"}}})
            expect(st, 200, "tools/call", body)
            if b'"isError":true' in body:
                raise SystemExit("tools/call failed: %r" % body[:300])
    measure(args.redis_port, "mcp_tool_call", args.n, tool_calls, results)

    # Admin writes: each bumps the registry change counter once.
    m = max(5, args.n // 20)
    stamp = int(time.time())
    made = [0]

    def admin_writes():
        for i in range(m):
            made[0] += 1
            st, _, body = a.req("POST", "/admin/subjects", {"X-API-Key": args.admin_key,
                                                           "Content-Type": "application/json"},
                                {"subject": "bench-%d-%d" % (stamp, made[0])})
            expect(st, 201, "admin write", body)
    measure(args.redis_port, "admin_write", m, admin_writes, results)

    # One idle /mcp/sse stream on host B: what it costs Redis per second
    # with no request at all.
    def idle_stream():
        c = http.client.HTTPConnection("127.0.0.1", args.front_b, timeout=30)
        c.request("GET", "/mcp/sse", headers=dict(key, Accept="text/event-stream"))
        r = c.getresponse()
        if r.status != 200:
            raise SystemExit("/mcp/sse: HTTP %d" % r.status)
        time.sleep(args.stream_seconds)
        c.close()
    measure(args.redis_port, "idle_stream", 1, idle_stream, results)
    results["procs_per_host"] = args.procs
    json.dump(results, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
