#!/usr/bin/env python3
"""bench/redis.sh --smoke (ctest label bench): the script runs end to end
on a small load and produces figures, and it rewrites only its own block
of the file it is given.

  bench_redis_smoke.py --bin-dir DIR

The output file starts with another section and a stale block between
the script's markers; afterwards the other section must be byte for byte
the same and the block must hold the three tables with numbers in them.
The round-trip figures are checked where they are exact by construction:
a KV read is one rate-limit script (EVALSHA) per request, a request in an
MCP session adds the session script, a tools/call adds one round trip
for its event, and an admin write one SET of the registry change token.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Cleanup, check, tmpdir  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEAD = "# Benchmarks\n\nSomeone else's table.\n\n## Redis (bench/redis.sh)\n\n"
STALE = ("<!-- bench/redis.sh: begin (generated; the script replaces this block) -->\n"
         "stale figures\n<!-- bench/redis.sh: end -->")
TAIL = "\n\nHand-written notes kept.\n\n## Another section\n\nNot ours.\n"
NUM = r"([0-9]+(?:\.[0-9]+)?)"


def rows(text, first_cell):
    return [ln for ln in text.splitlines() if ln.startswith("| " + first_cell + " |")]


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def number(s):
    m = re.match(NUM, s)
    check(m, "not a figure: %r" % s)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    args = ap.parse_args()
    cleanup = Cleanup()
    try:
        wd = tmpdir(cleanup, "vmb-redisbench-smoke-")
        out = os.path.join(wd, "benchmarks.md")
        with open(out, "w") as f:
            f.write(HEAD + STALE + TAIL)
        env = dict(os.environ, VMB_BIN_DIR=os.path.abspath(args.bin_dir))
        r = subprocess.run(["bash", os.path.join(ROOT, "bench", "redis.sh"), "--smoke", "--out", out],
                           env=env, capture_output=True, text=True, timeout=150)
        check(r.returncode == 0, "bench/redis.sh --smoke failed (%d):\n%s\n%s"
              % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        text = open(out).read()
        check(text.startswith(HEAD + "<!-- bench/redis.sh: begin"), "text before the block kept")
        check(text.endswith("<!-- bench/redis.sh: end -->" + TAIL), "text after the block kept")
        check("stale figures" not in text, "the old block was replaced")
        check(text.count("<!-- bench/redis.sh: begin") == 1, "one block")
        block = text[len(HEAD):-len(TAIL)]
        check(re.search(r"at commit [0-9a-f]{7,}", block), "the commit is named")
        check(re.search(r"load average \(1/5/15 min\) [0-9.]+ [0-9.]+ [0-9.]+ at the start", block),
              "the load average is recorded")

        # (a) both limiters, both loads: throughput, latency and CPU
        a = rows(block, "shared memory") + rows(block, "Redis")
        check(len(a) == 4, "(a) four rows: %r" % a)
        for ln in a:
            c = cells(ln)
            check(number(c[2]) > 0, "(a) req/s: %r" % ln)
            check(re.match(NUM + r" (us|ms)$", c[3]) and re.match(NUM + r" (us|ms)$", c[4]),
                  "(a) p50/p99: %r" % ln)
            check(number(c[5]) > 0, "(a) bridge CPU per request: %r" % ln)
            number(c[6])
        # (b) one host and two
        b = rows(block, "1") + rows(block, "2")
        check(len(b) == 2, "(b) two rows: %r" % b)
        for ln in b:
            check(number(cells(ln)[1]) > 0, "(b) req/s: %r" % ln)

        # (c) round trips per request
        def trips(name):
            found = [ln for ln in block.splitlines() if ln.startswith("| " + name)]
            check(len(found) == 1, "(c) row %r: %r" % (name, found))
            c = cells(found[0])
            # The background `GET registry:gen` checks (at most 4 a second
            # per process) land in whichever request's window they fall
            # into, more of them when the machine is slow: leave them out
            # so the count is the request's own round trips.
            by = c[2]
            gets = re.search(r"\bGET ([0-9.]+)", by)
            # Both figures are printed with two decimals: round the
            # difference the same way (2.07 - 0.07 is 1.9999999999999998).
            return round(number(c[1]) - (float(gets.group(1)) if gets else 0.0), 2), by
        n, by = trips("KV read (REST)")
        check(1.0 <= n < 1.2 and "EVALSHA 1.00" in by, "a KV read is one script: %s %s" % (n, by))
        n_sess, by = trips("MCP `tools/list` in a session")
        check(2.0 <= n_sess < 2.3 and "EVALSHA 2.00" in by, "limit + session script: %s %s" % (n_sess, by))
        # publishing the event is one more round trip (an XADD, or a script
        # that writes the event where the streams read it)
        n, by = trips("MCP `tools/call`")
        check(3.0 <= n < 3.3 and n - n_sess > 0.9, "plus one for the event: %s %s" % (n, by))
        n, by = trips("admin write")
        check("SET 1.00" in by, "one registry notice per admin write: %s" % by)
        m = re.search(r"Registry change counter: (\d+) `GET registry:gen` while 4 clients made (\d+) KV reads", block)
        check(m and int(m.group(2)) > 0, "registry counter figure: %r" % block[-1500:])
        m = re.search(r"One idle `/mcp/sse` stream .*?: " + NUM + r" round trips per second \(([^)]*)", block)
        check(m and "XREAD" in m.group(2), "idle stream figure: %r" % block[-800:])
    finally:
        cleanup.run()
    print("ok bench_redis_smoke")
    return 0


if __name__ == "__main__":
    sys.exit(main())
