#!/usr/bin/env python3
"""The harness's check at stop (tests/lib/procs.py stop/check_stopped):
stopping one of our processes fails the case when it exits unclean after
SIGTERM or left a sanitizer report in its stderr file.

Real processes stand in for the bridge: small sh scripts named like one of
our binaries (vault-sim), in a scratch directory, that on SIGTERM print a
report like LeakSanitizer's at exit and/or exit non-zero. The same script
named like a third-party server (nginx) is stopped unchecked, and an
exempted one too."""

import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import procs  # noqa: E402
from harness import Cleanup, check, tmpdir  # noqa: E402

LEAK = ("=================================================================\n"
        "==4242==ERROR: LeakSanitizer: detected memory leaks\n\n"
        "Direct leak of 48 byte(s) in 1 object(s) allocated from:\n"
        "    #0 0x7f00 in malloc\n"
        "    #1 0x5500 in vmb_fake_alloc core/src/fake.c:12\n")
UBSAN = "core/src/fake.c:7:3: runtime error: signed integer overflow\n"


def fake(d, name, on_term_out, rc):
    """A script called name that, on SIGTERM, writes on_term_out to stderr
    and exits rc; it prints 'up' once its trap is set."""
    path = os.path.join(d, name)
    report = os.path.join(d, name + ".report")
    with open(report, "w") as f:
        f.write(on_term_out)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "trap 'cat \"%s\" >&2; exit %d' TERM\n"
                "echo up\n"
                "while :; do sleep 0.05; done\n" % (report, rc))
    os.chmod(path, stat.S_IRWXU)
    return path


def start(path, cleanup):
    err = tempfile.TemporaryFile()
    cleanup.add(err.close)
    p = subprocess.Popen([path], stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    check(p.stdout.readline() == b"up\n", "%s started" % path)
    p.stdout.close()
    return p


def expect_failure(p, *words):
    try:
        procs.stop(p)
    except procs.StopCheckFailed as e:
        for w in words:
            check(w in str(e), "the failure names %r: %s" % (w, e))
        return str(e)
    raise AssertionError("stop() passed %s although it should fail (%s)" % (p.args[0], words))


def main():
    cl = Cleanup()
    try:
        top = tmpdir(cl, "vmb-stopcheck-")
        dirs = {}
        for case in ("clean", "leak", "rc", "ubsan", "nginx", "exempt", "cleanup", "early"):
            dirs[case] = os.path.join(top, case)
            os.mkdir(dirs[case])

        # A clean stop passes and returns 0.
        p = start(fake(dirs["clean"], "vault-sim", "bye\n", 0), cl)
        check(procs.is_ours(p), "a binary named vault-sim counts as ours")
        check(procs.stop(p) == 0, "clean stop returns 0")

        # LeakSanitizer at exit: non-zero status and the report; both named,
        # with the report's first lines.
        p = start(fake(dirs["leak"], "vault-sim", LEAK, 23), cl)
        msg = expect_failure(p, "vault-sim", "23", "ERROR: LeakSanitizer", "vmb_fake_alloc")
        print("leak:", msg.splitlines()[0])

        # Only the status: exit 1 after SIGTERM.
        expect_failure(start(fake(dirs["rc"], "vault-sim", "", 1), cl), "exited with 1")

        # A report from a sanitizer that did not halt: status 0, yet it fails.
        expect_failure(start(fake(dirs["ubsan"], "vault-sim", UBSAN, 0), cl),
                       "runtime error: signed integer overflow")

        # Third-party programs are not checked.
        p = start(fake(dirs["nginx"], "nginx", LEAK, 23), cl)
        check(not procs.is_ours(p), "nginx is not ours")
        check(procs.stop(p) == 23, "nginx's status is returned, unchecked")

        # Exempted at the call site: not checked either.
        p = procs.exempt(start(fake(dirs["exempt"], "vault-sim", LEAK, 23), cl), "on purpose")
        check(procs.stop(p) == 23, "an exempted process's status is returned")

        # A process that ended before the test stopped it is checked too.
        p = start(fake(dirs["early"], "vault-sim", LEAK, 23), cl)
        procs.watch(p)
        p.terminate()
        p.wait(10)
        expect_failure(p, "before the test stopped it", "LeakSanitizer")

        # Through a Cleanup (how most drivers stop things): the failure is
        # raised after everything else was stopped, not swallowed.
        inner = Cleanup()
        p = start(fake(dirs["cleanup"], "vault-sim", LEAK, 23), cl)
        later = []
        inner.add(lambda: later.append("ran"))
        inner.add(lambda: procs.stop(p))
        try:
            inner.run()
        except procs.StopCheckFailed as e:
            check("LeakSanitizer" in str(e), "Cleanup raised the stop check: %s" % e)
        else:
            raise AssertionError("Cleanup.run swallowed the stop check's failure")
        check(later == ["ran"], "the rest of the cleanup still ran")
    finally:
        cl.run()
    print("ok: stop check")


if __name__ == "__main__":
    main()
