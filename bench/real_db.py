#!/usr/bin/env python3
"""Cost of real dynamic database credentials (issue 20): N sequential
db.issue_creds + db.revoke cycles through the bridge's FastCGI responder,
against vault-sim with --database-plugins real and a throw-away
PostgreSQL (tests/real/reallib.py), then the same against stored-only
configs for comparison. Prints p50/p90/max per call and cycles per second.

  VMB_BUILD_DIR=build bench/real_db.py [N]      (default N=100)

Not a test: nothing here passes or fails on a number."""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "real"))
import test_real as T  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def run(label, b, n):
    issue, revoke = [], []
    t0 = time.monotonic()
    for _ in range(n):
        a = time.monotonic()
        c = T.ok_rest(b.op("db.issue_creds", {"role": "readonly"}), "issue")
        issue.append(time.monotonic() - a)
        a = time.monotonic()
        T.ok_rest(b.op("db.revoke", {"lease_id": c["lease_id"]}), "revoke")
        revoke.append(time.monotonic() - a)
    total = time.monotonic() - t0
    for name, xs in (("issue", issue), ("revoke", revoke)):
        print("%-7s %-6s n=%d p50=%.1fms p90=%.1fms max=%.1fms" % (
            label, name, n, statistics.median(xs) * 1e3, pct(xs, 0.9) * 1e3, max(xs) * 1e3))
    print("%-7s %.1f issue+revoke cycles/s" % (label, n / total))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    cl = T.Cleanup()
    try:
        pg = T.pg_fixture(cl)
        v, b = T.stack(cl, pg)
        run("real", b, n)
        left = pg.admin_sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%'")
        print("real    roles left after the run: %s" % left)
        v2, b2 = T.stack(cl, real=False)  # placeholder config, stored only
        run("stored", b2, n)
    finally:
        cl.run()


if __name__ == "__main__":
    main()
