#!/usr/bin/env python3
"""End-to-end tests of the operations (issue 5): the bridge's FastCGI
responder in front of vault-sim over real HTTP.

Run one case: test_ops.py <case>. Every operation is called through
Bridge.op("<table id>", ...); the 'coverage' case fails when a tool row
of core/src/entry/ops_table.c is never called that way here."""

import base64
import json
import os
import re
import secrets
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opslib as L  # noqa: E402
from opslib import b64, check, expect_err, expect_ok  # noqa: E402

KEY = "ops-key-" + secrets.token_hex(16)
SUBJECT = "agent_x"


def stack(cl, env=None, threads=4, keys=None):
    v = L.Vault(cl)
    L.provision(v)
    b = L.Bridge(cl, v.addr, keys or {KEY: SUBJECT}, env=env, threads=threads)
    return v, b


# ---- KV v2 -----------------------------------------------------------------

def case_kv(cl):
    v, b = stack(cl)
    r = expect_ok(b.op("kv.write", {"path": "app/db", "data": {"user": "u1"}}), "write")
    check(r["version"] == 1, "first version %r" % r)
    r = expect_ok(b.op("kv.write", {"path": "app/db", "data": {"user": "u2"}, "cas": 1}), "cas")
    check(r["version"] == 2, "cas write %r" % r)
    expect_err(b.op("kv.write", {"path": "app/db", "data": {"user": "u3"}, "cas": 1}),
               409, "conflict", "check-and-set", "CAS mismatch")
    expect_err(b.op("kv.write", {"path": "app/db", "data": {"x": 1}, "cas": 0}),
               409, "conflict", None, "cas=0 on an existing secret")
    r = expect_ok(b.op("kv.read", {"path": "app/db"}), "read")
    check(r["data"] == {"user": "u2"} and r["version"] == 2, "read %r" % r)
    r = expect_ok(b.op("kv.read", {"path": "app/db", "version": 1}), "read v1")
    check(r["data"] == {"user": "u1"}, "read v1 %r" % r)
    r = expect_ok(b.op("kv.patch", {"path": "app/db", "data": {"pw": "p"}}), "patch")
    check(r["version"] == 3, "patch %r" % r)
    r = expect_ok(b.op("kv.read", {"path": "app/db"}), "read after patch")
    check(r["data"] == {"user": "u2", "pw": "p"}, "merged %r" % r)
    expect_ok(b.op("kv.write", {"path": "app/other", "data": {"a": "b"}}), "second")
    r = expect_ok(b.op("kv.list", {}), "list root")
    check(r["keys"] == ["app/"], "root listing %r" % r)
    r = expect_ok(b.op("kv.list", {"prefix": "app/"}), "list app")
    check(sorted(r["keys"]) == ["db", "other"], "listing %r" % r)
    r = expect_ok(b.op("kv.list", {"prefix": "empty/"}), "empty list")
    check(r["keys"] == [], "empty folder is {keys:[]}: %r" % r)
    r = expect_ok(b.op("kv.metadata", {"path": "app/db"}), "metadata")
    check(r["current_version"] == 3 and "3" in r["versions"], "metadata %r" % r)
    check("u1" not in json.dumps(r), "metadata has no values")
    expect_err(b.op("kv.metadata", {"path": "app/none"}), 404, "not_found")
    # soft delete, undelete, destroy
    expect_ok(b.op("kv.delete", {"path": "app/db"}), "delete")
    expect_err(b.op("kv.read", {"path": "app/db"}), 404, "not_found", "deleted",
               "read of a deleted version")
    expect_err(b.op("kv.patch", {"path": "app/db", "data": {"z": 1}}), 404, "not_found",
               "deleted or destroyed", "patch of a deleted version")
    r = expect_ok(b.op("kv.undelete", {"path": "app/db", "versions": [3]}), "undelete")
    check(r["undeleted"] == [3], "undelete %r" % r)
    expect_ok(b.op("kv.read", {"path": "app/db"}), "read after undelete")
    r = expect_ok(b.op("kv.destroy", {"path": "app/db", "versions": [3]}), "destroy")
    check(r["destroyed"] == [3], "destroy %r" % r)
    expect_err(b.op("kv.read", {"path": "app/db"}), 404, "not_found", "destroyed",
               "read of a destroyed version")
    expect_ok(b.op("kv.read", {"path": "app/db", "version": 2}), "older version survives")
    expect_err(b.op("kv.read", {"path": "app/db", "version": 99}), 404, "not_found",
               "no such version")
    expect_err(b.op("kv.read", {"path": "app/none"}), 404, "not_found", "not found")
    expect_err(b.op("kv.patch", {"path": "app/none", "data": {"a": 1}}), 404, "not_found")
    # input checks, before any Vault call
    expect_err(b.op("kv.write", {"path": "app/x", "data": {}, "nope": 1}), 400,
               "bad_request", "nope", "unknown field")
    expect_err(b.op("kv.write", {"path": "app/x", "data": "str"}), 400, "bad_request",
               "'data'", "wrong type")
    expect_err(b.op("kv.write", {"path": "app/x"}), 400, "bad_request", "'data'", "missing")
    expect_err(b.op("kv.undelete", {"path": "app/db", "versions": []}), 400, "bad_request",
               "versions")
    expect_err(b.op("kv.read", {"path": "app/db", "version": "x"}), 400, "bad_request",
               "version")
    expect_err(b.raw("GET", "/secrets/a/../b", key=KEY), 400, "invalid_path")
    # the bridge kept the agent in its own area of Vault
    st, doc = v.api("GET", "secret/data/mcp/%s/app/other" % SUBJECT)
    check(st == 200 and doc["data"]["data"] == {"a": "b"}, "namespaced path %r" % doc)


# ---- Transit ---------------------------------------------------------------

def case_transit(cl):
    v, b = stack(cl)
    v.must("POST", "transit/keys/mcp-derived", {"type": "aes256-gcm96", "derived": True})
    pt = b64("attack at dawn")
    r = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt}), "encrypt")
    check(r["ciphertext"].startswith("vault:v1:") and r["key_version"] == 1 and
          r["key"] == "mcp-default", "encrypt %r" % r)
    ct = r["ciphertext"]
    r = expect_ok(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}), "decrypt")
    check(r == {"plaintext": pt}, "decrypt %r" % r)
    r = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": ""}), "empty")
    check(r["ciphertext"].startswith("vault:v1:"), "empty plaintext %r" % r)
    # derived key: context required and checked
    ctx = b64("tenant-1")
    r = expect_ok(b.op("transit.encrypt", {"key": "mcp-derived", "plaintext": pt,
                                           "context": ctx}), "derived encrypt")
    dct = r["ciphertext"]
    r = expect_ok(b.op("transit.decrypt", {"key": "mcp-derived", "ciphertext": dct,
                                           "context": ctx}), "derived decrypt")
    check(r["plaintext"] == pt, "derived round trip")
    expect_err(b.op("transit.decrypt", {"key": "mcp-derived", "ciphertext": dct,
                                        "context": b64("tenant-2")}), 400, "bad_request",
               "authentication failed", "wrong context")
    expect_err(b.op("transit.encrypt", {"key": "mcp-derived", "plaintext": pt}), 400,
               "bad_request", "context", "missing context (Vault's message)")
    # rotation and rewrap
    v.must("POST", "transit/keys/mcp-default/rotate")
    r = expect_ok(b.op("transit.rewrap", {"key": "mcp-default", "ciphertext": ct}), "rewrap")
    check(r["ciphertext"].startswith("vault:v2:") and r["key_version"] == 2, "rewrap %r" % r)
    r2 = expect_ok(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": r["ciphertext"]}),
                   "decrypt rewrapped")
    check(r2["plaintext"] == pt, "rewrapped decrypts")
    r = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt,
                                           "key_version": 1}), "old version")
    check(r["key_version"] == 1, "key_version honoured %r" % r)
    expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt,
                                        "key_version": 7}), 400, "bad_request", "higher",
               "key_version too high (Vault's message)")
    # Vault's 400s are passed on with Vault's message
    expect_err(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": "nope"}), 400,
               "bad_request", "invalid ciphertext", "no prefix")
    expect_err(b.op("transit.decrypt", {"key": "mcp-nokey", "ciphertext": ct}), 400,
               "bad_request", "not found", "missing key")
    # our own checks, before Vault
    for bad, needle in (("not base64!", "plaintext"), ("aGk", "plaintext"), (7, "plaintext")):
        expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": bad}), 400,
                   "bad_request", needle, "bad plaintext %r" % (bad,))
    expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt,
                                        "context": "%%%"}), 400, "bad_request", "context")
    expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt, "extra": 1}),
               400, "bad_request", "extra", "unknown field")
    for bad in ("../x", "a/b", "..", "a b", "", "k" * 129):
        expect_err(b.op("transit.encrypt", {"key": bad, "plaintext": pt}), 400,
                   "bad_request", "key", "key name %r" % bad)
    expect_err(b.op("transit.decrypt", {"key": "mcp-default"}), 400, "bad_request",
               "ciphertext", "missing ciphertext")
    # sign and verify (ed25519), both marshalings
    data = b64("signed message")
    r = expect_ok(b.op("transit.sign", {"key": "mcp-signing", "input": data}), "sign")
    check(r["signature"].startswith("vault:v1:") and r["key_version"] == 1, "sign %r" % r)
    sig = r["signature"]
    r = expect_ok(b.op("transit.verify", {"key": "mcp-signing", "input": data,
                                          "signature": sig}), "verify")
    check(r == {"valid": True}, "verify %r" % r)
    r = expect_ok(b.op("transit.verify", {"key": "mcp-signing", "input": b64("other"),
                                          "signature": sig}), "verify other")
    check(r == {"valid": False}, "a wrong signature is valid:false, not an error: %r" % r)
    r = expect_ok(b.op("transit.sign", {"key": "mcp-signing", "input": data,
                                        "marshaling_algorithm": "jws"}), "sign jws")
    check("=" not in r["signature"], "jws is unpadded %r" % r)
    r = expect_ok(b.op("transit.verify", {"key": "mcp-signing", "input": data,
                                          "signature": r["signature"],
                                          "marshaling_algorithm": "jws"}), "verify jws")
    check(r["valid"] is True, "jws verify")
    expect_err(b.op("transit.sign", {"key": "mcp-default", "input": data}), 400,
               "bad_request", "signing", "aes key cannot sign")
    expect_err(b.op("transit.sign", {"key": "mcp-signing", "input": data,
                                     "hash_algorithm": "md5"}), 400, "bad_request",
               "hash_algorithm")
    expect_err(b.op("transit.verify", {"key": "mcp-signing", "input": data,
                                       "signature": "garbage"}), 400, "bad_request",
               "signature", "malformed signature (Vault's message)")
    # hmac
    r1 = expect_ok(b.op("transit.hmac", {"key": "mcp-default", "input": data}), "hmac")
    r2 = expect_ok(b.op("transit.hmac", {"key": "mcp-default", "input": data,
                                         "algorithm": "sha2-256"}), "hmac again")
    check(r1["hmac"].startswith("vault:v") and r1 == r2, "hmac deterministic %r %r" % (r1, r2))
    r3 = expect_ok(b.op("transit.hmac", {"key": "mcp-default", "input": data,
                                         "algorithm": "sha2-512"}), "hmac 512")
    check(r3["hmac"] != r1["hmac"], "algorithm honoured")
    expect_err(b.op("transit.hmac", {"key": "mcp-default", "input": data,
                                     "algorithm": "crc32"}), 400, "bad_request", "algorithm")
    # random
    r = expect_ok(b.op("transit.random", {}), "random")
    check(r["format"] == "base64" and r["bytes"] == 32 and
          len(base64.b64decode(r["random"])) == 32, "random %r" % r)
    r = expect_ok(b.op("transit.random", {"bytes": 16, "format": "hex"}), "random hex")
    check(re.fullmatch(r"[0-9a-f]{32}", r["random"]) and r["bytes"] == 16, "hex %r" % r)
    r = expect_ok(b.op("transit.random", {"bytes": 1024}), "random max")
    check(len(base64.b64decode(r["random"])) == 1024, "1024 bytes")
    for q, needle in (({"bytes": 0}, "bytes"), ({"bytes": 1025}, "bytes"),
                      ({"bytes": "abc"}, "bytes"), ({"format": "bin"}, "format")):
        expect_err(b.op("transit.random", q), 400, "bad_request", needle, "random %r" % q)


# ---- Database ---------------------------------------------------------------

def case_db(cl):
    v, b = stack(cl)
    r = expect_ok(b.op("db.issue_creds", {"role": "readonly"}), "issue")
    check(r["username"] and r["password"] and r["renewable"] is True and
          r["lease_id"].startswith("database/creds/readonly/") and r["lease_duration"] == 3600,
          "creds %r" % r)
    lease = r["lease_id"]
    r = expect_ok(b.op("db.renew", {"lease_id": lease, "increment": 600}), "renew")
    check(r["lease_id"] == lease and r["lease_duration"] == 600, "renew %r" % r)
    r = expect_ok(b.op("db.renew", {"lease_id": lease}), "renew default")
    check(r["lease_duration"] == 3600, "renew without increment %r" % r)
    r = expect_ok(b.op("db.revoke", {"lease_id": lease}), "revoke")
    check(r["revoked"] is True, "revoke %r" % r)
    expect_err(b.op("db.renew", {"lease_id": lease}), 400, "bad_request", "lease not found",
               "renew after revoke")
    # a well-formed lease the bridge never issued to this subject: refused
    # before Vault (issue 12: leases belong to the subject they were issued to)
    expect_err(b.op("db.revoke", {"lease_id": "database/creds/readonly/AAAAAAAAAAAAAAAAAAAAAAAA"}),
               403, "not_granted", "not issued to this subject", "revoke unknown")
    # only database leases of this mount, in Vault's shape
    for bad in ("ssh/creds/otp_role/abc", "auth/token/create/abc", "database/creds/readonly",
                "database/creds/readonly/", "database/creds/../sys/x",
                "database/creds/readonly/a/b", "database/creds/read only/abc",
                "database/creds/readonly/ab..cd", "sys/leases/revoke-prefix/database",
                "database/creds/readonly/abc%2F", "xdatabase/creds/readonly/abc"):
        expect_err(b.op("db.renew", {"lease_id": bad}), 400, "bad_request", "lease_id",
                   "renew %r" % bad)
        expect_err(b.op("db.revoke", {"lease_id": bad}), 400, "bad_request", "lease_id",
                   "revoke %r" % bad)
    expect_err(b.op("db.renew", {"lease_id": lease, "increment": -1}), 400, "bad_request",
               "increment")
    expect_err(b.op("db.renew", {}), 400, "bad_request", "lease_id", "missing lease_id")
    expect_err(b.op("db.issue_creds", {"role": "nope"}), 400, "bad_request", "unknown role",
               "unknown role (Vault's message)")
    for bad in ("a..b", "x%20y"):
        expect_err(b.op("db.issue_creds", {"role": bad}), 400, "bad_request", "role",
                   "role %r" % bad)
    expect_err(b.op("db.issue_creds", {"role": "readonly"}, raw_body={"ttl": 5}), 400,
               "bad_request", "ttl", "unknown body field")


# ---- SSH --------------------------------------------------------------------

def case_ssh(cl):
    v, b = stack(cl)
    r = expect_ok(b.op("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}), "otp")
    check(re.fullmatch(r"[0-9a-f-]{36}", r["key"]) and r["key_type"] == "otp" and
          r["ip"] == "127.0.0.1" and r["username"] == "ubuntu" and r["port"] == 22,
          "otp %r" % r)
    check("warnings" not in r, "no warning without a port")
    r = expect_ok(b.op("ssh.otp", {"role": "otp_role", "ip": "10.1.2.3", "username": "ubuntu",
                                   "port": 22}), "otp with port")
    check("warnings" not in r, "matching port %r" % r)
    r = expect_ok(b.op("ssh.otp", {"role": "otp_other", "ip": "127.0.0.1", "port": 22}),
                  "otp port mismatch")
    check(r["port"] == 2222 and "2222" in r["warnings"][0], "port warning %r" % r)
    for bad in ("999.1.1.1", "127.0.0.1; rm -rf /", "localhost", "1.2.3", "::g"):
        expect_err(b.op("ssh.otp", {"role": "otp_role", "ip": bad}), 400, "bad_request", "'ip'",
                   "ip %r" % bad)
    expect_err(b.op("ssh.otp", {"role": "otp_role", "ip": "192.168.1.1"}), 400,
               "bad_request", "ip", "outside cidr_list (Vault's message)")
    expect_err(b.op("ssh.otp", {"role": "nope", "ip": "127.0.0.1"}), 400, "bad_request",
               "not found", "unknown role (Vault's message)")
    expect_err(b.op("ssh.otp", {"role": "../x", "ip": "127.0.0.1"}), 400, "bad_request",
               "role")
    expect_err(b.op("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1", "port": 70000}), 400,
               "bad_request", "port")
    expect_err(b.op("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1", "username": "a b"}),
               400, "bad_request", "username")
    # certificates
    r = expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                    "valid_principals": ["ubuntu", "alice"]}), "sign")
    check(r["signed_key"].startswith("ssh-ed25519-cert-v01@openssh.com ") and
          re.fullmatch(r"[0-9a-f]+", r["serial_number"]), "sign %r" % r)
    r = expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                    "valid_principals": "ubuntu,alice", "ttl": "10m",
                                    "cert_type": "user"}), "sign string principals")
    r = expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY}),
                  "sign default principal")
    # `cat key.pub` output: the trailing newline (and white space) is
    # accepted as Vault accepts it (issue 13); a key of white space is not.
    for tail in ("\n", "\r\n", "  \n\t"):
        r = expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY + tail}),
                      "sign key with trailing %r" % tail)
        check(r["signed_key"].startswith("ssh-ed25519-cert-v01@openssh.com "), "sign %r" % r)
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": " \n"}), 400,
               "bad_request", "public_key")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "valid_principals": ["root"]}), 400, "bad_request",
               "valid_principals", "principal not allowed (Vault's message)")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "valid_principals": ["ubuntu,root"]}), 400, "bad_request",
               "valid_principals", "comma inside an array element")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "valid_principals": 5}), 400, "bad_request", "valid_principals")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "cert_type": "host"}), 400, "bad_request", "host",
               "host certs not allowed (Vault's message)")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "cert_type": "both"}), 400, "bad_request", "cert_type")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY,
                                 "key_id": "mine"}), 400, "bad_request", "key_id",
               "key_id not allowed by role (Vault's message)")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY, "ttl": "2h"}),
               400, "bad_request", "ttl", "ttl above max (Vault's message)")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY, "ttl": "soon"}),
               400, "bad_request", "ttl")
    expect_err(b.op("ssh.sign", {"role": "ca_role",
                                 "public_key": L.SSH_PUBKEY + "\nssh-rsa AAAA x"}),
               400, "bad_request", "public_key", "two lines")
    expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": "not a key"}), 400,
               "bad_request", "public_key", "unparsable key (Vault's message)")
    expect_err(b.op("ssh.sign", {"role": "nope", "public_key": L.SSH_PUBKEY}), 400,
               "bad_request", "role", "unknown role (Vault's message)")


# ---- Vault failures ----------------------------------------------------------

FAILURE_CALLS = (
    ("kv.read", {"path": "app/db"}),
    ("kv.write", {"path": "app/db", "data": {"a": "b"}}),
    ("transit.encrypt", {"key": "mcp-default", "plaintext": b64("x")}),
    ("transit.random", {}),
    ("db.issue_creds", {"role": "readonly"}),
    ("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}),
)


def case_vault_down(cl):
    import procs
    port = procs.free_port()   # nothing listens there
    b = L.Bridge(cl, "http://127.0.0.1:%d" % port, {KEY: SUBJECT},
                 env={"VAULT_TIMEOUT_MS": "3000", "CHILD_TOKEN_ENABLED": "false"})
    for op, args in FAILURE_CALLS:
        t0 = time.time()
        doc = expect_err(b.op(op, args), 503, "vault_unavailable", "unreachable", op)
        took = time.time() - t0
        check(took < 1.0, "%s: a refused connection must fail fast, took %.2fs" % (op, took))
        check("request_id" in doc["error"], "request id in the error")
    st, doc = b.raw("GET", "/readyz")
    check(st == 503, "readyz while Vault is down: %d" % st)


def case_vault_slow(cl):
    s = L.StandIn(cl, delay=3.0)
    # The stand-in is not a Vault: it cannot mint child tokens.
    b = L.Bridge(cl, s.addr, {KEY: SUBJECT}, env={"VAULT_TIMEOUT_MS": "400",
                                                  "CHILD_TOKEN_ENABLED": "false"}, threads=1)
    for op, args in FAILURE_CALLS[:3]:
        t0 = time.time()
        expect_err(b.op(op, args), 503, "vault_unavailable", None, op)
        took = time.time() - t0
        check(took < 1.4, "%s: timeout 400 ms, answered after %.2fs" % (op, took))
        print("%s: 503 after %.0f ms (VAULT_TIMEOUT_MS=400)" % (op, took * 1000))
    # The only worker is free again: with Vault fast now, the next call works.
    s.delay = 0.0
    t0 = time.time()
    r = expect_ok(b.op("kv.read", {"path": "app/db"}), "after the timeouts")
    check(r["data"] == {"k": "v"} and time.time() - t0 < 1.0, "served promptly %r" % r)


def case_vault_500(cl):
    s = L.StandIn(cl, status=500)
    b = L.Bridge(cl, s.addr, {KEY: SUBJECT}, env={"CHILD_TOKEN_ENABLED": "false"})
    for op, args in FAILURE_CALLS:
        expect_err(b.op(op, args), 502, "upstream_error", "500", op)
    s.status = 503
    expect_err(b.op("kv.read", {"path": "app/db"}), 503, "vault_unavailable", "sealed",
               "Vault's 503 (sealed) -> 503")


def case_denied(cl):
    """The bridge's own token lacks a capability: Vault's 403 -> 403."""
    v = L.Vault(cl)
    L.provision(v)
    v.policy("narrow", 'path "secret/data/mcp/%s/open/*" { capabilities = ["read"] }\n' % SUBJECT)
    tok = v.must("POST", "auth/token/create", {"policies": ["narrow"], "ttl": "1h"})
    token = tok["auth"]["client_token"]
    v.must("POST", "secret/data/mcp/%s/open/a" % SUBJECT, {"data": {"k": "v"}})
    # The bridge's own token speaks here, so child tokens are off.
    b = L.Bridge(cl, v.addr, {KEY: SUBJECT}, env={"VAULT_TOKEN": token,
                                                  "CHILD_TOKEN_ENABLED": "false"})
    expect_ok(b.op("kv.read", {"path": "open/a"}), "allowed read")
    for op, args in (("kv.write", {"path": "open/a", "data": {"x": "y"}}),
                     ("kv.read", {"path": "closed/a"}),
                     ("kv.list", {}),
                     ("kv.delete", {"path": "open/a"}),
                     ("transit.decrypt", {"key": "mcp-default", "ciphertext": "vault:v1:AAAA"}),
                     ("transit.random", {}),
                     # renew is in the default policy, revoke is not
                     ("db.revoke", {"lease_id": "database/creds/readonly/AAAAAAAAAAAAAAAAAAAAAAAA"}),
                     ("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY})):
        expect_err(b.op(op, args), 403, "permission_denied", "denied", op)


# ---- child tokens -----------------------------------------------------------

def child_stack(cl, subjects, env=None, role_ttl="1h", role_max_ttl="4h"):
    v = L.Vault(cl)
    L.provision(v)
    v.policy("mcp-bridge", L.BRIDGE_POLICY)
    role_id, secret_id = L.approle(v, ttl=role_ttl, max_ttl=role_max_ttl)
    keys = {}
    for s in subjects:
        keys["key-%s-%s" % (s, secrets.token_hex(16))] = s
    e = {"VAULT_TOKEN": None, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id,
         "CHILD_TOKEN_ENABLED": "true", "CHILD_TOKEN_TTL": "60s"}
    e.update(env or {})
    b = L.Bridge(cl, v.addr, keys, env=e)
    return v, b, {s: k for k, s in keys.items()}


def case_child_tokens(cl):
    v, b, key = child_stack(cl, ["agent_x", "agent_nopolicy"])
    hcl = L.gen_policy("--subject", "agent_x", "--transit-key", "mcp-default",
                       "--db-role", "readonly", "--ssh-role", "otp_role", "--ssh-role", "ca_role")
    v.policy(L.policy_name("agent_x"), hcl)
    k = key["agent_x"]
    pt = b64("child")
    # allowed by the agent's policy
    expect_ok(b.op("kv.write", {"path": "n/a", "data": {"k": "v"}}, key=k), "kv write")
    expect_ok(b.op("kv.write", {"path": "n/a", "data": {"k": "w"}, "cas": 1}, key=k), "update")
    expect_ok(b.op("kv.read", {"path": "n/a"}, key=k), "kv read")
    expect_ok(b.op("kv.patch", {"path": "n/a", "data": {"p": 1}}, key=k), "kv patch")
    check(expect_ok(b.op("kv.list", {}, key=k), "kv list")["keys"] == ["n/"], "list")
    expect_ok(b.op("kv.metadata", {"path": "n/a"}, key=k), "kv metadata")
    expect_ok(b.op("kv.delete", {"path": "n/a"}, key=k), "kv delete")
    expect_ok(b.op("kv.undelete", {"path": "n/a", "versions": [3]}, key=k), "kv undelete")
    expect_ok(b.op("kv.destroy", {"path": "n/a", "versions": [1]}, key=k), "kv destroy")
    ct = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": pt}, key=k),
                   "encrypt")["ciphertext"]
    expect_ok(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}, key=k), "decrypt")
    expect_ok(b.op("transit.rewrap", {"key": "mcp-default", "ciphertext": ct}, key=k), "rewrap")
    expect_ok(b.op("transit.hmac", {"key": "mcp-default", "input": pt}, key=k), "hmac")
    expect_ok(b.op("transit.random", {"bytes": 8}, key=k), "random")
    cr = expect_ok(b.op("db.issue_creds", {"role": "readonly"}, key=k), "db creds")
    expect_ok(b.op("db.renew", {"lease_id": cr["lease_id"], "increment": 60}, key=k), "db renew")
    expect_ok(b.op("db.revoke", {"lease_id": cr["lease_id"]}, key=k), "db revoke")
    expect_ok(b.op("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}, key=k), "otp")
    expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY}, key=k), "ssh sign")
    # refused by Vault itself, with the policy named
    for op, args in (("transit.encrypt", {"key": "mcp-other", "plaintext": pt}),
                     ("transit.sign", {"key": "mcp-signing", "input": pt}),
                     ("transit.verify", {"key": "mcp-signing", "input": pt,
                                         "signature": "vault:v1:AAAA"}),
                     ("transit.encrypt", {"key": "mcp-brand-new", "plaintext": pt}),
                     ("db.issue_creds", {"role": "other"}),
                     ("ssh.otp", {"role": "otp_other", "ip": "127.0.0.1"})):
        expect_err(b.op(op, args, key=k), 403, "permission_denied", "mcp-agent-agent_x",
                   "%s %r" % (op, args))
    st, doc = v.api("GET", "transit/keys/mcp-brand-new")
    check(st == 404, "an agent with update only cannot upsert a transit key: %d" % st)
    # an agent with no policy in Vault at all
    expect_err(b.op("kv.read", {"path": "x"}, key=key["agent_nopolicy"]), 403,
               "permission_denied", "mcp-agent-agent_nopolicy", "no policy")
    # Vault saw the child token, not the bridge's: the lease belongs to it
    cr = expect_ok(b.op("db.issue_creds", {"role": "readonly"}, key=k), "db creds 2")
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": cr["lease_id"]})
    check(st == 200, "lease exists %r" % doc)


def agent_tokens(v, subject):
    """Every live token the bridge made for subject, as Vault's
    lookup-accessor shows them (never the token itself)."""
    st, doc = v.api("LIST", "auth/token/accessors")
    check(st == 200, "list accessors %d %r" % (st, doc))
    out = []
    for acc in doc["data"]["keys"]:
        st, d = v.api("POST", "auth/token/lookup-accessor", {"accessor": acc})
        if st == 200 and (d["data"].get("meta") or {}).get("subject") == subject:
            out.append(d["data"])
    return out


def lease_alive(v, lease):
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": lease})
    return st == 200 and doc["data"]["ttl"] > 0


def lease_token_stack(cl, env):
    """vault-sim with a 30 s database role, and the bridge on a token of its
    own (not root) so a test can revoke it; the agent's policy is loaded by
    the test, as an operator would (the test bridge may not write policies)."""
    v = L.Vault(cl)
    L.provision(v)
    v.must("POST", "database/config/mcp-postgres", {"allowed_roles": "readonly,other,short"})
    v.must("POST", "database/roles/short", {
        "db_name": "mcp-postgres", "default_ttl": "30s", "max_ttl": "60s",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';"]})
    # auth/token/revoke: the bridge revokes a lease token whose issue failed
    v.policy("mcp-bridge", L.BRIDGE_POLICY +
             'path "auth/token/revoke" { capabilities = ["update"] }\n')
    v.policy(L.policy_name("agent_x"), L.gen_policy("--subject", "agent_x", "--db-role", "short",
                                                    "--db-role", "gone"))
    own = v.must("POST", "auth/token/create", {"policies": ["mcp-bridge"], "ttl": "1h"})
    token = own["auth"]["client_token"]
    key = "key-agent_x-" + secrets.token_hex(16)
    e = {"VAULT_TOKEN": token, "CHILD_TOKEN_ENABLED": "true", "CHILD_TOKEN_TTL": "10s",
         "DEFAULT_GRANTS_JSON": json.dumps({"db_roles": ["short", "gone"]})}
    e.update(env)
    b = L.Bridge(cl, v.addr, {key: "agent_x"}, env=e)
    return v, b, key, token


def case_db_lease_token(cl):
    """A 30 s database lease issued with a 10 s child token still exists, and
    renews and revokes through the bridge, after the child token expired
    (before the fix Vault revoked it with the child token: the lease belongs
    to the token that asked, vault/expiration.go RevokeByToken). The lease
    token carries only the agent's policy; as an orphan it also survives the
    bridge's own token."""
    v, b, k, own = lease_token_stack(cl, {})
    # a KV call mints the agent's 10 s child token, as any request would
    expect_err(b.op("kv.read", {"path": "nothing"}, key=k), 404)
    cr = expect_ok(b.op("db.issue_creds", {"role": "short"}, key=k), "issue")
    t_issue = time.monotonic()
    check(cr["lease_duration"] == 30 and "warnings" not in cr, "30 s lease %r" % cr)
    toks = agent_tokens(v, "agent_x")
    # Event: the child token is gone (expired at 10 s and swept by Vault).
    wait_for(lambda: not [t for t in agent_tokens(v, "agent_x")
                        if t["meta"].get("purpose") == "request"], 40,
           "the agent's 10 s child token to expire")
    waited = time.monotonic() - t_issue
    check(waited < 30, "the child token outlived the lease (%.1fs)" % waited)
    check(lease_alive(v, cr["lease_id"]),
          "the lease died with the child token after %.1fs" % waited)
    kinds = sorted((t["meta"] or {}).get("purpose", "") for t in toks)
    check(kinds == ["db-lease", "request"], "one child and one lease token: %r" % toks)
    policy = L.policy_name("agent_x")
    for t in toks:
        # Vault-side confinement is the same for both: the agent's policy only
        check(t["policies"] == [policy], "policies of a %s token: %r" % (
            t["meta"]["purpose"], t["policies"]))
        check(t["display_name"] == "token-agent-x", "display name %r" % t["display_name"])
    lt = [t for t in toks if t["meta"]["purpose"] == "db-lease"][0]
    check(lt["orphan"] is True and 86000 < lt["ttl"] <= 86400,
          "the lease token is an orphan with DB_LEASE_TOKEN_TTL: %r" % lt)
    # renew through the bridge (under a fresh child token) moves the lease
    r = expect_ok(b.op("db.renew", {"lease_id": cr["lease_id"], "increment": 40}, key=k),
                  "renew after the child token expired")
    check(r["lease_duration"] == 40, "renewed %r" % r)
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": cr["lease_id"]})
    check(st == 200 and doc["data"]["ttl"] > 30, "renewed lease %r" % doc)
    expect_ok(b.op("db.revoke", {"lease_id": cr["lease_id"]}, key=k), "revoke")
    check(not lease_alive(v, cr["lease_id"]), "revoked through the bridge")
    # the orphan lease token outlives the bridge's own token
    cr2 = expect_ok(b.op("db.issue_creds", {"role": "short"}, key=k), "issue 2")
    v.must("POST", "auth/token/revoke", {"token": own})
    check(lease_alive(v, cr2["lease_id"]),
          "an orphan lease token's lease survives the bridge's token")
    print("lease alive %.1fs after issue, child token expired (child 10s, lease 30s)" % waited)


def case_db_lease_token_child(cl):
    """DB_LEASE_TOKEN_ORPHAN=false: the lease token is a child of the bridge's
    token (revoking the bridge's token ends the credentials), and a
    DB_LEASE_TOKEN_TTL shorter than the lease is reported as a warning. A
    lease token whose issue failed is revoked at once."""
    v, b, k, own = lease_token_stack(cl, {"DB_LEASE_TOKEN_ORPHAN": "false",
                                          "DB_LEASE_TOKEN_TTL": "20s"})
    # a failed issue (a granted role Vault does not have) leaves no token
    expect_err(b.op("db.issue_creds", {"role": "gone"}, key=k), 400, "bad_request",
               "unknown role")
    check(not [t for t in agent_tokens(v, "agent_x") if t["meta"].get("purpose") == "db-lease"],
          "the lease token of a failed issue was revoked")
    cr = expect_ok(b.op("db.issue_creds", {"role": "short"}, key=k), "issue")
    check(cr["lease_duration"] == 30, "Vault's lease is the role's %r" % cr)
    check(any("DB_LEASE_TOKEN_TTL" in w for w in cr.get("warnings", [])),
          "a lease longer than its token is reported: %r" % cr)
    lt = [t for t in agent_tokens(v, "agent_x") if t["meta"].get("purpose") == "db-lease"]
    check(len(lt) == 1 and lt[0]["orphan"] is False and lt[0]["ttl"] <= 20,
          "a 20 s child lease token %r" % lt)
    check(lease_alive(v, cr["lease_id"]), "lease alive")
    v.must("POST", "auth/token/revoke", {"token": own})
    check(not lease_alive(v, cr["lease_id"]),
          "the lease died with the bridge's token (child lease token)")


def wait_for(cond, timeout, what):
    t0 = time.monotonic()
    while not cond():
        check(time.monotonic() - t0 < timeout, "timed out (%ds) waiting for %s" % (timeout, what))
        time.sleep(0.2)


def case_child_token_timing(cl):
    """Cached child token versus a token minted per request: time per KV read."""
    n = 40
    subjects = ["agent_t%02d" % i for i in range(n)]
    v, b, key = child_stack(cl, subjects + ["agent_x"])
    for s in subjects + ["agent_x"]:
        v.policy(L.policy_name(s), L.gen_policy("--subject", s))
    k = key["agent_x"]
    expect_ok(b.op("kv.write", {"path": "t", "data": {"a": "b"}}, key=k), "seed")
    for s in subjects:
        v.must("POST", "secret/data/mcp/%s/t" % s, {"data": {"a": "b"}})
    # cached: the same subject again and again
    mints0 = token_creates(b)
    t0 = time.time()
    for _ in range(n):
        expect_ok(b.op("kv.read", {"path": "t"}, key=k), "cached read")
    cached = (time.time() - t0) / n
    mints1 = token_creates(b)
    check(mints1 == mints0, "cached reads minted %d tokens" % (mints1 - mints0))
    # minted: each request is a subject's first, so the bridge creates a token
    t0 = time.time()
    for s in subjects:
        expect_ok(b.op("kv.read", {"path": "t"}, key=key[s]), "minted read")
    minted = (time.time() - t0) / n
    mints2 = token_creates(b)
    check(mints2 - mints1 == n, "first reads minted %d tokens, wanted %d" % (mints2 - mints1, n))
    # the same with the Vault calls alone, as the bridge's metrics see them
    print("child token cached: %.2f ms per KV read (1 Vault call); minted per request: "
          "%.2f ms (2 Vault calls); n=%d" % (cached * 1000, minted * 1000, n))
    print("Vault call latency: kv.read %.3f ms, auth.token_create %.3f ms (means)"
          % (vault_mean_ms(b, "kv.read"), vault_mean_ms(b, "auth.token_create")))


def metrics_text(b):
    import fcgi_client as fc
    st, h, body = fc.request(b.addr, "GET", "/metrics")
    check(st == 200, "metrics %d" % st)
    return body.decode()


def token_creates(b):
    m = re.search(r'^vault_requests_total\{operation="auth.token_create"[^}]*\} (\d+)',
                  metrics_text(b), re.M)
    return int(m.group(1)) if m else 0


def vault_mean_ms(b, op):
    text = metrics_text(b)
    total = count = 0.0
    for m in re.finditer(r'^vault_request_duration_seconds_(sum|count)\{operation="%s"[^}]*\} '
                         r'([0-9.e+-]+)' % re.escape(op), text, re.M):
        if m.group(1) == "sum":
            total += float(m.group(2))
        else:
            count += float(m.group(2))
    return total / count * 1000 if count else float("nan")


def case_approle(cl):
    """The bridge logs in with AppRole (token_ttl 3 s) and keeps working well
    past the TTL: its token is renewed at two thirds of the TTL."""
    v, b, key = child_stack(cl, ["agent_x"], role_ttl="3s")
    v.policy(L.policy_name("agent_x"), L.gen_policy("--subject", "agent_x"))
    k = key["agent_x"]
    expect_ok(b.op("kv.write", {"path": "r", "data": {"a": "b"}}, key=k), "write")
    # Child tokens die with their parent, and /readyz checks the bridge's own
    # token with lookup-self: both keep working only if renewal works.
    t0 = time.time()
    n = 0
    while time.time() - t0 < 8.0:
        expect_ok(b.op("kv.read", {"path": "r"}, key=k), "read at +%.1fs" % (time.time() - t0))
        st, doc = b.raw("GET", "/readyz")
        check(st == 200, "readyz at +%.1fs: %d %r" % (time.time() - t0, st, doc))
        n += 1
        time.sleep(0.25)
    st, doc = b.raw("GET", "/readyz")
    check(st == 200, "ready after > 2 TTLs: %d %r" % (st, doc))
    print("%d reads over 8 s with a 3 s AppRole token TTL" % n)


def case_approle_stop_in_renewal(cl):
    """SIGTERM while the AppRole renewal thread waits on Vault: the process
    exits 0 with nothing reported. The thread's call records metrics and a
    span when it returns, so it must be joined before those modules are
    released (under TSan the old order reported a data race on the metrics
    mapping in vmb_metrics_upstream vs vmb_metrics_cleanup). A stand-in
    Vault answers renew-self only after 2 s, so SIGTERM lands inside it."""
    import http.server
    renewing = threading.Event()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            body = {"data": {}}
            if self.path.startswith("/v1/auth/approle/login") or \
                    self.path.startswith("/v1/auth/token/renew-self"):
                if "renew-self" in self.path:
                    renewing.set()
                    time.sleep(2.0)
                body = {"auth": {"client_token": "s.stand-in-token", "lease_duration": 3,
                                 "renewable": True}}
            data = json.dumps(body).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_PUT = do_POST

        def log_message(self, *a):
            pass

    class S(http.server.ThreadingHTTPServer):
        daemon_threads = True

    srv = S(("127.0.0.1", L.procs.free_port()), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cl.add(srv.server_close)
    cl.add(srv.shutdown)
    b = L.Bridge(cl, "http://127.0.0.1:%d" % srv.server_address[1], {KEY: SUBJECT},
                 env={"VAULT_TOKEN": None, "VAULT_ROLE_ID": "role-stand-in",
                      "VAULT_SECRET_ID": "secret-stand-in", "CHILD_TOKEN_ENABLED": "false",
                      "VAULT_TIMEOUT_MS": "5000"})
    # Renewal at two thirds of the 3 s TTL: the call starts after ~2 s.
    check(renewing.wait(15), "the bridge never called renew-self")
    time.sleep(0.3)
    b.proc.terminate()
    rc = b.proc.wait(20)
    b.stderr.flush()
    err = open(os.path.join(b.tmp, "stderr.txt"), errors="replace").read()
    check(rc == 0 and "Sanitizer" not in err,
          "SIGTERM during renew-self: exit %r\n%s" % (rc, err[-3000:]))
    print("SIGTERM during renew-self: exit %r" % rc)


def revoke_approle_tokens(v):
    """Revoke every token an AppRole login produced (the bridge's own), the
    way an operator would: by accessor."""
    st, doc = v.api("LIST", "auth/token/accessors")
    check(st == 200, "list accessors %d %r" % (st, doc))
    n = 0
    for acc in doc["data"]["keys"]:
        st, d = v.api("POST", "auth/token/lookup-accessor", {"accessor": acc})
        if st == 200 and d["data"].get("path", "").startswith("auth/approle/login"):
            v.must("POST", "auth/token/revoke-accessor", {"accessor": acc})
            n += 1
    return n


def recovery_after_revocation(cl, child):
    v, b, key = child_stack(cl, ["agent_x"], role_ttl="3s",
                            env={"CHILD_TOKEN_ENABLED": "true" if child else "false",
                                 "CHILD_TOKEN_TTL": "30s"})
    v.policy(L.policy_name("agent_x"), L.gen_policy("--subject", "agent_x"))
    if not child:
        v.policy("mcp-bridge", L.BRIDGE_POLICY +
                 'path "secret/data/mcp/*" { capabilities = ["create", "read", "update"] }\n')
    k = key["agent_x"]
    expect_ok(b.op("kv.write", {"path": "r", "data": {"a": "b"}}, key=k), "write")
    check(revoke_approle_tokens(v) >= 1, "revoked the bridge's token")
    t0 = time.time()
    while time.time() - t0 < 15:
        st, doc = b.op("kv.read", {"path": "r"}, key=k)
        if st == 200:
            return time.time() - t0
        check(st == 403, "while the token is revoked: %d %r" % (st, doc))
        time.sleep(0.1)
    raise AssertionError("no recovery within 15 s after the bridge's token was revoked")


def case_approle_relogin(cl):
    """The bridge's AppRole token is revoked behind its back: renewal fails,
    it logs in again and requests work again within about one TTL."""
    took = recovery_after_revocation(cl, child=False)
    print("bridge token revoked: requests work again after %.1f s (token_ttl 3 s)" % took)
    check(took < 4.0, "recovery took %.1f s" % took)


def case_approle_relogin_child(cl):
    """Same, with child tokens: the cached child tokens die with the bridge's
    token, so the cache must not keep serving them. Not registered in CMake
    yet: the child-token cache keeps a revoked token until two thirds of
    CHILD_TOKEN_TTL have passed (see the issue 5 report)."""
    took = recovery_after_revocation(cl, child=True)
    print("child mode: requests work again after %.1f s" % took)
    check(took < 4.0, "recovery took %.1f s" % took)


# ---- logs -------------------------------------------------------------------

def case_secrets_in_logs(cl):
    v = L.Vault(cl)
    L.provision(v)
    vault_token = "hvs.ops" + secrets.token_hex(12)
    v.must("POST", "auth/token/create", {"id": vault_token, "policies": ["root"]})
    api_key = "ops-planted-key-" + secrets.token_hex(16)
    b = L.Bridge(cl, v.addr, {api_key: SUBJECT}, env={"VAULT_TOKEN": vault_token})
    kv_value = "kv-planted-" + secrets.token_hex(8)
    kv_value2 = "kv-patched-" + secrets.token_hex(8)
    plaintext = "transit-planted-" + secrets.token_hex(8)
    sign_input = "sign-planted-" + secrets.token_hex(8)
    k = api_key
    expect_ok(b.op("kv.write", {"path": "p/a", "data": {"pw": kv_value}}, key=k), "write")
    expect_ok(b.op("kv.patch", {"path": "p/a", "data": {"pw2": kv_value2}}, key=k), "patch")
    r = expect_ok(b.op("kv.read", {"path": "p/a"}, key=k), "read")
    check(r["data"]["pw"] == kv_value, "read back")
    ct = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": b64(plaintext)},
                        key=k), "encrypt")["ciphertext"]
    expect_ok(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}, key=k), "decrypt")
    rw = expect_ok(b.op("transit.rewrap", {"key": "mcp-default", "ciphertext": ct}, key=k),
                   "rewrap")["ciphertext"]
    sig = expect_ok(b.op("transit.sign", {"key": "mcp-signing", "input": b64(sign_input)}, key=k),
                    "sign")["signature"]
    mac = expect_ok(b.op("transit.hmac", {"key": "mcp-default", "input": b64(sign_input)}, key=k),
                    "hmac")["hmac"]
    rnd = expect_ok(b.op("transit.random", {}, key=k), "random")["random"]
    cr = expect_ok(b.op("db.issue_creds", {"role": "readonly"}, key=k), "creds")
    otp = expect_ok(b.op("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}, key=k), "otp")["key"]
    cert = expect_ok(b.op("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY}, key=k),
                     "sign")["signed_key"]
    # failures too: a refused key and a bad request must not echo values
    expect_err(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct + "x"}, key=k),
               400)
    b.raw("GET", "/whoami", key="wrong-" + api_key)
    planted = {
        "kv value": kv_value, "patched kv value": kv_value2, "transit plaintext": plaintext,
        "sign input": sign_input, "api key": api_key, "vault token": vault_token,
        "ciphertext": ct.split(":")[2], "rewrapped": rw.split(":")[2],
        "signature": sig.split(":")[2], "hmac": mac.split(":")[2], "random": rnd,
        "db password": cr["password"], "otp": otp, "signed key": cert.split()[1][:40],
    }
    forms = {}
    for what, val in planted.items():
        forms[what] = val
        forms[what + " (base64)"] = b64(val)
    forms["lease id"] = cr["lease_id"]   # whole id; the log may hold its last 6 chars
    time.sleep(0.3)
    logs = b.logs()
    check({"requests.log", "responses.log"} <= set(logs), "log files %r" % list(logs))
    for name, data in logs.items():
        text = data.decode("utf-8", "replace")
        for what, val in forms.items():
            check(val not in text, "%s found in %s" % (what, name))
    # and descriptors are there
    ops = {r.get("operation"): r for r in b.responses()}
    check(ops["transit.encrypt"].get("key") == "mcp-default", "key name logged %r" % ops)
    check(ops["db.issue_creds"].get("lease") == cr["lease_id"][-6:], "lease suffix logged")
    check(ops["db.issue_creds"].get("role") == "readonly", "role logged")


def case_rest_off(cl):
    v, b = stack(cl, env={"EXPOSE_REST_ROUTES": "false"})
    for op, args in (("kv.read", {"path": "a"}), ("kv.list", {}),
                     ("transit.encrypt", {"key": "mcp-default", "plaintext": b64("x")}),
                     ("db.issue_creds", {"role": "readonly"}),
                     ("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"})):
        expect_err(b.op(op, args), 404, "not_found", None, op + " with REST off")
    expect_err(b.raw("GET", "/whoami", key=KEY), 404, "not_found")
    st, doc = b.raw("GET", "/healthz")
    check(st == 200 and doc == {"ok": True}, "healthz %d %r" % (st, doc))


def case_concurrent(cl):
    """Several threads through the responder at once, mixing backends."""
    v, b = stack(cl, threads=4)
    errors = []

    def worker(i):
        try:
            for j in range(10):
                expect_ok(b.op("kv.write", {"path": "c/%d" % i, "data": {"j": j}}), "w")
                ct = expect_ok(b.op("transit.encrypt", {"key": "mcp-default",
                                                        "plaintext": b64("%d-%d" % (i, j))}),
                               "e")["ciphertext"]
                r = expect_ok(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}),
                              "d")
                check(base64.b64decode(r["plaintext"]).decode() == "%d-%d" % (i, j), "rt")
        except Exception as e:  # collected and reported below
            errors.append(e)
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "errors: %r" % errors[:3])


# ---- meta -------------------------------------------------------------------

def case_coverage(cl):
    """Every MCP tool row of the table is called by some case above."""
    tools = sorted(i for i, row in L.TABLE.items() if row["tool"])
    check(len(tools) >= 20, "parsed %d tool rows: the table parser broke" % len(tools))
    src = open(os.path.abspath(__file__)).read()
    # The KMS tools are driven by tests/kms/test_kms.py (against a fake KMS).
    src += open(os.path.join(L.ROOT, "tests", "kms", "test_kms.py")).read()
    # The wrap.* tools are driven by tests/wrapping/test_wrapping.py.
    src += open(os.path.join(L.ROOT, "tests", "wrapping", "test_wrapping.py")).read()
    called = set(re.findall(r'\.op\("([a-z_]+\.[a-z_]+)"', src)) | \
        set(re.findall(r'\bop\(s\.[ab], "([a-z_]+\.[a-z_]+)"', src)) | \
        set(re.findall(r'^\s*\("([a-z_]+\.[a-z_]+)", \{', src, re.M))
    missing = [t for t in tools if t not in called]
    check(not missing, "tool rows without a test case: %s" % ", ".join(missing))
    print("%d tools, all covered" % len(tools))


if __name__ == "__main__":
    cleanup = L.Cleanup()
    try:
        globals()["case_" + sys.argv[1]](cleanup)
    finally:
        cleanup.run()
    print("ok:", sys.argv[1])
