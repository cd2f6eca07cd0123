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
        while self.items:
            fn = self.items.pop()
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print("cleanup: %r" % e, file=sys.stderr)


def tmpdir(cleanup, prefix):
    """A temporary directory removed at cleanup (kept when VMB_KEEP_TMP is set)."""
    d = tempfile.mkdtemp(prefix=prefix)
    cleanup.add(lambda: shutil.rmtree(d, ignore_errors=True)
                if not os.environ.get("VMB_KEEP_TMP") else None)
    return d
