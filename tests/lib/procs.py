"""Helpers to start and stop the project's servers in tests."""

import os
import signal
import socket
import stat
import subprocess
import time


def free_port(start=20000, end=32000):
    """A loopback TCP port below the ephemeral range that nothing uses now."""
    import random
    for _ in range(200):
        port = random.randint(start, end)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def wait_port(port, timeout=10.0, proc=None):
    watch(proc)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("port %d did not open" % port)


def build_dir():
    return os.environ.get("VMB_BUILD_DIR") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")


def binary(name):
    path = os.path.join(build_dir(), "bin", name)
    if not os.path.exists(path):
        raise RuntimeError("missing binary %s (build first)" % path)
    return path


# ---- the check at stop ------------------------------------------------------
#
# A sanitizer that reports at exit (LeakSanitizer) or one that is not told
# to halt prints its report and changes the exit status, but only when the
# process ends - after the test has asserted everything else. So stopping
# one of our own binaries (is_ours below) is itself a check: it must exit
# with the status it documents (0 after SIGTERM for vault-mcp-fcgi and
# vault-sim, 0 after EOF on stdin for vault-mcp-stdio) and its stderr, when that
# is a regular file, must hold no sanitizer report. Either failure raises
# StopCheckFailed naming the binary, the status and the report's first
# lines. A process a test kills or crashes on purpose is marked at that
# call site with exempt(proc, why). Other programs (nginx, lighttpd,
# redis-server, Python servers) are stopped as before, unchecked.

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: ThreadSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "runtime error:",
)


# vault-mcp-stdio has no SIGTERM handler (the default action ends it, so
# no exit-time check runs): its documented stop is EOF on stdin (exit 0).
# stop() closes the stdin pipe it was given first and sends SIGTERM only
# if it has not ended by the timeout; -SIGTERM is then also accepted.
_EOF_STOPS = {"vault-mcp-stdio": True}
_SIGTERM_DEFAULT = {"vault-mcp-stdio"}


class StopCheckFailed(AssertionError):
    """One of our processes did not stop cleanly. Cleanup.run lets it fail
    the case (other cleanup errors are only printed)."""
    fails_case = True


def exempt(proc, why):
    """The test ends or crashes this process on purpose (SIGKILL, fault
    injection, an expected non-zero exit): stop() does not check it."""
    if proc is not None:
        proc.vmb_exempt = why
    return proc


def _argv0(proc):
    a = proc.args
    if isinstance(a, (list, tuple)):
        a = a[0] if a else ""
    elif isinstance(a, (str, bytes)):
        a = a.split()[0] if a.split() else ""
    return os.fsdecode(a)


# The programs this repository builds into <build>/bin that tests start.
# By name as well as by directory: some drivers are given the binary's
# path by CMake and run without VMB_BUILD_DIR.
OUR_BINARIES = {"vault-mcp-fcgi", "vault-mcp-stdio", "vault-sim", "vmb-gen-policy",
                "bench-ceiling", "bench-stream-client"}


def is_ours(proc):
    """True for a process started from one of our built binaries (not the
    installed /usr/bin copies the package tests check their own way)."""
    try:
        path = os.path.realpath(_argv0(proc))
        here = os.path.realpath(os.path.join(build_dir(), "bin"))
        if os.path.dirname(path) == here:
            return True
        return os.path.basename(path) in OUR_BINARIES and not path.startswith("/usr/")
    except (OSError, TypeError, ValueError):
        return False


def watch(proc):
    """Keep a handle on proc's stderr while it runs, when that is a regular
    file (the harness reads it again after the exit, even if the file has
    been unlinked). Called by wait_port() and stop(); call it yourself
    for a process that may have ended before either."""
    if proc is None or getattr(proc, "vmb_stderr", None) is not None:
        return
    try:
        fd = os.open("/proc/%d/fd/2" % proc.pid, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    if stat.S_ISREG(os.fstat(fd).st_mode):
        proc.vmb_stderr = os.fdopen(fd, "rb")
    else:
        os.close(fd)


def sanitizer_report(text, lines=12):
    """The first lines of the first sanitizer report in text, or None."""
    at = min((i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0), default=-1)
    if at < 0:
        return None
    start = text.rfind("\n", 0, at) + 1
    return "\n".join(text[start:].splitlines()[:lines])


def check_stopped(proc, rc, what="after SIGTERM", ok=(0,)):
    """The check stop() makes, for callers that signal and wait themselves:
    rc must be in ok and proc's watched stderr must hold no report."""
    f = getattr(proc, "vmb_stderr", None)
    text = ""
    if f is not None:
        try:
            f.seek(0)
            text = f.read().decode("utf-8", "replace")
        finally:
            f.close()
            proc.vmb_stderr = None
    if getattr(proc, "vmb_exempt", None) or not is_ours(proc):
        return rc
    name = os.path.basename(_argv0(proc))
    report = sanitizer_report(text)
    problems = []
    if name in _SIGTERM_DEFAULT and what == "after SIGTERM":
        ok = tuple(ok) + (-signal.SIGTERM,)
    if rc not in ok:
        problems.append("exited with %s %s (expected %s)" % (
            "no status (killed after the timeout)" if rc is None else rc, what,
            " or ".join(str(x) for x in ok)))
    if report:
        problems.append("its stderr holds a sanitizer report:\n" + report)
    if problems:
        raise StopCheckFailed("%s (pid %d) %s" % (name, proc.pid, "; ".join(problems)))
    return rc


def stop(proc, timeout=10.0, ok=(0,)):
    """SIGTERM proc, wait for it (SIGKILL after timeout) and return its exit
    status (None when it had to be killed). For our own binaries this
    checks the exit as described above (StopCheckFailed)."""
    if proc is None:
        return None
    if proc.poll() is not None:
        return check_stopped(proc, proc.returncode, "before the test stopped it", ok)
    watch(proc)
    if (_EOF_STOPS.get(os.path.basename(_argv0(proc))) and is_ours(proc)
            and proc.stdin is not None and not proc.stdin.closed):
        # Its documented way to stop: EOF on stdin, then exit 0 (with the
        # exit-time checks a SIGTERM's default action would skip).
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            return check_stopped(proc, proc.wait(timeout), "after EOF on stdin", ok)
        except subprocess.TimeoutExpired:
            pass
    proc.terminate()
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    return check_stopped(proc, rc, "after SIGTERM", ok)
