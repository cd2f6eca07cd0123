"""Helpers to start and stop the project's servers in tests."""

import os
import socket
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


def stop(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
