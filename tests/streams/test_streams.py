#!/usr/bin/env python3
"""Parked event streams (issue 21): GET /mcp/sse and subscriptions/listen
held by one event loop per responder process instead of a serving thread
each.

Run one case: test_streams.py <case>. Every case starts what it needs on
loopback (vault-sim, the FastCGI responder, nginx or lighttpd) and stops it.
Cases talk FastCGI to the responder directly unless they name a front; the
front cases speak HTTP to nginx or lighttpd, as a client would.

What is asserted is behaviour, never a speed: streams outnumber threads
while ordinary requests are served, events arrive in order on every
stream, Last-Event-ID replays, keepalives flow, a client that leaves frees
its slot and its descriptor, SIGTERM ends every stream with END_REQUEST,
a subject disabled in the registry loses its streams, a stream opened
with a JWT ends when the bridge would refuse that JWT, a slow reader is
closed with a final event, and a flood beyond the limits gets clean 429s
with the descriptor count back to where it started."""

import json
import os
import re
import resource
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "mcp"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
import mcplib as m  # noqa: E402
from mcplib import ALICE, BOB, READER, check  # noqa: E402

# Descriptors for hundreds of client sockets in this process.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


class Stream(m.FcgiStream):
    """A FastCGI stream that remembers whether END_REQUEST arrived (as
    opposed to the connection just closing)."""
    got_end = False

    def _record(self, deadline):
        super()._record(deadline)
        if self.ended:
            self.got_end = True

    def events(self):
        """(id, data) of every tool.completed event so far."""
        out, cur = [], None
        for line in self.out.decode(errors="replace").splitlines():
            if line.startswith("id: "):
                cur = int(line[4:])
            elif line.startswith("data: ") and cur is not None:
                out.append((cur, json.loads(line[6:])))
                cur = None
        return out

    def read_to_end(self, timeout):
        deadline = time.time() + timeout
        while not self.ended and time.time() < deadline:
            try:
                self._record(deadline)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionError:
                self.ended = True
        return self.ended


def sse(b, key=ALICE, headers=None):
    h = {"X-API-Key": key, "Accept": "text/event-stream"}
    h.update(headers or {})
    return Stream(b.addr, "/mcp/sse", h)


def open_many(b, n, key=ALICE):
    """n streams, each confirmed open (its hello read)."""
    out = []
    for _ in range(n):
        s = sse(b, key)
        check(s.read_until(b"retry: 3000", 10), "stream %d opened: %r" % (len(out), s.out[:300]))
        out.append(s)
    return out


def listen(b, rid, key=ALICE):
    """A 2026-07-28 subscriptions/listen stream for tool events, its
    acknowledgement read."""
    msg = {"jsonrpc": "2.0", "id": rid, "method": "subscriptions/listen", "params": {
        "notifications": {"vmb/toolCompleted": True},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}}
    h = {"X-API-Key": key, "Content-Type": "application/json",
         "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
         "Mcp-Method": "subscriptions/listen"}
    ls = Stream(b.addr, "/mcp/rpc", h, method="POST", body=json.dumps(msg).encode())
    check(ls.read_until(b"acknowledged", 5), "listen ack %r" % ls.out[:400])
    return ls


def call_tool(b, key=ALICE, name="kv.read", args=None):
    return b.rpc("tools/call", {"name": name, "arguments": args or {"path": "x"}}, key=key)


def fds(proc):
    return len(os.listdir("/proc/%d/fd" % proc.pid))


def fd_kinds(proc):
    """What the responder's descriptors are (for failure messages)."""
    out = {}
    d = "/proc/%d/fd" % proc.pid
    for n in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, n))
        except OSError:
            continue
        m_ = re.match(r"socket:\[(\d+)\]", t)
        if m_:
            t = "socket:" + socket_kind(proc.pid, m_.group(1))
        t = re.sub(r"\[\d+\]", "", t)
        out[t] = out.get(t, 0) + 1
    return out


def socket_kind(pid, inode):
    """tcp (with its local and remote port), unix or other, by inode."""
    for name in ("tcp", "tcp6"):
        try:
            lines = open("/proc/%d/net/%s" % (pid, name)).read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            f = ln.split()
            if len(f) > 9 and f[9] == inode:
                return "%s %d->%d" % (name, int(f[1].rsplit(":", 1)[1], 16),
                                      int(f[2].rsplit(":", 1)[1], 16))
    try:
        for ln in open("/proc/%d/net/unix" % pid).read().splitlines()[1:]:
            f = ln.split()
            if len(f) > 6 and f[6] == inode:
                return "unix"
    except OSError:
        pass
    return "other"


def conns(b):
    """FastCGI connections the responder holds open (sockets of its own
    whose local port is its listening port): 0 when no request or stream
    is in flight."""
    inodes = set()
    d = "/proc/%d/fd" % b.proc.pid
    for f in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, f))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                parts = line.split()
                port = int(parts[1].rsplit(":", 1)[1], 16)
                if port == b.port and parts[3] != "0A" and parts[9] in inodes:
                    n += 1                     # not the listener (0A = LISTEN)
    return n


def threads(proc):
    return len(os.listdir("/proc/%d/task" % proc.pid))


def wait_for(what, cond, timeout=15.0):
    """Poll cond (cheap, local) until true; fail with what. The loop adopts
    a stream just after its serving thread flushed the hello, so counts
    that follow adoption are waited for, never read once."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    check(False, "timed out waiting for " + what)


def baseline(b):
    """The responder's descriptor count once everything that lives for the
    whole process exists: every serving thread has made an upstream call
    (each keeps its curl handle), and a stream was opened and closed (the
    loop's epoll, eventfd, timerfd; its registry worker after a tick)."""
    import threading
    ts = [threading.Thread(target=lambda: [call_tool(b) for _ in range(6)]) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = open_many(b, 1)[0]
    check(s.read_until(b": keepalive", 4), "first keepalive")
    s.close()
    wait_for("the warm-up stream to close", lambda: parked_metric(b) == 0)
    return fds(b.proc)


def parked_metric(b):
    st, hd, body = b.http("GET", "/metrics", key=None)
    check(st == 200, "/metrics %d" % st)
    vals = re.findall(rb'mcp_streams_parked\{pid="%d"\} (\d+)' % b.proc.pid, body)
    check(len(vals) == 1, "one parked gauge for pid %d: %r" % (b.proc.pid, vals))
    return int(vals[0])


def bridge(cl, tmp, env=None, threads=2, vault=None):
    e = {"MCP_MAX_STREAMS_PER_SUBJECT": "1000", "MCP_SSE_KEEPALIVE_SECONDS": "1"}
    e.update(env or {})
    return m.Bridge(cl, tmp, vault, env=e, threads=threads)


# ---- cases ---------------------------------------------------------------

def case_park(cl):
    """200 streams on one process with 2 serving threads: requests are
    still served, one tool call reaches every stream, events keep their
    order and ids, keepalives flow, Last-Event-ID replays, listen streams
    park too, and clients that leave give back slots and descriptors."""
    tmp = m.tmpdir(cl, "vmb-streams-park-")
    b = bridge(cl, tmp)
    fd0 = baseline(b)
    streams = open_many(b, 200)
    th0 = threads(b.proc)
    check(b.rpc("ping")["result"] == {}, "ping served with 200 streams on 2 threads")
    st, hd, body = b.http("GET", "/healthz", key=None)
    check(st == 200, "liveness served: %d" % st)
    wait_for("gauge says 200 parked", lambda: parked_metric(b) == 200)
    print("ok 200 streams parked on 2 threads (%d fds, %d threads)" % (fds(b.proc), th0))

    # Events: two calls, both reach all 200 streams in order.
    call_tool(b, ALICE, "kv.read", {"path": "one"})
    call_tool(b, BOB, "kv.list", {})
    call_tool(b, ALICE, "kv.list", {})
    for i, s in enumerate(streams):
        check(s.read_until(b'"tool":"kv.list"', 10), "stream %d got both events: %r" % (i, s.out[-400:]))
        ev = s.events()
        check([e[1]["tool"] for e in ev] == ["kv.read", "kv.list"] and
              all(e[1]["subject"] == "alice" for e in ev) and ev[0][0] < ev[1][0],
              "stream %d events in order, alice only: %r" % (i, ev))
    check(b"bob" not in b"".join(s.out for s in streams), "no other subject's events")
    first = streams[0].events()[0][0]
    check(threads(b.proc) == th0, "no thread per stream: %d -> %d" % (th0, threads(b.proc)))
    print("ok events in order on every stream")

    check(streams[-1].read_until(b": keepalive", 4), "keepalive from the loop's timer")
    print("ok keepalive")

    # Last-Event-ID: the ring replays what followed the given id.
    r = sse(b, ALICE, {"Last-Event-ID": str(first - 1)})
    check(r.read_until(b'"tool":"kv.list"', 8), "replay: %r" % r.out[-400:])
    check([e[1]["tool"] for e in r.events()] == ["kv.read", "kv.list"], "replayed %r" % r.events())
    r.close()
    print("ok Last-Event-ID")

    # subscriptions/listen parks the same way.
    ls = listen(b, "L1")
    wait_for("the listen stream is parked too", lambda: parked_metric(b) == 201)
    call_tool(b, ALICE, "kv.read", {"path": "two"})
    check(ls.read_until(b"tool_completed", 5), "listen event %r" % ls.out[-300:])
    ls.close()
    print("ok subscriptions/listen parked")

    # Clients leave: slots, the gauge and descriptors come back.
    wait_for("200 connections held (now %d)" % conns(b), lambda: conns(b) == 200)
    for s in streams:
        s.close()
    wait_for("the loop to see 200 clients leave", lambda: parked_metric(b) == 0)
    wait_for("no connection held", lambda: conns(b) == 0)
    wait_for("descriptors back to %d (now %d)" % (fd0, fds(b.proc)), lambda: fds(b.proc) <= fd0 + 2)
    check(b.rpc("ping")["result"] == {}, "still serving")
    print("ok client gone frees slots and descriptors")


def case_limits(cl):
    """A flood beyond MCP_MAX_STREAMS_PER_PROCESS and the per-subject limit:
    clean 429s with a JSON error and the request id, nothing leaks."""
    tmp = m.tmpdir(cl, "vmb-streams-limits-")
    # No Vault here: with the health probe and the registry off, nothing
    # creates a lasting descriptor at a moment of its own (the probe's
    # first call at 15 s, a registry retry on whichever thread comes
    # first), so the count after the flood must equal the baseline.
    b = bridge(cl, tmp, {"MCP_MAX_STREAMS_PER_PROCESS": "50", "MCP_MAX_STREAMS_PER_SUBJECT": "20",
                         "HEALTH_PROBE_SECONDS": "0", "REGISTRY_ENABLED": "false"})
    fd0 = baseline(b)
    wait_for("no connection held", lambda: conns(b) == 0)
    fd0 = fds(b.proc)
    kinds0 = fd_kinds(b.proc)
    ok, refused = [], []
    # 25 of alice's (20 admitted: the subject limit), then bob's and
    # reader's in turn until the process limit (50) refuses the rest.
    for i in range(90):
        s = sse(b, ALICE if i < 25 else BOB if i % 2 else READER)
        s.read_until(b"\r\n\r\n", 10)
        head = s.out.split(b"\r\n\r\n", 1)[0]
        if b"Status: 200" in head:
            check(s.read_until(b"retry: 3000", 5), "hello on stream %d" % i)
            ok.append(s)
        else:
            check(s.read_to_end(5) and s.got_end, "refusal %d ends with END_REQUEST" % i)
            # Close as a web server does after END_REQUEST: on TCP libfcgi
            # holds the serving thread in its lingering close (up to 2 s)
            # until the peer closes.
            s.close()
            refused.append(s)
    check(len(ok) == 50, "50 streams admitted, got %d" % len(ok))
    check(len(refused) == 40, "40 refused, got %d" % len(refused))
    subj = 0
    for s in refused:
        head, body = s.out.split(b"\r\n\r\n", 1)
        check(b"Status: 429" in head and b"Retry-After:" in head, "429 head %r" % head)
        doc = json.loads(body)
        rid = re.search(rb"X-Request-Id: ([0-9a-f]{32})", head)
        check(rid and doc["error"]["request_id"] == rid.group(1).decode() and
              doc["error"]["code"] == "rate_limited", "JSON error with request id %r" % doc)
        if b"per subject" in body:
            subj += 1
    check(subj == 5, "5 refusals name the per-subject limit, got %d" % subj)
    check(b.rpc("ping")["result"] == {}, "served while full")
    wait_for("50 connections held (now %d)" % conns(b), lambda: conns(b) == 50)
    for s in ok + refused:
        s.close()
    wait_for("every stream closed", lambda: parked_metric(b) == 0)
    wait_for("no connection held", lambda: conns(b) == 0)
    fd1 = fds(b.proc)
    check(fd1 == fd0, "descriptors %d after the flood, %d before (%r, before %r)"
          % (fd1, fd0, fd_kinds(b.proc), kinds0))
    # The same flood again leaves exactly the same count: nothing leaks.
    again = []
    for i in range(90):
        s = sse(b, ALICE if i < 25 else BOB if i % 2 else READER)
        s.read_until(b"\r\n\r\n", 10)
        if b"Status: 200" not in s.out:
            s.read_to_end(5)
            s.close()
        again.append(s)
    check(sum(b"Status: 200" in s.out for s in again) == 50, "50 admitted again")
    for s in again:
        s.close()
    wait_for("every stream closed again", lambda: parked_metric(b) == 0 and conns(b) == 0)
    wait_for("descriptors back to %d (now %d)" % (fd1, fds(b.proc)), lambda: fds(b.proc) == fd1)
    print("ok flood: 50 admitted, 40 refused with 429, no descriptor leaked (%d fds)" % fd1)


def case_sigterm(cl):
    """SIGTERM with 1000 streams open: each ends with END_REQUEST, each
    listen stream with its listen response, and the process exits 0."""
    tmp = m.tmpdir(cl, "vmb-streams-term-")
    b = bridge(cl, tmp)
    streams = open_many(b, 998, key=BOB)
    subs = [listen(b, "S%d" % i) for i in range(2)]
    wait_for("1000 parked", lambda: parked_metric(b) == 1000)
    t0 = time.time()
    b.proc.send_signal(signal.SIGTERM)
    for i, s in enumerate(subs):
        check(s.read_to_end(15) and s.got_end, "subscription %d ended with END_REQUEST" % i)
        end = json.loads(s.out.decode().rstrip().rsplit("data: ", 1)[1])
        check(end["id"] == "S%d" % i and end["result"]["resultType"] == "complete",
              "subscription %d's last message is its listen response: %r" % (i, end))
    for i, s in enumerate(streams):
        check(s.read_to_end(15) and s.got_end, "stream %d ended with END_REQUEST (%r)" %
              (i, s.out[-200:]))
    rc = b.proc.wait(20)
    check(rc == 0, "exit status %r" % rc)
    print("ok SIGTERM ended 1000 streams with END_REQUEST, exit in %.1f s" % (time.time() - t0))
    for s in streams:
        s.close()


def case_slow_reader(cl):
    """A client that stops reading: its output grows to
    MCP_STREAM_BUFFER_BYTES, then the stream ends with a stream.closed
    event (reason slow_reader) and END_REQUEST; a reader that keeps up is
    not held up and stays open."""
    import select
    tmp = m.tmpdir(cl, "vmb-streams-slow-")
    b = bridge(cl, tmp, {"MCP_STREAM_BUFFER_BYTES": "4096"})
    # A default receive buffer: the slow client stops reading and TCP
    # closes its window (a tiny SO_RCVBUF on loopback instead makes the
    # kernel drop and retransmit with backoff, which stalls the read of
    # the end for seconds: a test artefact, not the bridge).
    slow = socket.create_connection(b.addr, 10)
    import fcgi_client as fc
    params = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/mcp/sse", "PATH_INFO": "",
              "QUERY_STRING": "", "REQUEST_URI": "/mcp/sse", "REMOTE_ADDR": "127.0.0.1",
              "HTTP_X_API_KEY": ALICE, "HTTP_ACCEPT": "text/event-stream"}
    slow.sendall(fc.encode_request(params, b""))
    s = Stream.__new__(Stream)
    s.sock, s.buf, s.out, s.ended = slow, b"", b"", False
    check(s.read_until(b"retry: 3000", 10), "slow stream opened: %r" % s.out[:300])
    rid = re.search(rb"X-Request-Id: ([0-9a-f]{32})", s.out)
    check(rid, "slow stream's request id: %r" % s.out[:300])
    slow_rid = rid.group(1).decode()
    fast = open_many(b, 1)[0]
    wait_for("both parked", lambda: parked_metric(b) == 2)
    n = 0
    log = os.path.join(tmp, "logs", "server.log")

    def closed_ids():
        """Request ids of the streams the server closed as slow readers."""
        out = []
        if os.path.exists(log):
            for line in open(log, "rb").read().splitlines():
                if b"slow_reader" in line:
                    out.append(json.loads(line).get("request_id"))
        return out

    def keep_up():
        # The fast client reads everything that has arrived (a reader
        # that keeps up), so only the slow one can fill its buffer.
        while fast.buf or select.select([fast.sock], [], [], 0)[0]:
            fast._record(time.time() + 5)
            if fast.ended:
                break
    while not closed_ids() and n < 3000:
        call_tool(b, ALICE, "kv.read", {"path": "p%d" % n})
        keep_up()
        n += 1
    check(closed_ids() == [slow_rid], "the slow stream (and only it) was closed after %d "
          "events: %r, slow %s" % (n, closed_ids(), slow_rid))
    # Read the slow one at once: the loop closes its fd a grace period
    # (CLOSE_GRACE_S, at a keepalive tick) after the final event whether
    # or not it was read. Its last event says why, then END_REQUEST.
    check(s.read_to_end(10) and s.got_end, "slow stream ended with END_REQUEST: %r" % s.out[-300:])
    tail = s.out.rstrip().rsplit(b"\n\n", 1)[-1]
    check(b"event: stream.closed" in tail and b'"reason":"slow_reader"' in tail,
          "final event %r" % tail)
    # The other stream kept up: it gets every event and stays open.
    def fast_events(count):
        deadline = time.time() + 5
        while len(fast.events()) < count and not fast.ended and time.time() < deadline:
            try:
                fast._record(deadline)
            except (socket.timeout, TimeoutError):
                break
        return len(fast.events())
    got = fast_events(n)
    check(got == n and not fast.ended, "fast stream served: %d events of %d" % (got, n))
    call_tool(b, ALICE, "kv.read", {"path": "after"})
    got = fast_events(n + 1)
    check(got == n + 1 and not fast.ended,
          "fast stream still served after the slow one ended: %d events of %d" % (got, n + 1))
    wait_for("slot freed", lambda: parked_metric(b) == 1)
    fast.close()
    print("ok slow reader closed after %d events with a final stream.closed" % n)


def case_keepalive_spread(cl):
    """Keepalives are spread over the interval, not written to every
    stream at once: 64 streams opened together get their keepalives over
    most of the (1 s) interval, and each stream still gets one every
    interval."""
    import select
    tmp = m.tmpdir(cl, "vmb-streams-ka-")
    b = bridge(cl, tmp, threads=2)
    streams = open_many(b, 64)
    wait_for("64 parked", lambda: parked_metric(b) == 64)
    arrivals = {i: [] for i in range(len(streams))}
    by_sock = {st.sock: i for i, st in enumerate(streams)}
    seen = {i: st.out.count(b": keepalive") for i, st in enumerate(streams)}
    deadline = time.time() + 3.5
    while time.time() < deadline:
        ready, _, _ = select.select(list(by_sock), [], [], 0.05)
        now = time.time()
        for sock in ready:
            i = by_sock[sock]
            st = streams[i]
            st._record(now + 5)
            while st.buf and len(st.buf) >= 8:
                st._record(now + 5)
            c = st.out.count(b": keepalive")
            arrivals[i].extend([now] * (c - seen[i]))
            seen[i] = c
    for i, ts in arrivals.items():
        check(len(ts) >= 2, "stream %d got %d keepalives in 3.5 s" % (i, len(ts)))
        gaps = [b_ - a_ for a_, b_ in zip(ts, ts[1:])]
        check(all(g < 1.6 for g in gaps), "stream %d keepalive gaps %r" % (i, gaps))
    # Each stream's keepalive time within the interval: spread over most
    # of it (20 slots of 50 ms; one burst would put all within a few ms).
    phases = sorted((ts[0] - min(t[0] for t in arrivals.values())) for ts in arrivals.values())
    span = phases[-1] - phases[0]
    check(span >= 0.5, "first keepalives of 64 streams span %.3f s: %r" % (span, phases))
    for st in streams:
        st.close()
    print("ok keepalives of 64 streams spread over %.2f s of the 1 s interval" % span)


def case_subject_disabled(cl):
    """A subject disabled through the admin API loses its open streams;
    so does a stream opened with a registry API key that is revoked."""
    v = m.Vault(cl)
    admin_key = "adm-streams-0123456789abcdef0123456789"
    tmp = m.tmpdir(cl, "vmb-streams-reg-")
    keys = dict(m.KEYS)
    keys[admin_key] = {"subject": "ops-admin", "scopes": ["admin"]}
    b = bridge(cl, tmp, {"API_KEYS_JSON": json.dumps(keys)}, vault=v.addr)
    st, hd, body = b.http("POST", "/admin/subjects", {"subject": "alice"}, key=admin_key,
                          headers={"Content-Type": "application/json"})
    check(st == 201, "create alice in the registry: %d %r" % (st, body))
    a1, a2 = open_many(b, 2)
    bb = open_many(b, 1, key=BOB)[0]
    st, hd, body = b.http("PATCH", "/admin/subjects/alice", {"enabled": False}, key=admin_key,
                          headers={"Content-Type": "application/json"})
    check(st == 200, "disable alice: %d %r" % (st, body))
    for s in (a1, a2):
        check(s.read_to_end(10) and s.got_end, "alice's stream ended: %r" % s.out[-300:])
        check(b'"reason":"subject_disabled"' in s.out, "final event names why: %r" % s.out[-300:])
    check(bb.read_until(b": keepalive", 4) and not bb.ended, "bob's stream stays open")
    st, hd, body = b.http("GET", "/mcp/sse", key=ALICE, headers={"Accept": "text/event-stream"})
    check(st == 403, "a disabled subject cannot open a stream: %d" % st)
    print("ok subject disabled mid-stream ends its streams")

    # A key issued through the registry and revoked: the streams opened
    # with it end; the subject's other key keeps its stream.
    st, hd, body = b.http("POST", "/admin/subjects", {"subject": "carol"}, key=admin_key,
                          headers={"Content-Type": "application/json"})
    check(st == 201, "create carol: %d %r" % (st, body))
    ks = []
    for _ in range(2):
        st, hd, body = b.http("POST", "/admin/subjects/carol/api-keys", key=admin_key)
        check(st == 201, "carol's key: %d %r" % (st, body))
        ks.append(json.loads(body))
    c1 = open_many(b, 1, key=ks[0]["api_key"])[0]
    c2 = open_many(b, 1, key=ks[1]["api_key"])[0]
    st, hd, body = b.http("DELETE", "/admin/subjects/carol/api-keys/" + ks[0]["key_id"], key=admin_key)
    check(st in (200, 204), "revoke carol's first key: %d %r" % (st, body))
    check(c1.read_to_end(10) and c1.got_end and b'"reason":"key_revoked"' in c1.out,
          "the stream of the revoked key ended: %r" % c1.out[-300:])
    check(c2.read_until(b": keepalive", 4) and not c2.ended, "the other key's stream stays")
    c2.close()
    bb.close()
    print("ok revoked registry key ends its streams")


def case_redis(cl):
    """With REDIS_URL: two hosts (own RUN_DIRs) share a redis-server. Streams
    parked on host A get the events of tool calls served by host B, their
    own subject's only, in order, from one reader per process; Last-Event-ID
    replays from the subject's Redis stream."""
    import subprocess
    import procs
    rdir = m.tmpdir(cl, "vmb-streams-redis-")
    rport = procs.free_port()
    rp = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "",
                           "--appendonly", "no", "--dir", rdir, "--daemonize", "no"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    cl.add(lambda: procs.stop(rp))
    procs.wait_port(rport, proc=rp)
    env = {"REDIS_URL": "redis://127.0.0.1:%d" % rport}
    a = bridge(cl, m.tmpdir(cl, "vmb-streams-ra-"), env)
    b = bridge(cl, m.tmpdir(cl, "vmb-streams-rb-"), env)
    alice = open_many(a, 20)
    bob = open_many(a, 5, key=BOB)
    wait_for("25 parked on host A", lambda: parked_metric(a) == 25)
    call_tool(b, ALICE, "kv.read", {"path": "r1"})
    call_tool(b, BOB, "kv.list", {})
    call_tool(b, ALICE, "kv.list", {})
    for i, s in enumerate(alice):
        check(s.read_until(b'"tool":"kv.list"', 10), "alice stream %d: %r" % (i, s.out[-300:]))
        ev = s.events()
        check([e[1]["tool"] for e in ev] == ["kv.read", "kv.list"] and ev[0][0] < ev[1][0] and
              all(e[1]["subject"] == "alice" for e in ev), "alice %d events %r" % (i, ev))
    for i, s in enumerate(bob):
        check(s.read_until(b'"tool":"kv.list"', 10), "bob stream %d: %r" % (i, s.out[-300:]))
        check([e[1]["subject"] for e in s.events()] == ["bob"], "bob %d: only bob's %r" % (i, s.events()))
    first = alice[0].events()[0][0]
    r = sse(a, ALICE, {"Last-Event-ID": str(first - 1)})
    check(r.read_until(b'"tool":"kv.list"', 8), "replay from Redis: %r" % r.out[-300:])
    check([e[1]["tool"] for e in r.events()] == ["kv.read", "kv.list"], "replayed %r" % r.events())
    r.close()
    for s in alice + bob:
        s.close()
    wait_for("streams gone", lambda: parked_metric(a) == 0)
    print("ok Redis: events across hosts, per subject, in order; Last-Event-ID replay")


# ---- through a real front ------------------------------------------------

class HttpStream:
    """GET /mcp/sse over HTTP/1.0 to a front: the body is read as it comes."""

    def __init__(self, port, key=ALICE, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        h = {"Host": "localhost", "X-API-Key": key, "Accept": "text/event-stream"}
        h.update(headers or {})
        req = "GET /mcp/sse HTTP/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        self.sock.sendall(req.encode())
        self.out = b""
        self.closed = False

    def read_until(self, needle, timeout=5.0):
        deadline = time.time() + timeout
        while needle not in self.out and not self.closed and time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                d = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except OSError:
                d = b""
            if not d:
                self.closed = True
            self.out += d
        return needle in self.out

    def read_to_close(self, timeout):
        self.read_until(b"\0never\0", timeout)
        return self.closed

    def close(self):
        self.sock.close()


LIGHTTPD_CONF = """server.document-root = "{dir}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules = ( "mod_fastcgi" )
server.max-connections = 1024
server.max-fds = 4096
server.stream-response-body = 2
fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => {bport},
                             "check-local" => "disable", "fix-root-scriptname" => "enable" )) )
"""


def lighttpd(cl, tmp, b):
    import subprocess
    import procs
    d = os.path.join(tmp, "lighttpd")
    os.makedirs(d, exist_ok=True)
    port = procs.free_port()
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write(LIGHTTPD_CONF.format(dir=d, port=port, bport=b.port))
    p = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "out.txt"), "w"))
    cl.add(lambda: procs.stop(p))
    procs.wait_port(port, proc=p)
    return port


def front_case(cl, which):
    tmp = m.tmpdir(cl, "vmb-streams-%s-" % which)
    b = bridge(cl, tmp)
    port = m.Nginx(cl, tmp, [b]).port if which == "nginx" else lighttpd(cl, tmp, b)
    streams = []
    for i in range(60):
        s = HttpStream(port)
        check(s.read_until(b"retry: 3000", 10), "%s stream %d open: %r" % (which, i, s.out[:300]))
        streams.append(s)
    check(b" 200" in streams[0].out.split(b"\r\n", 1)[0] and b"text/event-stream" in streams[0].out,
          "HTTP head %r" % streams[0].out[:300])
    wait_for("60 parked behind %s" % which, lambda: parked_metric(b) == 60)
    check(b.rpc("ping")["result"] == {}, "requests served with 60 streams on 2 threads")
    call_tool(b, ALICE, "kv.read", {"path": "a"})
    call_tool(b, ALICE, "kv.list", {})
    for i, s in enumerate(streams):
        check(s.read_until(b'"tool":"kv.list"', 10), "%s stream %d events %r" % (which, i, s.out[-300:]))
        txt = s.out.decode(errors="replace")
        check(txt.index('"tool":"kv.read"') < txt.index('"tool":"kv.list"'), "order on %d" % i)
    ids = [int(x) for x in re.findall(r"id: (\d+)", streams[0].out.decode())]
    check(streams[0].read_until(b": keepalive", 4), "keepalive through %s" % which)
    r = HttpStream(port, headers={"Last-Event-ID": str(ids[0] - 1)})
    check(r.read_until(b'"tool":"kv.list"', 8), "Last-Event-ID through %s: %r" % (which, r.out[-300:]))
    r.close()
    print("ok %s: 60 streams on 2 threads, events in order, keepalive, Last-Event-ID" % which)
    # subscriptions/listen through the front: its ack and events arrive
    # while the stream is open (the front does not buffer them).
    msg = json.dumps({"jsonrpc": "2.0", "id": "L1", "method": "subscriptions/listen", "params": {
        "notifications": {"vmb/toolCompleted": True},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    ls = socket.create_connection(("127.0.0.1", port), timeout=10)
    ls.sendall(("POST /mcp/rpc HTTP/1.0\r\nHost: localhost\r\nX-API-Key: %s\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: subscriptions/listen\r\n"
                "Content-Length: %d\r\n\r\n%s" % (ALICE, len(msg), msg)).encode())
    lh = HttpStream.__new__(HttpStream)
    lh.sock, lh.out, lh.closed = ls, b"", False
    check(lh.read_until(b"acknowledged", 8), "listen ack through %s: %r" % (which, lh.out[:300]))
    call_tool(b, ALICE, "kv.read", {"path": "l"})
    check(lh.read_until(b"tool_completed", 8), "listen event through %s: %r" % (which, lh.out[-300:]))
    lh.close()
    wait_for("listen stream gone", lambda: parked_metric(b) == 60)
    print("ok %s: subscriptions/listen streams through the front" % which)
    # Half the clients leave: the front closes their FastCGI connections.
    for s in streams[:30]:
        s.close()
    wait_for("%s clients gone" % which, lambda: parked_metric(b) == 30)
    print("ok %s: clients gone free their streams" % which)
    # SIGTERM ends the rest: every client sees its response end.
    b.proc.send_signal(signal.SIGTERM)
    for i, s in enumerate(streams[30:]):
        check(s.read_to_close(15), "%s stream %d ended on SIGTERM" % (which, i))
        s.close()
    check(b.proc.wait(20) == 0, "bridge exited 0")
    print("ok %s: SIGTERM ends every stream" % which)


def case_nginx(cl):
    front_case(cl, "nginx")


def case_lighttpd(cl):
    front_case(cl, "lighttpd")

JWT_SECRET = "streams-jwt-secret-0123456789abcdef0123"
JWT_LEEWAY = 60                          # auth_jwt.c: exp is honoured with 60 s leeway


def jwt(sub, ttl):
    """An HS256 token from scripts/gen-jwt (iss, aud as the bridge's
    defaults), exp = now + ttl -> (token, exp)."""
    import base64
    import subprocess
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen-jwt"), "--sub", sub,
                        "--ttl", str(ttl), "--secret", JWT_SECRET],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "gen-jwt: %s" % p.stderr[-500:])
    tok = p.stdout.strip()
    body = tok.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return tok, claims["exp"]


def case_credential_expired(cl):
    """A stream opened with a JWT ends, with a final stream.closed event
    (reason credential_expired) and END_REQUEST, once the bridge would
    refuse that JWT (exp plus the verifier's leeway) - not before; the
    same subject's static-key stream and another subject's long-lived
    JWT stream stay open."""
    tmp = m.tmpdir(cl, "vmb-streams-exp-")
    b = bridge(cl, tmp, {"JWT_HS256_SECRET": JWT_SECRET})
    # exp in the past but inside the leeway: accepted for ~8 s more.
    short, exp = jwt("alice", 8 - JWT_LEEWAY)
    refused_after = exp + JWT_LEEWAY
    long_bob, _ = jwt("bob", 3600)
    hello = b"retry: 3000"
    # Two streams with the one token: the first verifies it, the second
    # is admitted from the verified-token cache; both carry its expiry.
    sj, sj2 = [Stream(b.addr, "/mcp/sse", {"Authorization": "Bearer " + short,
                                           "Accept": "text/event-stream"}) for _ in range(2)]
    for s in (sj, sj2):
        check(s.read_until(hello, 10), "JWT stream opened: %r" % s.out[:300])
    sb = Stream(b.addr, "/mcp/sse", {"Authorization": "Bearer " + long_bob,
                                     "Accept": "text/event-stream"})
    check(sb.read_until(hello, 10), "bob's JWT stream opened: %r" % sb.out[:300])
    sk = open_many(b, 1, key=ALICE)[0]
    wait_for("four parked", lambda: parked_metric(b) == 4)
    call_tool(b, ALICE, "kv.read", {"path": "exp"})
    for s in (sj, sj2):
        check(s.read_until(b'"tool":"kv.read"', 10) and len(s.events()) == 1,
              "the JWT stream got the event: %r" % s.out[-300:])
    for s in (sj, sj2):
        check(s.read_to_end(JWT_LEEWAY + 60) and s.got_end, "JWT stream ended with END_REQUEST: %r"
              % s.out[-300:])
        ended = time.time()
        check(ended >= refused_after, "ended %.1f s before the token's end" % (refused_after - ended))
        tail = s.out.rstrip().rsplit(b"\n\n", 1)[-1]
        check(b"event: stream.closed" in tail and b'"reason":"credential_expired"' in tail,
              "final event %r" % tail)
    log = os.path.join(tmp, "logs", "server.log")
    check(b"credential_expired" in open(log, "rb").read(), "server.log names the reason")
    # The token is refused now, so a reconnect is not re-admitted.
    st, hd, body = b.http("GET", "/mcp/sse", key=None, headers={
        "Authorization": "Bearer " + short, "Accept": "text/event-stream"})
    check(st == 401, "the expired token opens no stream: %d" % st)
    for name, s in (("bob's long-lived JWT", sb), ("alice's static key", sk)):
        s.out = b""
        check(s.read_until(b": keepalive", 5) and not s.ended, name + " stream stays open")
    wait_for("the slot freed", lambda: parked_metric(b) == 2)
    call_tool(b, ALICE, "kv.read", {"path": "after"})
    check(sk.read_until(b'"tool":"kv.read"', 10), "the static-key stream still gets events")
    sb.close()
    sk.close()
    print("ok JWT stream ended %.1f s after exp (leeway %d s) with credential_expired"
          % (ended - exp, JWT_LEEWAY))



def main():
    if len(sys.argv) != 2 or "case_" + sys.argv[1] not in globals():
        sys.exit(__doc__)
    cl = m.Cleanup()
    try:
        globals()["case_" + sys.argv[1]](cl)
    finally:
        cl.run()
    print("PASS %s" % sys.argv[1])


if __name__ == "__main__":
    main()
