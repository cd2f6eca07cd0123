"""Real servers for the `real` tests (issue 20): a PostgreSQL from Debian's
`postgresql` package and an OpenSSH sshd from `openssh-server`, each
started by the test on a free loopback port in a temporary directory and
stopped by the pid it started. No system service, cluster or system
configuration file is touched:

- PostgreSQL: initdb into a fresh directory, the server listens on
  127.0.0.1:<port> with its socket in that directory, password (SCRAM)
  authentication only. initdb and postgres refuse to run as root, so as
  root they run as the unprivileged `postgres` account that the Debian
  package creates (any other user runs them as itself).
- sshd: its own host key, config and pid file in the directory; listens
  on 127.0.0.1:<port>; `sshd -D -e` so its log goes to a file the test
  reads. As root it needs the privilege separation directory /run/sshd
  (created, 0755, when missing, as the package's service does). For the
  OTP check it runs with PAM inside a private mount namespace in which a
  temporary directory is bind-mounted over /etc/pam.d: the system's PAM
  configuration is never changed, and the bind mount dies with sshd.
"""

import glob
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import procs  # noqa: E402
from harness import check  # noqa: E402

IS_ROOT = os.geteuid() == 0


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value (returned) or the
    deadline passes (AssertionError naming what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _private_dir(cleanup, prefix, owner=None):
    d = tempfile.mkdtemp(prefix=prefix)
    if owner is not None:
        os.chown(d, owner.pw_uid, owner.pw_gid)
    cleanup.add(lambda: shutil.rmtree(d, ignore_errors=True)
                if not os.environ.get("VMB_KEEP_TMP") else None)
    return d


# ---- PostgreSQL ---------------------------------------------------------------

def pg_bindir():
    """The newest /usr/lib/postgresql/<major>/bin holding initdb."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)))
    if not found:
        raise AssertionError("no initdb under /usr/lib/postgresql/*/bin: install the Debian "
                             "package postgresql (scripts/lib/deps.sh VMB_TEST_PACKAGES)")
    return os.path.dirname(found[-1])


class PgClient:
    """psql against a PostgreSQL on 127.0.0.1:port, as its superuser or as
    any user whose password the test holds."""

    def __init__(self, port, dbname, admin, admin_password):
        self.port, self.dbname = port, dbname
        self.admin, self.admin_password = admin, admin_password

    def psql(self, user, password, sql, db=None, timeout=30):
        """Runs psql as a client over TCP: (returncode, stdout, stderr).
        The password goes through PGPASSWORD, never the command line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"})
        conninfo = "host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable" % (
            self.port, db or self.dbname, user)
        p = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", conninfo, "-c", sql],
                           capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def admin_sql(self, sql, db=None):
        rc, out, err = self.psql(self.admin, self.admin_password, sql, db=db)
        check(rc == 0, "admin SQL %r failed: %s" % (sql, err))
        return out

    def role_exists(self, name):
        out = self.admin_sql("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" %
                             name.replace("'", "''"))
        return out == "1"


class Postgres(PgClient):
    """A throw-away PostgreSQL cluster on 127.0.0.1:<port>.

    self.admin / self.admin_password: the superuser the simulator's
    database engine connects as. self.url(): a postgresql:// URL with
    {{username}}/{{password}} placeholders, as operators write it for
    Vault."""

    def __init__(self, cleanup, dbname="mcp"):
        self.bindir = pg_bindir()
        self.owner = None
        if IS_ROOT:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise AssertionError("running as root needs the unprivileged 'postgres' "
                                     "account (created by the Debian postgresql package)")
        self.dir = _private_dir(cleanup, "vmb-real-pg-", self.owner)
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        PgClient.__init__(self, procs.free_port(), dbname, "vaultadmin",
                          "pg-" + secrets.token_hex(16))
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.admin_password + "\n")
        self._own(pwfile)
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.admin,
                   "--pwfile", pwfile, "--auth-host=scram-sha-256",
                   "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                   "--no-sync"], "initdb")
        os.unlink(pwfile)
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.log = open(self.log_path, "w")
        self._own(self.log_path)
        self.proc = subprocess.Popen(
            [os.path.join(self.bindir, "postgres"), "-D", self.data,
             "-c", "listen_addresses=127.0.0.1", "-c", "port=%d" % self.port,
             "-c", "unix_socket_directories=" + self.dir, "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=40", "-c", "shared_buffers=16MB",
             "-c", "log_connections=on", "-c", "password_encryption=scram-sha-256"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            **self._as_owner())
        cleanup.add(self.stop)
        wait_for(self._ready, 30, "PostgreSQL on 127.0.0.1:%d (log %s)" % (self.port,
                                                                          self.log_path))
        self.admin_sql("CREATE DATABASE %s" % dbname, db="postgres")

    def _as_owner(self):
        if self.owner is None:
            return {}
        return {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}

    def _own(self, path):
        if self.owner is not None:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def _run(self, argv, what):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL, **self._as_owner())
        check(p.returncode == 0, "%s failed (%d): %s %s" % (what, p.returncode, p.stdout,
                                                            p.stderr))

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("postgres exited with %s: %s" % (
                self.proc.returncode, open(self.log_path).read()[-2000:]))
        p = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q", "-h", "127.0.0.1",
                            "-p", str(self.port), "-t", "2"], capture_output=True)
        return p.returncode == 0

    def stop(self):
        """Fast shutdown (SIGINT): open sessions are ended, then the
        postmaster exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def url(self, placeholders=True):
        if placeholders:
            return "postgresql://{{username}}:{{password}}@127.0.0.1:%d/%s?sslmode=disable" % (
                self.port, self.dbname)
        return "postgresql://%s:%s@127.0.0.1:%d/%s?sslmode=disable" % (
            self.admin, self.admin_password, self.port, self.dbname)


# ---- OpenSSH ----------------------------------------------------------------

SSHD = "/usr/sbin/sshd"


def ssh_keygen(*args):
    p = subprocess.run(["ssh-keygen"] + list(args), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    check(p.returncode == 0, "ssh-keygen %r: %s" % (args, p.stderr))
    return p.stdout


def user_key(directory, name="id_ed25519"):
    """A fresh ed25519 key pair: (private key path, public key line)."""
    path = os.path.join(directory, name)
    ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", "vmb-real-test", "-f", path)
    return path, open(path + ".pub").read().strip()


def cert_info(cert_path):
    """`ssh-keygen -L` of a certificate as text."""
    return ssh_keygen("-L", "-f", cert_path)


class Sshd:
    """A test sshd on 127.0.0.1:<port>.

    mode "cert": public keys only, trusting the given CA public key
    (TrustedUserCAKeys) with AuthorizedPrincipalsFile naming, per local
    user, the certificate principals that may log in as that user.
    mode "otp": keyboard-interactive through PAM whose only auth module is
    pam_exec running `otp_check` (the vault-ssh-helper check), in a private
    mount namespace (needs root)."""

    def __init__(self, cleanup, mode, ca_pubkey=None, principals=None, otp_check=None):
        if not os.path.exists(SSHD):
            raise AssertionError("no %s: install the Debian package openssh-server "
                                 "(scripts/lib/deps.sh VMB_TEST_PACKAGES)" % SSHD)
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.dir = _private_dir(cleanup, "vmb-real-sshd-")
        os.chmod(self.dir, 0o755)
        self.port = procs.free_port()
        self.host_key = os.path.join(self.dir, "host_ed25519")
        ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", "vmb-real-host", "-f", self.host_key)
        host_pub = open(self.host_key + ".pub").read().split()
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n" % (self.port, host_pub[0], host_pub[1]))
        lines = [
            "Port %d" % self.port,
            "ListenAddress 127.0.0.1",
            "HostKey " + self.host_key,
            "PidFile " + os.path.join(self.dir, "sshd.pid"),
            "AuthorizedKeysFile none",
            "StrictModes no",
            "LogLevel VERBOSE",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "PermitTunnel no",
            "MaxAuthTries 3",
            "LoginGraceTime 30",
        ]
        if mode == "cert":
            check(ca_pubkey, "cert mode needs the CA public key")
            ca_file = os.path.join(self.dir, "trusted_user_ca.pub")
            with open(ca_file, "w") as f:
                f.write(ca_pubkey.strip() + "\n")
            pdir = os.path.join(self.dir, "principals")
            os.mkdir(pdir)
            for user, names in (principals or {}).items():
                with open(os.path.join(pdir, user), "w") as f:
                    f.write("".join(n + "\n" for n in names))
            lines += ["TrustedUserCAKeys " + ca_file,
                      "AuthorizedPrincipalsFile %s/%%u" % pdir,
                      "PubkeyAuthentication yes",
                      "PasswordAuthentication no",
                      "KbdInteractiveAuthentication no",
                      "UsePAM no",
                      "PermitRootLogin prohibit-password"]
        elif mode == "otp":
            if not IS_ROOT:
                raise AssertionError("the OTP sshd needs root: it runs sshd with PAM in a "
                                     "private mount namespace (unshare -m) so that a test "
                                     "/etc/pam.d/sshd is seen by sshd alone")
            check(otp_check, "otp mode needs the check command")
            pam_dir = os.path.join(self.dir, "pam.d")
            os.mkdir(pam_dir)
            self.pam_log = os.path.join(self.dir, "otp-check.log")
            with open(os.path.join(pam_dir, "sshd"), "w") as f:
                f.write(
                    "# vault-ssh-helper style: the OTP typed at the prompt goes to the\n"
                    "# check on stdin (expose_authtok); its exit status decides.\n"
                    "auth requisite pam_exec.so quiet expose_authtok log=%s %s\n"
                    "# setcred: pam_exec ignores it, and a stack of ignores fails\n"
                    "auth optional pam_permit.so\n"
                    "account required pam_permit.so\n"
                    "session required pam_permit.so\n"
                    "password required pam_deny.so\n" % (self.pam_log, " ".join(otp_check)))
            lines += ["PubkeyAuthentication no",
                      "PasswordAuthentication no",
                      "KbdInteractiveAuthentication yes",
                      "AuthenticationMethods keyboard-interactive",
                      "UsePAM yes",
                      "PermitRootLogin yes"]
        else:
            raise ValueError(mode)
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        if IS_ROOT and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        p = subprocess.run([SSHD, "-t", "-f", self.config], capture_output=True, text=True)
        check(p.returncode == 0, "sshd -t refuses the test config: %s" % p.stderr)
        self.log_path = os.path.join(self.dir, "sshd.log")
        self.log = open(self.log_path, "w")
        argv = [SSHD, "-D", "-e", "-f", self.config]
        if mode == "otp":
            # A private mount namespace (unshare's default propagation is
            # private): the bind mount is seen by this sshd and its children
            # only, and disappears with them.
            argv = ["unshare", "--mount", "--", "sh", "-c",
                    'mount --bind "$0" /etc/pam.d && exec "$@"', pam_dir] + argv
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        cleanup.add(self.stop)
        procs.wait_port(self.port, timeout=20, proc=self.proc)

    def stop(self):
        procs.stop(self.proc)
        self.log.close()

    def log_text(self):
        self.log.flush()
        return open(self.log_path, errors="replace").read()

    def ssh(self, user, command, key=None, cert=None, otp=None, timeout=30):
        """Runs `command` over ssh as `user`: (returncode, stdout, stderr).
        With key/cert: public-key authentication with that certificate.
        With otp: keyboard-interactive, the OTP answered by SSH_ASKPASS."""
        argv = ["ssh", "-F", "/dev/null", "-p", str(self.port),
                "-o", "UserKnownHostsFile=" + self.known_hosts,
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
        if otp is None:
            argv += ["-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
                     "-i", key]
            if cert:
                argv += ["-o", "CertificateFile=" + cert]
        else:
            askpass = os.path.join(self.dir, "askpass-%s" % secrets.token_hex(4))
            with open(askpass, "w") as f:
                f.write("#!/bin/sh\nprintf '%%s\\n' '%s'\n" % otp.replace("'", ""))
            os.chmod(askpass, stat.S_IRWXU)
            env.update({"SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force",
                        "DISPLAY": env.get("DISPLAY", ":0")})
            argv += ["-o", "PreferredAuthentications=keyboard-interactive",
                     "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
        argv += ["%s@127.0.0.1" % user, command]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL, start_new_session=True)
        return p.returncode, p.stdout.strip(), p.stderr.strip()


def local_ip_ok(ip):
    """True when ip is an address of this machine (bindable)."""
    try:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


# ---- Vault over plain HTTP --------------------------------------------------

def vault_api(addr, method, path, body=None, token=None, timeout=15):
    """(status, parsed body or None) of one Vault API call."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(addr.rstrip("/") + "/v1/" + path, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw.strip() else None)


def ip_in(ip, cidrs):
    addr = ipaddress.ip_address(ip)
    for c in cidrs:
        c = c.strip()
        if c and addr in ipaddress.ip_network(c, strict=False):
            return True
    return False
