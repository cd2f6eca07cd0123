#!/usr/bin/env python3
"""Subject registry, admin API and grants (issue 12), end to end: the
bridge's FastCGI responder in front of vault-sim over real HTTP.

Run one case: test_registry.py <case>. Admin routes are taken from the
operation table (rows whose id starts with "admin."), so a new admin row is
covered by the non-admin and coverage cases without a second list."""

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ops"))
import opslib as L  # noqa: E402
from opslib import b64, check, expect_err, expect_ok  # noqa: E402

ADMIN_KEY = "adm-" + secrets.token_hex(16)
AGENT_KEY = "cfg-" + secrets.token_hex(16)     # a config (bootstrap) subject
JWT_SECRET = "registry-test-secret-" + secrets.token_hex(16)
ADMIN_ROWS = {k: v for k, v in L.TABLE.items() if k.startswith("admin.")}


def keys():
    return {ADMIN_KEY: {"subject": "ops-admin", "scopes": ["admin"]},
            AGENT_KEY: "cfg_agent"}


def stack(cl, env=None, vault=None, threads=4, run_dir=None):
    v = vault or L.Vault(cl)
    if vault is None:
        L.provision(v)
    e = {"JWT_HS256_SECRET": JWT_SECRET, "DEFAULT_GRANTS_JSON": "{}"}
    if run_dir:
        e["RUN_DIR"] = run_dir
    e.update(env or {})
    b = L.Bridge(cl, v.addr, keys(), env=e, threads=threads)
    return v, b


def admin(b, method, path, body=None, key=ADMIN_KEY, query=""):
    return b.raw(method, path, key=key, body=body, query=query)


def create(b, subject, grants=None, **fields):
    body = {"subject": subject}
    if grants is not None:
        body["grants"] = grants
    body.update(fields)
    st, doc = admin(b, "POST", "/admin/subjects", body)
    check(st == 201, "create %s: %d %r" % (subject, st, doc))
    return doc


def new_key(b, subject):
    st, doc = admin(b, "POST", "/admin/subjects/%s/api-keys" % subject)
    check(st == 201, "api key for %s: %d %r" % (subject, st, doc))
    check(doc["api_key"].endswith(doc["last4"]), "last4 %r" % doc)
    return doc["api_key"], doc["key_id"]


class Mcp:
    """Minimal MCP over the bridge's /mcp/rpc: initialize, then tools."""

    def __init__(self, b, key):
        self.b, self.key, self.sid, self.n = b, key, None, 0
        st, doc, hd = self.post("initialize", {"protocolVersion": "2025-06-18",
                                               "capabilities": {},
                                               "clientInfo": {"name": "t", "version": "1"}})
        check(st == 200 and "result" in doc, "initialize %d %r" % (st, doc))
        self.sid = hd.get("mcp-session-id")
        self.post(None, None, notify="notifications/initialized")

    def post(self, method, params, notify=None):
        import fcgi_client as fc
        self.n += 1
        msg = {"jsonrpc": "2.0", "method": notify or method}
        if not notify:
            msg["id"] = self.n
        if params is not None:
            msg["params"] = params
        h = {"Content-Type": "application/json", "X-API-Key": self.key,
             "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-06-18"}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
        st, hd, body = fc.request(self.b.addr, "POST", "/mcp/rpc", headers=h,
                                  body=json.dumps(msg).encode())
        hd = {k.lower(): v for k, v in (hd.items() if isinstance(hd, dict) else hd)}
        doc = json.loads(body) if body.strip() else None
        return st, doc, hd

    def tools(self):
        st, doc, _ = self.post("tools/list", {})
        check(st == 200, "tools/list %d %r" % (st, doc))
        return [t["name"] for t in doc["result"]["tools"]]

    def call(self, name, args):
        # MCP tool names are the table ids with '.' as '_' (portable names)
        st, doc, _ = self.post("tools/call", {"name": name.replace(".", "_"), "arguments": args})
        check(st == 200 and "result" in doc, "tools/call %s: %d %r" % (name, st, doc))
        return doc["result"]


def tool_error(res, code, what):
    check(res.get("isError") is True, "%s: wanted a tool error, got %r" % (what, res))
    sc = res.get("structuredContent") or {}
    got = (sc.get("error") or {}).get("code") if isinstance(sc, dict) else None
    text = json.dumps(res)
    check(got == code or code in text, "%s: wanted %s in %r" % (what, code, res))


# ---- admin flows -------------------------------------------------------------

def case_admin_flow(cl):
    v, b = stack(cl)
    r = create(b, "alice", {"transit_keys": ["mcp-default"]}, description="first agent",
               profile={"llm_enabled": True, "tasks": ["summarise"], "secrets_backend": "vault",
                        "status": "active"})
    check(r["version"] == 1 and r["enabled"] is True and r["api_keys"] == [], "created %r" % r)
    check(r["scopes"] == ["read", "write", "delete", "list"], "default scopes %r" % r)
    check(r["vault_policy"].startswith("mcp-agent-alice-") and r["vault_policy_written"],
          "policy %r" % r)
    expect_err(admin(b, "POST", "/admin/subjects", {"subject": "alice"}), 409, "conflict",
               "exists", "duplicate create")
    st, doc = admin(b, "GET", "/admin/subjects/alice")
    check(st == 200 and doc["description"] == "first agent" and
          doc["profile"]["tasks"] == ["summarise"], "get %r" % doc)
    expect_err(admin(b, "GET", "/admin/subjects/nobody"), 404, "not_found", "no such subject")
    # validation: every bad field is named
    for body, needle in (({"subject": "bad/name"}, "subject"),
                         ({"subject": "x", "grants": {"transit_keys": ["a b"]}}, "transit_keys"),
                         ({"subject": "x", "grants": {"vault_keys": []}}, "unknown grant"),
                         ({"subject": "x", "grants": {"db_roles": "all"}}, "db_roles"),
                         ({"subject": "x", "scopes": ["root"]}, "scopes[0]"),
                         ({"subject": "x", "expires_at": "tomorrow"}, "expires_at"),
                         ({"subject": "x", "profile": {"secrets_backend": "disk"}}, "secrets_backend"),
                         ({"subject": "x", "profile": {"Bad-Key": 1}}, "profile field"),
                         ({"subject": "x", "colour": "red"}, "colour")):
        expect_err(admin(b, "POST", "/admin/subjects", body), 400, "bad_request", needle,
                   "invalid %r" % body)
    # API keys: shown once, stored hashed, usable at once, revocable
    k1, id1 = new_key(b, "alice")
    st, doc = b.raw("GET", "/whoami", key=k1)
    check(st == 200 and doc["subject"] == "alice", "whoami with a registry key %r" % doc)
    expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": b64("x")}, key=k1),
              "granted key")
    st, doc = admin(b, "GET", "/admin/subjects/alice")
    check([k["key_id"] for k in doc["api_keys"]] == [id1] and "sha256" not in json.dumps(doc),
          "keys listed by id only %r" % doc)
    check(k1 not in json.dumps(doc), "the key is never shown again")
    st, doc = admin(b, "DELETE", "/admin/subjects/alice/api-keys/" + id1)
    check(st == 200 and doc["revoked_key_id"] == id1, "revoke %d %r" % (st, doc))
    expect_err(b.raw("GET", "/whoami", key=k1), 401, "unauthenticated", None, "revoked key")
    expect_err(admin(b, "DELETE", "/admin/subjects/alice/api-keys/" + id1), 404, "not_found")
    # patch: scopes narrowed, grants replaced, profile merged (null removes)
    k2, _ = new_key(b, "alice")
    st, doc = admin(b, "PATCH", "/admin/subjects/alice",
                    {"scopes": ["read"], "grants": {"transit_keys": ["mcp-other"]},
                     "profile": {"status": None, "llm_enabled": False}})
    check(st == 200 and doc["scopes"] == ["read"] and
          doc["grants"]["transit_keys"] == ["mcp-other"] and
          doc["profile"] == {"llm_enabled": False, "tasks": ["summarise"],
                             "secrets_backend": "vault"}, "patch %d %r" % (st, doc))
    expect_err(b.op("kv.write", {"path": "a", "data": {"x": 1}}, key=k2), 403, "forbidden",
               "write", "scope removed")
    # disable / enable
    admin(b, "PATCH", "/admin/subjects/alice", {"enabled": False})
    expect_err(b.raw("GET", "/whoami", key=k2), 403, "subject_disabled", "disabled")
    admin(b, "PATCH", "/admin/subjects/alice", {"enabled": True})
    check(b.raw("GET", "/whoami", key=k2)[0] == 200, "enabled again")
    # expiry in the past refuses
    admin(b, "PATCH", "/admin/subjects/alice", {"expires_at": "2001-01-01T00:00:00Z"})
    expect_err(b.raw("GET", "/whoami", key=k2), 403, "subject_disabled", "expired")
    admin(b, "PATCH", "/admin/subjects/alice", {"expires_at": ""})
    # JWT issuance: HS256, ttl and scopes, recorded on the subject
    st, doc = admin(b, "POST", "/admin/subjects/alice/jwt", {"ttl": 600})
    check(st == 200 and doc["token_type"] == "Bearer" and doc["ttl_seconds"] == 600,
          "jwt %d %r" % (st, doc))
    st, who = b.raw("GET", "/whoami", headers={"Authorization": "Bearer " + doc["token"]})
    check(st == 200 and who["subject"] == "alice" and who["auth_mode"] == "jwt",
          "whoami with the issued JWT %d %r" % (st, who))
    st, rec = admin(b, "GET", "/admin/subjects/alice")
    check(rec["jwt_ttl_seconds"] == 600 and rec["jwt_created_at"] and rec["jwt_expires_at"],
          "jwt metadata recorded %r" % rec)
    expect_err(admin(b, "POST", "/admin/subjects/alice/jwt", {"scopes": ["admin"]}), 400,
               "bad_request", "subset", "a token cannot exceed the subject")
    expect_err(admin(b, "POST", "/admin/subjects/alice/jwt", {"ttl": 5}), 400, "bad_request",
               "ttl", "ttl below the minimum")
    # CSV export: a header and one row per subject, no key material
    create(b, "bob", {"db_roles": ["readonly"]}, description="=cmd|' /C calc'!A0")
    st, csv = admin(b, "GET", "/admin/subjects.csv")
    text = csv.decode() if isinstance(csv, bytes) else json.dumps(csv)
    lines = text.strip().split("\r\n")
    check(st == 200 and lines[0].startswith('"subject","description","enabled"') and
          len(lines) == 3, "csv %d %r" % (st, text))
    check('"\'=cmd' in text, "formula cells are neutralised: %r" % lines[2])
    check(k2 not in text and "sha256" not in text, "no key material in the CSV")
    # a document result: its own content type, offered as a download
    st, hd, _ = L.fc.request(b.addr, "GET", "/admin/subjects.csv",
                             headers={"X-API-Key": ADMIN_KEY})
    check(st == 200 and hd.get("content-type") == "text/csv; charset=utf-8" and
          hd.get("content-disposition") == 'attachment; filename="subjects.csv"',
          "csv headers %d %r" % (st, hd))
    # list and delete
    st, doc = admin(b, "GET", "/admin/subjects")
    check(st == 200 and [s["subject"] for s in doc["subjects"]] == ["alice", "bob"] and
          doc["count"] == 2, "list %r" % doc)
    st, doc = admin(b, "DELETE", "/admin/subjects/bob")
    check(st == 200 and doc["deleted"] and doc["vault_policy_deleted"], "delete %r" % doc)
    expect_err(admin(b, "GET", "/admin/subjects/bob"), 404, "not_found")
    st, pol = v.api("GET", "sys/policies/acl/" + L.policy_name("bob"))
    check(st == 404, "the deleted subject's policy is gone: %d" % st)
    # the audit trail names the admin and the action, never a key
    logs = b.logs().get("server.log", b"").decode()
    check('"action":"add_key"' in logs and '"actor":"ops-admin"' in logs, "audit lines")
    check(k2 not in logs, "no key in the logs")


def case_non_admin(cl):
    """Every admin route: 401 without a credential, 403 for an agent (config
    key and registry key alike), never reachable as an MCP tool."""
    v, b = stack(cl)
    create(b, "alice")
    rk, kid = new_key(b, "alice")
    check(len(ADMIN_ROWS) >= 9, "admin rows in the table: %r" % sorted(ADMIN_ROWS))
    for rid, row in sorted(ADMIN_ROWS.items()):
        path = row["path"].replace("{subject}", "alice").replace("{key_id}", kid)
        body = {} if row["method"] in ("POST", "PATCH") else None
        for key in (AGENT_KEY, rk):
            expect_err(b.raw(row["method"], path, key=key, body=body), 403, "forbidden", "admin",
                       "%s as an agent" % rid)
        st, doc = b.raw(row["method"], path, key=None, body=body)
        check(st == 401, "%s without a credential: %d" % (rid, st))
        check(not row["tool"], "%s must not be an MCP tool" % rid)
    # every admin row is documented in /openapi.json with its admin scope
    st, oa = b.raw("GET", "/openapi.json")
    for rid, row in ADMIN_ROWS.items():
        check(row["method"].lower() in oa["paths"].get(row["path"], {}),
              "%s %s missing from /openapi.json" % (row["method"], row["path"]))
    tools = Mcp(b, AGENT_KEY).tools() + Mcp(b, ADMIN_KEY).tools()
    check(not [t for t in tools if t.startswith("admin")] and len(tools) > 5,
          "no admin tool listed: %r" % tools)
    st, doc = admin(b, "GET", "/admin/subjects/alice")
    check(st == 200 and len(doc["api_keys"]) == 1, "nothing changed %r" % doc)


# ---- grants --------------------------------------------------------------------

PT = b64("grant test")


def grant_calls(ct_granted, lease_other):
    """(op, args with the granted resource, args with an ungranted one)."""
    return [
        ("transit.encrypt", {"key": "mcp-default", "plaintext": PT},
         {"key": "mcp-other", "plaintext": PT}),
        ("transit.decrypt", {"key": "mcp-default", "ciphertext": ct_granted},
         {"key": "mcp-other", "ciphertext": ct_granted}),
        ("transit.rewrap", {"key": "mcp-default", "ciphertext": ct_granted},
         {"key": "mcp-other", "ciphertext": ct_granted}),
        ("transit.hmac", {"key": "mcp-default", "input": PT}, {"key": "mcp-other", "input": PT}),
        ("transit.sign", {"key": "mcp-signing", "input": PT}, {"key": "mcp-other", "input": PT}),
        ("transit.verify", {"key": "mcp-signing", "input": PT, "signature": "vault:v1:AAAA"},
         {"key": "mcp-other", "input": PT, "signature": "vault:v1:AAAA"}),
        ("db.issue_creds", {"role": "readonly"}, {"role": "other"}),
        ("db.renew", None, {"lease_id": lease_other}),
        ("db.revoke", None, {"lease_id": lease_other}),
        ("ssh.otp", {"role": "otp_role", "ip": "127.0.0.1"}, {"role": "otp_other", "ip": "127.0.0.1"}),
        ("ssh.sign", {"role": "ca_role", "public_key": L.SSH_PUBKEY},
         {"role": "otp_other", "public_key": L.SSH_PUBKEY}),
        ("kms.encrypt", {"key_id": "alias/granted", "plaintext": PT},
         {"key_id": "alias/other", "plaintext": PT}),
        ("kms.decrypt", {"key_id": "alias/granted", "ciphertext": PT},
         {"key_id": "alias/other", "ciphertext": PT}),
        ("kms.generate_data_key", {"key_id": "alias/granted"}, {"key_id": "alias/other"}),
        ("kms.sign", {"key_id": "alias/granted", "message": PT,
                      "signing_algorithm": "ECDSA_SHA_256"},
         {"key_id": "alias/other", "message": PT, "signing_algorithm": "ECDSA_SHA_256"}),
        ("kms.verify", {"key_id": "alias/granted", "message": PT, "signature": PT,
                        "signing_algorithm": "ECDSA_SHA_256"},
         {"key_id": "alias/other", "message": PT, "signature": PT,
          "signing_algorithm": "ECDSA_SHA_256"}),
    ]


GRANTS = {"transit_keys": ["mcp-default", "mcp-signing"], "db_roles": ["readonly"],
          "ssh_roles": ["otp_role", "ca_role"], "kms_keys": ["alias/granted"]}


def case_grants(cl):
    """Every Transit/DB/SSH/KMS operation, over REST and MCP: an ungranted
    resource is 403 not_granted naming only the kind; a granted one passes
    the gate (KMS is off here: 503 not_enabled proves the gate let it by)."""
    v, b = stack(cl)
    create(b, "alice", GRANTS)
    create(b, "bob", {"transit_keys": ["mcp-other"], "db_roles": ["readonly", "other"]})
    ka, _ = new_key(b, "alice")
    kb, _ = new_key(b, "bob")
    ct = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=ka),
                   "encrypt")["ciphertext"]
    lease_b = expect_ok(b.op("db.issue_creds", {"role": "other"}, key=kb), "bob's creds")["lease_id"]
    mcp = Mcp(b, ka)
    covered = set()
    for op, good, bad in grant_calls(ct, lease_b):
        covered.add(op)
        doc = expect_err(b.op(op, bad, key=ka), 403, "not_granted", None, "REST %s ungranted" % op)
        msg = doc["error"]["message"]
        check("bob" not in msg and "mcp-other" not in msg and "alias/other" not in msg,
              "%s: the refusal leaks nothing: %r" % (op, msg))
        tool_error(mcp.call(op, bad), "not_granted", "MCP %s ungranted" % op)
        if good is None:
            continue
        st, doc = b.op(op, good, key=ka)
        if op.startswith("kms."):
            check(st == 503 and doc["error"]["code"] == "not_enabled",
                  "REST %s granted passes the gate: %d %r" % (op, st, doc))
        elif op == "transit.verify":
            check(st in (200, 400), "REST %s granted: %d %r" % (op, st, doc))
        else:
            check(st == 200, "REST %s granted: %d %r" % (op, st, doc))
        res = mcp.call(op, good)
        if op.startswith("kms."):
            tool_error(res, "not_enabled", "MCP %s granted" % op)
        elif op != "transit.verify":
            check(res.get("isError") is False, "MCP %s granted: %r" % (op, res))
    # every grant-checked row of the table is covered above
    family = {k for k in L.TABLE if k.split(".")[0] in ("transit", "db", "ssh", "kms")}
    check(family - covered == {"transit.random"}, "uncovered ops: %r" % (family - covered))
    expect_ok(b.op("transit.random", {}, key=ka), "random with a transit grant")
    # a subject with no grants at all (config subject, DEFAULT_GRANTS_JSON {})
    expect_err(b.op("transit.random", {}, key=AGENT_KEY), 403, "not_granted", "Transit key")
    # tools/list shows tools by scope; ungranted tools are listed, calls refused
    names = Mcp(b, AGENT_KEY).tools()
    names = [n.replace("_", ".", 1) for n in names]
    check("transit.encrypt" in names and "kv.read" in names, "tools by scope %r" % names)
    # kms.decrypt without key_id is only for a subject granted every key
    expect_err(b.op("kms.decrypt", {"ciphertext": PT}, key=ka), 403, "not_granted", "key_id")


def case_cross_agent(cl):
    """The issue's own repro: a second agent cannot decrypt the first's
    ciphertext or manage its database lease, under default settings."""
    v, b = stack(cl)
    create(b, "alice", {"transit_keys": ["mcp-default"], "db_roles": ["readonly"]})
    create(b, "bob", {"transit_keys": ["mcp-other"], "db_roles": ["readonly"]})
    ka, _ = new_key(b, "alice")
    kb, _ = new_key(b, "bob")
    ct = expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": b64("secret")},
                        key=ka), "alice encrypts")["ciphertext"]
    expect_err(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}, key=kb), 403,
               "not_granted", "Transit key", "bob decrypts alice's ciphertext")
    expect_err(b.op("transit.decrypt", {"key": "mcp-default", "ciphertext": ct}, key=AGENT_KEY),
               403, "not_granted", None, "a bootstrap subject without grants")
    lease = expect_ok(b.op("db.issue_creds", {"role": "readonly"}, key=ka), "alice's creds")
    # same role granted to both: still only the owner manages the lease
    for op in ("db.renew", "db.revoke"):
        expect_err(b.op(op, {"lease_id": lease["lease_id"]}, key=kb), 403, "not_granted",
                   "not issued to this subject", "bob %s alice's lease" % op)
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": lease["lease_id"]})
    check(st == 200, "alice's lease still exists after bob's attempts: %d" % st)
    expect_ok(b.op("db.renew", {"lease_id": lease["lease_id"], "increment": 60}, key=ka), "renew")
    expect_ok(b.op("db.revoke", {"lease_id": lease["lease_id"]}, key=ka), "owner revokes")
    # Vault enforces too: bob's child-token policy has no path to alice's key
    hcl = v.must("GET", "sys/policies/acl/" + L.policy_name("bob"))["data"]["policy"]
    check("transit/decrypt/mcp-other" in hcl and "mcp-default" not in hcl,
          "bob's Vault policy names only his key:\n%s" % hcl)
    tok = v.must("POST", "auth/token/create", {"policies": [L.policy_name("bob")],
                                                "no_default_policy": True})["auth"]["client_token"]
    st, _ = v.api("POST", "transit/decrypt/mcp-default", {"ciphertext": ct}, token=tok)
    check(st == 403, "Vault refuses bob's child token on alice's key: %d" % st)


# ---- Vault enforcement, isolation of the registry --------------------------------

def case_policy_casefold(cl):
    """Subjects differing only in case get distinct policies that never
    overwrite each other; an empty policy prefix is refused."""
    v, b = stack(cl)
    create(b, "Alice", {"transit_keys": ["mcp-signing"]})
    create(b, "alice", {"transit_keys": ["mcp-default"]})
    na, nb = L.policy_name("Alice"), L.policy_name("alice")
    check(na != nb and na.lower() == na and nb.lower() == nb, "names %r %r" % (na, nb))
    pa = v.must("GET", "sys/policies/acl/" + na)["data"]["policy"]
    pb = v.must("GET", "sys/policies/acl/" + nb)["data"]["policy"]
    check("mcp-signing" in pa and "mcp-default" not in pa, "Alice's policy %s" % pa)
    check("mcp-default" in pb and "mcp-signing" not in pb, "alice's policy %s" % pb)
    check("secret/data/mcp/Alice/*" in pa and "secret/data/mcp/alice/*" in pb, "KV areas")
    # the registry writes what gen_policy prints
    check(pb == L.gen_policy("--subject", "alice", "--transit-key", "mcp-default"),
          "gen_policy prints the registry's policy")
    ka, _ = new_key(b, "Alice")
    kb, _ = new_key(b, "alice")
    expect_ok(b.op("kv.write", {"path": "p", "data": {"who": "Alice"}}, key=ka), "Alice writes")
    expect_ok(b.op("kv.write", {"path": "p", "data": {"who": "alice"}}, key=kb), "alice writes")
    check(b.op("kv.read", {"path": "p"}, key=ka)[1]["data"]["who"] == "Alice", "own area")
    r = subprocess.run([L.procs.binary("vault-mcp-fcgi"), "--check-config",
                        "--child-token-policy-prefix", ""], capture_output=True, text=True,
                       env={"PATH": os.environ.get("PATH", "")}, cwd="/")
    check(r.returncode == 2 and "CHILD_TOKEN_POLICY_PREFIX" in r.stderr, "empty prefix %r" % r.stderr)


def case_admin_prefix(cl):
    """Agents can never reach {KV_MOUNT}/data/{ADMIN_PREFIX}/: not by a path
    (nspath), not with their child token (Vault), not by configuration."""
    v, b = stack(cl)
    create(b, "alice")
    ka, _ = new_key(b, "alice")
    for path in ("../mcp-admin/subjects/alice", "..%2fmcp-admin/subjects/alice",
                 "/secret/data/mcp-admin/subjects/alice", "a/../../mcp-admin/subjects/alice"):
        st, doc = b.op("kv.read", {"path": path}, key=ka)
        check(st in (400, 404) and st != 200, "path %r: %d %r" % (path, st, doc))
        check("api_keys" not in json.dumps(doc), "no record leaked via %r" % path)
    # the agent's own Vault policy has no path into the registry
    tok = v.must("POST", "auth/token/create", {"policies": [L.policy_name("alice")],
                                                "no_default_policy": True})["auth"]["client_token"]
    for method, path in (("GET", "secret/data/mcp-admin/subjects/alice"),
                         ("LIST", "secret/metadata/mcp-admin/subjects")):
        st, _ = v.api(method, path, token=tok)
        check(st == 403, "child token %s %s: %d" % (method, path, st))
    # configuration refuses an admin prefix an agent path could contain
    for admin_prefix, default_prefix in (("mcp", "mcp"), ("mcp", "mcp/agents"), ("a/b", "mcp"),
                                         ("", "mcp")):
        r = subprocess.run([L.procs.binary("vault-mcp-fcgi"), "--check-config",
                            "--admin-prefix", admin_prefix, "--default-prefix", default_prefix],
                           capture_output=True, text=True, cwd="/",
                           env={"PATH": os.environ.get("PATH", "")})
        check(r.returncode == 2 and "ADMIN_PREFIX" in r.stderr,
              "ADMIN_PREFIX=%r DEFAULT_PREFIX=%r: %r" % (admin_prefix, default_prefix, r.stderr))


def walk_kv(v, mount, folder=""):
    st, doc = v.api("LIST", "%s/metadata/%s" % (mount, folder))
    if st != 200:
        return
    for k in doc["data"]["keys"]:
        if k.endswith("/"):
            yield from walk_kv(v, mount, folder + k)
        else:
            yield folder + k


def case_no_plaintext_key(cl):
    """Scan everything the bridge wrote to Vault: no API key in clear."""
    v, b = stack(cl, env={"DEFAULT_GRANTS_JSON": json.dumps(L.ALL_GRANTS)})
    issued = []
    for s in ("alice", "bob"):
        create(b, s, L.ALL_GRANTS)
        for _ in range(2):
            k, _ = new_key(b, s)
            issued.append(k)
            expect_ok(b.op("kv.write", {"path": "x", "data": {"v": 1}}, key=k), "use key")
            expect_ok(b.op("db.issue_creds", {"role": "readonly"}, key=k), "lease record")
    admin(b, "POST", "/admin/subjects/alice/jwt", {"ttl": 300})
    dump = []
    paths = list(walk_kv(v, "secret"))
    check(any(p.startswith("mcp-admin/subjects/") for p in paths) and
          any(p.startswith("mcp-admin/leases/") for p in paths), "registry written %r" % paths)
    for p in paths:
        st, doc = v.api("GET", "secret/data/" + p)
        dump.append(json.dumps(doc))
        st, doc = v.api("GET", "secret/metadata/" + p)
        dump.append(json.dumps(doc))
    for name in v.must("LIST", "sys/policies/acl")["data"]["keys"]:
        dump.append(json.dumps(v.must("GET", "sys/policies/acl/" + name)))
    text = "\n".join(dump)
    for k in issued + [ADMIN_KEY, AGENT_KEY]:
        check(k not in text and k[4:] not in text, "plaintext key found in Vault")
    import hashlib
    check(hashlib.sha256(issued[0].encode()).hexdigest() in text, "stored as SHA-256")
    print("scanned %d KV documents and policies: no plaintext key" % len(dump))


def case_concurrent_patch(cl):
    """Two admins PATCH the same version at once: exactly one 409."""
    v, b = stack(cl)
    ver = create(b, "alice")["version"]
    for round_ in range(5):
        out = []
        gate = threading.Barrier(2)

        def patch(desc):
            gate.wait()
            out.append(admin(b, "PATCH", "/admin/subjects/alice",
                             {"description": desc, "version": ver}))
        ts = [threading.Thread(target=patch, args=("admin-%d-%d" % (round_, i),))
              for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = sorted(st for st, _ in out)
        check(codes == [200, 409], "round %d: %r" % (round_, out))
        ver = [d for st, d in out if st == 200][0]["version"]
        loser = [d for st, d in out if st == 409][0]
        check(loser["error"]["code"] == "conflict" and "version" in loser["error"]["message"],
              "409 says why: %r" % loser)
    # a stale version is refused even when nobody races
    expect_err(admin(b, "PATCH", "/admin/subjects/alice", {"description": "x", "version": 1}),
               409, "conflict", "version")


def case_restart(cl):
    """Subjects live in Vault: a new pool (new RUN_DIR) serves them at once."""
    v = L.Vault(cl)
    L.provision(v)
    _, b1 = stack(cl, vault=v)
    create(b1, "alice", {"transit_keys": ["mcp-default"]})
    k, _ = new_key(b1, "alice")
    expect_ok(b1.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=k), "before")
    b1.close()
    _, b2 = stack(cl, vault=v)
    expect_ok(b2.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=k), "after")
    expect_err(b2.op("transit.encrypt", {"key": "mcp-other", "plaintext": PT}, key=k), 403,
               "not_granted", None, "grants survive too")


def case_propagation(cl):
    """Two worker processes of one host (same RUN_DIR): a key created or
    revoked, or a subject disabled, through one takes effect on the other
    within 1 s. The bound is reported, not timed as a pass/fail speed test:
    the check is that the change is visible by the first request after it."""
    v = L.Vault(cl)
    L.provision(v)
    run = L.tmpdir(cl, "vmb-reg-run-")
    _, b1 = stack(cl, vault=v, run_dir=run)
    _, b2 = stack(cl, vault=v, run_dir=run)
    create(b1, "alice", {"transit_keys": ["mcp-default"]})
    check(b2.raw("GET", "/whoami", key=AGENT_KEY)[0] == 200, "b2 warm")
    figures = []

    def until(pred, what):
        t0 = time.time()
        n = 0
        while True:
            n += 1
            if pred():
                took = time.time() - t0
                figures.append((what, took, n))
                check(took < 1.0, "%s took %.3f s" % (what, took))
                return
            check(time.time() - t0 < 5, "%s never reached the other worker" % what)
            time.sleep(0.01)
    k, kid = new_key(b1, "alice")
    until(lambda: b2.raw("GET", "/whoami", key=k)[0] == 200, "new key on worker 2")
    admin(b2, "PATCH", "/admin/subjects/alice", {"enabled": False})
    until(lambda: b1.raw("GET", "/whoami", key=k)[0] == 403, "disable on worker 1")
    admin(b1, "PATCH", "/admin/subjects/alice", {"enabled": True})
    until(lambda: b2.raw("GET", "/whoami", key=k)[0] == 200, "enable on worker 2")
    admin(b1, "PATCH", "/admin/subjects/alice", {"grants": {"transit_keys": ["mcp-other"]}})
    until(lambda: b2.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT},
                        key=k)[0] == 403, "grant removed on worker 2")
    admin(b2, "DELETE", "/admin/subjects/alice/api-keys/" + kid)
    until(lambda: b1.raw("GET", "/whoami", key=k)[0] == 401, "revoked key on worker 1")
    for what, took, n in figures:
        print("%s: %.1f ms, %d request(s)" % (what, took * 1000, n))
    # cached requests make no registry round trip to Vault (the first request
    # after the last change reloads; the next 50 must not)
    check(b2.raw("GET", "/whoami", key=AGENT_KEY)[0] == 200, "reload after the changes")
    before = registry_lists(b2)
    for _ in range(50):
        check(b2.raw("GET", "/whoami", key=AGENT_KEY)[0] == 200, "cached")
    check(registry_lists(b2) == before, "50 cached requests listed the registry %d times"
          % (registry_lists(b2) - before))


def registry_lists(b):
    import fcgi_client as fc
    st, h, body = fc.request(b.addr, "GET", "/metrics")
    m = re.search(r'^vault_requests_total\{operation="registry.list"[^}]*\} (\d+)',
                  body.decode(), re.M)
    return int(m.group(1)) if m else 0


def case_default_grants(cl):
    """Bootstrap subjects: grants from DEFAULT_GRANTS_JSON (default none); a
    registry record for the same subject wins."""
    v, b = stack(cl, env={"DEFAULT_GRANTS_JSON": json.dumps({"transit_keys": ["mcp-default"]})})
    expect_ok(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=AGENT_KEY),
              "default grant")
    expect_err(b.op("transit.encrypt", {"key": "mcp-other", "plaintext": PT}, key=AGENT_KEY),
               403, "not_granted")
    create(b, "cfg_agent", {"transit_keys": ["mcp-other"]}, scopes=["read", "write"])
    expect_ok(b.op("transit.encrypt", {"key": "mcp-other", "plaintext": PT}, key=AGENT_KEY),
              "the record's grant")
    expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=AGENT_KEY),
               403, "not_granted", None, "the record wins over the default")
    expect_err(b.op("kv.delete", {"path": "x"}, key=AGENT_KEY), 403, "forbidden", None,
               "the record's scopes win")
    admin(b, "PATCH", "/admin/subjects/cfg_agent", {"enabled": False})
    expect_err(b.raw("GET", "/whoami", key=AGENT_KEY), 403, "subject_disabled", None,
               "a disabled record stops a config key too")
    # the default of the setting itself is "no grants"
    _, b2 = stack(cl, vault=v, env={"DEFAULT_GRANTS_JSON": None})
    expect_err(b2.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT},
                     key=ADMIN_KEY), 403, None, None, "no grants without configuration")
    r = subprocess.run([L.procs.binary("vault-mcp-fcgi"), "--check-config"], capture_output=True,
                       text=True, cwd="/", env={"PATH": os.environ.get("PATH", "")})
    conf = json.loads(r.stdout)
    check(conf["DEFAULT_GRANTS_JSON"]["value"] == "{}" and
          conf["CHILD_TOKEN_ENABLED"]["value"] is True, "defaults %r" % r.stdout[:200])


class HttpFront:
    """A small HTTP server in front of the bridge's FastCGI port, standing in
    for the web server so scripts/vmb-admin talks plain HTTP to it."""

    def __init__(self, cl, b):
        import http.server
        import urllib.parse
        import fcgi_client as fc

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                u = urllib.parse.urlsplit(self.path)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("content-length", "host", "connection")}
                st, hd, out = fc.request(b.addr, self.command, urllib.parse.unquote(u.path),
                                         headers=hdrs, body=body, query=u.query)
                self.send_response(st)
                items = hd.items() if isinstance(hd, dict) else hd
                for k, v in items:
                    if k.lower() not in ("status", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", L.procs.free_port()), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        cl.add(self.close)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def case_vmb_admin(cl):
    """scripts/vmb-admin runs the whole lifecycle over the admin API."""
    v, b = stack(cl)
    front = HttpFront(cl, b)
    tool = os.path.join(L.ROOT, "scripts", "vmb-admin")
    env = {"PATH": os.environ.get("PATH", ""), "VMB_URL": front.url,
           "VMB_ADMIN_API_KEY": ADMIN_KEY}

    def run(*args, ok=True, e=None):
        r = subprocess.run([sys.executable, tool] + list(args), capture_output=True, text=True,
                           env=e or env, timeout=60)
        check((r.returncode == 0) == ok, "vmb-admin %s -> %d: %s %s"
              % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r
    r = run("create", "carol", "--description", "terminal", "--transit-key", "mcp-default",
            "--db-role", "readonly", "--profile", '{"llm_enabled": true}')
    check(json.loads(r.stdout)["grants"]["transit_keys"] == ["mcp-default"], r.stdout)
    r = run("add-key", "carol")
    key = re.search(r"^api_key: (\S+)$", r.stdout, re.M).group(1)
    kid = re.search(r"^key_id:  (\S+)$", r.stdout, re.M).group(1)
    check(b.raw("GET", "/whoami", key=key)[1]["subject"] == "carol", "the new key works")
    r = run("list")
    check(re.search(r"^carol\s+yes\s+read,write,delete,list\s+1\s+", r.stdout, re.M),
          "list %r" % r.stdout)
    check(json.loads(run("show", "carol").stdout)["description"] == "terminal", "show")
    run("grant", "carol", "--transit-key", "mcp-signing")
    expect_err(b.op("transit.encrypt", {"key": "mcp-default", "plaintext": PT}, key=key), 403,
               "not_granted", None, "grant replaced")
    run("disable", "carol")
    check(b.raw("GET", "/whoami", key=key)[0] == 403, "disabled")
    run("enable", "carol")
    check(b.raw("GET", "/whoami", key=key)[0] == 200, "enabled")
    # the response-wrapping policy (docs/wrapping.md)
    run("wrap", "carol", "always")
    check(json.loads(run("show", "carol").stdout)["wrap"] == "always", "wrap always shown")
    expect_err(b.op("kv.read", {"path": "x"}, key=key), 403, "wrap_policy", None, "wrap always")
    run("wrap", "carol", "sometimes", ok=False)
    run("wrap", "carol", "optional")
    r = run("issue-jwt", "carol", "--ttl", "120", "--scopes", "read")
    tok = r.stdout.strip()
    st, who = b.raw("GET", "/whoami", headers={"Authorization": "Bearer " + tok})
    check(st == 200 and who["scopes"] == ["read"], "issued jwt %r" % who)
    out = os.path.join(L.tmpdir(cl, "vmb-admin-"), "s.csv")
    run("export-csv", "-o", out)
    check(open(out).read().startswith('"subject"') and "carol" in open(out).read(), "csv")
    run("revoke-key", "carol", kid)
    check(b.raw("GET", "/whoami", key=key)[0] == 401, "revoked")
    r = run("show", "nobody", ok=False)
    check("no such subject" in r.stderr and "404" in r.stderr, "refusal printed %r" % r.stderr)
    r = run("list", ok=False, e=dict(env, VMB_ADMIN_API_KEY=AGENT_KEY))
    check("admin" in r.stderr and "403" in r.stderr, "non-admin %r" % r.stderr)
    run("delete", "carol", ok=False)
    run("delete", "carol", "--yes")
    expect_err(admin(b, "GET", "/admin/subjects/carol"), 404, "not_found")


def main():
    name = sys.argv[1]
    cl = L.Cleanup()
    try:
        globals()["case_" + name](cl)
    finally:
        cl.run()
    print("ok:", name)


if __name__ == "__main__":
    main()
