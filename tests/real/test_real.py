#!/usr/bin/env python3
"""Dynamic secrets against real servers (issue 20), ctest label `real`.

The bridge's FastCGI responder in front of vault-sim (started with
--database-plugins real and provisioned by scripts/provision-vault.sh),
a PostgreSQL and an OpenSSH sshd, all started here on loopback ports and
stopped at the end of the case. Every credential is obtained the way an
agent obtains it: through the bridge's REST routes or its MCP tools, with
an API key; the real server then decides whether it works.

Run one case: test_real.py <case>."""

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
import reallib as R  # noqa: E402
import opslib as L  # noqa: E402
from harness import Cleanup, check  # noqa: E402

ROOT_TOKEN = L.ROOT_TOKEN  # the token opslib.Bridge hands the bridge
KEY = "real-key-" + secrets.token_hex(16)
SUBJECT = "agent_alice"
PROVISION = os.path.join(ROOT, "scripts", "provision-vault.sh")


# ---- the stack ---------------------------------------------------------------

class Vault:
    """vault-sim with the real PostgreSQL plugin (or, real=False, with
    database configs stored only), on a loopback port."""

    def __init__(self, cl, real=True):
        self.port = R.procs.free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(R.tempfile.mkdtemp(prefix="vmb-real-sim-"), "sim.log")
        cl.add(lambda: R.shutil.rmtree(os.path.dirname(self.log_path), ignore_errors=True)
               if not os.environ.get("VMB_KEEP_TMP") else None)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [R.procs.binary("vault-sim"), "server", "--dev", "--dev-root-token-id", ROOT_TOKEN,
             "--dev-listen-address", "127.0.0.1:%d" % self.port,
             "--database-plugins", "real" if real else "stored"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        cl.add(self.stop)
        R.procs.wait_port(self.port, proc=self.proc)

    def stop(self):
        rc = R.procs.stop(self.proc)
        self.log.close()
        check(rc == 0, "vault-sim exited with %r on SIGTERM" % rc)

    def api(self, method, path, body=None, token=ROOT_TOKEN):
        return R.vault_api(self.addr, method, path, body, token)

    def must(self, method, path, body=None):
        st, doc = self.api(method, path, body)
        check(st in (200, 204), "vault %s %s -> %d %r" % (method, path, st, doc))
        return doc


def provision(v, pg=None):
    """scripts/provision-vault.sh, with the PostgreSQL when given."""
    env = {k: val for k, val in os.environ.items()
           if not k.startswith(("VAULT_", "POSTGRES_"))}
    env.update({"VAULT_ADDR": v.addr, "VAULT_TOKEN": ROOT_TOKEN})
    if pg:
        env.update({"POSTGRES_URL": pg.url(), "POSTGRES_USERNAME": pg.admin,
                    "POSTGRES_PASSWORD": pg.admin_password})
    p = subprocess.run(["bash", PROVISION], capture_output=True, text=True, env=env,
                       timeout=120, stdin=subprocess.DEVNULL)
    check(p.returncode == 0, "provision-vault.sh failed: %s %s" % (p.stdout, p.stderr))
    check(pg is None or pg.admin_password not in p.stdout + p.stderr,
          "provision-vault.sh printed the database password")
    return p.stdout


def stack(cl, pg=None, real=True):
    v = Vault(cl, real)
    provision(v, pg)
    b = L.Bridge(cl, v.addr, {KEY: SUBJECT})
    return v, b


class Mcp:
    """MCP over HTTP against the bridge, as an agent's client calls it."""

    def __init__(self, bridge):
        self.b = bridge
        self.sid = None
        self.rid = 0
        doc = self.rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                      "clientInfo": {"name": "real-test", "version": "1"}})
        check("result" in doc, "initialize %r" % doc)
        self.notify("notifications/initialized")
        tools = self.rpc("tools/list")["result"]["tools"]
        self.names = [t["name"] for t in tools]

    def _post(self, msg):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-06-18"}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
        st, hd, raw = L.fc.request(self.b.addr, "POST", "/mcp/rpc", headers=dict(h, **{
            "X-API-Key": KEY}), body=json.dumps(msg).encode(), timeout=60)
        for k, val in (hd or {}).items() if isinstance(hd, dict) else (hd or []):
            if k.lower() == "mcp-session-id":
                self.sid = val
        return st, raw

    def rpc(self, method, params=None):
        self.rid += 1
        msg = {"jsonrpc": "2.0", "id": self.rid, "method": method}
        if params is not None:
            msg["params"] = params
        st, raw = self._post(msg)
        check(st == 200, "%s: HTTP %d %r" % (method, st, raw))
        doc = json.loads(raw)
        check(doc.get("id") == self.rid, "%s: reply %r" % (method, doc))
        return doc

    def notify(self, method):
        self._post({"jsonrpc": "2.0", "method": method})

    def tool(self, op_id):
        """The tool name of an operation (dots may have become '_')."""
        for n in (op_id, op_id.replace(".", "_")):
            if n in self.names:
                return n
        raise AssertionError("no MCP tool for %s in %r" % (op_id, self.names))

    def call(self, op_id, args):
        """tools/call -> (is_error, structured result)."""
        doc = self.rpc("tools/call", {"name": self.tool(op_id), "arguments": args})
        check("result" in doc, "%s: %r" % (op_id, doc))
        res = doc["result"]
        out = res.get("structuredContent")
        if out is None:
            out = json.loads(res["content"][0]["text"])
        return bool(res.get("isError")), out


def ok_rest(res, what):
    return L.expect_ok(res, what)


def ok_mcp(res, what):
    err, out = res
    check(not err, "%s: tool error %r" % (what, out))
    return out


# ---- PostgreSQL ------------------------------------------------------------------

def pg_fixture(cl):
    """A PostgreSQL with a table the readonly role may read and one in
    another schema it may not."""
    pg = R.Postgres(cl)
    pg.admin_sql("CREATE TABLE public.items (id int PRIMARY KEY, name text);"
                 "INSERT INTO public.items VALUES (1, 'one'), (2, 'two');"
                 "CREATE SCHEMA vault_private;"
                 "CREATE TABLE vault_private.secrets (v text);"
                 "INSERT INTO vault_private.secrets VALUES ('hidden');")
    return pg


def login(pg, creds, sql="SELECT count(*) FROM public.items"):
    return pg.psql(creds["username"], creds["password"], sql)


def check_login_works(pg, creds, what):
    rc, out, err = login(pg, creds)
    check(rc == 0 and out == "2", "%s: psql as %s failed: rc=%d %r %r" % (
        what, creds["username"], rc, out, err))


def check_login_fails(pg, creds, what):
    rc, out, err = login(pg, creds)
    check(rc != 0, "%s: psql as %s still works (%r)" % (what, creds["username"], out))
    check("password authentication failed" in err or "does not exist" in err,
          "%s: psql refused for another reason: %s" % (what, err))


def check_grants(pg, creds):
    """What the readonly role grants (SELECT on public tables) and nothing
    more: no writes, no DDL, nothing in another schema, no role changes."""
    for sql, needle in (
            ("INSERT INTO public.items VALUES (3, 'three')", "permission denied"),
            ("UPDATE public.items SET name = 'x'", "permission denied"),
            ("DELETE FROM public.items", "permission denied"),
            ("CREATE TABLE public.mine (x int)", "permission denied"),
            ("SELECT * FROM vault_private.secrets", "permission denied"),
            ("CREATE ROLE intruder", "permission denied"),
            ("ALTER ROLE CURRENT_USER VALID UNTIL 'infinity'", "permission denied")):
        rc, out, err = login(pg, creds, sql)
        check(rc != 0 and needle in err, "%r as %s: wanted %r, got rc=%d %r" % (
            sql, creds["username"], needle, rc, err))
    rc, out, _ = pg.psql(pg.admin, pg.admin_password, "SELECT count(*) FROM public.items")
    check(out == "2", "the refused writes changed nothing (%r)" % out)


def valid_until(pg, user):
    return pg.admin_sql("SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles "
                        "WHERE rolname = '%s'" % user)


def case_db_login(cl):
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    creds = ok_rest(b.op("db.issue_creds", {"role": "readonly"}), "issue")
    user = creds["username"]
    # The bridge asks under the agent's child token (on by default since the
    # subject registry): Vault names it "token-<agent>", cut to 8.
    check(re.fullmatch(r"v-token-ag-readonly-[A-Za-z0-9]{20}-\d{10}", user),
          "username per Vault's default template: %r" % user)
    check(re.fullmatch(r"[A-Za-z0-9-]{20}", creds["password"]), "password %r" % creds)
    check(pg.role_exists(user), "the role exists in PostgreSQL")
    check_login_works(pg, creds, "fresh credentials")
    check_grants(pg, creds)
    # {{expiration}} is the lease's end
    exp = int(valid_until(pg, user))
    check(abs(exp - (time.time() + creds["lease_duration"])) < 30,
          "VALID UNTIL %d vs lease end in %ds" % (exp, creds["lease_duration"]))
    r = ok_rest(b.op("db.revoke", {"lease_id": creds["lease_id"]}), "revoke")
    check(r["revoked"] is True, "revoke %r" % r)
    check(not pg.role_exists(user), "revoke dropped the role (Vault's default revocation)")
    check_login_fails(pg, creds, "after revoke")
    L.expect_err(b.op("db.renew", {"lease_id": creds["lease_id"]}), 400, "bad_request",
                 "lease not found", "renew after revoke")
    # the sim's log holds no password
    v.log.flush()
    log = open(v.log_path).read()
    check(creds["password"] not in log and pg.admin_password not in log,
          "a password reached the simulator's log")


def case_db_expiry(cl):
    """A lease that nobody revokes: the simulator's own timer revokes it at
    its end, and the revocation statements of the role drop the user."""
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    v.must("POST", "database/config/mcp-postgres", {"allowed_roles": "readonly,short"})
    v.must("POST", "database/roles/short", {
        "db_name": "mcp-postgres", "default_ttl": "3s", "max_ttl": "10s",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';",
                                "GRANT SELECT ON public.items TO \"{{name}}\";"],
        "revocation_statements": ["REVOKE ALL ON public.items FROM \"{{name}}\";"
                                  " DROP ROLE IF EXISTS \"{{name}}\";"]})
    creds = ok_rest(b.op("db.issue_creds", {"role": "short"}), "issue short")
    check(creds["lease_duration"] == 3, "short lease %r" % creds)
    check_login_works(pg, creds, "short-lived credentials")
    t0 = time.monotonic()
    # no call to the simulator from here on: only its timer can act
    R.wait_for(lambda: not pg.role_exists(creds["username"]), 30,
               "the expired lease's role to be dropped")
    waited = time.monotonic() - t0
    check(waited >= 1.0, "the role went away before its lease ended (%.1fs)" % waited)
    check_login_fails(pg, creds, "after expiry")
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": creds["lease_id"]})
    check(st == 400, "the expired lease is gone: %d %r" % (st, doc))
    print("expiry: role dropped %.1fs after issue (lease 3s)" % waited)


def case_db_concurrent(cl):
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    results = [None, None]

    def issue(i):
        results[i] = b.op("db.issue_creds", {"role": "readonly"})

    ts = [threading.Thread(target=issue, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    creds = [ok_rest(r, "concurrent issue %d" % i) for i, r in enumerate(results)]
    check(creds[0]["username"] != creds[1]["username"], "two distinct users %r" % creds)
    check(creds[0]["password"] != creds[1]["password"], "two distinct passwords")
    check(creds[0]["lease_id"] != creds[1]["lease_id"], "two leases")
    for c in creds:
        check_login_works(pg, c, "concurrent issuance")
    ok_rest(b.op("db.revoke", {"lease_id": creds[0]["lease_id"]}), "revoke first")
    check_login_fails(pg, creds[0], "first after its revoke")
    check_login_works(pg, creds[1], "second untouched by the first's revoke")


def case_db_renew(cl):
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    creds = ok_rest(b.op("db.issue_creds", {"role": "readonly"}), "issue")
    user = creds["username"]
    before = int(valid_until(pg, user))
    r = ok_rest(b.op("db.renew", {"lease_id": creds["lease_id"], "increment": 7200}), "renew")
    check(r["lease_id"] == creds["lease_id"] and r["lease_duration"] == 7200,
          "renewal %r" % r)
    after = int(valid_until(pg, user))
    check(after - before > 3000 and abs(after - (time.time() + 7200)) < 30,
          "renewal moved VALID UNTIL from %d to %d" % (before, after))
    st, doc = v.api("PUT", "sys/leases/lookup", {"lease_id": creds["lease_id"]})
    check(st == 200 and doc["data"]["ttl"] > 7000, "lease after renewal %r" % doc)
    check_login_works(pg, creds, "after renewal")
    # beyond max_ttl (24h): capped, and VALID UNTIL follows the cap
    r = ok_rest(b.op("db.renew", {"lease_id": creds["lease_id"], "increment": 200000}),
                "renew past max")
    check(r["lease_duration"] <= 86400, "capped at max_ttl %r" % r)
    capped = int(valid_until(pg, user))
    check(abs(capped - (time.time() + r["lease_duration"])) < 30,
          "VALID UNTIL %d follows the capped lease (%d s)" % (capped, r["lease_duration"]))
    ok_rest(b.op("db.revoke", {"lease_id": creds["lease_id"]}), "revoke")
    check_login_fails(pg, creds, "after revoke")


def case_db_mcp(cl):
    """The same life cycle through MCP tools, as an agent's client calls them."""
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    m = Mcp(b)
    creds = ok_mcp(m.call("db.issue_creds", {"role": "readonly"}), "mcp issue")
    check_login_works(pg, creds, "credentials from MCP")
    check_grants(pg, creds)
    r = ok_mcp(m.call("db.renew", {"lease_id": creds["lease_id"], "increment": 600}),
               "mcp renew")
    check(r["lease_duration"] == 600, "mcp renew %r" % r)
    ok_mcp(m.call("db.revoke", {"lease_id": creds["lease_id"]}), "mcp revoke")
    check_login_fails(pg, creds, "after MCP revoke")


def agent_tokens(v, purpose):
    """The live tokens the bridge made for SUBJECT with this purpose
    ("request": the child token; "db-lease": a lease token), as
    lookup-accessor shows them."""
    st, doc = v.api("LIST", "auth/token/accessors")
    check(st == 200, "list accessors %d %r" % (st, doc))
    out = []
    for acc in doc["data"]["keys"]:
        st, d = v.api("POST", "auth/token/lookup-accessor", {"accessor": acc})
        meta = (d or {}).get("data", {}).get("meta") or {}
        if st == 200 and meta.get("subject") == SUBJECT and meta.get("purpose") == purpose:
            out.append(d["data"])
    return out


def case_db_child_token(cl):
    """With child tokens (the default) a 30 s login issued while the agent's
    child token lives for 10 s still works after that token expired: the
    bridge issues it under a lease token of its own (docs/operations.md).
    Vault revokes a lease with the token that created it, so before this
    the user was dropped with the child token. Renew and revoke through the
    bridge still act on the real role."""
    pg = pg_fixture(cl)
    v = Vault(cl)
    provision(v, pg)
    v.must("POST", "database/config/mcp-postgres", {"allowed_roles": "readonly,short"})
    v.must("POST", "database/roles/short", {
        "db_name": "mcp-postgres", "default_ttl": "30s", "max_ttl": "2m",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'"
                                " VALID UNTIL '{{expiration}}';",
                                "GRANT SELECT ON public.items TO \"{{name}}\";"]})
    b = L.Bridge(cl, v.addr, {KEY: SUBJECT}, env={"CHILD_TOKEN_ENABLED": "true",
                                                 "CHILD_TOKEN_TTL": "10s"})
    # any call mints the agent's 10 s child token
    L.expect_err(b.op("kv.read", {"path": "nothing"}), 404)
    check(len(agent_tokens(v, "request")) == 1, "the agent's child token exists")
    t0 = time.monotonic()
    creds = ok_rest(b.op("db.issue_creds", {"role": "short"}), "issue with child tokens on")
    check(creds["lease_duration"] == 30, "a 30 s lease: %r" % creds)
    check(creds["username"].startswith("v-token-ag-short-"),
          "the lease token carries the agent's display name: %r" % creds["username"])
    lt = agent_tokens(v, "db-lease")
    check(len(lt) == 1 and lt[0]["orphan"] is True and len(lt[0]["policies"]) == 1 and
          lt[0]["policies"][0].startswith("mcp-agent-agent_alice-"),
          "one orphan lease token with the agent's policy only: %r" % lt)
    check_login_works(pg, creds, "fresh credentials")
    # Event: the child token has expired and Vault has swept it.
    R.wait_for(lambda: not agent_tokens(v, "request"), 40,
               "the agent's 10 s child token to expire", interval=0.25)
    gone = time.monotonic() - t0
    check(gone < 28, "the child token expired %.1fs after issue, too late to tell" % gone)
    check(pg.role_exists(creds["username"]), "the user survived the child token (%.1fs)" % gone)
    check_login_works(pg, creds, "%.1fs after issue, the child token expired" % gone)
    before = int(valid_until(pg, creds["username"]))
    r = ok_rest(b.op("db.renew", {"lease_id": creds["lease_id"], "increment": 90}), "renew")
    check(r["lease_duration"] == 90, "renewed %r" % r)
    after = int(valid_until(pg, creds["username"]))
    check(after - before > 40, "renewal moved VALID UNTIL from %d to %d" % (before, after))
    ok_rest(b.op("db.revoke", {"lease_id": creds["lease_id"]}), "revoke")
    check(not pg.role_exists(creds["username"]), "revoke dropped the role")
    check_login_fails(pg, creds, "after revoke")
    print("child token gone %.1fs after issue; the 30s login still worked, renewed, revoked"
          % gone)


def case_db_statements(cl):
    """Statement forms Vault accepts, run against the server: a DO block
    (holds END, so it is run whole, not split at its inner ';'), a
    base64-encoded list, a JSON array inside one string, and custom renew
    statements."""
    import base64
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    v.must("POST", "database/config/mcp-postgres", {"allowed_roles": "*"})
    grant = "GRANT SELECT ON public.items TO \"{{name}}\";"
    forms = {
        "doblock": ["DO $$ BEGIN CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                    "VALID UNTIL '{{expiration}}'; EXECUTE 'GRANT SELECT ON public.items TO "
                    "\"{{name}}\"'; END $$;"],
        "b64": [base64.b64encode(("CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD "
                                  "'{{password}}'; " + grant).encode()).decode()],
        "jsonarr": [json.dumps(["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'",
                                grant])],
    }
    for role, stmts in forms.items():
        v.must("POST", "database/roles/" + role, {
            "db_name": "mcp-postgres", "creation_statements": stmts,
            "renew_statements": ["ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';"
                                 " COMMENT ON ROLE \"{{name}}\" IS 'renewed'"]})
        creds = ok_rest(b.op("db.issue_creds", {"role": role}), "issue " + role)
        check_login_works(pg, creds, "creation statements of form %s" % role)
        ok_rest(b.op("db.renew", {"lease_id": creds["lease_id"], "increment": 900}),
                "renew " + role)
        note = pg.admin_sql("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles "
                            "WHERE rolname = '%s'" % creds["username"])
        check(note == "renewed", "%s: the role's renew statements ran (%r)" % (role, note))
        ok_rest(b.op("db.revoke", {"lease_id": creds["lease_id"]}), "revoke " + role)
        check_login_fails(pg, creds, "%s after revoke" % role)


def case_db_failures(cl):
    """What an operator sees when the database side is wrong: a config
    that cannot connect is refused at write time, a creation statement
    that fails leaves no lease, and neither error shows a password."""
    pg = pg_fixture(cl)
    v, b = stack(cl, pg)
    st, doc = v.api("POST", "database/config/broken", {
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
        "connection_url": pg.url(), "username": pg.admin, "password": "wrong-password-123"})
    text = json.dumps(doc)
    check(st == 400 and "error verifying" in text and "wrong-password-123" not in text,
          "unverifiable config: %d %r" % (st, doc))
    # libpq quotes a malformed URI whole, the password percent-encoded in it
    pw = "wrong pass/word!"
    st, doc = v.api("POST", "database/config/malformed", {
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
        "connection_url": "postgresql://{{username}}:{{password}}@[::1/postgres",
        "username": pg.admin, "password": pw})
    text = json.dumps(doc)
    check(st == 400 and "IPv6" in text and "[password]" in text and "wrong" not in text
          and urllib.parse.quote(pw, safe="") not in text,
          "malformed URL: %d %r" % (st, doc))
    v.must("POST", "database/config/mcp-postgres", {"allowed_roles": "readonly,bad"})
    v.must("POST", "database/roles/bad", {
        "db_name": "mcp-postgres",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';",
                                "GRANT SELECT ON public.no_such_table TO \"{{name}}\";"]})
    res = b.op("db.issue_creds", {"role": "bad"})
    check(res[0] >= 500, "failed creation statement: %r" % (res,))
    st, doc = v.api("LIST", "sys/leases/lookup/database/creds/bad/")
    check(st == 404, "no lease was left behind: %d %r" % (st, doc))
    n = pg.admin_sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%-bad-%'")
    check(n == "0", "the transaction left no role behind (%s)" % n)
    # disabling the engine revokes its leases first: the user goes too
    creds = ok_rest(b.op("db.issue_creds", {"role": "readonly"}), "issue before unmount")
    check_login_works(pg, creds, "before unmount")
    v.must("DELETE", "sys/mounts/database")
    check(not pg.role_exists(creds["username"]), "unmount left the database user behind")
    check_login_fails(pg, creds, "after the engine was unmounted")
    provision(v, pg)
    # rotate-root: the new root password works for Vault, the old one no more
    v.must("POST", "database/rotate-root/mcp-postgres", {})
    rc, _, err = pg.psql(pg.admin, pg.admin_password, "SELECT 1")
    check(rc != 0 and "password authentication failed" in err,
          "the old root password still works after rotate-root: %s" % err)
    creds = ok_rest(b.op("db.issue_creds", {"role": "readonly"}), "issue after rotate-root")
    check_login_works(pg, creds, "after rotate-root")


# ---- OpenSSH ------------------------------------------------------------------------

def ca_public_key(v):
    with R.urllib.request.urlopen(v.addr + "/v1/ssh/public_key", timeout=10) as r:
        key = r.read().decode().strip()
    check(key.startswith("ssh-"), "CA public key %r" % key)
    return key


def write(path, text):
    with open(path, "w") as f:
        f.write(text.strip() + "\n")
    return path


def case_ssh_cert(cl):
    v, b = stack(cl)
    me = R.pwd.getpwuid(os.geteuid()).pw_name
    # sshd lets certificates naming agent_alice or agent_bob log in as me;
    # the CA role also allows "ubuntu", which this host does not accept.
    sshd = R.Sshd(cl, "cert", ca_pubkey=ca_public_key(v),
                  principals={me: ["agent_alice", "agent_bob"]})
    work = R.tempfile.mkdtemp(prefix="vmb-real-keys-")
    cl.add(lambda: R.shutil.rmtree(work, ignore_errors=True))
    key, pub = R.user_key(work)
    cert = key + "-cert.pub"

    # no certificate: refused
    rc, out, err = sshd.ssh(me, "true", key=key)
    check(rc == 255 and "Permission denied" in err, "key without certificate: %d %s" % (rc, err))

    r = ok_rest(b.op("ssh.sign", {"role": "ca_role", "public_key": pub,
                                  "valid_principals": ["agent_alice"], "ttl": "10m"}), "sign")
    write(cert, r["signed_key"])
    info = R.cert_info(cert)
    check("agent_alice" in info, "principal in the certificate:\n%s" % info)
    rc, out, err = sshd.ssh(me, "echo real-ssh-$(id -un)", key=key, cert=cert)
    check(rc == 0 and out == "real-ssh-" + me, "certificate login: rc=%d %r %s" % (rc, out, err))
    check(re.search(r"Accepted publickey for %s from 127\.0\.0\.1 .*ED25519-CERT .* ID vault-"
                    % re.escape(me), sshd.log_text()),
          "sshd logged a certificate login:\n%s" % sshd.log_text()[-1500:])

    # a principal the Vault role allows but this host does not list
    r = ok_rest(b.op("ssh.sign", {"role": "ca_role", "public_key": pub,
                                  "valid_principals": ["ubuntu"], "ttl": "10m"}), "sign ubuntu")
    write(cert, r["signed_key"])
    rc, out, err = sshd.ssh(me, "echo no", key=key, cert=cert)
    check(rc == 255 and out == "", "disallowed principal logged in: %d %r" % (rc, out))
    R.wait_for(lambda: "Certificate does not contain an authorized principal"
               in sshd.log_text(), 10, "sshd's reason for the principal refusal")

    # a principal the Vault role refuses never gets a certificate
    L.expect_err(b.op("ssh.sign", {"role": "ca_role", "public_key": pub,
                                   "valid_principals": ["root"]}),
                 400, "bad_request", "valid_principals", "principal outside the role")

    # an expired certificate: valid for 1 s, used after its end
    r = ok_rest(b.op("ssh.sign", {"role": "ca_role", "public_key": pub,
                                  "valid_principals": ["agent_bob"], "ttl": "1s"}), "sign 1s")
    write(cert, r["signed_key"])
    info = R.cert_info(cert)
    m = re.search(r"Valid: from (\S+) to (\S+)", info)
    check(m, "validity in\n%s" % info)
    end = time.mktime(time.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S"))
    R.wait_for(lambda: time.time() > end + 1.5, 30, "the certificate's end", 0.2)
    rc, out, err = sshd.ssh(me, "echo no", key=key, cert=cert)
    check(rc == 255 and out == "", "expired certificate logged in: %d %r" % (rc, out))
    R.wait_for(lambda: "expired" in sshd.log_text(), 10, "sshd's 'expired' refusal")

    # the same sign through MCP, as an agent's client calls it
    mcp = Mcp(b)
    r = ok_mcp(mcp.call("ssh.sign", {"role": "ca_role", "public_key": pub,
                                     "valid_principals": ["agent_bob"], "ttl": "5m"}), "mcp sign")
    write(cert, r["signed_key"])
    rc, out, err = sshd.ssh(me, "echo mcp-ok", key=key, cert=cert)
    check(rc == 0 and out == "mcp-ok", "MCP certificate login: rc=%d %r %s" % (rc, out, err))


def case_ssh_otp(cl):
    v, b = stack(cl)
    me = R.pwd.getpwuid(os.geteuid()).pw_name
    v.must("POST", "ssh/roles/otp_real", {"key_type": "otp", "default_user": me,
                                          "allowed_users": me + ",ubuntu",
                                          "cidr_list": "127.0.0.0/8", "port": 22})
    check_cmd = [sys.executable, os.path.join(HERE, "otp_check.py"), "--vault-addr", v.addr,
                 "--allowed-roles", "otp_real", "--allowed-cidr-list", "127.0.0.0/8"]
    # the check reaches Vault (vault-ssh-helper -verify-only)
    p = subprocess.run(check_cmd + ["--verify-only"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "echo check: %s %s" % (p.stdout, p.stderr))
    sshd = R.Sshd(cl, "otp", otp_check=check_cmd)

    def otp_rest(user=None):
        args = {"role": "otp_real", "ip": "127.0.0.1"}
        if user:
            args["username"] = user
        r = ok_rest(b.op("ssh.otp", args), "otp")
        check(r["key_type"] == "otp" and r["username"] == (user or me), "otp %r" % r)
        return r["key"]

    otp = otp_rest()
    rc, out, err = sshd.ssh(me, "echo otp-$(id -un)", otp=otp)
    check(rc == 0 and out == "otp-" + me, "OTP login: rc=%d %r %s\n%s" % (
        rc, out, err, sshd.log_text()[-2000:]))
    # the same OTP a second time: ssh/verify no longer knows it
    rc, out, err = sshd.ssh(me, "echo again", otp=otp)
    check(rc == 255 and out == "", "second use of an OTP logged in: %d %r" % (rc, out))
    R.wait_for(lambda: "OTP not found" in open(sshd.pam_log).read(), 10,
               "the check's refusal of the spent OTP")
    check(otp not in open(sshd.pam_log).read() and otp not in sshd.log_text(),
          "the OTP reached a log")

    # verified once by ssh/verify directly (what vault-ssh-helper sends), refused after
    otp = otp_rest()
    st, doc = v.api("POST", "ssh/verify", {"otp": otp}, token=None)
    check(st == 200 and doc["data"]["username"] == me and doc["data"]["ip"] == "127.0.0.1"
          and doc["data"]["role_name"] == "otp_real", "first verify %d %r" % (st, doc))
    st, doc = v.api("POST", "ssh/verify", {"otp": otp}, token=None)
    check(st == 400 and "OTP not found" in json.dumps(doc), "second verify %d %r" % (st, doc))
    rc, out, err = sshd.ssh(me, "echo no", otp=otp)
    check(rc == 255, "an OTP spent by ssh/verify still opened sshd")

    # revoking the OTP's lease (here with revoke-prefix, as when its token
    # is revoked) deletes the OTP, as Vault does
    otp = otp_rest()
    v.must("PUT", "sys/leases/revoke-prefix/ssh/creds/otp_real")
    rc, out, err = sshd.ssh(me, "echo no", otp=otp)
    check(rc == 255, "an OTP whose lease was revoked still opened sshd")
    st, doc = v.api("POST", "ssh/verify", {"otp": otp}, token=None)
    check(st == 400, "ssh/verify of an OTP with a revoked lease: %d %r" % (st, doc))

    # an OTP issued for another user does not open this account
    otp = otp_rest("ubuntu")
    rc, out, err = sshd.ssh(me, "echo no", otp=otp)
    check(rc == 255, "an OTP for 'ubuntu' logged in as %s" % me)
    R.wait_for(lambda: "username mismatch" in open(sshd.pam_log).read(), 10,
               "the check's username refusal")

    # through MCP
    mcp = Mcp(b)
    r = ok_mcp(mcp.call("ssh.otp", {"role": "otp_real", "ip": "127.0.0.1"}), "mcp otp")
    rc, out, err = sshd.ssh(me, "echo mcp-otp", otp=r["key"])
    check(rc == 0 and out == "mcp-otp", "MCP OTP login: rc=%d %r %s" % (rc, out, err))
    rc, out, err = sshd.ssh(me, "echo no", otp=r["key"])
    check(rc == 255, "MCP OTP worked twice")


# ---- the dev stack ----------------------------------------------------------------

def case_dev_stack_postgres(cl):
    """README's `scripts/dev.sh up --with-postgres`: db.issue_creds through
    the running stack (lighttpd in front) gives a login psql accepts; down
    stops PostgreSQL and removes its cluster."""
    dev = R.tempfile.mkdtemp(prefix="vmb-real-dev-")
    cl.add(lambda: R.shutil.rmtree(dev, ignore_errors=True))
    os.chmod(dev, 0o755)
    env = {k: val for k, val in os.environ.items()
           if not k.startswith(("VAULT_", "POSTGRES_", "PG"))}
    pgport = R.procs.free_port()
    env.update({"DEV_DIR": dev, "PORT": str(R.procs.free_port()),
                "VAULT_PORT": str(R.procs.free_port()), "POSTGRES_PORT": str(pgport),
                "VMB_BUILD_DIR": R.procs.build_dir()})
    script = os.path.join(ROOT, "scripts", "dev.sh")

    def dev_sh(*args):
        return subprocess.run(["bash", script] + list(args), capture_output=True, text=True,
                              env=env, timeout=600, stdin=subprocess.DEVNULL)

    cl.add(lambda: dev_sh("down"))
    p = dev_sh("up", "--with-postgres")
    check(p.returncode == 0, "dev.sh up --with-postgres: %s %s" % (p.stdout[-2000:], p.stderr))
    check("psql -h 127.0.0.1 -p %d" % pgport in p.stdout, "the psql example is printed")
    conf = {}
    for line in open(os.path.join(dev, "stack.env")):
        m = re.match(r"^(?:export )?([A-Z_0-9]+)='(.*)'$", line.strip())
        if m:
            conf[m.group(1)] = m.group(2)
    pgdir = open(os.path.join(dev, "postgres.dir")).read().strip()
    check(os.path.isdir(pgdir), "cluster directory %s" % pgdir)

    def call(method, path, body):
        req = R.urllib.request.Request(conf["BRIDGE_URL"] + path, method=method,
                                       data=json.dumps(body).encode(),
                                       headers={"X-API-Key": conf["DEMO_API_KEY"],
                                                "Content-Type": "application/json"})
        with R.urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    creds = call("POST", "/db/creds/readonly", {})
    pg = R.PgClient(pgport, conf["POSTGRES_DB"], conf["POSTGRES_ADMIN"],
                    conf["POSTGRES_ADMIN_PASSWORD"])
    rc, out, err = login(pg, creds, "SELECT note FROM demo")
    check(rc == 0 and "dynamic PostgreSQL user" in out, "psql with dev creds: %d %r %s" % (
        rc, out, err))
    r = call("POST", "/db/revoke", {"lease_id": creds["lease_id"]})
    check(r.get("revoked") is True, "revoke %r" % r)
    check_login_fails(pg, creds, "dev stack after revoke")
    logs = "".join(open(os.path.join(conf["LOG_DIR"], f), errors="replace").read()
                   for f in os.listdir(conf["LOG_DIR"])
                   if os.path.isfile(os.path.join(conf["LOG_DIR"], f)))
    check(conf["POSTGRES_ADMIN_PASSWORD"] not in logs and creds["password"] not in logs,
          "a database password reached the dev stack's logs")
    p = dev_sh("down")
    check(p.returncode == 0 and "stopped postgres" in p.stdout, "down: %s %s" % (p.stdout,
                                                                              p.stderr))
    check(not os.path.exists(pgdir), "down removed the cluster %s" % pgdir)
    with R.socket.socket() as sk:
        check(sk.connect_ex(("127.0.0.1", pgport)) != 0, "PostgreSQL still listens after down")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: test_real.py <%s>" % "|".join(sorted(CASES)), file=sys.stderr)
        return 2
    cl = Cleanup()
    t0 = time.monotonic()
    try:
        CASES[sys.argv[1]](cl)
    except AssertionError as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        return 1
    finally:
        cl.run()
    print("PASS %s (%.1fs)" % (sys.argv[1], time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
