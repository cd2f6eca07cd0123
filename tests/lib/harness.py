"""What every Python test driver needs: an assertion that names what went
wrong, and a cleanup list that stops what a case started, whatever
happened, in reverse order."""

import os
import shutil
import sys
import tempfile


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Cleanup:
    def __init__(self):
        self.items = []

    def add(self, fn):
        self.items.append(fn)

    def run(self):
        failed = None
        while self.items:
            fn = self.items.pop()
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print("cleanup: %r" % e, file=sys.stderr)
                # procs.stop's check of our own processes fails the case
                if getattr(e, "fails_case", False) and failed is None:
                    failed = e
        if failed is not None:
            raise failed


# Scratch files. Everything a test makes outside its build directory goes
# under $TMPDIR (tempfile honours it; scripts/test.sh gives each ctest pass
# its own and fails the pass when anything is left there) and is removed
# by the case's Cleanup. It is kept, and named on stderr, when the case is
# failing (Cleanup.run called from a `finally` while an exception is on its
# way out) or when VMB_KEEP_TMP=1.

def keep_tmp():
    return os.environ.get("VMB_KEEP_TMP", "") not in ("", "0")


def _failing():
    """True while an exception other than a clean sys.exit is on its way
    out (Python 3.11 reports it to code running in a `finally`)."""
    e = sys.exc_info()[1]
    if isinstance(e, SystemExit):
        return e.code not in (None, 0)
    return e is not None


def _remove(path):
    if keep_tmp():
        print("kept %s (VMB_KEEP_TMP)" % path, file=sys.stderr)
    elif _failing():
        print("kept %s (the case failed)" % path, file=sys.stderr)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def tmpdir(cleanup, prefix):
    """A temporary directory removed at cleanup (kept when the case fails or
    VMB_KEEP_TMP is set)."""
    d = tempfile.mkdtemp(prefix=prefix)
    cleanup.add(lambda: _remove(d))
    return d


def tmpfile(cleanup, prefix, suffix=""):
    """An open temporary file (binary, writable), closed and removed at
    cleanup (kept like tmpdir). For logs of child processes:
    pass it as their stdout and read it back by .name."""
    f = tempfile.NamedTemporaryFile(prefix=prefix, suffix=suffix, delete=False)
    cleanup.add(lambda: (f.close(), _remove(f.name)))
    return f
