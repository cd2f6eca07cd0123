#!/usr/bin/env python3
"""The check HashiCorp's vault-ssh-helper makes for an SSH one-time
password, for the `real` tests (issue 20). sshd runs it through PAM's
pam_exec with expose_authtok, exactly where vault-ssh-helper sits:

  auth required pam_exec.so quiet expose_authtok /usr/bin/python3 otp_check.py ...

What it does, in vault-ssh-helper's order (helper/agent.go, main.go):
  1. read the OTP from stdin (pam_exec appends a NUL, stripped); it must
     look like a UUID;
  2. POST {"otp": ...} to <vault>/v1/<mount>/verify without a token (the
     endpoint is unauthenticated; Vault deletes the OTP on the first
     successful verify, so a second use fails here);
  3. the username Vault returns must equal PAM_USER;
  4. the IP Vault returns must be an address of this machine or inside
     --allowed-cidr-list;
  5. the role Vault returns must be in --allowed-roles ('*' allows any).
Exit status 0 lets sshd in; anything else refuses. --verify-only checks
the connection with Vault's echo request instead.

Never prints the OTP. Written for the tests; operators install the real
vault-ssh-helper (docs/operations.md)."""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reallib  # noqa: E402

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def fail(msg):
    print("otp-check: refused: %s" % msg)
    return 1


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vault-addr", required=True)
    ap.add_argument("--mount", default="ssh")
    ap.add_argument("--allowed-roles", required=True)
    ap.add_argument("--allowed-cidr-list", default="")
    ap.add_argument("--verify-only", action="store_true")
    a = ap.parse_args(argv)
    mount = a.mount.strip("/")
    if a.verify_only:
        st, doc = reallib.vault_api(a.vault_addr, "POST", mount + "/verify",
                                    {"otp": "verify-echo-request"})
        msg = ((doc or {}).get("data") or {}).get("message")
        if st == 200 and msg == "verify-echo-response":
            print("otp-check: verification successful")
            return 0
        return fail("invalid echo response (HTTP %d)" % st)

    otp = sys.stdin.buffer.read(4096).decode("utf-8", "replace").rstrip("\x00").strip("\r\n")
    if not UUID.match(otp):
        return fail("the answer is not a UUID")
    try:
        st, doc = reallib.vault_api(a.vault_addr, "POST", mount + "/verify", {"otp": otp})
    except OSError as e:
        return fail("cannot reach Vault: %s" % e)
    if st != 200:
        errs = (doc or {}).get("errors") or []
        return fail("Vault answered %d: %s" % (st, "; ".join(map(str, errs))))
    data = (doc or {}).get("data") or {}
    user = os.environ.get("PAM_USER", "")
    if data.get("username") != user:
        return fail("username mismatch")
    ip = data.get("ip") or ""
    try:
        ip_ok = reallib.local_ip_ok(ip) or reallib.ip_in(ip, a.allowed_cidr_list.split(","))
    except ValueError:
        ip_ok = False
    if not ip_ok:
        return fail("invalid IP")
    roles = [r.strip() for r in a.allowed_roles.split(",") if r.strip()]
    if "*" not in roles and (data.get("role_name") or "").strip() not in roles:
        return fail("role name not allowed")
    print("otp-check: %s@%s authenticated" % (user, ip))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
