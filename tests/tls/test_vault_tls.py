#!/usr/bin/env python3
"""test_vault_tls.py CASE : a Vault behind TLS with its own CA (issue 17).

Each case starts vault-sim on loopback and nginx in front of it as a
TLS-terminating proxy with several listeners, one per certificate
situation, all certificates from a throw-away CA (scripts/gen-certs.sh
plus `openssl ca` for the odd ones):

  good     server.crt: names localhost and 127.0.0.1, valid
  wrong    valid, signed by the CA, but names only vault.wrong.test
  expired  signed by the CA, valid in January 2020 only
  mtls     like good, and nginx requires a client certificate from the CA

Cases:
  readyz_trusted      VAULT_CACERT (and, separately, VAULT_CAPATH): /readyz 200
  readyz_unknown_ca   no CA given: 503, reason tls_unknown_ca, names VAULT_CACERT
  readyz_name_mismatch                   503, reason tls_name_mismatch
  readyz_expired                         503, reason tls_expired
  readyz_client_cert  VAULT_CLIENT_CERT/KEY against the mtls listener: 200
  provision           scripts/provision-vault.sh honours VAULT_CACERT,
                      VAULT_CAPATH, VAULT_SKIP_VERIFY, VAULT_CLIENT_CERT/KEY,
                      VAULT_NAMESPACE; without a CA it fails naming the TLS
                      reason (and never with "unbound variable")
  dev_stack           scripts/dev.sh up against the TLS Vault with
                      VAULT_CACERT: /readyz 200 through the dev front, the TLS
                      settings in stack.env; then down
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import fcgi_client  # noqa: E402
import procs  # noqa: E402
from harness import Cleanup, check, tmpdir  # noqa: E402

TOKEN = "tls-root-token"


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError("%s exited %d: %s %s" % (cmd[:3], p.returncode, p.stdout[-800:],
                                                     p.stderr[-800:]))
    return p


def make_certs(d):
    """gen-certs.sh's CA, server and client; plus a wrong-name and an
    expired server certificate signed by the same CA; plus a hashed CA
    directory for VAULT_CAPATH."""
    sh(["bash", os.path.join(ROOT, "scripts", "gen-certs.sh"), d])
    cadir = os.path.join(d, "ca-db")
    os.makedirs(os.path.join(cadir, "new"))
    open(os.path.join(cadir, "index.txt"), "w").close()
    with open(os.path.join(cadir, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = tca\n[tca]\ndatabase = %s/index.txt\n"
                "new_certs_dir = %s/new\nserial = %s/serial\ndefault_md = sha256\n"
                "policy = pol\nunique_subject = no\n[pol]\ncommonName = supplied\n"
                % (cadir, cadir, cadir))
    for name, cn, san, dates in (
            ("wrong", "vault.wrong.test", "DNS:vault.wrong.test", None),
            ("expired", "localhost", "DNS:localhost,IP:127.0.0.1",
             ("20200101000000Z", "20200201000000Z"))):
        key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".crt"))
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("[x]\nsubjectAltName = %s\nbasicConstraints = CA:FALSE\n"
                    "extendedKeyUsage = serverAuth\n" % san)
        sh(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=" + cn])
        cmd = ["openssl", "ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"),
               "-cert", os.path.join(d, "ca.crt"), "-keyfile", os.path.join(d, "ca.key"),
               "-in", csr, "-out", crt, "-extfile", ext, "-extensions", "x"]
        cmd += ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
        sh(cmd)
    capath = os.path.join(d, "capath")
    os.makedirs(capath)
    shutil.copy(os.path.join(d, "ca.crt"), os.path.join(capath, "test-ca.pem"))
    sh(["openssl", "rehash", capath])
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if os.path.isfile(p):
            os.chmod(p, 0o644)   # nginx workers and a www-data pool read them
    os.chmod(d, 0o755)


class Stack:
    def __init__(self, cl):
        self.cl = cl
        self.tmp = tmpdir(cl, "vmb-tls-")
        os.chmod(self.tmp, 0o755)
        self.certs = os.path.join(self.tmp, "certs")
        make_certs(self.certs)
        self.vport = procs.free_port()
        log = open(os.path.join(self.tmp, "sim.log"), "w")
        self.sim = subprocess.Popen([procs.binary("vault-sim"), "--dev", "--dev-root-token-id",
                                     TOKEN, "--dev-listen-address", "127.0.0.1:%d" % self.vport],
                                    stdout=log, stderr=log)
        cl.add(lambda: procs.stop(self.sim))
        procs.wait_port(self.vport, 15, self.sim)
        self.ports = {n: procs.free_port() for n in ("good", "wrong", "expired", "mtls")}
        self.nginx()

    def nginx(self):
        c = self.certs
        servers = []
        for name, crt, key, extra in (
                ("good", "server.crt", "server.key", ""),
                ("wrong", "wrong.crt", "wrong.key", ""),
                ("expired", "expired.crt", "expired.key", ""),
                ("mtls", "server.crt", "server.key",
                 "ssl_client_certificate %s/ca.crt; ssl_verify_client on;" % c)):
            servers.append(
                "server { listen 127.0.0.1:%d ssl; ssl_certificate %s/%s; "
                "ssl_certificate_key %s/%s; %s\n"
                " location / { proxy_pass http://127.0.0.1:%d; proxy_set_header Host $host; } }"
                % (self.ports[name], c, crt, c, key, extra, self.vport))
        p = self.tmp
        os.makedirs(os.path.join(p, "nginx"), exist_ok=True)
        conf = os.path.join(p, "nginx.conf")
        with open(conf, "w") as f:
            f.write("pid %s/nginx.pid;\nerror_log %s/nginx-error.log;\n"
                    "events {}\nhttp {\n"
                    " log_format ns '$request ns=$http_x_vault_namespace';\n"
                    " access_log %s/access.log ns;\n"
                    " client_body_temp_path %s/nginx; proxy_temp_path %s/nginx;\n"
                    " fastcgi_temp_path %s/nginx; uwsgi_temp_path %s/nginx;"
                    " scgi_temp_path %s/nginx;\n%s\n}\n"
                    % (p, p, p, p, p, p, p, p, "\n".join(servers)))
        sh(["nginx", "-t", "-q", "-p", p, "-c", conf, "-g", "daemon off;"])
        log = open(os.path.join(p, "nginx.out"), "w")
        self.ngx = subprocess.Popen(["nginx", "-p", p, "-c", conf, "-g", "daemon off;"],
                                    stdout=log, stderr=log)
        self.cl.add(lambda: procs.stop(self.ngx))
        for port in self.ports.values():
            procs.wait_port(port, 15, self.ngx)

    def url(self, name, host="localhost"):
        return "https://%s:%d" % (host, self.ports[name])

    def bridge(self, **env):
        """The FastCGI responder with these settings; returns the process
        and its address."""
        port = procs.free_port()
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": TOKEN,
                "LOG_DIR": os.path.join(self.tmp, "logs-%d" % port),
                "RUN_DIR": os.path.join(self.tmp, "run-%d" % port),
                "VAULT_TIMEOUT_MS": "4000", "API_KEYS_JSON": "{}"}
        full.update(env)
        log = open(os.path.join(self.tmp, "bridge-%d.log" % port), "w")
        p = subprocess.Popen([procs.binary("vault-mcp-fcgi"), "--listen", "127.0.0.1:%d" % port,
                              "--threads", "2"], env=full, stdout=log, stderr=log, cwd=self.tmp)
        self.cl.add(lambda: procs.stop(p))
        procs.wait_port(port, 15, p)
        return p, ("127.0.0.1", port)

    def stop_bridge(self, p):
        # A clean exit 0 on SIGTERM: under ASan a leak at shutdown (say in
        # the TLS client's teardown) makes it non-zero. The cleanup entry
        # stays for the failure paths; stopping twice is harmless.
        rc = procs.stop(p, timeout=15.0)
        check(rc == 0, "bridge %d exited cleanly (rc %r)" % (p.pid, rc))

    def readyz(self, **env):
        p, addr = self.bridge(**env)
        st, _, body = fcgi_client.request(addr, "GET", "/readyz")
        self.stop_bridge(p)
        return st, json.loads(body)


def case_readyz_trusted(s):
    c = s.certs
    for label, env in (("VAULT_CACERT", {"VAULT_CACERT": c + "/ca.crt"}),
                       ("VAULT_CAPATH", {"VAULT_CAPATH": c + "/capath"})):
        st, doc = s.readyz(VAULT_ADDR=s.url("good"), **env)
        check(st == 200 and doc["ok"] is True, "%s: %d %r" % (label, st, doc))
        print("ok: readyz 200 through TLS with", label)


def expect_tls(s, what, reason, needle, **env):
    st, doc = s.readyz(**env)
    v = doc.get("vault", {})
    check(st == 503 and v.get("reachable") is False and v.get("reason") == reason
          and doc["error"].startswith("vault unreachable: ") and needle in doc["error"],
          "%s: %d %r" % (what, st, doc))
    check(TOKEN not in json.dumps(doc), "no token in the body")
    print("ok: %s -> %s: %s" % (what, reason, doc["error"]))


def case_readyz_unknown_ca(s):
    expect_tls(s, "no CA configured", "tls_unknown_ca", "VAULT_CACERT",
               VAULT_ADDR=s.url("good"))
    # A CA that is not the issuer is the same case.
    expect_tls(s, "another CA", "tls_unknown_ca", "VAULT_CACERT",
               VAULT_ADDR=s.url("good"), VAULT_CACERT=s.certs + "/rogue-ca.crt")


def case_readyz_name_mismatch(s):
    expect_tls(s, "certificate for another name", "tls_name_mismatch", "VAULT_ADDR",
               VAULT_ADDR=s.url("wrong"), VAULT_CACERT=s.certs + "/ca.crt")


def case_readyz_expired(s):
    expect_tls(s, "expired certificate", "tls_expired", "expired",
               VAULT_ADDR=s.url("expired"), VAULT_CACERT=s.certs + "/ca.crt")


def case_readyz_client_cert(s):
    c = s.certs
    st, doc = s.readyz(VAULT_ADDR=s.url("mtls"), VAULT_CACERT=c + "/ca.crt",
                       VAULT_CLIENT_CERT=c + "/client.crt", VAULT_CLIENT_KEY=c + "/client.key")
    check(st == 200 and doc["ok"] is True, "client certificate: %d %r" % (st, doc))
    print("ok: readyz 200 with VAULT_CLIENT_CERT/KEY against a Vault that requires them")
    st, doc = s.readyz(VAULT_ADDR=s.url("mtls"), VAULT_CACERT=c + "/ca.crt")
    check(st == 503 and doc["ok"] is False, "without client certificate: %d %r" % (st, doc))
    print("ok: without the client certificate: 503 (%s)" % doc["error"])


def provision(s, **env):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": TOKEN}
    full.update(env)
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "provision-vault.sh")],
                          env=full, capture_output=True, text=True, timeout=120)


def case_provision(s):
    c = s.certs
    good = s.url("good")
    for label, env in (
            ("VAULT_CACERT", {"VAULT_CACERT": c + "/ca.crt"}),
            ("VAULT_CAPATH", {"VAULT_CAPATH": c + "/capath"}),
            ("VAULT_SKIP_VERIFY=true", {"VAULT_SKIP_VERIFY": "true"})):
        p = provision(s, VAULT_ADDR=good, **env)
        check(p.returncode == 0, "%s: exit %d %s" % (label, p.returncode, p.stderr[-600:]))
        print("ok: provision-vault.sh over TLS with", label)
    p = provision(s, VAULT_ADDR=s.url("mtls"), VAULT_CACERT=c + "/ca.crt",
                  VAULT_CLIENT_CERT=c + "/client.crt", VAULT_CLIENT_KEY=c + "/client.key")
    check(p.returncode == 0, "client cert: exit %d %s" % (p.returncode, p.stderr[-600:]))
    print("ok: provision-vault.sh with VAULT_CLIENT_CERT/KEY")
    p = provision(s, VAULT_ADDR=good, VAULT_CACERT=c + "/ca.crt", VAULT_NAMESPACE="team-ns1")
    check(p.returncode == 0, "namespace: exit %d %s" % (p.returncode, p.stderr[-600:]))
    log = open(os.path.join(s.tmp, "access.log")).read()
    check("ns=team-ns1" in log, "X-Vault-Namespace reached Vault's front")
    print("ok: provision-vault.sh sends VAULT_NAMESPACE as X-Vault-Namespace")
    for label, url, env, needle in (
            ("no CA", good, {}, "VAULT_CACERT"),
            ("name mismatch", s.url("wrong"), {"VAULT_CACERT": c + "/ca.crt"}, "does not name"),
            ("expired", s.url("expired"), {"VAULT_CACERT": c + "/ca.crt"}, "expired"),
            ("missing CA file", good, {"VAULT_CACERT": c + "/nope.pem"}, "VAULT_CACERT"),
            ("bad VAULT_SKIP_VERIFY", good, {"VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY")):
        p = provision(s, VAULT_ADDR=url, **env)
        check(p.returncode != 0 and needle in p.stderr and "unbound variable" not in p.stderr,
              "%s: exit %d, stderr %s" % (label, p.returncode, p.stderr[-600:]))
        print("ok: provision-vault.sh fails clearly for %s: %s" % (
            label, p.stderr.strip().splitlines()[-1]))


def case_dev_stack(s):
    dev = os.path.join(s.tmp, "dev")
    port = procs.free_port()
    env = dict(os.environ, DEV_DIR=dev, PORT=str(port), VAULT_ADDR=s.url("good"),
               VAULT_TOKEN=TOKEN, VAULT_CACERT=s.certs + "/ca.crt",
               VMB_BUILD_DIR=procs.build_dir())
    script = os.path.join(ROOT, "scripts", "dev.sh")
    s.cl.add(lambda: subprocess.run(["bash", script, "down"], env=env, capture_output=True))
    p = subprocess.run(["bash", script, "up"], env=env, capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 0, "dev.sh up against the TLS Vault: %s %s" % (
        p.stdout[-800:], p.stderr[-800:]))
    with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=10) as r:
        doc = json.loads(r.read())
        check(r.status == 200 and doc["ok"] is True, "readyz through the dev front: %r" % doc)
    stack = open(os.path.join(dev, "stack.env")).read()
    check("VAULT_CACERT='%s/ca.crt'" % s.certs in stack, "stack.env records VAULT_CACERT")
    print("ok: dev.sh up with VAULT_CACERT: provisioned, /readyz 200, stack.env has it")
    subprocess.run(["bash", script, "down"], env=env, capture_output=True, timeout=120)


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_vault_tls.py %s" % "|".join(sorted(CASES)))
    if not shutil.which("nginx"):
        print("FAIL: nginx is not installed (scripts/lib/deps.sh installs nginx-light)")
        return 1
    cl = Cleanup()
    try:
        s = Stack(cl)
        CASES[sys.argv[1]](s)
    except AssertionError as e:
        print("FAIL:", e)
        return 1
    finally:
        cl.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
