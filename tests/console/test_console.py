"""Browser test of the operator console (issue 14).

Starts the dev stack (scripts/dev.sh up: vault-sim, the spawn-fcgi pool,
lighttpd serving console/ under its CSP) on free loopback ports with a
private DEV_DIR, and the fake KMS of tests/kms in this process; installs
the pinned puppeteer-core into tests/console/node when missing; runs
node/console.test.mjs with Debian's /usr/bin/chromium; stops the stack.

usage: test_console.py browser|apidocs|lint [--screenshots DIR]
  browser  the console's pages (node/console.test.mjs)
  apidocs  /docs/ (Swagger UI) and /redoc/ (ReDoc) render the live
           /openapi.json under their CSP (node/pages.test.mjs)
  lint     the live /openapi.json passes the pinned @redocly/cli lint with
           its recommended rules: no error (lint/, installed when missing)"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
NODE_DIR = os.path.join(HERE, "node")
LINT_DIR = os.path.join(HERE, "lint")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kms"))
import procs  # noqa: E402
import fakekms  # noqa: E402

AKID = "AKIDCONSOLE" + secrets.token_hex(4).upper()
SECRET = "console-secret-" + secrets.token_hex(16)
KMS_KEY = "console-key-" + secrets.token_hex(4)


def die(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def admin_jwt(env):
    """An HS256 token with the admin scope, signed with the stack's secret."""
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({
        "sub": "console-admin", "iss": env["JWT_ISSUER"], "aud": env["JWT_AUDIENCE"],
        "iat": now, "nbf": now, "exp": now + 1800,
        "scopes": ["read", "write", "delete", "list", "admin"]}).encode())
    sig = hmac.new(env["JWT_HS256_SECRET"].encode(), (head + "." + body).encode(),
                   hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


def read_env(path):
    """stack.env lines: export NAME='value' (single quotes escaped as '\\'')."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("export "):
                continue
            name, _, val = line[len("export "):].partition("=")
            if val.startswith("'") and val.endswith("'"):
                val = val[1:-1].replace("'\\''", "'")
            out[name] = val
    return out


def ensure_node(node_dir=NODE_DIR, package="puppeteer-core"):
    marker = os.path.join(node_dir, "node_modules", *package.split("/"), "package.json")
    if os.path.exists(marker):
        return
    npm = shutil.which("npm")
    if npm is None:
        die("npm is required (scripts/lib/deps.sh test packages)")
    cmd = [npm, "ci" if os.path.exists(os.path.join(node_dir, "package-lock.json")) else "install",
           "--no-audit", "--no-fund", "--ignore-scripts"]
    r = subprocess.run(cmd, cwd=node_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    if r.returncode != 0 or not os.path.exists(marker):
        die("npm install of %s failed:\n%s" % (package, r.stdout[-2000:]))


def lint(url):
    """@redocly/cli lint --extends recommended on the served document: exit
    status 0 means no error (warnings are printed, not fatal)."""
    import urllib.request
    with urllib.request.urlopen(url + "/openapi.json", timeout=30) as r:
        doc = r.read()
    json.loads(doc)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "openapi.json")
        with open(path, "wb") as f:
            f.write(doc)
        cli = os.path.join(LINT_DIR, "node_modules", ".bin", "redocly")
        r = subprocess.run([cli, "lint", "--extends", "recommended", "--format", "summary", path],
                           cwd=LINT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300, env=dict(os.environ, REDOCLY_TELEMETRY="off",
                                                             REDOCLY_SUPPRESS_UPDATE_NOTICE="true"))
        print(r.stdout[-4000:])
        if r.returncode != 0:
            return 1
    return 0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("browser", "apidocs", "lint"):
        die("usage: test_console.py browser|apidocs|lint [--screenshots DIR]")
    shots = ""
    if "--screenshots" in sys.argv:
        shots = os.path.abspath(sys.argv[sys.argv.index("--screenshots") + 1])
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if mode == "lint":
        ensure_node(LINT_DIR, "@redocly/cli")
    else:
        if not os.access(chromium, os.X_OK):
            die(chromium + " is missing: install Debian's chromium (scripts/lib/deps.sh)")
        ensure_node()

    kms = fakekms.FakeKMS(procs.free_port(), {"akid": AKID, "secret": SECRET, "token": None})
    dev = tempfile.mkdtemp(prefix="vmb-console-")
    os.chmod(dev, 0o755)
    env = dict(os.environ)
    env.update({
        "DEV_DIR": dev, "PORT": str(procs.free_port()), "VAULT_PORT": str(procs.free_port()),
        "VMB_BUILD_DIR": procs.build_dir(), "POOL_PROCS": "1", "POOL_THREADS": "4",
        "AWS_KMS_ENABLED": "true", "AWS_REGION": "us-east-1", "AWS_KMS_ENDPOINT": kms.url,
        "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "HOME": "/nonexistent",
        # No background KMS probe: the fake KMS counts any GET as a problem.
        "HEALTH_PROBE_SECONDS": "0",
        # The JWT subject of the operations half has no registry record:
        # grant it the test's KMS key and every Transit key.
        "DEFAULT_GRANTS_JSON": json.dumps({"kms_keys": [KMS_KEY], "transit_keys": ["*"]}),
    })
    for k in ("VAULT_ADDR", "VAULT_TOKEN", "AWS_SESSION_TOKEN", "AWS_PROFILE", "RUN_DIR", "LOG_DIR"):
        env.pop(k, None)
    dev_sh = os.path.join(ROOT, "scripts", "dev.sh")
    rc = 1
    try:
        r = subprocess.run([dev_sh, "up"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600)
        if r.returncode != 0:
            die("dev.sh up failed:\n" + r.stdout[-3000:])
        if "/console/" not in r.stdout:
            die("dev.sh up does not print the console URL")
        stack = read_env(os.path.join(dev, "stack.env"))
        tenv = dict(os.environ)
        tenv.update({"VMB_BASE": stack["BRIDGE_URL"], "VMB_ADMIN_JWT": admin_jwt(stack),
                     "VMB_KMS_KEY": KMS_KEY,
                     "VMB_ADMIN_API_KEY": stack["DEMO_ADMIN_API_KEY"], "VMB_SHOT_DIR": shots, "CHROMIUM": chromium})
        if mode == "lint":
            rc = lint(stack["BRIDGE_URL"])
        else:
            script = "console.test.mjs" if mode == "browser" else "pages.test.mjs"
            t = subprocess.run(["node", os.path.join(NODE_DIR, script)], cwd=NODE_DIR,
                               env=tenv, timeout=600)
            rc = t.returncode
        if kms.problems:
            print("fake KMS saw malformed requests: %r" % kms.problems)
            rc = 1
    finally:
        subprocess.run([dev_sh, "down"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        kms.close()
        shutil.rmtree(dev, ignore_errors=True)
    if rc != 0:
        die("%s test failed (rc %d)" % (mode, rc))
    print("PASS console " + mode)


if __name__ == "__main__":
    main()
