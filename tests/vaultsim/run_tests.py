#!/usr/bin/env python3
"""Test driver for vault-sim (label `vaultsim`).

Starts vault-sim on a free loopback port, runs one suite, stops it.
Suites replay the request/response pairs of tests/data/vault-api/samples
(comparing bodies structurally: values the samples cannot fix, such as
ids, timestamps, tokens and ciphertexts, are compared by type only), the
ACL decision table, the provisioning script, and hostile input.

Usage: run_tests.py --sim BIN --samples DIR --suite NAME [--script PATH]
Python 3 standard library only.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import fidelity

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import procs  # noqa: E402

ROOT = "root"

# Keys whose values are random or time-dependent in a real server.
VOLATILE = {
    "request_id", "accessor", "client_token", "entity_id", "created_time",
    "updated_time", "issue_time", "expire_time", "creation_time",
    "server_time_utc", "cluster_name", "cluster_id", "ciphertext",
    "signature", "hmac", "random_bytes", "key", "username", "password",
    "serial_number", "signed_key", "public_key", "role_id", "secret_id",
    "secret_id_accessor", "last_renewal", "id", "deletion_time", "ttl",
    "build_date", "nonce", "lease_id",
}


class Fail(Exception):
    pass


class Sim:
    def __init__(self, binary):
        self.binary = binary
        self.proc = None
        self.port = None
        self.unseal_key = None

    def start(self):
        ports = list(range(18200, 19000))
        random.shuffle(ports)
        for port in ports[:40]:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            out = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                [self.binary, "--dev", "--dev-root-token-id", ROOT,
                 "--dev-listen-address", "127.0.0.1:%d" % port],
                stdout=out, stderr=subprocess.STDOUT)
            deadline = time.time() + 15
            while time.time() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    self.proc, self.port = proc, port
                    procs.watch(proc)
                    # The port may open before the banner reaches the pipe
                    # (slow starts under sanitizers): wait for it, bounded.
                    banner_deadline = time.time() + 10
                    while True:
                        out.seek(0)
                        text = out.read().decode()
                        if re.search(r"^Root Token: root$", text, re.M):
                            break
                        if time.time() > banner_deadline:
                            raise Fail("banner lacks 'Root Token: root'")
                        time.sleep(0.05)
                    m = re.search(r"^Unseal Key: (\S+)$", text, re.M)
                    self.unseal_key = m.group(1) if m else None
                    return
                except OSError:
                    time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        raise Fail("could not start vault-sim on any port")

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Fail("vault-sim did not exit on SIGTERM")
        if rc != 0:
            raise Fail("vault-sim exited with %r (crash?)" % rc)
        try:
            procs.check_stopped(self.proc, rc)   # a sanitizer report in its output
        except procs.StopCheckFailed as e:
            raise Fail(str(e))

    def req(self, method, path, body=None, token=ROOT, headers=None,
            raw=None, conn=None):
        h = {"X-Vault-Request": "true"}
        if token is not None:
            h["X-Vault-Token"] = token
        if headers:
            h.update(headers)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if os.environ.get("VAULTSIM_TRACE"):
            print("->", method, path[:80], (data or b"")[:40], flush=True)
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
        finally:
            if conn is None:
                c.close()
        parsed = None
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text.decode(errors="replace")
        return r.status, parsed, r


# ---- comparison --------------------------------------------------------------

def match_str(exp, act):
    """Sample strings may end in '…' meaning 'anything follows'."""
    if "…" in exp:
        parts = exp.split("…")
        return act.startswith(parts[0]) and act.endswith(parts[-1])
    return exp == act


def compare(exp, act, path="$", key=None):
    if (key in VOLATILE or (key and key.isdigit() and isinstance(exp, int))) \
            and exp is not None:
        if type(exp) is not type(act) and not (
                isinstance(exp, (int, float)) and isinstance(act, (int, float))):
            raise Fail("%s: type %s != %s (%r)" % (path, type(exp).__name__,
                                                  type(act).__name__, act))
        if key == "deletion_time" and (exp == "") != (act == ""):
            raise Fail("%s: deletion_time emptiness differs: %r" % (path, act))
        if key == "lease_id" and exp and isinstance(act, str):
            if exp.rsplit("/", 1)[0] != act.rsplit("/", 1)[0]:
                raise Fail("%s: lease_id %r vs %r" % (path, act, exp))
        return
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            raise Fail("%s: expected object, got %r" % (path, act))
        for k, v in exp.items():
            if k not in act:
                raise Fail("%s: missing key %r in %r" % (path, k, act))
            compare(v, act[k], "%s.%s" % (path, k), k)
        return
    if isinstance(exp, list):
        if not isinstance(act, list) or len(exp) != len(act):
            raise Fail("%s: expected %r, got %r" % (path, exp, act))
        for i, (e, a) in enumerate(zip(exp, act)):
            compare(e, a, "%s[%d]" % (path, i), key)
        return
    if isinstance(exp, str):
        if not isinstance(act, str) or not match_str(exp, act):
            raise Fail("%s: expected %r, got %r" % (path, exp, act))
        return
    if exp != act or type(exp) is not type(act):
        raise Fail("%s: expected %r, got %r" % (path, exp, act))


class Suite:
    def __init__(self, sim, samples):
        self.sim = sim
        self.samples = samples
        self.passed = 0

    def load(self, name):
        with open(os.path.join(self.samples, name)) as f:
            return json.load(f)

    def ep(self, fam, ident):
        for e in fam["endpoints"]:
            if e.get("id") == ident:
                return e
        raise Fail("sample %s not found" % ident)

    def check(self, what, method, path, body=None, status=None, expect=None,
              token=ROOT, headers=None, raw=None, exact_errors=True):
        st, got, resp = self.sim.req(method, path, body, token, headers, raw)
        if status is not None and st != status:
            raise Fail("%s: %s %s -> %d %r (want %d)" % (what, method, path,
                                                        st, got, status))
        if expect is not None:
            try:
                if expect == "" and got is None:
                    pass
                elif isinstance(expect, dict) and "errors" in expect \
                        and not exact_errors:
                    if not isinstance(got, dict) or "errors" not in got:
                        raise Fail("no errors array: %r" % (got,))
                    for e in expect["errors"]:
                        if not any(match_str(e, g) or e.split("…")[0] in g
                                   for g in got["errors"]):
                            raise Fail("%r not in %r" % (e, got["errors"]))
                else:
                    compare(expect, got)
            except Fail as f:
                raise Fail("%s: %s %s: %s" % (what, method, path, f))
        self.passed += 1
        return st, got, resp

    def fail(self, msg):
        raise Fail(msg)

    def token(self, policies, **kw):
        body = {"policies": policies}
        body.update(kw)
        st, got, _ = self.sim.req("POST", "/v1/auth/token/create", body)
        if st != 200:
            raise Fail("token create failed: %d %r" % (st, got))
        return got["auth"]["client_token"]

    def policy(self, name, text):
        st, got, _ = self.sim.req("PUT", "/v1/sys/policies/acl/" + name,
                                  {"policy": text})
        if st != 204:
            raise Fail("policy %s: %d %r" % (name, st, got))

    def mount(self, path, typ):
        self.sim.req("POST", "/v1/sys/mounts/" + path, {"type": typ})


def req_body(e):
    r = e.get("request", {})
    return r.get("body")


def req_headers(e):
    h = dict(e.get("request", {}).get("headers", {}))
    h.pop("X-Vault-Token", None)
    return h


# ---- suites -----------------------------------------------------------------------

def suite_common(t):
    fam = t.load("common.json")
    cases = {c["case"]: c for c in fam["cases"]}
    t.mount("transit", "transit")
    t.check("verb", "COPY", "/v1/secret/data/x", status=405,
            expect=cases["unknown HTTP verb (e.g. COPY)"]["body"])
    t.check("list=", "GET", "/v1/secret/metadata/?list=notabool", status=400,
            expect=cases["GET with ?list=notabool"]["body"])
    c = cases["POST/PUT to a path ending in '/'"]
    for m in ("POST", "PUT"):
        t.check("slash", m, c["request"]["path"], c["request"]["body"],
                c["status"], c["body"])
    t.check("bad json", "POST", "/v1/secret/data/x", raw=b'{"data":',
            headers={"Content-Type": "application/json"}, status=400,
            expect=cases["invalid JSON body"]["body"])
    t.check("patch json", "PATCH", "/v1/secret/data/x", raw=b'{"data":{}}',
            headers={"Content-Type": "application/json"}, status=415,
            expect=cases["PATCH with Content-Type application/json"]["body"])
    t.check("patch none", "PATCH", "/v1/secret/data/x", raw=b'{"data":{}}',
            status=400, expect=cases["PATCH without Content-Type"]["body"])
    t.check("patch params", "PATCH", "/v1/secret/data/nokey",
            raw=b'{"data":{}}', status=404, expect="",
            headers={"Content-Type":
                     "application/merge-patch+json; charset=utf-8"})
    t.check("no token", "GET", "/v1/secret/data/x", token=None, status=403,
            expect=cases["no token on an authenticated path"]["body"])
    t.check("bad token", "GET", "/v1/secret/data/x", token="hvs.nope",
            status=403, expect=cases[
                "unknown/revoked/expired token (Vault >= 1.17; exact layout "
                "unverified)"]["body"])
    tok = t.token(["default"])
    t.check("acl deny", "GET", "/v1/secret/data/x", token=tok, status=403,
            expect=cases["valid token, ACL denies"]["body"])
    c = cases["unknown mount, root token"]
    t.check("no route", c["request"]["method"], c["request"]["path"],
            status=404, expect=c["body"])
    t.check("no route non-root", "GET", "/v1/nosuchmount/x", token=tok,
            status=403, expect=cases["unknown mount, non-root token"]["body"])
    c = cases["path unknown inside a mount (root)"]
    t.check("unsupported path", "GET", c["request"]["path"], status=404,
            expect=c["body"])
    c = cases["operation unsupported on a path (root)"]
    t.check("unsupported op", "GET", c["request"]["path"], status=405,
            expect=c["body"])
    t.check("unsupported op non-root", "GET", "/v1/sys/tools/random",
            token=tok, status=403)
    st, got, _ = t.check("unknown fields", "POST", "/v1/secret/data/uf",
                         {"data": {"a": 1}, "zzz": 1, "aaa": 2}, 200)
    if got["warnings"] != ["Endpoint ignored these unrecognized parameters: "
                           "[aaa zzz]"]:
        raise Fail("unknown-field warning: %r" % got["warnings"])
    # Envelope and headers.
    st, got, resp = t.check("envelope", "GET", "/v1/secret/data/uf",
                            status=200)
    for k in fam["success_envelope_example"]:
        if k not in got:
            raise Fail("envelope lacks %s" % k)
    if resp.getheader("Cache-Control") != "no-store" or \
            resp.getheader("Content-Type") != "application/json":
        raise Fail("response headers: %r" % resp.getheaders())
    if not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{12}$", got["request_id"]):
        raise Fail("request_id not a uuid: %r" % got["request_id"])
    t.check("bearer", "GET", "/v1/auth/token/lookup-self", token=None,
            headers={"Authorization": "Bearer " + ROOT}, status=200)
    t.check("x-vault-token wins", "GET", "/v1/auth/token/lookup-self",
            token=ROOT, headers={"Authorization": "Bearer nope"}, status=200)
    t.check("list verb", "LIST", "/v1/secret/metadata", status=200,
            expect={"data": {"keys": ["uf"]}})
    t.check("list param", "GET", "/v1/secret/metadata?list=true", status=200,
            expect={"data": {"keys": ["uf"]}})
    t.check("namespace ignored", "GET", "/v1/secret/data/uf", status=200,
            headers={"X-Vault-Namespace": "ns1/"})
    t.check("outside v1", "GET", "/v2/secret/data/uf", status=404)
    # Keep-alive: several requests on one connection.
    conn = http.client.HTTPConnection("127.0.0.1", t.sim.port, timeout=10)
    for _ in range(5):
        st, _, _ = t.sim.req("GET", "/v1/secret/data/uf", conn=conn)
        if st != 200:
            raise Fail("keep-alive request failed: %d" % st)
    conn.close()
    # Seal and unseal.
    t.check("seal", "PUT", "/v1/sys/seal", status=204)
    t.check("sealed", "GET", "/v1/secret/data/uf", status=503,
            expect=cases["sealed server, any non-status endpoint"]["body"])
    t.check("unseal", "PUT", "/v1/sys/unseal",
            {"key": t.sim.unseal_key}, 200,
            {"sealed": False, "initialized": True})
    t.check("unsealed", "GET", "/v1/secret/data/uf", status=200)
    t.check("seal needs sudo", "PUT", "/v1/sys/seal", token=tok, status=403)


def suite_sys(t):
    fam = t.load("sys.json")
    e = t.ep(fam, "sys-health")
    t.check("health", "GET", e["path"], status=200, expect=e["response"]["body"],
            headers=req_headers(e))
    st, body, _ = t.sim.req("HEAD", e["path"], token=None)
    if st != 200 or body:
        raise Fail("HEAD health: %d %r" % (st, body))
    errs = {x["case"]: x for x in e["errors"]}
    t.check("health code", "GET", "/v1/sys/health?sealedcode=abc", status=400,
            expect=errs["non-integer code parameter e.g. ?sealedcode=abc"]["body"])
    t.check("activecode", "GET", "/v1/sys/health?activecode=299", status=299)
    t.check("standbyok", "GET", "/v1/sys/health?standbyok=true&perfstandbyok=true",
            status=200)
    s = t.ep(fam, "sys-seal-status")
    t.check("seal-status", "GET", s["path"], status=200,
            expect={k: v for k, v in s["response"]["body"].items()
                    if k not in ("t", "n", "storage_type")}, token=None)
    t.check("seal", "PUT", "/v1/sys/seal", status=204)
    sealed = errs["sealed"]["body"]
    st, got, _ = t.check("health sealed", "GET", e["path"], status=503,
                         expect=sealed, token=None)
    if "cluster_id" in got:
        raise Fail("cluster_id while sealed")
    t.check("health sealedcode", "GET", "/v1/sys/health?sealedcode=200",
            status=200, token=None)
    ss = {x["case"]: x for x in s["errors"]}["sealed"]
    exp = {k: v for k, v in ss["body"].items()
           if k not in ("t", "n", "progress", "storage_type")}
    t.check("seal-status sealed", "GET", s["path"], status=200, expect=exp,
            token=None)
    t.check("unseal", "PUT", "/v1/sys/unseal", {"key": t.sim.unseal_key},
            200, {"sealed": False})
    # mounts and auth listing.
    st, got, _ = t.check("mounts", "GET", "/v1/sys/mounts", status=200)
    if got["data"]["secret/"]["options"] != {"version": "2"} or \
            got["data"]["secret/"]["type"] != "kv" or "secret/" not in got:
        raise Fail("sys/mounts: %r" % got["data"].get("secret/"))
    t.check("enable", "POST", "/v1/sys/mounts/kv1", {"type": "kv"}, 204)
    t.check("enable dup", "POST", "/v1/sys/mounts/kv1", {"type": "kv"}, 400)
    t.check("kv1 write", "POST", "/v1/kv1/a", {"x": "y"}, 204)
    t.check("kv1 read", "GET", "/v1/kv1/a", status=200,
            expect={"data": {"x": "y"}})
    t.check("disable", "DELETE", "/v1/sys/mounts/kv1", status=204)
    t.check("gone", "GET", "/v1/kv1/a", status=404)
    t.check("bad type", "POST", "/v1/sys/mounts/x", {"type": "nope"}, 400)
    t.check("auth enable", "POST", "/v1/sys/auth/approle", {"type": "approle"},
            204)
    st, got, _ = t.check("auth list", "GET", "/v1/sys/auth", status=200)
    if "approle/" not in got["data"] or "token/" not in got["data"]:
        raise Fail("sys/auth: %r" % got["data"].keys())
    # random and hash tools.
    st, got, _ = t.check("random", "POST", "/v1/sys/tools/random", {}, 200)
    if len(base64.b64decode(got["data"]["random_bytes"])) != 32:
        raise Fail("random default size")
    st, got, _ = t.check("random/64", "POST", "/v1/sys/tools/random/64",
                         {"format": "hex"}, 200)
    if not re.match("^[0-9a-f]{128}$", got["data"]["random_bytes"]):
        raise Fail("random hex")
    t.check("random bad", "POST", "/v1/sys/tools/random", {"bytes": 0}, 400,
            {"errors": ["'bytes' cannot be less than 1"]})
    t.check("hash", "POST", "/v1/sys/tools/hash/sha2-256",
            {"input": "aGVsbG8=", "format": "base64"}, 200,
            {"data": {"sum": "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}})
    # capabilities-self
    t.policy("capa", 'path "secret/data/x/*" { capabilities = ["read"] }')
    tok = t.token(["capa"])
    t.check("caps", "POST", "/v1/sys/capabilities-self",
            {"paths": ["secret/data/x/y"]}, 200,
            {"data": {"capabilities": ["read"]}}, token=tok)


def suite_token(t):
    fam = t.load("auth-token.json")
    t.policy("mcp-alice", 'path "auth/token/create" { capabilities = ["update"] }\n'
             'path "auth/token/create-orphan" { capabilities = ["update"] }\n'
             'path "auth/token/lookup" { capabilities = ["update"] }')
    e = t.ep(fam, "token-lookup-self")
    root = dict(e["examples"]["root_token_data"])
    st, got, _ = t.check("lookup-self root", "GET", e["path"], status=200,
                         expect={"data": root})
    for k in ("renewable", "issue_time"):
        if k in got["data"]:
            raise Fail("root lookup has %s" % k)
    errs = {x["case"]: x for x in e["errors"]}
    t.check("lookup-self no token", "GET", e["path"], token=None, status=403,
            expect=errs["no token"]["body"])
    c = t.ep(fam, "token-create")
    st, got, _ = t.check("create", "POST", c["path"], req_body(c),
                         c["response"]["status"], c["response"]["body"])
    child = got["auth"]["client_token"]
    t.check("child lookup-self", "GET", e["path"], token=child, status=200,
            expect=e["response"]["body"])
    # Errors from a non-root, non-sudo parent holding mcp-alice.
    errs = {x["case"]: x for x in c["errors"]}
    x = errs["non-root, non-sudo parent requests a policy it lacks"]
    t.check("subset", "POST", c["path"], x["request_body"], 400, x["body"],
            token=child)
    cases = [
        ("no_parent=true without sudo", {"no_parent": True}),
        ("period without sudo", {"period": "1h"}),
        ("custom id without sudo", {"id": "hvs.custom"}),
        ("child requests root, parent not root", {"policies": ["root"]}),
        ("num_uses negative", {"num_uses": -1}),
        ("ttl negative", {"ttl": "-1h"}),
    ]
    for name, body in cases:
        t.check(name, "POST", c["path"], body, 400, errs[name]["body"],
                token=child)
    limited = t.token(["mcp-alice"], num_uses=5)
    x = errs["parent has num_uses > 0"]
    t.check("restricted", "POST", c["path"], {}, 400, x["body"], token=limited)
    plain = t.token(["default"])
    t.check("no update", "POST", c["path"], {}, 403,
            errs["caller lacks update on auth/token/create"]["body"], token=plain)
    st, got, _ = t.check("missing policy warn", "POST", c["path"],
                         {"policies": ["nope"]}, 200)
    if 'Policy "nope" does not exist' not in (got["warnings"] or []):
        raise Fail("missing policy warning: %r" % got["warnings"])
    st, got, _ = t.check("ttl cap", "POST", c["path"], {"ttl": "1000h"}, 200)
    if got["auth"]["lease_duration"] != 2764800 or not got["warnings"]:
        raise Fail("ttl cap: %r" % got)
    # Sanitised policies: lower-cased, sorted, de-duplicated.
    st, got, _ = t.check("sanitise", "POST", c["path"],
                         {"policies": "B, a,b"}, 200)
    if got["auth"]["policies"] != ["a", "b", "default"]:
        raise Fail("policy sanitising: %r" % got["auth"]["policies"])
    st, got, _ = t.check("no default", "POST", c["path"],
                         {"policies": ["a"], "no_default_policy": True}, 200)
    if got["auth"]["policies"] != ["a"]:
        raise Fail("no_default_policy: %r" % got["auth"]["policies"])
    st, got, _ = t.check("display", "POST", c["path"],
                         {"display_name": "alice@mcp"}, 200)
    st, got, _ = t.check("display lookup", "GET", e["path"], status=200,
                         token=got["auth"]["client_token"])
    if got["data"]["display_name"] != "token-alice-mcp":
        raise Fail("display_name: %r" % got["data"]["display_name"])
    o = t.ep(fam, "token-create-orphan")
    st, got, _ = t.check("orphan", "POST", o["path"], req_body(o),
                         o["response"]["status"], o["response"]["body"],
                         token=child)
    orphan = got["auth"]["client_token"]
    r = t.ep(fam, "token-renew-self")
    t.check("renew-self", "POST", r["path"], req_body(r),
            r["response"]["status"], r["response"]["body"], token=child)
    rerr = {x["case"]: x for x in r["errors"]}
    t.check("renew root", "POST", r["path"], {}, 400,
            rerr["root token without TTL (no lease)"]["body"])
    nr = t.token(["mcp-alice"], renewable=False)
    t.check("renew non-renewable", "POST", r["path"], {}, 400,
            rerr["token not renewable"]["body"], token=nr)
    lk = t.ep(fam, "token-lookup")
    t.check("lookup", "POST", lk["path"], {"token": child}, 200,
            {"data": {"id": child, "policies": ["default", "mcp-alice"]}})
    t.check("lookup unknown", "POST", lk["path"], {"token": "hvs.nope"}, 403,
            lk["errors"][0]["body"])
    # Subtree revocation: grandchild dies with child, orphan survives.
    grand = t.token(["mcp-alice"])  # root's child, unrelated
    st, got, _ = t.sim.req("POST", c["path"], {"policies": ["mcp-alice"]},
                           token=child)
    grandchild = got["auth"]["client_token"]
    rv = t.ep(fam, "token-revoke-self")
    t.check("revoke-self", "POST", rv["path"], None, 204, token=child)
    t.check("child gone", "GET", e["path"], token=child, status=403)
    t.check("grandchild gone", "GET", e["path"], token=grandchild, status=403)
    t.check("orphan alive", "GET", e["path"], token=orphan, status=200)
    t.check("other alive", "GET", e["path"], token=grand, status=200)
    rk = t.ep(fam, "token-revoke")
    t.check("revoke", "POST", rk["path"], {"token": grand}, 204)
    t.check("revoke unknown", "POST", rk["path"], {"token": "hvs.nope"}, 204)
    t.check("revoke missing", "POST", rk["path"], {}, 400,
            {"errors": ["missing token ID"]})
    # num_uses counts lookup-self and dies after the last use.
    limited = t.token(["default"], num_uses=2)
    t.check("use 1", "GET", e["path"], token=limited, status=200,
            expect={"data": {"num_uses": 1}})
    t.check("use 2", "GET", e["path"], token=limited, status=200)
    t.check("use 3", "GET", e["path"], token=limited, status=403)
    # Wall-clock expiry.
    short = t.token(["default"], ttl="1s")
    t.check("short ok", "GET", e["path"], token=short, status=200)
    time.sleep(1.2)
    t.check("short expired", "GET", e["path"], token=short, status=403)


def suite_approle(t):
    fam = t.load("auth-approle.json")
    t.sim.req("POST", "/v1/sys/auth/approle", {"type": "approle"})
    t.policy("mcp-alice", 'path "secret/*" { capabilities = ["read"] }')
    w = t.ep(fam, "approle-role-write")
    t.check("role write", "POST", w["path"], req_body(w), 204)
    rid = t.ep(fam, "approle-role-id")
    st, got, _ = t.check("role-id", "GET", rid["path"], status=200,
                         expect=rid["response"]["body"])
    role_id = got["data"]["role_id"]
    sid = t.ep(fam, "approle-secret-id")
    st, got, _ = t.check("secret-id", "POST", sid["path"], None, 200,
                         sid["response"]["body"])
    secret_id = got["data"]["secret_id"]
    lg = t.ep(fam, "approle-login")
    st, got, _ = t.check("login", "POST", lg["path"],
                         {"role_id": role_id, "secret_id": secret_id}, 200,
                         lg["response"]["body"], token=None)
    tok = got["auth"]["client_token"]
    st, got, _ = t.check("login lookup", "GET", "/v1/auth/token/lookup-self",
                         token=tok, status=200)
    if got["data"]["display_name"] != "approle" or not got["data"]["orphan"]:
        raise Fail("approle token: %r" % got["data"])
    errs = {x["case"]: x for x in lg["errors"]}
    t.check("no role_id", "POST", lg["path"], {"secret_id": "x"}, 400,
            errs["missing role_id"]["body"], token=None)
    t.check("no secret_id", "POST", lg["path"], {"role_id": role_id}, 400,
            errs["missing secret_id (bind_secret_id=true)"]["body"], token=None)
    t.check("bad role_id", "POST", lg["path"], {"role_id": "x",
                                                "secret_id": secret_id}, 400,
            errs["wrong role_id"]["body"], token=None)
    t.check("bad secret_id", "POST", lg["path"], {"role_id": role_id,
                                                  "secret_id": "x"}, 400,
            errs["wrong / expired / exhausted secret_id"]["body"], token=None)
    # A secret-id with num_uses=1 works exactly once.
    st, got, _ = t.sim.req("POST", sid["path"], {"num_uses": 1})
    one = got["data"]["secret_id"]
    t.check("one-use 1", "POST", lg["path"], {"role_id": role_id,
                                              "secret_id": one}, 200, token=None)
    t.check("one-use 2", "POST", lg["path"], {"role_id": role_id,
                                              "secret_id": one}, 400, token=None)
    t.check("role read", "GET", w["path"], status=200,
            expect={"data": {"token_policies": ["mcp-alice"],
                             "token_ttl": 3600, "token_max_ttl": 14400}})
    t.check("role list", "LIST", "/v1/auth/approle/role", status=200,
            expect={"data": {"keys": ["alice"]}})
    t.check("renew", "POST", "/v1/auth/token/renew-self", {}, 200, token=tok)
    # Renewals are capped at the role's token_max_ttl, counted from the
    # login; at the cap the token expires (CONTRACT 3.4).
    t.check("capped role", "POST", "/v1/auth/approle/role/capped",
            {"token_ttl": "2s", "token_max_ttl": "3s"}, 204)
    _, got, _ = t.sim.req("GET", "/v1/auth/approle/role/capped/role-id")
    crid = got["data"]["role_id"]
    _, got, _ = t.sim.req("POST", "/v1/auth/approle/role/capped/secret-id")
    t0 = time.monotonic()
    st, got, _ = t.check("capped login", "POST", lg["path"],
                         {"role_id": crid,
                          "secret_id": got["data"]["secret_id"]}, 200,
                         token=None)
    ctok = got["auth"]["client_token"]
    if got["auth"]["lease_duration"] != 2:
        raise Fail("capped login ttl: %r" % got["auth"])
    time.sleep(max(0.0, 1.3 - (time.monotonic() - t0)))
    st, got, _ = t.check("capped renew", "POST", "/v1/auth/token/renew-self",
                         {}, 200, token=ctok)
    if got["auth"]["lease_duration"] > 1 or not got["warnings"] or \
            "capped accordingly" not in got["warnings"][0]:
        raise Fail("renew not capped at token_max_ttl: %r" % (got,))
    st, got, _ = t.check("capped increment", "POST",
                         "/v1/auth/token/renew-self", {"increment": "1h"},
                         200, token=ctok)
    if got["auth"]["lease_duration"] > 1:
        raise Fail("increment not capped at token_max_ttl: %r" % (got,))
    time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
    t.check("capped expired", "GET", "/v1/auth/token/lookup-self",
            status=403, token=ctok)
    t.check("capped expired renew", "POST", "/v1/auth/token/renew-self", {},
            403, token=ctok)
    t.check("role delete", "DELETE", w["path"], status=204)
    t.check("renew after delete", "POST", "/v1/auth/token/renew-self", {}, 400,
            token=tok)


def suite_acl(t):
    fam = t.load("acl-policies.json")
    t.mount("transit", "transit")
    w = t.ep(fam, "policy-write")
    t.check("policy write", w["method"], w["path"], req_body(w), 204)
    rd = t.ep(fam, "policy-read")
    t.check("policy read", "GET", rd["path"], status=200,
            expect=rd["response"]["body"])
    t.check("policy missing", "GET", "/v1/sys/policies/acl/nope", status=404,
            expect=rd["errors"][0]["body"])
    werr = {x["case"]: x for x in w["errors"]}
    t.check("policy empty", "PUT", "/v1/sys/policies/acl/x", {}, 400,
            werr["missing policy field"]["body"])
    t.check("policy bad", "PUT", "/v1/sys/policies/acl/x",
            {"policy": 'path "a" { capabilities = ["bogus"] }'}, 400,
            werr["unparsable policy"]["body"])
    t.check("policy bad hcl", "PUT", "/v1/sys/policies/acl/x",
            {"policy": 'path "a" { capabilities = ['}, 400,
            werr["unparsable policy"]["body"])
    t.check("policy json", "PUT", "/v1/sys/policies/acl/Mcp-Alice-Json",
            {"policy": json.dumps(fam["sample_policy_mcp_alice"]["json"])}, 204)
    t.check("policy lowercased", "GET",
            "/v1/sys/policies/acl/mcp-alice-json", status=200)
    t.check("legacy read", "GET", "/v1/sys/policy/mcp-alice", status=200,
            expect={"name": "mcp-alice", "rules": rd["response"]["body"]["data"][
                "policy"], "data": {"name": "mcp-alice"}})
    st, got, _ = t.check("legacy list", "GET", "/v1/sys/policy", status=200)
    for k in ("policies", "keys"):
        if "mcp-alice" not in got[k] or "root" not in got[k]:
            raise Fail("legacy list %s: %r" % (k, got))
    t.check("list", "LIST", "/v1/sys/policies/acl", status=200)
    t.check("delete default", "DELETE", "/v1/sys/policies/acl/default", status=400)

    # The decision table.
    n = 0
    for row in fam["evaluation_table"]:
        n += 1
        names = []
        for pname, rules in row["policies"].items():
            name = "evt%d-%s" % (n, pname.lower())
            t.policy(name, json.dumps(
                {"path": {p: {"capabilities": c} for p, c in rules.items()}}))
            names.append(name)
        tok = t.token(names)
        m = re.match(r"^(\w+) (\S+)(?: \((.*)\))?$", row["request"])
        method, path, note = m.group(1), m.group(2), m.group(3) or ""
        want_allowed = row["result"].startswith("allowed")
        body, headers = None, None
        if method in ("POST", "PATCH"):
            if "existing" in path or "key absent" not in note:
                pass
            if path.startswith("secret/data/") and path.endswith("existing"):
                t.sim.req("POST", "/v1/" + path, {"data": {"a": 1}})
            body = {"data": {"x": 1}} if path.startswith("secret/") else \
                {"plaintext": "aGk="}
            if method == "PATCH":
                headers = {"Content-Type": "application/merge-patch+json"}
        st, got, _ = t.sim.req(method, "/v1/" + path, body, tok, headers)
        allowed = st != 403
        if allowed != want_allowed:
            raise Fail("decision table row %d (%s): %s -> %d %r" % (
                n, row["request"], row["result"], st, got))
        if not allowed and got != {"errors": [
                "1 error occurred:\n\t* permission denied\n\n"]}:
            raise Fail("row %d: denial body %r" % (n, got))
        t.passed += 1

    # The worked examples of CONTRACT §5.4 with the full sample policy.
    tok = t.token(["mcp-alice"])
    t.sim.req("POST", "/v1/secret/data/mcp/alice/notes", {"data": {"a": 1}})
    for method, path, allowed in [
            ("GET", "secret/data/mcp/alice/notes", True),
            ("GET", "secret/data/mcp/alice", False),
            ("GET", "secret/data/mcp/alicex/notes", False),
            ("GET", "secret/data/mcp/bob/notes", False),
            ("LIST", "secret/metadata/mcp/alice", True),
            ("LIST", "secret/metadata/mcp/", False),
            ("POST", "secret/delete/mcp/alice/notes", True),
            ("DELETE", "secret/metadata/mcp/alice/notes", False),
            ("POST", "sys/tools/random", True),
            ("GET", "sys/tools/random", False),
            ("POST", "transit/encrypt/mcp-alice", False),  # upsert needs create
    ]:
        body = {"versions": [1]} if "delete/" in path else {}
        if path.startswith("transit"):
            body = {"plaintext": "aGk="}
        st, got, _ = t.sim.req(method, "/v1/" + path, body if method == "POST"
                               else None, tok)
        if (st != 403) != allowed:
            raise Fail("worked example %s %s -> %d %r" % (method, path, st, got))
        t.passed += 1


def suite_kv(t):
    fam = t.load("kv-v2.json")
    P = "/v1/secret/data/mcp/alice/notes"
    w = t.ep(fam, "kv-write")
    errs = {x["case"]: x for x in w["errors"]}
    x = errs["data missing"]
    t.check("no data", "POST", P, x["request_body"], 400, x["body"])
    t.check("write", "POST", w["path"], req_body(w), 200, w["response"]["body"])
    x = errs["cas mismatch (incl. cas=0 on existing key, even if all versions deleted)"]
    t.check("cas mismatch", "POST", P, x["request_body"], 400, x["body"])
    t.check("cas 0 existing", "POST", P, {"options": {"cas": 0},
                                         "data": {"a": 1}}, 400, x["body"])
    t.check("cas parse", "POST", P, {"options": {"cas": "x"}, "data": {}}, 400,
            errs["cas not parseable as int"]["body"])
    t.check("slash", "POST", "/v1/secret/data/mcp/alice/", {"data": {}}, 400,
            errs["path ends in '/'"]["body"])
    r = t.ep(fam, "kv-read")
    t.check("read", "GET", r["path"], status=200, expect=r["response"]["body"])
    rerr = {x["case"]: x for x in r["errors"]}
    t.check("read missing", "GET", "/v1/secret/data/mcp/alice/none", status=404,
            expect=rerr["key never existed / metadata deleted"]["body"])
    t.check("read v99", "GET", P + "?version=99", status=404,
            expect=rerr["version beyond current or purged"]["body"])
    x = rerr["GET without data/ prefix e.g. /v1/secret/mcp/alice/notes (root token)"]
    t.check("no data/ prefix", "GET", "/v1/secret/mcp/alice/notes", status=404,
            expect=x["body"])
    # Patch (version 2).
    p = t.ep(fam, "kv-patch")
    t.check("patch", "PATCH", p["path"], req_body(p), 200,
            p["response"]["body"], headers=req_headers(p))
    t.check("after patch", "GET", P, status=200,
            expect={"data": {"data": p["result_data_after_patch"]}})
    perr = {x["case"]: x for x in p["errors"]}
    mp = {"Content-Type": "application/merge-patch+json"}
    t.check("patch cas", "PATCH", P, {"options": {"cas": 1}, "data": {}}, 400,
            perr["cas mismatch"]["body"], headers=mp)
    t.check("patch no data", "PATCH", P, {}, 400, perr["data missing"]["body"],
            headers=mp)
    t.check("patch missing key", "PATCH", "/v1/secret/data/mcp/alice/none",
            {"data": {"a": 1}}, 404, "", headers=mp)
    # Version 3 then destroy it; soft-delete version 2.
    t.check("write v3", "POST", P, {"data": {"v": 3}}, 200,
            {"data": {"version": 3}})
    d = t.ep(fam, "kv-destroy")
    t.check("destroy", d["method"], d["path"], req_body(d), 204)
    dl = t.ep(fam, "kv-delete-versions")
    t.check("delete v2", "POST", dl["path"], {"versions": [2]}, 204)
    t.check("read deleted v2", "GET", P + "?version=2", status=404,
            expect=rerr["version soft-deleted (deletion_time in the past)"]["body"])
    t.check("read destroyed v3", "GET", P + "?version=3", status=404,
            expect=rerr["version destroyed"]["body"])
    t.check("patch destroyed current", "PATCH", P, {"data": {"a": 1}}, 404,
            {"data": {"destroyed": True, "version": 3}}, headers=mp)
    t.check("subkeys v1", "GET", "/v1/secret/subkeys/mcp/alice/notes?version=1",
            status=200, expect=t.ep(fam, "kv-subkeys")["response"]["body"])
    sk = t.ep(fam, "kv-subkeys")
    t.check("subkeys deleted", "GET",
            "/v1/secret/subkeys/mcp/alice/notes?version=2", status=404,
            expect=sk["errors"][1]["body"])
    t.check("subkeys depth", "GET",
            "/v1/secret/subkeys/mcp/alice/notes?version=1&depth=1", status=200,
            expect={"data": {"subkeys": {"user": None, "password": None,
                                         "nested": None}}})
    for m in ("delete-versions", "undelete", "destroy"):
        e = t.ep(fam, "kv-" + m)
        t.check(m + " empty", "POST", e["path"], {}, 400, e["errors"][0]["body"])
        t.check(m + " missing key", "POST", e["path"].replace("notes", "none"),
                {"versions": [1]}, 204)
    u = t.ep(fam, "kv-undelete")
    t.check("undelete", "POST", u["path"], req_body(u), 204)
    t.check("read undeleted v2", "GET", P + "?version=2", status=200)
    t.check("undelete destroyed", "POST", u["path"], {"versions": "3"}, 204)
    t.check("still destroyed", "GET", P + "?version=3", status=404)
    # CAS against current_version (3, destroyed) still works.
    t.check("cas on destroyed current", "POST", P,
            {"options": {"cas": 3}, "data": {"v": 4}}, 200,
            {"data": {"version": 4}})
    t.check("delete latest", "DELETE", P, status=204)
    t.check("delete latest again", "DELETE", P, status=204)
    t.check("delete missing", "DELETE", "/v1/secret/data/mcp/alice/none",
            status=204)
    t.check("read deleted latest", "GET", P, status=404,
            expect={"data": {"data": None, "metadata": {"version": 4}}})
    # Metadata.
    mw = t.ep(fam, "kv-write-metadata")
    t.check("metadata write", "POST", mw["path"], req_body(mw), 204)
    t.check("metadata noop", "POST", "/v1/secret/metadata/mcp/alice/empty",
            {"bogus": 1}, None)
    t.check("metadata noop created nothing", "GET",
            "/v1/secret/metadata/mcp/alice/empty", status=404)
    t.check("metadata bad", "POST", mw["path"],
            {"custom_metadata": {"k" * 129: "v"}}, 400, mw["errors"][0]["body"],
            exact_errors=False)
    mr = t.ep(fam, "kv-read-metadata")
    st, got, _ = t.check("metadata read", "GET", mr["path"], status=200,
                         expect={"data": {"cas_required": False,
                                          "current_version": 4,
                                          "custom_metadata": {"owner": "alice"},
                                          "delete_version_after": "0s",
                                          "max_versions": 5}})
    if sorted(got["data"]["versions"]) != ["1", "2", "3", "4"]:
        raise Fail("metadata versions %r" % got["data"]["versions"])
    exp = mr["response"]["body"]["data"]["versions"]
    compare(exp["3"], got["data"]["versions"]["3"])
    t.check("read shows custom_metadata", "GET", P + "?version=1", status=200,
            expect={"data": {"metadata": {"custom_metadata": {"owner": "alice"}}}})
    mpatch = t.ep(fam, "kv-patch-metadata")
    t.check("metadata patch", "PATCH", mpatch["path"], req_body(mpatch), 204,
            headers=req_headers(mpatch))
    t.check("metadata patched", "GET", mr["path"], status=200,
            expect={"data": {"custom_metadata": {"owner": "alice",
                                                 "team": "mcp"}}})
    # max_versions pruning: max_versions 5 on the key.
    for i in range(3):
        t.sim.req("POST", P, {"data": {"i": i}})
    st, got, _ = t.check("pruned", "GET", mr["path"], status=200)
    if got["data"]["oldest_version"] != 3 or \
            sorted(got["data"]["versions"], key=int) != ["3", "4", "5", "6", "7"]:
        raise Fail("max_versions pruning: %r" % got["data"])
    t.check("pruned read", "GET", P + "?version=1", status=404,
            expect={"errors": []})
    # Lists.
    t.sim.req("POST", "/v1/secret/data/mcp/alice/projects/x", {"data": {}})
    t.sim.req("POST", "/v1/secret/data/mcp/alice/zeta", {"data": {}})
    t.sim.req("POST", "/v1/secret/metadata/mcp/alice/empty",
              {"max_versions": 1})
    t.sim.req("DELETE", "/v1/secret/metadata/mcp/alice/empty")
    ls = t.ep(fam, "kv-list")
    t.check("list", "LIST", ls["path"], status=200, expect=ls["response"]["body"])
    t.check("list param", "GET", "/v1/secret/metadata/mcp/alice?list=true",
            status=200, expect=ls["response"]["body"])
    t.check("list empty", "LIST", "/v1/secret/metadata/mcp/nobody/", status=404,
            expect=ls["errors"][0]["body"])
    t.check("list leaf", "LIST", "/v1/secret/metadata/mcp/alice/notes",
            status=404, expect={"errors": []})
    t.check("list data/", "LIST", "/v1/secret/data/mcp/alice/", status=404)
    # Metadata delete removes all versions and the list entry.
    dm = t.ep(fam, "kv-delete-metadata")
    t.check("metadata delete", "DELETE", dm["path"], status=204)
    t.check("after metadata delete", "GET", P, status=404, expect={"errors": []})
    t.check("list after delete", "LIST", ls["path"], status=200,
            expect={"data": {"keys": ["projects/", "zeta"]}})
    t.check("metadata delete missing", "DELETE", dm["path"], status=204)
    # cas_required on the key, then on the mount config.
    t.check("cas req md", "POST", "/v1/secret/metadata/mcp/alice/c",
            {"cas_required": True}, 204)
    t.check("cas required", "POST", "/v1/secret/data/mcp/alice/c",
            {"data": {}}, 400, errs["cas absent but cas_required"]["body"])
    t.check("cas 0 on metadata-only", "POST", "/v1/secret/data/mcp/alice/c",
            {"data": {}, "options": {"cas": 0}}, 200)
    cfg = t.ep(fam, "kv-config")
    t.check("config", "GET", cfg["path"], status=200,
            expect=cfg["response"]["body"])
    t.check("config write", "POST", cfg["path"], {"max_versions": 3}, 204)
    t.check("config read", "GET", cfg["path"], status=200,
            expect={"data": {"max_versions": 3}})
    # Future deletion_time (delete_version_after) stays readable.
    t.check("dva", "POST", "/v1/secret/metadata/mcp/alice/dva",
            {"delete_version_after": "1h"}, 204)
    t.check("dva write", "POST", "/v1/secret/data/mcp/alice/dva",
            {"data": {"a": 1}}, 200)
    st, got, _ = t.check("dva read", "GET", "/v1/secret/data/mcp/alice/dva",
                         status=200)
    if not got["data"]["metadata"]["deletion_time"]:
        raise Fail("delete_version_after did not set deletion_time")
    # ACL create vs update on KV.
    t.policy("ro", 'path "secret/data/mcp/alice/*" { capabilities = ["read", "update"] }')
    tok = t.token(["ro"])
    t.check("update-only new", "POST", "/v1/secret/data/mcp/alice/new",
            {"data": {}}, 403, w["errors"][-1]["body"], token=tok)
    t.check("update-only existing", "POST", "/v1/secret/data/mcp/alice/zeta",
            {"data": {}}, 200, token=tok)
    t.check("patch needs patch", "PATCH", "/v1/secret/data/mcp/alice/zeta",
            {"data": {}}, 403, perr["token has update but not patch"]["body"],
            token=tok, headers=mp)
    # Values survive a round trip.
    val = {"s": "x", "n": 1, "f": 1.5, "b": True, "z": None, "a": [1, "2"],
           "o": {"p": {"q": []}}, "u": "\u00e9\u4e2d"}
    t.check("roundtrip write", "POST", "/v1/secret/data/rt", {"data": val}, 200)
    t.check("roundtrip read", "GET", "/v1/secret/data/rt", status=200,
            expect={"data": {"data": val}})


def suite_transit(t):
    fam = t.load("transit.json")
    t.mount("transit", "transit")
    kc = t.ep(fam, "transit-key-create")
    kerr = {x["case"]: x for x in kc["errors"]}
    # A key name ending in '.' (or starting with '-') matches no route
    # (CONTRACT 1.8): 404 unsupported path, and nothing is created.
    unsup = {"errors": ["1 error occurred:\n\t* unsupported path\n\n"]}
    for bad in ("/v1/transit/keys/dot.", "/v1/transit/keys/-dash",
                "/v1/transit/encrypt/dot.", "/v1/transit/sign/dot./sha2-256"):
        t.check("name " + bad, "POST", bad, {"plaintext": "aGk="}, 404,
                unsup)
    t.check("name dot. not created", "GET", "/v1/transit/keys/dot.",
            status=404)
    t.check("name a.b-c_d", "POST", "/v1/transit/keys/a.b-c_d", {}, 200)
    t.check("bad type", "POST", "/v1/transit/keys/bad", {"type": "foo"}, 400,
            kerr["unknown type"]["body"])
    t.check("conv no derive", "POST", "/v1/transit/keys/bad",
            {"convergent_encryption": True}, 400,
            kerr["convergent without derived"]["body"])
    t.check("create", "POST", kc["path"], req_body(kc), 200,
            kc["response"]["body"])
    st, got, _ = t.check("create again", "POST", kc["path"], req_body(kc), 200)
    if got["warnings"] != ["key mcp-alice already existed"]:
        raise Fail("existing key warning: %r" % got["warnings"])
    kr = t.ep(fam, "transit-key-read")
    t.check("read", "GET", kr["path"], status=200, expect=kr["response"]["body"])
    t.check("read missing", "GET", "/v1/transit/keys/nope", status=404,
            expect=kr["errors"][0]["body"])
    for typ, name in (("ed25519", "mcp-alice-sig"), ("ecdsa-p256", "mcp-alice-ec"),
                      ("rsa-2048", "mcp-alice-rsa")):
        t.check("create " + typ, "POST", "/v1/transit/keys/" + name,
                {"type": typ}, 200)
        t.check("read " + typ, "GET", "/v1/transit/keys/" + name, status=200,
                expect={"data": kr["asymmetric_examples"][typ]})
    st, got, _ = t.sim.req("GET", "/v1/transit/keys/mcp-alice-sig")
    if len(base64.b64decode(got["data"]["keys"]["1"]["public_key"])) != 32:
        raise Fail("ed25519 public key is not raw 32 bytes")
    enc = t.ep(fam, "transit-encrypt")
    st, got, _ = t.check("encrypt", "POST", enc["path"], req_body(enc), 200,
                         enc["response"]["body"])
    ct = got["data"]["ciphertext"]
    m = re.match(r"^vault:v1:([A-Za-z0-9+/=]+)$", ct)
    if not m or len(base64.b64decode(m.group(1))) != 5 + 28 or len(m.group(1)) != 44:
        raise Fail("ciphertext layout: %r" % ct)
    st, got, _ = t.sim.req("POST", enc["path"], {"plaintext": ""})
    if len(got["data"]["ciphertext"].split(":")[2]) != 40:
        raise Fail("empty plaintext ciphertext: %r" % got)
    b = enc["batch_example"]
    t.check("encrypt batch", "POST", enc["path"], b["request"], b["status"],
            b["body"])
    eerr = {x["case"]: x for x in enc["errors"]}
    t.check("enc missing", "POST", enc["path"], {}, 400,
            eerr["plaintext missing"]["body"])
    t.check("enc bad b64", "POST", enc["path"], {"plaintext": "aGk"}, 400,
            eerr["plaintext not std base64 (e.g. 'aGk' missing padding)"]["body"])
    for bad, off in (("aGk-", 3), ("aG k=", 2), ("a===", 1), ("aGk=aGk=", 4)):
        t.check("b64 " + bad, "POST", enc["path"], {"plaintext": bad}, 400,
                {"errors": ["illegal base64 data at input byte %d" % off]})
    t.check("b64 newline", "POST", enc["path"], {"plaintext": "aG\nk="}, 200)
    t.check("enc version", "POST", enc["path"],
            {"plaintext": "aGk=", "key_version": 9}, 400,
            eerr["key_version > latest"]["body"])
    t.check("enc ed25519", "POST", "/v1/transit/encrypt/mcp-alice-sig",
            {"plaintext": "aGk="}, 400,
            eerr["key type cannot encrypt (ed25519)"]["body"])
    t.check("enc nonce", "POST", enc["path"],
            {"plaintext": "aGk=", "nonce": "AAAAAAAAAAAAAAAA"}, 400,
            eerr["nonce supplied for non-convergent/convergent-v3 key"]["body"])
    t.check("derived key", "POST", "/v1/transit/keys/der",
            {"derived": True, "convergent_encryption": True}, 200)
    t.check("derived no ctx", "POST", "/v1/transit/encrypt/der",
            {"plaintext": "aGk="}, 400,
            eerr["derived key without context"]["body"])
    c1 = t.sim.req("POST", "/v1/transit/encrypt/der",
                   {"plaintext": "aGk=", "context": "YQ=="})[1]["data"]["ciphertext"]
    c2 = t.sim.req("POST", "/v1/transit/encrypt/der",
                   {"plaintext": "aGk=", "context": "YQ=="})[1]["data"]["ciphertext"]
    c3 = t.sim.req("POST", "/v1/transit/encrypt/der",
                   {"plaintext": "aGk=", "context": "Yg=="})[1]["data"]["ciphertext"]
    if c1 != c2 or c1 == c3:
        raise Fail("convergent encryption not deterministic per context")
    t.check("derived wrong ctx", "POST", "/v1/transit/decrypt/der",
            {"ciphertext": c1, "context": "Yg=="}, 400,
            {"errors": ["cipher: message authentication failed"]})
    t.check("derived ok", "POST", "/v1/transit/decrypt/der",
            {"ciphertext": c1, "context": "YQ=="}, 200,
            {"data": {"plaintext": "aGk="}})
    t.check("upsert", "POST", "/v1/transit/encrypt/upserted",
            {"plaintext": "aGk="}, 200)
    t.check("upserted", "GET", "/v1/transit/keys/upserted", status=200,
            expect={"data": {"type": "aes256-gcm96"}})
    dec = t.ep(fam, "transit-decrypt")
    t.check("decrypt", "POST", dec["path"], {"ciphertext": ct}, 200,
            dec["response"]["body"])
    t.check("decrypt canonical", "POST", dec["path"], {
        "ciphertext": t.sim.req("POST", enc["path"], {"plaintext": "aGl="})[1][
            "data"]["ciphertext"]}, 200, {"data": {"plaintext": "aGk="}})
    derr = {x["case"]: x for x in dec["errors"]}
    payload = ct.split(":")[2]
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    tampered = "vault:v1:" + base64.b64encode(bytes(raw)).decode()
    for case, body in [
            ("ciphertext missing", {}),
            ("no vault: prefix", {"ciphertext": "v1:" + payload}),
            ("'vault:v1' without second colon", {"ciphertext": "vault:v1"}),
            ("'vault:vX:...'", {"ciphertext": "vault:vX:" + payload}),
            ("version > latest", {"ciphertext": "vault:v7:" + payload}),
            ("payload not base64", {"ciphertext": "vault:v1:@@@"}),
            ("payload shorter than nonce", {"ciphertext": "vault:v1:AAAA"}),
            ("tampered / wrong key / wrong context", {"ciphertext": tampered})]:
        t.check("decrypt " + case, "POST", dec["path"], body, 400,
                derr[case]["body"])
    t.check("decrypt missing key", "POST", "/v1/transit/decrypt/nope",
            {"ciphertext": ct}, 400, derr["key missing"]["body"])
    rot = t.ep(fam, "transit-key-rotate")
    t.check("rotate", "POST", rot["path"], None, 200, rot["response"]["body"])
    t.check("rotate missing", "POST", "/v1/transit/keys/nope/rotate", None, 400,
            rot["errors"][0]["body"])
    rw = t.ep(fam, "transit-rewrap")
    st, got, _ = t.check("rewrap", "POST", rw["path"], {"ciphertext": ct}, 200,
                         rw["response"]["body"])
    t.check("decrypt rewrapped", "POST", dec["path"],
            {"ciphertext": got["data"]["ciphertext"]}, 200,
            dec["response"]["body"])
    t.check("config min_dec", "POST", "/v1/transit/keys/mcp-alice/config",
            {"min_decryption_version": 2}, 200)
    t.check("too old", "POST", dec["path"], {"ciphertext": ct}, 400,
            derr["version < min_decryption_version"]["body"])
    st, got, _ = t.check("decrypt batch", "POST", dec["path"], {
        "batch_input": [{"ciphertext": ct, "reference": "x"},
                        {"ciphertext": "vault:v2:@@", "reference": "y"}]}, 400)
    if got["data"]["batch_results"][1]["reference"] != "y" or \
            "error" not in got["data"]["batch_results"][1]:
        raise Fail("decrypt batch: %r" % got)
    t.check("ctx mix", "POST", enc["path"], {"batch_input": [
        {"plaintext": "aGk=", "context": "YQ=="}, {"plaintext": "aGk="}]}, 400,
        {"errors": ["context should be set either in all the request blocks "
                    "or in none"]})
    t.check("empty batch", "POST", enc["path"], {"batch_input": []}, 400,
            {"errors": ["missing batch input to process"]})
    # Signatures.
    for ident, name in (("transit-sign-ed25519", "mcp-alice-sig"),
                        ("transit-sign-ecdsa-p256", "mcp-alice-ec"),
                        ("transit-sign-rsa-2048", "mcp-alice-rsa")):
        e = t.ep(fam, ident)
        st, got, _ = t.check(ident, "POST", e["path"], req_body(e), 200,
                             e["response"]["body"])
        sig = got["data"]["signature"]
        want = e["response"]["body"]["data"]["signature"]
        if len(sig) != len(want) and "ecdsa" not in ident:
            raise Fail("%s signature length %d != %d" % (ident, len(sig),
                                                         len(want)))
        vb = dict(req_body(e))
        vb["signature"] = sig
        t.check(ident + " verify", "POST", e["path"].replace("/sign/", "/verify/"),
                vb, 200, {"data": {"valid": True}})
        vb["input"] = base64.b64encode(b"other").decode()
        t.check(ident + " verify wrong", "POST",
                e["path"].replace("/sign/", "/verify/"), vb, 200,
                {"data": {"valid": False}})
        st, got, _ = t.check(ident + " jws", "POST", e["path"],
                             {"input": "c2lnbiBtZQ==",
                              "marshaling_algorithm": "jws"}, 200)
        js = got["data"]["signature"]
        if "=" in js or "+" in js or "/" in js[9:]:
            raise Fail("jws not unpadded base64url: %r" % js)
        if "ecdsa" in ident and len(js) != 9 + 86:
            raise Fail("ecdsa jws length %d" % len(js))
        t.check(ident + " jws verify", "POST",
                e["path"].replace("/sign/", "/verify/"),
                {"input": "c2lnbiBtZQ==", "marshaling_algorithm": "jws",
                 "signature": js}, 200, {"data": {"valid": True}})
    e = t.ep(fam, "transit-sign-ecdsa-p256")
    st, got, _ = t.sim.req("POST", e["path"], req_body(e))
    der = base64.b64decode(got["data"]["signature"].split(":")[2])
    if der[0] != 0x30 or not 68 <= len(der) <= 72:
        raise Fail("ecdsa asn1 not DER")
    # RSA pkcs1v15 + hash in URL, and prehashed.
    st, got, _ = t.check("rsa pkcs1", "POST",
                         "/v1/transit/sign/mcp-alice-rsa/sha2-512",
                         {"input": "aGk=", "signature_algorithm": "pkcs1v15"},
                         200)
    t.check("rsa pkcs1 verify", "POST",
            "/v1/transit/verify/mcp-alice-rsa/sha2-512",
            {"input": "aGk=", "signature_algorithm": "pkcs1v15",
             "signature": got["data"]["signature"]}, 200,
            {"data": {"valid": True}})
    t.check("rsa pkcs1 verify as pss", "POST",
            "/v1/transit/verify/mcp-alice-rsa/sha2-512",
            {"input": "aGk=", "signature": got["data"]["signature"]}, 200,
            {"data": {"valid": False}})
    digest = base64.b64encode(hashlib.sha256(b"hi").digest()).decode()
    st, got, _ = t.check("prehashed", "POST", "/v1/transit/sign/mcp-alice-ec",
                         {"input": digest, "prehashed": True}, 200)
    t.check("prehashed verify", "POST", "/v1/transit/verify/mcp-alice-ec",
            {"input": "aGk=", "signature": got["data"]["signature"]}, 200,
            {"data": {"valid": True}})
    se = {x["case"]: x for x in t.ep(fam, "transit-sign-errors")["errors"]}
    for case, path, body in [
            ("key missing", "/v1/transit/sign/nope", {"input": "aGk="}),
            ("aes key", "/v1/transit/sign/mcp-alice", {"input": "aGk="}),
            ("bad hash_algorithm", "/v1/transit/sign/mcp-alice-ec",
             {"input": "aGk=", "hash_algorithm": "md5"}),
            ("bad marshaling_algorithm", "/v1/transit/sign/mcp-alice-ec",
             {"input": "aGk=", "marshaling_algorithm": "der"}),
            ("input not base64", "/v1/transit/sign/mcp-alice-ec",
             {"input": "@@@"}),
            ("hash_algorithm=none without prehashed+pkcs1v15",
             "/v1/transit/sign/mcp-alice-rsa",
             {"input": "aGk=", "hash_algorithm": "none"})]:
        t.check("sign " + case, "POST", path, body, 400, se[case]["body"])
    v = t.ep(fam, "transit-verify")
    verr = {x["case"]: x for x in v["errors"]}
    sig = t.sim.req("POST", "/v1/transit/sign/mcp-alice-ec",
                    {"input": "aGk="})[1]["data"]["signature"]
    for case, path, body in [
            ("neither signature nor hmac", "/v1/transit/verify/mcp-alice-ec",
             {"input": "aGk="}),
            ("both signature and hmac", "/v1/transit/verify/mcp-alice-ec",
             {"input": "aGk=", "signature": sig, "hmac": "vault:v1:x"}),
            ("signature without prefix", "/v1/transit/verify/mcp-alice-ec",
             {"input": "aGk=", "signature": sig[6:]}),
            ("signature payload not decodable in the selected marshaling",
             "/v1/transit/verify/mcp-alice-ec",
             {"input": "aGk=", "signature": "vault:v1:@@@"}),
            ("asn1 payload not DER", "/v1/transit/verify/mcp-alice-ec",
             {"input": "aGk=", "signature": "vault:v1:AAAA"}),
            ("key missing", "/v1/transit/verify/nope",
             {"input": "aGk=", "signature": sig})]:
        t.check("verify " + case, "POST", path, body, 400, verr[case]["body"])
    st, got, _ = t.check("sign batch", "POST", "/v1/transit/sign/mcp-alice-ec", {
        "batch_input": [{"input": "aGk=", "reference": "a"},
                        {"input": "@", "reference": "b"}]}, 200)
    if "error" not in got["data"]["batch_results"][1]:
        raise Fail("sign batch item error missing")
    # HMAC and hash.
    h = t.ep(fam, "transit-hmac")
    st, got, _ = t.check("hmac", "POST", h["path"], req_body(h), 200,
                         h["response"]["body"])
    mac = got["data"]["hmac"]
    st, got2, _ = t.check("hmac again", "POST", h["path"], req_body(h), 200)
    if got2["data"]["hmac"] != mac or len(base64.b64decode(mac.split(":")[2])) != 32:
        raise Fail("hmac not deterministic 32 bytes")
    t.check("hmac verify", "POST", "/v1/transit/verify/mcp-alice",
            {"input": "aGVsbG8=", "hmac": mac}, 200, {"data": {"valid": True}})
    st, got, _ = t.check("hmac 512", "POST", h["alt_path"], {"input": "aGk="}, 200)
    if len(base64.b64decode(got["data"]["hmac"].split(":")[2])) != 64:
        raise Fail("sha2-512 hmac length")
    herr = {x["case"]: x for x in h["errors"]}
    t.check("hmac missing", "POST", "/v1/transit/hmac/nope", {"input": "aGk="},
            400, herr["key missing (no upsert)"]["body"])
    t.check("hmac bad alg", "POST", h["path"], {"input": "aGk=",
                                               "algorithm": "md5"}, 400,
            herr["bad algorithm"]["body"])
    hs = t.ep(fam, "transit-hash")
    t.check("hash", "POST", hs["path"], req_body(hs), 200, hs["response"]["body"])
    t.check("hash sys", "POST", hs["alt_path"], req_body(hs), 200,
            hs["response"]["body"])
    hse = {x["case"]: x for x in hs["errors"]}
    t.check("hash missing", "POST", "/v1/transit/hash", {}, 400,
            hse["input missing"]["body"])
    t.check("hash alg", "POST", "/v1/transit/hash/md5", {"input": "aGk="}, 400,
            hse["bad algorithm"]["body"])
    t.check("hash format", "POST", "/v1/transit/hash", {"input": "aGk=",
                                                        "format": "xml"}, 400,
            hse["bad format"]["body"])
    rnd = t.ep(fam, "random-sys")
    for p in [rnd["path"]] + rnd["alt_paths"]:
        t.check("random " + p, "POST", p, req_body(rnd), 200)
    st, got, _ = t.check("random hex", "POST", rnd["path"],
                         rnd["hex_example"]["request_body"], 200)
    if not re.match("^[0-9a-f]{16}$", got["data"]["random_bytes"]):
        raise Fail("random hex: %r" % got)
    re_ = {x["case"]: x for x in rnd["errors"]}
    t.check("random GET", "GET", rnd["path"], status=405,
            expect=re_["GET (root token)"]["body"])
    t.check("random 0", "POST", rnd["path"], {"bytes": 0}, 400,
            re_["bytes < 1"]["body"])
    t.check("random big", "POST", rnd["path"], {"bytes": 131073}, 400,
            re_["bytes > 131072"]["body"])
    t.check("random fmt", "POST", rnd["path"], {"format": "b32"}, 400,
            re_["bad format"]["body"])
    t.check("random url", "POST", "/v1/sys/tools/random/platform/abc", {}, 400,
            re_["non-numeric URL bytes e.g. /random/platform/abc"]["body"])
    # Upsert needs create; update-only tokens get 403.
    t.policy("upd", 'path "transit/encrypt/newkey" { capabilities = ["update"] }')
    tok = t.token(["upd"])
    t.check("upsert denied", "POST", "/v1/transit/encrypt/newkey",
            {"plaintext": "aGk="}, 403,
            eerr["key missing and token has only update"]["body"], token=tok)
    t.check("405 delete encrypt", "DELETE", "/v1/transit/encrypt/mcp-alice",
            status=405)


def suite_database(t):
    fam = t.load("database-leases.json")
    t.mount("database", "database")
    setup = t.ep(fam, "db-setup")
    for r in setup["requests"]:
        t.check("setup " + r["path"], r["method"], r["path"], r["body"])
    cr = t.ep(fam, "db-creds")
    st, got, _ = t.check("creds", "GET", cr["path"], status=200,
                         expect=cr["response"]["body"])
    lease = got["lease_id"]
    pw = got["data"]["password"]
    if not (len(pw) == 20 and re.search("[a-z]", pw) and re.search("[A-Z]", pw)
            and re.search("[0-9]", pw) and "-" in pw):
        raise Fail("password policy: %r" % pw)
    if not re.match(r"^database/creds/readonly/[A-Za-z0-9]{24}$", lease):
        raise Fail("lease id %r" % lease)
    cerr = {x["case"]: x for x in cr["errors"]}
    t.check("unknown role", "GET", "/v1/database/creds/nosuch", status=400,
            expect=cerr["unknown role"]["body"])
    t.check("role2", "POST", "/v1/database/roles/other",
            {"db_name": "pg", "creation_statements": ["x"]}, 204)
    t.check("not allowed", "GET", "/v1/database/creds/other", status=500,
            expect={"errors": ["1 error occurred:\n\t* \"other\" is not an "
                               "allowed role\n\n"]})
    rn = t.ep(fam, "lease-renew")
    body = dict(req_body(rn))
    body["lease_id"] = lease
    exp = json.loads(json.dumps(rn["response"]["body"]))
    t.check("renew", "PUT", rn["path"], body, 200, exp)
    st, got, _ = t.sim.req("PUT", rn["path"], body)
    if got["lease_id"] != lease:
        raise Fail("renew changed lease id")
    t.check("renew url", "PUT", "/v1/sys/leases/renew/" + lease, {}, 200,
            {"lease_id": lease, "lease_duration": 3600})
    st, got, _ = t.check("renew cap", "PUT", rn["path"],
                         {"lease_id": lease, "increment": "100h"}, 200)
    if got["lease_duration"] > 24 * 3600 or not got["warnings"]:
        raise Fail("renew cap: %r" % got)
    rerr = {x["case"]: x for x in rn["errors"]}
    t.check("renew missing", "PUT", rn["path"], {}, 400,
            rerr["lease_id missing"]["body"])
    t.check("renew unknown", "PUT", rn["path"],
            {"lease_id": "database/creds/readonly/nope"}, 400,
            rerr["unknown or revoked lease"]["body"])
    lk = t.ep(fam, "lease-lookup")
    t.check("lookup", "PUT", lk["path"], {"lease_id": lease}, 200,
            {"data": {"id": lease, "path": "database/creds/readonly",
                      "renewable": True}})
    t.check("lookup unknown", "PUT", lk["path"], {"lease_id": "x/y"}, 400,
            lk["errors"][0]["body"])
    rv = t.ep(fam, "lease-revoke")
    t.check("revoke", "PUT", rv["path"], {"lease_id": lease}, 204)
    t.check("renew revoked", "PUT", rn["path"], {"lease_id": lease}, 400,
            rerr["unknown or revoked lease"]["body"])
    t.check("revoke unknown", "PUT", rv["path"], {"lease_id": lease}, 204)
    lease2 = t.sim.req("GET", cr["path"])[1]["lease_id"]
    t.check("revoke async", "PUT", rv["path"],
            {"lease_id": lease2, "sync": False}, 202, "")
    t.check("revoke missing", "PUT", rv["path"], {}, 400,
            rv["errors"][0]["body"])
    # Leases die with the token that created them (and its ancestors).
    t.policy("dbuser", 'path "database/creds/readonly" { capabilities = ["read"] }\n'
             'path "auth/token/create" { capabilities = ["update"] }')
    parent = t.token(["dbuser"])
    child = t.sim.req("POST", "/v1/auth/token/create", {}, token=parent)[1][
        "auth"]["client_token"]
    st, got, _ = t.check("child creds", "GET", cr["path"], status=200,
                         token=child)
    cl = got["lease_id"]
    t.check("revoke parent", "POST", "/v1/auth/token/revoke", {"token": parent},
            204)
    t.check("lease gone", "PUT", lk["path"], {"lease_id": cl}, 400,
            lk["errors"][0]["body"])
    lease_dies_with_expiring_token(t, cr["path"], lk)
    # Non-renewable SSH-style lease path handled in the ssh suite.
    t.check("no read on creds", "GET", cr["path"], status=403,
            token=t.token(["default"]), expect=cerr["token lacks read"]["body"])
    t.check("revoke needs policy", "PUT", rv["path"], {"lease_id": "x"}, 403,
            token=t.token(["default"]))
    # num_uses: a lease on the last use is revoked and withheld.
    one = t.token(["dbuser"], num_uses=1)
    st, got, _ = t.check("last use", "GET", cr["path"], status=400, token=one)
    if "Secret cannot be returned" not in got["errors"][0]:
        raise Fail("last-use lease: %r" % got)


def lease_dies_with_expiring_token(t, creds_path, lk):
    """Expiry, not only revocation, ends a token's leases (vault/expiration.go
    RevokeByToken via token_store.go revokeTreeInternal): a 1h lease made
    under a 3s token, or under the child of a 3s token, is gone once that
    token expired, with nobody calling in between; a lease made under an
    orphan token (no_parent, sudo) outlives it and stays renewable. This is
    why the bridge issues database credentials under a lease token."""
    t.policy("dbshort", 'path "database/creds/readonly" { capabilities = ["read"] }\n'
             'path "auth/token/create" { capabilities = ["update", "sudo"] }\n'
             'path "sys/leases/renew" { capabilities = ["update"] }')
    short = t.token(["dbshort"], ttl="3s")
    sub = t.sim.req("POST", "/v1/auth/token/create", {"ttl": "1h"}, token=short)[1]
    orphan = t.sim.req("POST", "/v1/auth/token/create",
                       {"ttl": "1h", "no_parent": True}, token=short)[1]
    if not orphan["auth"]["orphan"] or sub["auth"]["orphan"]:
        raise Fail("orphan flags %r %r" % (sub["auth"], orphan["auth"]))
    leases = {}
    for name, tok in (("short", short), ("child of short", sub["auth"]["client_token"]),
                      ("orphan", orphan["auth"]["client_token"])):
        st, got, _ = t.sim.req("GET", creds_path, token=tok)
        if st != 200 or got["lease_duration"] != 3600:
            raise Fail("creds under the %s token: %d %r" % (name, st, got))
        leases[name] = got["lease_id"]
    t0 = time.monotonic()

    def alive(lease):
        # the root token looks up, so only the timer and the sweep can act
        return t.sim.req("PUT", lk["path"], {"lease_id": lease})[0] == 200

    # Event: the short token's lease disappears; poll, bounded well above 3s.
    while alive(leases["short"]):
        if time.monotonic() - t0 > 20:
            raise Fail("a lease outlived its expired 3s token by %.0fs"
                       % (time.monotonic() - t0))
        time.sleep(0.2)
    if alive(leases["child of short"]):
        raise Fail("a lease made under a child of the expired token survived")
    if not alive(leases["orphan"]):
        raise Fail("the orphan token's lease died with the other token")
    t.check("orphan's lease renews", "PUT", "/v1/sys/leases/renew",
            {"lease_id": leases["orphan"], "increment": 600}, 200,
            {"lease_id": leases["orphan"], "lease_duration": 600})
    t.check("orphan token lives", "GET", "/v1/auth/token/lookup-self",
            token=orphan["auth"]["client_token"], status=200)


def ssh_keygen_available():
    from shutil import which
    return which("ssh-keygen") is not None


def suite_ssh(t):
    fam = t.load("ssh.json")
    t.mount("ssh", "ssh")
    setup = t.ep(fam, "ssh-setup")
    for r in setup["requests"]:
        exp = {"data": {"public_key": r["response_data"]["public_key"]}} \
            if "response_data" in r else None
        t.check("setup " + r["path"], r["method"], r["path"], r["body"],
                r["status"], exp)
    otp = t.ep(fam, "ssh-otp")
    st, got, _ = t.check("otp", "POST", otp["path"], req_body(otp), 200,
                         otp["response"]["body"])
    if not re.match(r"^ssh/creds/otp_role/[A-Za-z0-9]{24}$", got["lease_id"]):
        raise Fail("otp lease id %r" % got["lease_id"])
    st, got2, _ = t.check("otp port ignored", "POST", otp["path"],
                          {"ip": "10.0.0.5", "port": 2222}, 200,
                          {"data": {"port": 22}})
    if got2["warnings"] != ["Endpoint ignored these unrecognized parameters: "
                            "[port]"]:
        raise Fail("port warning: %r" % got2["warnings"])
    t.check("otp renew", "PUT", "/v1/sys/leases/renew",
            {"lease_id": got["lease_id"]}, 400,
            {"errors": ["lease is not renewable"]})
    t.check("otp verify", "POST", "/v1/ssh/verify",
            {"otp": got["data"]["key"]}, 200,
            {"data": {"ip": "10.0.0.5", "username": "ubuntu",
                      "role_name": "otp_role"}}, token=None)
    oerr = {x["case"]: x for x in otp["errors"]}
    for case, path, body in [
            ("ip missing", otp["path"], {}),
            ("unknown role", "/v1/ssh/creds/nosuch", {"ip": "10.0.0.5"}),
            ("ip unparsable", otp["path"], {"ip": "10.0.0"}),
            ("ip outside role cidr_list", otp["path"], {"ip": "192.168.1.1"}),
            ("username not default and no allowed_users", otp["path"],
             {"ip": "10.0.0.5", "username": "root"})]:
        t.check("otp " + case, "POST", path, body, 400, oerr[case]["body"])
    t.check("otp role allowed", "POST", "/v1/ssh/roles/otp2",
            {"key_type": "otp", "default_user": "ubuntu",
             "cidr_list": "10.0.0.0/8", "allowed_users": "alice"}, 204)
    t.check("otp not allowed", "POST", "/v1/ssh/creds/otp2",
            {"ip": "10.0.0.5", "username": "bob"}, 400,
            oerr["username not in allowed_users"]["body"])
    sg = t.ep(fam, "ssh-sign")
    st, got, _ = t.check("sign", "POST", sg["path"], req_body(sg), 200,
                         sg["response"]["body"])
    signed = got["data"]["signed_key"]
    if not signed.endswith("\n") or not signed.startswith(
            "ssh-ed25519-cert-v01@openssh.com AAAA") or signed.count(" ") != 1:
        raise Fail("signed_key format: %r" % signed[:60])
    if not re.match("^[0-9a-f]+$", got["data"]["serial_number"]) or \
            got["data"]["serial_number"].startswith("0"):
        raise Fail("serial %r" % got["data"]["serial_number"])
    if got["lease_id"] != "" or got["lease_duration"] != 0:
        raise Fail("ssh sign must not lease")
    serr = {x["case"]: x for x in sg["errors"]}
    base = req_body(sg)
    for case, body in [
            ("public_key missing", {}),
            ("public_key unparsable", {"public_key": "ssh-ed25519 @@@"}),
            ("principal not in allowed_users", dict(base, valid_principals="root")),
            ("cert_type host on user-only role", dict(base, cert_type="host")),
            ("cert_type invalid", dict(base, cert_type="x")),
            ("key_id given, role allow_user_key_ids=false", dict(base, key_id="k")),
            ("explicit ttl above role max_ttl (1h)", dict(base, ttl="2h"))]:
        t.check("sign " + case, "POST", sg["path"], body, 400,
                serr[case]["body"])
    t.check("sign unknown role", "POST", "/v1/ssh/sign/nosuch", base, 400,
            serr["unknown role"]["body"])
    t.check("role noprinc", "POST", "/v1/ssh/roles/np",
            {"key_type": "ca", "allow_user_certificates": True,
             "allowed_users": "*"}, 204)
    t.check("sign no principals", "POST", "/v1/ssh/sign/np",
            {"public_key": base["public_key"]}, 400,
            serr["no principals, no default_user, allow_empty_principals=false"][
                "body"])
    if not ssh_keygen_available():
        print("note: ssh-keygen missing; certificate parsing not checked")
        return
    st, capub, _ = t.sim.req("GET", "/v1/ssh/public_key", token=None)
    with tempfile.TemporaryDirectory() as d:
        for kt in ("ed25519", "rsa", "ecdsa"):
            kp = os.path.join(d, "id_" + kt)
            subprocess.run(["ssh-keygen", "-q", "-t", kt, "-N", "", "-f", kp],
                           check=True)
            with open(kp + ".pub") as f:
                pub = f.read().strip()
            st, got, _ = t.check("sign " + kt, "POST", sg["path"], {
                "public_key": pub, "valid_principals": "ubuntu,alice",
                "critical_options": {}}, 200)
            cert = kp + "-cert.pub"
            with open(cert, "w") as f:
                f.write(got["data"]["signed_key"])
            out = subprocess.run(["ssh-keygen", "-L", "-f", cert],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise Fail("ssh-keygen -L rejected the %s cert: %s" % (
                    kt, out.stderr))
            capath = os.path.join(d, "ca.pub")
            with open(capath, "w") as f:
                f.write(capub)
            fp = subprocess.run(["ssh-keygen", "-l", "-f", capath],
                                capture_output=True, text=True).stdout.split()[1]
            if fp not in out.stdout or "ubuntu" not in out.stdout or \
                    "permit-pty" not in out.stdout or \
                    "user certificate" not in out.stdout:
                raise Fail("cert contents: %s" % out.stdout)
            t.passed += 1
        # An RSA CA signs with rsa-sha2-256 and still verifies.
        t.mount("ssh2", "ssh")
        t.check("rsa ca", "POST", "/v1/ssh2/config/ca",
                {"generate_signing_key": True, "key_type": "ssh-rsa",
                 "key_bits": 2048}, 200)
        t.check("rsa role", "POST", "/v1/ssh2/roles/r",
                {"key_type": "ca", "allow_user_certificates": True,
                 "allowed_users": "*", "default_user": "ubuntu"}, 204)
        st, got, _ = t.check("rsa sign", "POST", "/v1/ssh2/sign/r",
                             {"public_key": pub}, 200)
        with open(cert, "w") as f:
            f.write(got["data"]["signed_key"])
        out = subprocess.run(["ssh-keygen", "-L", "-f", cert],
                             capture_output=True, text=True)
        if out.returncode != 0 or "rsa-sha2-256" not in out.stdout:
            raise Fail("rsa CA cert: %s %s" % (out.stdout, out.stderr))


def suite_provision(t, script):
    env = dict(os.environ, VAULT_ADDR="http://127.0.0.1:%d" % t.sim.port,
               VAULT_TOKEN=ROOT)
    for i in range(2):
        out = subprocess.run(["bash", script], env=env, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise Fail("provision run %d failed: %s %s" % (i, out.stdout,
                                                           out.stderr))
        t.passed += 1
    t.check("kv", "GET", "/v1/sys/mounts", status=200)
    for k, typ in (("mcp-default", "aes256-gcm96"), ("mcp-signing", "ed25519")):
        t.check(k, "GET", "/v1/transit/keys/" + k, status=200,
                expect={"data": {"type": typ}})
    t.check("db role", "GET", "/v1/database/roles/readonly", status=200)
    t.check("otp_role", "GET", "/v1/ssh/roles/otp_role", status=200,
            expect={"data": {"key_type": "otp", "cidr_list": "127.0.0.0/8",
                             "default_user": "ubuntu"}})
    t.check("ca_role", "GET", "/v1/ssh/roles/ca_role", status=200,
            expect={"data": {"key_type": "ca", "allow_user_certificates": True,
                             "allowed_users": "ubuntu,agent_api,agent_jwt,"
                             "agent_mtls,agent_alice,agent_bob",
                             "default_user": "ubuntu"}})
    t.check("approle", "GET", "/v1/auth/approle/role/mcp-bridge", status=200)
    for s in ("agent_api", "agent_jwt", "agent_mtls", "agent_alice", "agent_bob"):
        tok = t.token(["mcp-agent-" + s])
        base = "/v1/secret/data/mcp/%s/x" % s
        t.check(s + " write", "POST", base, {"data": {"a": 1}}, 200, token=tok)
        t.check(s + " read", "GET", base, status=200, token=tok)
        t.check(s + " list", "LIST", "/v1/secret/metadata/mcp/%s/" % s,
                status=200, token=tok)
        t.check(s + " other", "GET", "/v1/secret/data/mcp/other/x", status=403,
                token=tok)
        t.check(s + " encrypt", "POST", "/v1/transit/encrypt/mcp-default",
                {"plaintext": "aGk="}, 200, token=tok)
        t.check(s + " sign", "POST", "/v1/transit/sign/mcp-signing",
                {"input": "aGk="}, 200, token=tok)
        st, got, _ = t.check(s + " db", "GET", "/v1/database/creds/readonly",
                             status=200, token=tok)
        t.check(s + " renew", "PUT", "/v1/sys/leases/renew",
                {"lease_id": got["lease_id"]}, 200, token=tok)
        t.check(s + " revoke", "PUT", "/v1/sys/leases/revoke",
                {"lease_id": got["lease_id"]}, 204, token=tok)
        t.check(s + " otp", "POST", "/v1/ssh/creds/otp_role",
                {"ip": "127.0.0.1"}, 200, token=tok)
    # The bridge's AppRole login works and can mint agent tokens.
    rid = t.sim.req("GET", "/v1/auth/approle/role/mcp-bridge/role-id")[1][
        "data"]["role_id"]
    sid = t.sim.req("POST", "/v1/auth/approle/role/mcp-bridge/secret-id")[1][
        "data"]["secret_id"]
    st, got, _ = t.check("bridge login", "POST", "/v1/auth/approle/login",
                         {"role_id": rid, "secret_id": sid}, 200, token=None)
    bt = got["auth"]["client_token"]
    t.check("bridge mints", "POST", "/v1/auth/token/create",
            {"policies": ["mcp-agent-agent_bob"], "ttl": "10m"}, 200, token=bt)


def suite_hostile(t):
    t.mount("transit", "transit")
    t.sim.req("POST", "/v1/transit/keys/k", {})
    bodies = [b"{", b"[]", b"null", b"\"x\"", b"123", b"{\"a\":}",
              b"{\"data\": {\"a\": 1}} trailing", b"\xff\xfe\x00",
              b"{" * 5000 + b"}" * 5000, b"{\"data\":" * 300 + b"1" + b"}" * 300]
    for b in bodies:
        st, got, _ = t.sim.req("POST", "/v1/secret/data/h", raw=b,
                               headers={"Content-Type": "application/json"})
        if st != 400:
            raise Fail("malformed body %r -> %d %r" % (b[:20], st, got))
        t.passed += 1
    for pt in ("", "=", "==", "a", "ab=", "abc", "@", "a b c d", "aGk=\x00",
               "-_-_", "aGk==", "a" * 10001):
        st, got, _ = t.sim.req("POST", "/v1/transit/encrypt/k",
                               {"plaintext": pt})
        if st not in (200, 400):
            raise Fail("plaintext %r -> %d" % (pt, st))
        t.passed += 1
    for ct in ("vault:", "vault:v", "vault:v:", "vault:v-1:AAAA",
               "vault:v99999999999999999999:AAAA", "vault:v1:" + "A" * 100,
               "vault:v0:AAAA", ":::", "vault:v1:====", "x" * 10000):
        st, got, _ = t.sim.req("POST", "/v1/transit/decrypt/k",
                               {"ciphertext": ct})
        if st != 400:
            raise Fail("ciphertext %r -> %d %r" % (ct, st, got))
        t.passed += 1
    for method in ("COPY", "TRACE", "PROPFIND", "OPTIONS", "FOO"):
        st, got, _ = t.sim.req(method, "/v1/secret/data/x")
        if st != 405:
            raise Fail("verb %s -> %d" % (method, st))
        t.passed += 1
    for path in ("/v1/", "/v1//", "/v1/../../etc/passwd", "/v1/secret/../sys/seal",
                 "/v1/%00", "/v1/secret/data/" + "a/" * 2000 + "b",
                 "/v1/sys/policies/acl/" + "x" * 5000, "/", "/ui/",
                 "/v1/sys/mounts/%2e%2e", "/v1/transit/keys/%ff%fe",
                 "/v1/auth/token/lookup-self/extra", "/v1/sys/leases/lookup/"):
        st, got, _ = t.sim.req("GET", path)
        if st >= 500:
            raise Fail("path %r -> %d" % (path[:40], st))
        t.passed += 1
    odd = [{"policies": {"a": 1}}, {"ttl": "forever"}, {"num_uses": "x"},
           {"meta": [1]}, {"meta": {"a": {"b": 1}}}, {"renewable": "maybe"},
           {"policies": [[1]]}, {"display_name": "\u0000\u00ff" * 100}]
    for b in odd:
        st, got, _ = t.sim.req("POST", "/v1/auth/token/create", b)
        if st >= 500:
            raise Fail("token create %r -> %d" % (b, st))
        t.passed += 1
    for b in [{"data": []}, {"data": "x"}, {"data": {}, "options": []},
              {"data": {}, "options": {"cas": [1]}}, {"versions": {"a": 1}}]:
        for p in ("/v1/secret/data/o", "/v1/secret/destroy/o"):
            st, got, _ = t.sim.req("POST", p, b)
            if st >= 500:
                raise Fail("kv %r -> %d" % (b, st))
            t.passed += 1
    for pol in ('path', 'path "a" {', 'path "a" { capabilities = "read" }',
                '{"path": 1}', '{"path": {"a": 1}}', '"', '/* unterminated',
                'path "a" { capabilities = ["read",,] }', "\x00" * 10):
        st, got, _ = t.sim.req("PUT", "/v1/sys/policies/acl/h", {"policy": pol})
        if st not in (204, 400):
            raise Fail("policy %r -> %d" % (pol, st))
        t.passed += 1
    # Huge bodies: refused with 413, declared or streamed.
    c = http.client.HTTPConnection("127.0.0.1", t.sim.port, timeout=60)
    c.putrequest("POST", "/v1/secret/data/big")
    c.putheader("X-Vault-Token", ROOT)
    c.putheader("Content-Length", str(40 * 1024 * 1024))
    c.endheaders()
    try:
        r = c.getresponse()
        st = r.status
        r.read()
    except (ConnectionError, http.client.HTTPException):
        st = 413
    c.close()
    if st != 413:
        raise Fail("declared huge body -> %d" % st)
    t.passed += 1
    big = b'{"data":{"a":"' + b"x" * (33 * 1024 * 1024) + b'"}}'
    try:
        st, got, _ = t.sim.req("POST", "/v1/secret/data/big", raw=big,
                               headers={"Content-Type": "application/json"})
    except (ConnectionError, http.client.HTTPException):
        st = 413
    if st != 413:
        raise Fail("33 MiB body -> %d" % st)
    t.passed += 1
    ok = b'{"data":{"a":"' + b"x" * (2 * 1024 * 1024) + b'"}}'
    t.check("2 MiB body", "POST", "/v1/secret/data/big", raw=ok,
            headers={"Content-Type": "application/json"}, status=200)
    # Raw garbage on a socket must not hurt the server.
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n",
                 b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n" + b"X: " +
                 b"a" * 100000 + b"\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", t.sim.port), 5)
        s.sendall(junk)
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()
        t.passed += 1
    t.check("still healthy", "GET", "/v1/sys/health", status=200)
    # Absurd durations and numbers must neither overflow nor trap (the
    # suites also run under UBSan, where either would abort the server).
    t.check("huge wrap TTL", "GET", "/v1/secret/data/big",
            headers={"X-Vault-Wrap-TTL": "9223372036854775807"}, status=400,
            expect={"errors": ['error parsing X-Vault-Wrap-TTL header: time: '
                               'invalid duration "9223372036854775807"']})
    st, got, _ = t.check("largest accepted wrap TTL", "GET",
                         "/v1/secret/data/big", status=200,
                         headers={"X-Vault-Wrap-TTL": "9223372036"})
    t.check("unwrap it", "POST", "/v1/sys/wrapping/unwrap",
            {"token": got["wrap_info"]["token"]}, 200)
    t.check("huge delete_version_after", "POST", "/v1/secret/config",
            {"delete_version_after": 9223372036854775807}, 204)
    st, got, _ = t.check("write under it", "POST", "/v1/secret/data/dva",
                         {"data": {"a": 1}}, 200)
    if not got["data"]["deletion_time"].startswith("9999-12-31T23:59:59"):
        raise Fail("saturated deletion_time: %r" % got["data"])
    t.check("reset delete_version_after", "POST", "/v1/secret/config",
            {"delete_version_after": 0}, 204)
    for v in (1e300, -1e300):
        t.check("ttl %r" % v, "POST", "/v1/auth/token/create",
                {"ttl": v}, 400)
        t.check("cas %r" % v, "POST", "/v1/secret/data/cas",
                {"options": {"cas": v}, "data": {"a": 1}}, 400)
    t.check("still healthy after absurd numbers", "GET", "/v1/sys/health",
            status=200)


SUITES = {
    "common": suite_common, "sys": suite_sys, "auth-token": suite_token,
    "auth-approle": suite_approle, "acl-policies": suite_acl,
    "kv-v2": suite_kv, "transit": suite_transit,
    "database-leases": suite_database, "ssh": suite_ssh,
    "provision": None, "hostile": suite_hostile,
    "wrapping": fidelity.suite_wrapping,
    "fidelity": fidelity.suite_fidelity,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--suite", required=True, choices=sorted(SUITES))
    ap.add_argument("--script")
    a = ap.parse_args()
    if not os.path.isdir(a.samples) or not os.path.exists(
            os.path.join(a.samples, "common.json")):
        print("FAIL: samples directory %s is missing (the repository "
              "copy lives in tests/data/vault-api/samples)" % a.samples)
        return 1
    sim = Sim(a.sim)
    t = Suite(sim, a.samples)
    try:
        sim.start()
        if a.suite == "provision":
            suite_provision(t, a.script)
        else:
            SUITES[a.suite](t)
        sim.stop()
    except Fail as f:
        print("FAIL [%s] after %d checks: %s" % (a.suite, t.passed, f))
        if sim.proc and sim.proc.poll() is None:
            sim.proc.kill()
            sim.proc.wait()
        return 1
    print("PASS [%s] %d checks" % (a.suite, t.passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
