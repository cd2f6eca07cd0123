#!/usr/bin/env python3
"""What an operator sees when something is wrong (issue 22, item 2): the
start-up error of a pool worker reaches LOG_DIR/server.log although
spawn-fcgi discards the worker's stderr; a bridge with every auth mode off
refuses to start; a verified certificate with mTLS off is logged once as
mtls_disabled; --check-config names the file it read and file errors name
the path; --help shows ranges.
  test_operator.py CASE
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import fcgi_client as fc  # noqa: E402
import procs  # noqa: E402

BRIDGE = procs.binary("vault-mcp-fcgi")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    print("ok  ", msg)


def log_lines(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def base_env(tmp):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith(("AUTH_", "API_KEYS", "JWT_", "VAULT_", "LOG_", "RUN_DIR", "APP_CONFIG")):
            del e[k]
    e.update({"LOG_DIR": os.path.join(tmp, "logs"), "RUN_DIR": os.path.join(tmp, "run"),
              "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "root"})
    return e


def case_pool_startup_error():
    """A pool worker that cannot start says why in LOG_DIR/server.log."""
    if shutil.which("spawn-fcgi") is None:
        sys.exit("spawn-fcgi missing (scripts/lib/deps.sh installs it)")
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    try:
        os.chmod(tmp, 0o755)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        cfg = os.path.join(tmp, "config.yaml")
        e = base_env(tmp)
        e["APP_CONFIG_FILE"] = cfg
        sock = os.path.join(tmp, "fcgi.sock")
        if os.geteuid() == 0:
            # As root: the worker runs as www-data and the config file is
            # root's alone, the ownership mistake of issue 22.
            with open(cfg, "w") as f:
                f.write('VAULT_ADDR: "http://127.0.0.1:9"\n')
            os.chmod(cfg, 0o600)
            www = pwd.getpwnam("www-data")
            os.chown(logs, www.pw_uid, www.pw_gid)
            own = ["-u", "www-data", "-g", "www-data"]
            want = "cannot open config file %s" % cfg
        else:
            with open(cfg, "w") as f:
                f.write("VAULT_TIMEOUT_MS: 1\n")
            own = []
            want = "config file %s: VAULT_TIMEOUT_MS" % cfg
        p = subprocess.run(["spawn-fcgi", "-s", sock, *own, "-P", os.path.join(tmp, "p.pid"),
                            "--", BRIDGE], env=e, capture_output=True, text=True, timeout=20)
        check(p.returncode != 0, "spawn-fcgi reports the failed child (rc %d)" % p.returncode)
        check(want not in p.stderr + p.stdout,
              "the reason is not on spawn-fcgi's output (it discards the child's stderr)")
        lines = [x for x in log_lines(os.path.join(logs, "server.log"))
                 if x.get("msg") == "startup_failed"]
        check(len(lines) == 1 and want in lines[0].get("error", ""),
              "server.log has one startup_failed line naming the file: %r" % lines)
        check(lines[0].get("lvl") == "error", "at level error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_pool_precheck():
    """vault-mcp-pool checks the config as the pool user: a file only root
    can read fails on the terminal, before spawn-fcgi runs."""
    if os.geteuid() != 0:
        print("needs root (the pool script drops to the pool user); skipped")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    try:
        os.chmod(tmp, 0o755)
        cfg = os.path.join(tmp, "config.yaml")
        with open(cfg, "w") as f:
            f.write("AUTH_MTLS_ENABLED: true\n")
        os.chmod(cfg, 0o600)
        e = base_env(tmp)
        e.update({"POOL_DEFAULTS": os.path.join(tmp, "none"), "PROCS": "1", "THREADS": "2",
                  "SOCKET": os.path.join(tmp, "run", "fcgi.sock"), "BRIDGE": BRIDGE,
                  "APP_CONFIG_FILE": cfg, "POOL_USER": "www-data", "SOCKET_GROUP": "www-data"})
        script = os.path.join(HERE, "..", "..", "deploy", "spawn-fcgi", "vault-mcp-pool")
        p = subprocess.run(["sh", script, "start"], env=e, capture_output=True, text=True,
                           timeout=30)
        check(p.returncode != 0 and "cannot open config file %s: Permission denied" % cfg
              in p.stderr, "root-only config: the pre-check fails on the terminal: %r"
              % p.stderr)
        check(not os.path.exists(os.path.join(tmp, "run", "pool.pid")), "no pool started")
        # Readable by the pool user's group: the pool starts.
        os.chown(cfg, 0, pwd.getpwnam("www-data").pw_gid)
        os.chmod(cfg, 0o640)
        p = subprocess.run(["sh", script, "start"], env=e, capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 0, "root:www-data 0640: the pool starts: %r" % p.stderr)
        subprocess.run(["sh", script, "stop"], env=e, capture_output=True, timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_no_auth_mode():
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    try:
        os.mkdir(os.path.join(tmp, "logs"))
        e = base_env(tmp)
        e.update({"AUTH_API_KEY_ENABLED": "false", "AUTH_JWT_ENABLED": "false",
                  "AUTH_MTLS_ENABLED": "false"})
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 2 and "no client could authenticate" in p.stderr,
              "--check-config refuses all auth modes off: %r" % p.stderr)
        p = subprocess.run([BRIDGE, "--listen", os.path.join(tmp, "s.sock")], env=e,
                           capture_output=True, text=True, timeout=10)
        check(p.returncode == 2 and "AUTH_MTLS_ENABLED" in p.stderr,
              "the bridge refuses to start: %r" % p.stderr)
        lines = [x for x in log_lines(os.path.join(tmp, "logs", "server.log"))
                 if x.get("msg") == "startup_failed"]
        check(len(lines) == 1, "and says so in server.log")
        # One mode is enough.
        e["AUTH_MTLS_ENABLED"] = "true"
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 0, "mTLS alone is accepted: %r" % p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_mtls_disabled():
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    proc = None
    try:
        e = base_env(tmp)
        e["API_KEYS_JSON"] = json.dumps({"k" * 40: "agent_key"})
        port = procs.free_port()
        with open(os.path.join(tmp, "stderr.txt"), "w") as err:
            proc = subprocess.Popen([BRIDGE, "--listen", "127.0.0.1:%d" % port, "--threads", "2"],
                                    env=e, cwd=tmp, stderr=err)
        procs.wait_port(port, proc=proc)
        cert = {"HTTPS": "on", "SSL_CLIENT_VERIFY": "SUCCESS",
                "SSL_CLIENT_S_DN": "CN=agent_mtls,O=Example"}
        for _ in range(3):
            r = fc.request(("127.0.0.1", port), "GET", "/whoami", extra_params=cert)
            check(r[0] == 401, "verified certificate with mTLS off: 401 (%r)" % (r[0],))
        # A request without a certificate must not trigger the warning;
        # the three above must trigger it exactly once.
        fc.request(("127.0.0.1", port), "GET", "/whoami")
        deadline = time.time() + 5
        lines = []
        while time.time() < deadline:
            lines = [x for x in log_lines(os.path.join(tmp, "logs", "server.log"))
                     if x.get("msg") == "mtls_disabled"]
            if lines:
                break
            time.sleep(0.05)
        check(len(lines) == 1, "one mtls_disabled line: %r" % lines)
        check("AUTH_MTLS_ENABLED" in lines[0].get("hint", "") and
              "agent_mtls" not in json.dumps(lines[0]),
              "it names the setting and not the DN")
    finally:
        if proc:
            procs.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def case_check_config_file():
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    try:
        e = base_env(tmp)
        cfg = os.path.join(tmp, "bridge.toml")
        with open(cfg, "w") as f:
            f.write('MAX_BODY_BYTES = 4096\n')
        e["APP_CONFIG_FILE"] = cfg
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10)
        doc = json.loads(p.stdout)
        check(doc.get("config_file") == cfg, "--check-config names the file it read")
        check(doc["MAX_BODY_BYTES"] == {"value": 4096, "source": "file"},
              "and the setting's value and source")
        del e["APP_CONFIG_FILE"]
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10, cwd=tmp)
        check(json.loads(p.stdout).get("config_file") is None, "null when no file was read")
        with open(os.path.join(tmp, "config.yaml"), "w") as f:
            f.write("MAX_BODY_BYTES: 12\n")
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10, cwd=tmp)
        check(p.returncode == 2 and "config file config.yaml: MAX_BODY_BYTES" in p.stderr and
              "1024..67108864" in p.stderr,
              "an error in a found file names it and the range: %r" % p.stderr)
        with open(cfg, "w") as f:
            f.write("[table]\n")
        e["APP_CONFIG_FILE"] = cfg
        p = subprocess.run([BRIDGE, "--check-config"], env=e, capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 2 and cfg in p.stderr, "a syntax error names the file: %r" % p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_config_examples():
    """examples/config/ is what the settings table gives, and the bridge
    accepts each file with every active setting taken from the file."""
    repo = os.path.join(HERE, "..", "..")
    gen = os.path.join(repo, "scripts", "gen-config-examples.py")
    exdir = os.path.join(repo, "examples", "config")
    p = subprocess.run([sys.executable, gen, BRIDGE, exdir, "--check"], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "examples/config is current: %s" % (p.stdout + p.stderr).strip())
    tmp = tempfile.mkdtemp(prefix="vmb-op-")
    try:
        subprocess.run([sys.executable, gen, BRIDGE, tmp, "--all-active"], check=True,
                       capture_output=True, timeout=30)
        files = [os.path.join(exdir, f) for f in sorted(os.listdir(exdir))]
        files += [os.path.join(tmp, f) for f in sorted(os.listdir(tmp))]
        check(len(files) == 6, "4 samples and 2 all-active variants")
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "LC_ALL")}
        for f in files:
            env["APP_CONFIG_FILE"] = f
            p = subprocess.run([BRIDGE, "--check-config"], env=env, capture_output=True,
                               text=True, timeout=10, cwd=tmp)
            check(p.returncode == 0, "--check-config accepts %s: %s" % (f, p.stderr.strip()))
            doc = json.loads(p.stdout)
            active = [ln.split(":")[0].split("=")[0].strip() for ln in open(f)
                      if ln.strip() and not ln.startswith("#")]
            check(doc["config_file"] == f and active and
                  all(doc[k]["source"] == "file" for k in active),
                  "%s: all %d active settings come from the file" % (os.path.basename(f),
                                                                     len(active)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_help_ranges():
    p = subprocess.run([BRIDGE, "--help"], capture_output=True, text=True, timeout=10)
    lines = {ln.split()[0]: ln for ln in p.stdout.splitlines() if ln.strip().startswith("--")}
    check("range 1..65535" in lines["--port"], "--help shows PORT's range")
    check("range 10s..86400s" in lines["--child-token-ttl"], "and a duration's range")
    check("range" not in lines["--vault-addr"], "no range for a URL")


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
    print("ok:", sys.argv[1])
