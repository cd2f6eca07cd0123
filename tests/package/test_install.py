#!/usr/bin/env python3
"""test_install.py DEB_DIR : install the two .debs on this machine, run the
INSTALLED bridge the way the installed systemd socket unit would, behind
the INSTALLED lighttpd snippet, against the INSTALLED simulator; call
/readyz and read a secret; then remove and purge, and check what is left.

This changes the system (packages, a system user, /etc, /var/log, /run),
so it:
  - needs root, and fails (never skips) with a message when not root;
  - refuses to start when vault-mcp-bridge, vault-sim or the user
    vault-mcp-bridge are already there, so it never purges something it did not
    install;
  - purges both packages and removes its own files on every exit path.

There is no running systemd here (a container), so the socket unit is
played by this script: it reads ListenStream/SocketUser/SocketGroup/
SocketMode from the installed vault-mcp-bridge.socket and User/Group/
Environment/ExecStart from the installed vault-mcp-bridge.service, binds the
socket, and starts ExecStart as that user with the socket as standard input
(StandardInput=socket, Accept=no). `systemd-analyze verify` checks the
units themselves (package_systemd_verify and below).
"""
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from procs import free_port, stop, wait_port  # noqa: E402

PKGS = ["vault-mcp-bridge", "vault-sim"]
USER = "vault-mcp-bridge"
ETC = "/etc/vault-mcp-bridge"
UNITDIR = "/lib/systemd/system"
SNIPPET = "/usr/share/vault-mcp-bridge/webserver/lighttpd/vault-mcp.conf"
RENDER = "/usr/share/vault-mcp-bridge/render.sh"
SRC = os.environ.get("VMB_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")

checks = 0


class Fail(Exception):
    pass


def ok(what):
    global checks
    checks += 1
    print("ok:", what, flush=True)


def need(cond, what):
    if not cond:
        raise Fail(what)
    ok(what)


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise Fail("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:],
                                           p.stderr[-2000:]))
    return p


def installed(pkg):
    p = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout


def dpkg_state(pkg):
    p = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return p.stdout.strip() if p.returncode == 0 else "unknown"


def apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q", *args], env=env)


def unit(name):
    """The [Section] Key=value pairs of an installed unit (multi-valued)."""
    d = {}
    with open(os.path.join(UNITDIR, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            k, _, v = line.partition("=")
            d.setdefault(k, []).append(v)
    return d


def package_files(deb):
    out = run(["dpkg-deb", "-c", deb]).stdout
    files = []
    for line in out.splitlines():
        path = line.split(None, 5)[5].split(" -> ")[0]
        path = path[1:] if path.startswith(".") else path
        if not path.endswith("/"):
            files.append(path)
    return files


def activate(sock_unit, svc_unit, logf):
    """Do what systemd does for the socket + service pair, by hand."""
    path = sock_unit["ListenStream"][0]
    mode = int(sock_unit["SocketMode"][0], 8)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    os.chown(path, pwd.getpwnam(sock_unit["SocketUser"][0]).pw_uid,
             grp.getgrnam(sock_unit["SocketGroup"][0]).gr_gid)
    os.chmod(path, mode)
    s.listen(int(sock_unit.get("Backlog", ["128"])[0]))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for e in svc_unit.get("Environment", []):
        for kv in shlex.split(e):
            k, _, v = kv.partition("=")
            env[k] = v
    for ef in svc_unit.get("EnvironmentFile", []):
        optional = ef.startswith("-")
        ef = ef.lstrip("-")
        if not os.path.exists(ef):
            if optional:
                continue
            raise Fail("EnvironmentFile %s missing" % ef)
        with open(ef) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, _, v = line.partition("=")
                    env[k] = v
    argv = shlex.split(svc_unit["ExecStart"][0])
    need(svc_unit.get("StandardInput") == ["socket"], "service takes the socket on stdin")
    pw = pwd.getpwnam(svc_unit["User"][0])
    gid = grp.getgrnam(svc_unit["Group"][0]).gr_gid

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(pw.pw_uid)
        os.umask(0o027)

    proc = subprocess.Popen(argv, stdin=s.fileno(), stdout=logf, stderr=logf, env=env,
                            preexec_fn=drop, cwd="/")
    s.close()
    return proc, path


def http(url, ca, headers=None):
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main(debdir):
    if os.geteuid() != 0:
        print("FAIL: package_install_run_purge needs root: it installs the .debs with "
              "apt-get, creates the system user vault-mcp-bridge and purges both again. Run "
              "ctest -L package as root (CI does).")
        return 1
    debs = {p: None for p in PKGS}
    for f in os.listdir(debdir):
        for p in PKGS:
            if re.match(r"%s_[^_]+_[^_]+\.deb$" % re.escape(p), f):
                debs[p] = os.path.join(debdir, f)
    for p, d in debs.items():
        if not d:
            print("FAIL: no %s .deb in %s (package_build_debs makes them)" % (p, debdir))
            return 1
    for p in PKGS:
        if dpkg_state(p) not in ("unknown", "unknown ok not-installed",
                                 "deinstall ok not-installed", "purge ok not-installed"):
            print("FAIL: %s is already on this machine (%s); this test only purges what it "
                  "installed itself. Remove it first: apt-get purge %s" % (p, dpkg_state(p), p))
            return 1
    try:
        pwd.getpwnam(USER)
        print("FAIL: user %s exists already; the test's purge would delete it" % USER)
        return 1
    except KeyError:
        pass
    if os.path.exists(ETC):
        print("FAIL: %s exists already; the test will not touch it" % ETC)
        return 1

    tmp = tempfile.mkdtemp(prefix="vmb-pkg-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        body(debs, tmp, procs)
    except Fail as f:
        print("FAIL after %d checks: %s" % (checks, f))
        for name in ("bridge.log", "lighttpd/error.log", "sim.log"):
            p = os.path.join(tmp, name)
            if os.path.exists(p):
                print("---- %s" % name)
                print(open(p, errors="replace").read()[-3000:])
        return 1
    finally:
        for p in reversed(procs):
            stop(p)
        if os.path.exists("/usr/bin/vault-mcp-pool"):
            subprocess.run(["vault-mcp-pool", "stop"], capture_output=True)
        for p in PKGS:
            if dpkg_state(p) not in ("unknown",) and "not-installed" not in dpkg_state(p):
                subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q",
                                "purge", p], capture_output=True)
            if "config-files" in dpkg_state(p):
                subprocess.run(["dpkg", "--purge", p], capture_output=True)
        # The user did not exist before (checked above): if a failed purge
        # left it, it is this test's to delete.
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["groupdel", USER], capture_output=True)
        for d in (ETC, "/var/log/vault-mcp-bridge", "/run/vault-mcp-bridge"):
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("package install/run/purge: %d checks passed" % checks)
    return 0


def body(debs, tmp, procs):
    deps = run(["bash", "-c", ". %s/scripts/lib/deps.sh && vmb_ensure_packages lighttpd "
                "lighttpd-mod-openssl openssl" % shlex.quote(SRC)])
    del deps
    # 1. Install both with apt (dependencies resolved from the archive).
    apt("install", "--no-install-recommends", debs["vault-mcp-bridge"], debs["vault-sim"])
    need(installed("vault-mcp-bridge") and installed("vault-sim"), "apt installed both packages")
    pw = pwd.getpwnam(USER)
    need(pw.pw_shell.endswith("nologin") or pw.pw_shell.endswith("false"),
         "system user %s without a login shell" % USER)
    st = os.stat(ETC + "/config.yaml")
    need(st.st_uid == 0 and st.st_gid == grp.getgrnam(USER).gr_gid and
         (st.st_mode & 0o777) == 0o640, "config.yaml is root:%s 0640" % USER)
    st = os.stat("/run/vault-mcp-bridge")
    need(st.st_uid == pw.pw_uid and grp.getgrgid(st.st_gid).gr_name == "www-data",
         "/run/vault-mcp-bridge belongs to %s:www-data" % USER)
    need(os.stat("/var/log/vault-mcp-bridge").st_uid == pw.pw_uid,
         "/var/log/vault-mcp-bridge belongs to %s" % USER)
    conff = run(["dpkg-query", "-W", "-f=${Conffiles}", "vault-mcp-bridge"]).stdout
    need(ETC + "/config.yaml" in conff, "config.yaml is a conffile")
    for b in ("vault-mcp-fcgi", "vault-mcp-stdio", "vault-mcp-pool", "vault-sim"):
        need(shutil.which(b) == "/usr/bin/" + b, "%s on PATH from /usr/bin" % b)
    v = run(["vault-mcp-fcgi", "--version"]).stdout
    need(v.startswith("vault-mcp-fcgi ") and "build: " in v, "installed --version")
    for page in ("vault-mcp-fcgi", "vault-mcp-stdio", "vault-sim", "vault-mcp-pool"):
        need(run(["man", "-w", page], check=False).returncode == 0, "man %s" % page)

    # The installed units, verified where they are installed.
    msgs = run(["systemd-analyze", "verify", UNITDIR + "/vault-mcp-bridge.socket",
                UNITDIR + "/vault-mcp-bridge.service", UNITDIR + "/vault-mcp-bridge@2.service"],
               check=False)
    need(msgs.returncode == 0 and not (msgs.stdout + msgs.stderr).strip(),
         "systemd-analyze verify on the installed units: %s" % (msgs.stdout + msgs.stderr).strip())

    # 2. The installed simulator, with a secret for our agent.
    vport = free_port()
    token = "pkg-root-" + os.urandom(6).hex()
    simlog = open(os.path.join(tmp, "sim.log"), "w")
    sim = subprocess.Popen(["/usr/bin/vault-sim", "--dev", "--dev-root-token-id", token,
                            "--dev-listen-address", "127.0.0.1:%d" % vport],
                           stdout=simlog, stderr=simlog)
    procs.append(sim)
    wait_port(vport, 15, sim)
    req = urllib.request.Request(
        "http://127.0.0.1:%d/v1/secret/data/mcp/agent_pkg/hello" % vport,
        data=json.dumps({"data": {"greeting": "from the package"}}).encode(),
        headers={"X-Vault-Token": token, "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        need(r.status in (200, 204), "secret written to the installed vault-sim")

    # 3. The operator edits the conffile: Vault address, token, one API key.
    key = os.urandom(16).hex()
    with open(ETC + "/config.yaml", "a") as f:
        f.write('\n# added by the operator\nVAULT_ADDR: "http://127.0.0.1:%d"\n'
                'VAULT_TOKEN: "%s"\nAPI_KEYS_JSON:\n  "%s": agent_pkg\n' % (vport, token, key))
    # One VAULT_ADDR only: the operator's replaces the shipped line.
    text = open(ETC + "/config.yaml").read()
    text = text.replace('VAULT_ADDR: "https://127.0.0.1:8200"\n', "", 1)
    with open(ETC + "/config.yaml", "w") as f:
        f.write(text)
    chk = run(["runuser", "-u", USER, "--", "env", "APP_CONFIG_FILE=" + ETC + "/config.yaml",
               "vault-mcp-fcgi", "--check-config"], check=False)
    need(chk.returncode == 0, "the service user reads the edited config: %s" % chk.stderr.strip())

    # 4. The bridge as the installed units start it.
    bridgelog = open(os.path.join(tmp, "bridge.log"), "w")
    bridge, sockpath = activate(unit("vault-mcp-bridge.socket"), unit("vault-mcp-bridge.service"),
                                bridgelog)
    procs.append(bridge)

    # 5. lighttpd with the installed snippet, TLS from a throw-away CA.
    certs = os.path.join(tmp, "certs")
    run(["bash", os.path.join(SRC, "scripts", "gen-certs.sh"), certs])
    for f in os.listdir(certs):
        os.chmod(os.path.join(certs, f), 0o644)
    port = free_port()
    lt = os.path.join(tmp, "lighttpd")
    os.makedirs(lt)
    shutil.chown(lt, "www-data", "www-data")
    site = os.path.join(tmp, "site.conf")
    run(["bash", "-c", '. "$0" && vmb_render "$1" "$2" BIND_ADDR=127.0.0.1 PORT="$3" '
         'TLS_CERT="$4/server.crt" TLS_KEY="$4/server.key" CLIENT_CA="$4/ca.crt"',
         RENDER, SNIPPET, site, str(port), certs])
    with open(os.path.join(tmp, "lighttpd.conf"), "w") as f:
        f.write('server.document-root = "/usr/share/vault-mcp-bridge/www"\n'
                'server.bind = "127.0.0.1"\nserver.port = %d\n'
                'server.username = "www-data"\nserver.groupname = "www-data"\n'
                'server.pid-file = "%s/lighttpd.pid"\nserver.errorlog = "%s/error.log"\n'
                'server.modules = ( "mod_indexfile", "mod_access" )\n'
                'include_shell "/usr/share/lighttpd/create-mime.conf.pl"\n'
                'include "%s"\nserver.modules += ( "mod_staticfile" )\n' % (port, lt, lt, site))
    run(["lighttpd", "-tt", "-f", os.path.join(tmp, "lighttpd.conf")])
    ltlog = open(os.path.join(lt, "stdout.log"), "w")
    light = subprocess.Popen(["lighttpd", "-D", "-f", os.path.join(tmp, "lighttpd.conf")],
                             stdout=ltlog, stderr=ltlog)
    procs.append(light)
    wait_port(port, 15, light)
    base = "https://localhost:%d" % port
    ca = os.path.join(certs, "ca.crt")

    # 6. Through the front: readiness and one KV read.
    deadline = time.time() + 20
    while True:
        status, text = http(base + "/readyz", ca)
        if status == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    need(status == 200, "GET /readyz through lighttpd: %d %s" % (status, text[:200]))
    status, text = http(base + "/secrets/hello", ca, {"X-API-Key": key})
    need(status == 200 and json.loads(text).get("data", {}).get("greeting") == "from the package",
         "KV read through the installed stack: %d %s" % (status, text[:200]))
    status, text = http(base + "/docs/", ca)
    need(status == 200 and "/openapi.json" in text, "static /docs/ from the installed www tree")
    logs = os.listdir("/var/log/vault-mcp-bridge")
    need("requests.log" in logs, "the bridge logs to /var/log/vault-mcp-bridge")
    need(os.stat(sockpath).st_mode & 0o777 == 0o660, "socket mode 0660")

    # 7. Without systemd: the installed spawn-fcgi pool script on the same
    # socket path, and the same front still answers.
    stop(bridge)
    procs.remove(bridge)
    out = run(["vault-mcp-pool", "start"], env=dict(os.environ, PROCS="2", THREADS="2"))
    need("2 x 2" in out.stdout, "vault-mcp-pool start: %s" % out.stdout.strip())
    pids = open("/run/vault-mcp-bridge/pool.pid").read().split()
    need(len(pids) == 2 and all(pwd.getpwuid(os.stat("/proc/%s" % p).st_uid).pw_name == USER
                                for p in pids), "pool: 2 processes as %s" % USER)
    deadline = time.time() + 20
    while True:
        status, text = http(base + "/secrets/hello", ca, {"X-API-Key": key})
        if status == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    need(status == 200, "KV read through the pool: %d %s" % (status, text[:200]))

    for p in reversed(procs):
        stop(p)
    procs.clear()

    # 8. Remove (the pool still runs: prerm stops it): programs go, the
    # changed conffile stays.
    files = package_files(debs["vault-mcp-bridge"]) + package_files(debs["vault-sim"])
    with open(ETC + "/environment", "w") as f:
        f.write("# the operator's own file, not the package's\nLOG_LEVEL=debug\n")
    apt("remove", "vault-mcp-bridge", "vault-sim")
    need("config-files" in dpkg_state("vault-mcp-bridge"), "after remove: config-files state")
    need(os.path.exists(ETC + "/config.yaml"), "after remove: the changed config.yaml stays")
    left = [f for f in files if os.path.lexists(f) and f != ETC + "/config.yaml"]
    need(not left, "after remove: no other package file left %s" % left[:5])
    alive = [p for p in pids if os.path.exists("/proc/%s" % p)]
    need(not alive, "after remove: prerm stopped the pool (left: %s)" % alive)

    # 9. Purge: user, logs, runtime dir and conffiles go; the operator's own
    # file stays (dpkg never deletes what it did not install).
    need("config-files" not in dpkg_state("vault-sim"), "after remove: vault-sim (no conffiles) gone")
    apt("purge", "vault-mcp-bridge")
    need(not installed("vault-mcp-bridge") and "config-files" not in dpkg_state("vault-mcp-bridge"),
         "after purge: dpkg forgot vault-mcp-bridge")
    left = [f for f in files if os.path.lexists(f)]
    need(not left, "after purge: no package file left %s" % left[:5])
    for gone in ("/var/log/vault-mcp-bridge", "/run/vault-mcp-bridge"):
        need(not os.path.exists(gone), "after purge: %s removed" % gone)
    try:
        pwd.getpwnam(USER)
        raise Fail("after purge: user %s still exists" % USER)
    except KeyError:
        ok("after purge: user %s removed" % USER)
    try:
        grp.getgrnam(USER)
        raise Fail("after purge: group %s still exists" % USER)
    except KeyError:
        ok("after purge: group %s removed" % USER)
    need(sorted(os.listdir(ETC)) == ["environment"],
         "after purge: only the operator's own file is left in %s: %s" % (ETC, os.listdir(ETC)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_install.py DEB_DIR")
    sys.exit(main(sys.argv[1]))
