"""Harness for the operation tests: vault-sim over real HTTP, the bridge's
FastCGI responder in front of it, and a stand-in Vault for the failure
modes a simulator should not fake (slow answers, 500s).

Everything a test starts is registered with a Cleanup and stopped when the
case ends, whatever happens. Ports are picked below 32768 on 127.0.0.1."""

import base64
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import fcgi_client as fc  # noqa: E402
import procs  # noqa: E402
from harness import Cleanup, check, tmpdir, tmpfile  # noqa: E402,F401

ROOT_TOKEN = "root-ops-test"
OPS_TABLE = os.path.join(ROOT, "core", "src", "entry", "ops_table.c")
GEN_POLICY = os.path.join(ROOT, "scripts", "gen_policy")


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


# ---- the operation table -------------------------------------------------

def parse_table(path=OPS_TABLE):
    """id -> {method, path, tool} for every row of the table, read from the
    C source so the tests follow the table without a second list."""
    src = open(path).read()
    body = src[src.index("vmb_ops[] = {"):]
    rows = {}
    for m in re.finditer(r'\{\s*\.id\s*=\s*"([^"]+)"(.*?)(?=\{\s*\.id\s*=|\n\};)', body, re.S):
        rid, rest = m.group(1), m.group(2)
        meth = re.search(r'\.method\s*=\s*"([A-Z]+)"', rest)
        rpath = re.search(r'\.path\s*=\s*"([^"]+)"', rest)
        flags = re.search(r'\.flags\s*=\s*([^,]+(?:\|[^,]+)*),', rest)
        rows[rid] = {"method": meth.group(1) if meth else None,
                     "path": rpath.group(1) if rpath else None,
                     "tool": bool(flags and "VMB_OP_TOOL" in flags.group(1))}
    return rows


TABLE = parse_table()


# ---- process bookkeeping ---------------------------------------------------

# ---- vault-sim -------------------------------------------------------------

class Vault:
    """A vault-sim dev server on a loopback port with a known root token."""

    def __init__(self, cleanup):
        self.port = procs.free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        binary = procs.binary("vault-sim")
        # Registered before the process: stopped first, then removed.
        self.log = tmpfile(cleanup, "vmb-ops-sim-", ".log")
        self.proc = subprocess.Popen(
            [binary, "server", "--dev", "--dev-root-token-id", ROOT_TOKEN,
             "--dev-listen-address", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        cleanup.add(lambda: procs.stop(self.proc))
        procs.wait_port(self.port, proc=self.proc)

    def api(self, method, path, body=None, token=ROOT_TOKEN, ok=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.addr + "/v1/" + path, data=data, method=method)
        if token:
            req.add_header("X-Vault-Token", token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        doc = json.loads(raw) if raw.strip() else None
        if ok is not None:
            check(status in ok, "vault %s %s -> %d %r" % (method, path, status, doc))
        return status, doc

    def must(self, method, path, body=None, token=ROOT_TOKEN):
        return self.api(method, path, body, token, ok=(200, 204))[1]

    def policy(self, name, hcl):
        self.must("PUT", "sys/policies/acl/" + name, {"policy": hcl})


SSH_PUBKEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
              " ops-test@example")


def provision(v):
    """What scripts/provision-vault.sh sets up, done here with plain HTTP so
    the tests depend on the Vault API only."""
    for engine in ("transit", "database", "ssh"):
        v.must("POST", "sys/mounts/" + engine, {"type": engine})
    v.must("POST", "transit/keys/mcp-default", {"type": "aes256-gcm96"})
    v.must("POST", "transit/keys/mcp-signing", {"type": "ed25519"})
    v.must("POST", "transit/keys/mcp-other", {"type": "aes256-gcm96"})
    # The database and SSH engines are provisioned best effort: a simulator
    # without them still runs the other cases, and the db/ssh cases fail
    # on their own with Vault's answer.
    for part in (provision_db, provision_ssh):
        try:
            part(v)
        except AssertionError as e:
            print("provision: %s" % e, file=sys.stderr)


def provision_db(v):
    v.must("POST", "database/config/mcp-postgres", {
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "readonly,other",
        "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/mcp",
        "username": "vault", "password": "provisioning-placeholder",
        "verify_connection": False})
    for role in ("readonly", "other"):
        v.must("POST", "database/roles/" + role, {
            "db_name": "mcp-postgres",
            "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';"],
            "default_ttl": "1h", "max_ttl": "24h"})


def provision_ssh(v):
    v.must("POST", "ssh/config/ca", {"generate_signing_key": True, "key_type": "ssh-ed25519"})
    v.must("POST", "ssh/roles/otp_role", {"key_type": "otp", "default_user": "ubuntu",
                                          "cidr_list": "127.0.0.0/8,10.0.0.0/8", "port": 22})
    v.must("POST", "ssh/roles/otp_other", {"key_type": "otp", "default_user": "ubuntu",
                                           "cidr_list": "127.0.0.0/8", "port": 2222})
    v.must("POST", "ssh/roles/ca_role", {
        "key_type": "ca", "allow_user_certificates": True,
        "allowed_users": "ubuntu,alice,agent_x", "default_user": "ubuntu",
        "ttl": "30m", "max_ttl": "1h", "default_extensions": {"permit-pty": ""}})


def gen_policy(*args):
    p = subprocess.run([sys.executable, GEN_POLICY] + list(args), capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "gen_policy %r: %s" % (args, p.stderr))
    return p.stdout


BRIDGE_POLICY = """
# The bridge: mint child tokens for any agent policy (sudo) and keep its own
# token alive.
path "auth/token/create" { capabilities = ["update", "sudo"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "sys/health" { capabilities = ["read"] }
# The subject registry and the lease owners (issue 12). Agent policies are
# not written by this bridge: the tests load them with gen_policy, so what
# Vault enforces is what the test chose.
path "secret/data/mcp-admin/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/mcp-admin/*" { capabilities = ["read", "list", "delete"] }
"""


def policy_name(subject):
    """The name the bridge gives subject's policy (gen_policy --name-only)."""
    return gen_policy("--subject", subject, "--name-only").strip()


def approle(v, role="mcp-bridge", policies=("mcp-bridge",), ttl="1h", max_ttl="4h"):
    """Enable AppRole (once), write a role and return (role_id, secret_id)."""
    st, auths = v.api("GET", "sys/auth")
    if not (auths and ("approle/" in auths or "approle/" in (auths.get("data") or {}))):
        v.must("POST", "sys/auth/approle", {"type": "approle"})
    v.must("POST", "auth/approle/role/" + role, {"token_policies": list(policies),
                                                "token_ttl": ttl, "token_max_ttl": max_ttl})
    role_id = v.must("GET", "auth/approle/role/%s/role-id" % role)["data"]["role_id"]
    secret_id = v.must("POST", "auth/approle/role/%s/secret-id" % role)["data"]["secret_id"]
    return role_id, secret_id


# ---- the bridge ------------------------------------------------------------

ALL_GRANTS = {"transit_keys": ["*"], "db_roles": ["*"], "ssh_roles": ["*"], "kms_keys": ["*"]}

class Bridge:
    """vault-mcp-fcgi on a loopback FastCGI port with its own LOG_DIR."""

    def __init__(self, cleanup, vault_addr, keys, env=None, threads=4):
        self.tmp = tmpdir(cleanup, "vmb-ops-")
        self.keys = keys
        self.log_dir = os.path.join(self.tmp, "logs")
        self.port = procs.free_port()
        e = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        e.update({
            "LOG_DIR": self.log_dir,
            "RUN_DIR": os.path.join(self.tmp, "run"),
            "API_KEYS_JSON": json.dumps(keys),
            "VAULT_ADDR": vault_addr,
            "VAULT_TOKEN": ROOT_TOKEN,
            "RATE_LIMIT_ENABLED": "false",
            "LOG_LEVEL": "debug",
            # Subjects without a registry record get no grants by default
            # (issue 12); these cases exercise every engine of the stack.
            "DEFAULT_GRANTS_JSON": json.dumps(ALL_GRANTS),
        })
        for k, val in (env or {}).items():
            if val is None:
                e.pop(k, None)
            else:
                e[k] = val
        self.stderr = open(os.path.join(self.tmp, "stderr.txt"), "w")
        self.proc = subprocess.Popen(
            [procs.binary("vault-mcp-fcgi"), "--listen", "127.0.0.1:%d" % self.port,
             "--threads", str(threads)], env=e, cwd=self.tmp, stderr=self.stderr)
        cleanup.add(self.close)
        procs.wait_port(self.port, proc=self.proc)
        self.addr = ("127.0.0.1", self.port)

    def close(self):
        try:
            procs.stop(self.proc)
        finally:
            self.stderr.close()

    def raw(self, method, path, key=None, body=None, query="", headers=None, timeout=15.0):
        h = dict(headers or {})
        if key:
            h["X-API-Key"] = key
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        st, hd, b = fc.request(self.addr, method, path, headers=h, body=data, query=query,
                               timeout=timeout)
        try:
            doc = json.loads(b) if b.strip() else None
        except ValueError:
            doc = b
        return st, doc

    def op(self, op_id, args=None, key=None, raw_body=None):
        """Call an operation over REST by its table id. Path parameters are
        filled from args; the rest goes into the query (GET, DELETE) or the
        JSON body."""
        row = TABLE[op_id]
        args = dict(args or {})
        path = row["path"]
        for name in re.findall(r"\{(\w+)\}", path):
            path = path.replace("{%s}" % name, str(args.pop(name)))
        query, body = "", None
        if row["method"] in ("GET", "DELETE"):
            from urllib.parse import urlencode
            query = urlencode(args)
        elif args or raw_body is not None:
            body = raw_body if raw_body is not None else args
        return self.raw(row["method"], path, key=key or next(iter(self.keys)), body=body,
                        query=query)

    def logs(self):
        out = {}
        for name in os.listdir(self.log_dir):
            p = os.path.join(self.log_dir, name)
            if os.path.isfile(p):
                out[name] = open(p, "rb").read()
        return out

    def responses(self):
        p = os.path.join(self.log_dir, "responses.log")
        if not os.path.exists(p):
            return []
        return [json.loads(x) for x in open(p).read().splitlines() if x.strip()]


def expect_ok(res, what):
    st, doc = res
    check(st == 200, "%s: wanted 200, got %d %r" % (what, st, doc))
    return doc


def expect_err(res, status, code=None, needle=None, what=""):
    st, doc = res
    check(st == status, "%s: wanted %d, got %d %r" % (what, status, st, doc))
    check(isinstance(doc, dict) and "error" in doc, "%s: error body %r" % (what, doc))
    if code:
        check(doc["error"]["code"] == code, "%s: code %r, wanted %r" % (what, doc, code))
    if needle:
        check(needle.lower() in doc["error"]["message"].lower(),
              "%s: message %r lacks %r" % (what, doc["error"]["message"], needle))
    return doc


# ---- a stand-in Vault for failure modes -------------------------------------

class StandIn:
    """A tiny HTTP server that answers every Vault call with a fixed status
    after a delay. mode 'ok' answers like a KV read / transit call would."""

    def __init__(self, cleanup, delay=0.0, status=200):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.hits += 1
                time.sleep(outer.delay)
                if outer.status == 200:
                    body = {"request_id": "x", "lease_id": "", "renewable": False,
                            "lease_duration": 0, "wrap_info": None, "warnings": None,
                            "auth": None, "data": {
                                "data": {"k": "v"},
                                "metadata": {"version": 1, "created_time": "2024-01-01T00:00:00Z",
                                             "deletion_time": "", "destroyed": False,
                                             "custom_metadata": None},
                                "ciphertext": "vault:v1:AAAA", "key_version": 1,
                                "initialized": True, "sealed": False}}
                else:
                    body = {"errors": ["1 error occurred:\n\t* internal error\n\n"]}
                data = json.dumps(body).encode()
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_LIST = _any

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.delay, self.status, self.hits = delay, status, 0
        self.server = S(("127.0.0.1", procs.free_port()), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addr = "http://127.0.0.1:%d" % self.server.server_address[1]
        cleanup.add(self.close)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
