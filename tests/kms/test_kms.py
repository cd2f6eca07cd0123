"""KMS end-to-end cases: the bridge's FastCGI responder in front of a fake
KMS (fakekms.py) that verifies every SigV4 signature and body shape itself.
Each case drives the operations over REST and over MCP tools/call.

usage: test_kms.py <case>   (one ctest per case, labels kms and e2e)"""

import base64
import json
import os
import secrets
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ops"))
sys.path.insert(0, HERE)
import opslib as L  # noqa: E402
from opslib import b64, check, expect_err, expect_ok  # noqa: E402
import fakekms  # noqa: E402
import procs  # noqa: E402

KEY = "kms-key-" + secrets.token_hex(16)
AKID = "AKIDKMSTEST" + secrets.token_hex(4).upper()
SECRET = "kms-secret-" + secrets.token_hex(16)
TOKEN = "kms-session-token-" + secrets.token_hex(24)
DEAD_VAULT = "http://127.0.0.1:9"
PLANT = "planted-plaintext-" + secrets.token_hex(8)


def stack(cl, creds_env=True, token=None, env=None, key_default="alias/app"):
    kms = fakekms.FakeKMS(procs.free_port(), {"akid": AKID, "secret": SECRET, "token": token})
    cl.add(kms.close)
    e = {"AWS_KMS_ENABLED": "true", "AWS_REGION": "us-east-1",
         "AWS_KMS_ENDPOINT": kms.url, "AWS_KMS_DEFAULT_KEY_ID": key_default,
         "VAULT_TIMEOUT_MS": "1500", "HOME": "/nonexistent",
         "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
         "AWS_PROFILE": None, "AWS_SHARED_CREDENTIALS_FILE": None,
         # No Vault here: the subject registry is off and the grants come
         # from DEFAULT_GRANTS_JSON (issue 12).
         "REGISTRY_ENABLED": "false", "CHILD_TOKEN_ENABLED": "false"}
    if creds_env:
        e.update({"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET})
        if token:
            e["AWS_SESSION_TOKEN"] = token
    e.update(env or {})
    b = L.Bridge(cl, DEAD_VAULT, {KEY: "agent_k"}, env=e)
    return kms, b


def mcp(b, tool, args):
    """tools/call over MCP -> (status, doc) shaped like a REST answer."""
    msg = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": tool, "arguments": args}}
    st, doc = b.raw("POST", "/mcp/rpc", key=KEY, body=msg,
                    headers={"Accept": "application/json, text/event-stream",
                             "MCP-Protocol-Version": "2025-06-18"})
    check(st == 200 and isinstance(doc, dict) and "result" in doc, "mcp %s: %d %r" % (tool, st, doc))
    res = doc["result"]
    if res.get("isError"):
        err = res["structuredContent"]["error"]
        return err["status"], {"error": err}
    return 200, res["structuredContent"]


def both(b, op, args):
    """The same call over REST and MCP; both answers are returned."""
    return [b.op(op, args, key=KEY), mcp(b, op, args)]


def no_problems(kms):
    check(not kms.problems, "fake KMS saw bad requests: %r" % kms.problems)


def case_ops(cl):
    kms, b = stack(cl)
    ctx = {"purpose": "test", "tenant": "t1"}
    # Each tool once over REST by its table id (the ops coverage check
    # reads these calls), then both transports below.
    expect_ok(b.op("kms.generate_data_key", {"key_spec": "AES_256"}, key=KEY), "data key")
    sig = expect_ok(b.op("kms.sign", {"message": b64("m"), "signing_algorithm": "ECDSA_SHA_384"},
                         key=KEY), "sign")["signature"]
    check(expect_ok(b.op("kms.verify", {"message": b64("m"), "signature": sig,
                                        "signing_algorithm": "ECDSA_SHA_384"}, key=KEY),
                    "verify")["valid"] is True, "verify")
    for via, res in zip(("rest", "mcp"), both(b, "kms.encrypt",
                                               {"plaintext": b64(PLANT), "encryption_context": ctx,
                                                "grant_tokens": ["gt1"]})):
        r = expect_ok(res, "encrypt " + via)
        check(r["key_id"].endswith("alias/app") and r["encryption_algorithm"] == "SYMMETRIC_DEFAULT",
              "encrypt %r" % r)
        ct = r["ciphertext"]
        for via2, res2 in zip(("rest", "mcp"), both(b, "kms.decrypt",
                                                     {"ciphertext": ct, "encryption_context": ctx})):
            d = expect_ok(res2, "decrypt %s/%s" % (via, via2))
            check(base64.b64decode(d["plaintext"]).decode() == PLANT, "round trip %r" % d)
        expect_err(b.op("kms.decrypt", {"ciphertext": ct, "encryption_context": {"x": "y"}},
                        key=KEY), 400, "bad_request", "InvalidCiphertext", "wrong context")
    # An explicit key id, then the data key round trip.
    r = expect_ok(b.op("kms.encrypt", {"plaintext": b64("x"), "key_id": "key-2"}, key=KEY), "key")
    check(r["key_id"].endswith("/key-2"), "explicit key %r" % r)
    for args, n in (({}, 32), ({"key_spec": "AES_128"}, 16), ({"number_of_bytes": 7}, 7)):
        for via, res in zip(("rest", "mcp"), both(b, "kms.generate_data_key", args)):
            r = expect_ok(res, "data key %r %s" % (args, via))
            pt = base64.b64decode(r["plaintext"])
            check(len(pt) == n, "data key size %d, wanted %d" % (len(pt), n))
            d = expect_ok(b.op("kms.decrypt", {"ciphertext": r["ciphertext"]}, key=KEY), "dk dec")
            check(base64.b64decode(d["plaintext"]) == pt, "data key round trip")
    # Sign and verify, raw message and digest.
    for extra in ({"message": b64(PLANT)},
                  {"message_digest": b64(b"\x01" * 32)},
                  {"message": b64(b"\x02" * 32), "message_type": "DIGEST"}):
        args = dict(extra, signing_algorithm="ECDSA_SHA_256", key_id="sign-key")
        for via, res in zip(("rest", "mcp"), both(b, "kms.sign", args)):
            s = expect_ok(res, "sign %s" % via)
            check(s["signing_algorithm"] == "ECDSA_SHA_256", "sign %r" % s)
            v = dict(args, signature=s["signature"])
            for via2, res2 in zip(("rest", "mcp"), both(b, "kms.verify", v)):
                check(expect_ok(res2, "verify")["valid"] is True, "valid signature")
            bad = dict(v, signature=b64(b"\x00" * 32))
            for via2, res2 in zip(("rest", "mcp"), both(b, "kms.verify", bad)):
                check(expect_ok(res2, "verify bad")["valid"] is False, "invalid signature")
    no_problems(kms)
    targets = sorted({op for op, _ in kms.calls})
    check(targets == ["Decrypt", "Encrypt", "GenerateDataKey", "Sign", "Verify"], "%r" % targets)
    # What the log says: descriptors, never values.
    lines = [x for x in b.responses() if str(x.get("operation", x.get("op", ""))).startswith("kms.")
             or "kms" in json.dumps(x)]
    check(lines, "no kms lines in responses.log")
    check(any("key_id" in json.dumps(x) for x in lines), "key id is logged: %r" % lines[:2])
    secrets_seen = [PLANT, b64(PLANT), SECRET] + [b64(k) for k in kms.data_keys]
    for _, doc in kms.calls:
        for m in ("CiphertextBlob", "Signature"):
            if m in doc:
                secrets_seen.append(doc[m])
    for name, data in b.logs().items():
        text = data.decode("utf-8", "replace")
        for s in secrets_seen:
            check(s not in text, "%s holds a secret value (%s...)" % (name, s[:12]))


def case_disabled(cl):
    kms, b = stack(cl, env={"AWS_KMS_ENABLED": "false"})
    calls = {"kms.encrypt": {"plaintext": b64("x")}, "kms.decrypt": {"ciphertext": b64("x")},
             "kms.generate_data_key": {}, "kms.sign": {"message": b64("m"),
                                                       "signing_algorithm": "ECDSA_SHA_256"},
             "kms.verify": {"message": b64("m"), "signature": b64("s"),
                            "signing_algorithm": "ECDSA_SHA_256"}}
    for op, args in calls.items():
        for res in both(b, op, args):
            expect_err(res, 503, "not_enabled", None, op + " disabled")
    check(not kms.calls and not kms.problems, "disabled bridge called KMS")


def case_readyz(cl):
    """/readyz reports KMS when enabled: region and credentials present."""
    import json
    kms, b = stack(cl)
    st, doc = b.raw("GET", "/readyz")
    check(doc.get("kms", {}).get("credentials") is True, "kms ready: %r" % doc)
    text = json.dumps(doc)
    check(SECRET not in text and AKID not in text, "no credentials in readyz")
    kms2, b2 = stack(cl, creds_env=False)
    st, doc = b2.raw("GET", "/readyz")
    check(st == 503 and doc["kms"]["credentials"] is False and doc["kms"].get("error"),
          "kms without credentials: %d %r" % (st, doc))
    kms3, b3 = stack(cl, env={"AWS_KMS_ENABLED": "false"})
    st, doc = b3.raw("GET", "/readyz")
    check("kms" not in doc, "no kms section when disabled")


def case_errors(cl):
    kms, b = stack(cl)
    for key, status, code in (("deny-key", 403, "permission_denied"),
                              ("missing-key", 404, "not_found"),
                              ("header-missing-key", 404, "not_found"),
                              ("code-missing-key", 404, "not_found"),
                              ("throttle-key", 429, "rate_limited"),
                              ("disabled-key", 400, "bad_request"),
                              ("internal-key", 502, "upstream_error")):
        for res in both(b, "kms.encrypt", {"plaintext": b64(PLANT), "key_id": key}):
            expect_err(res, status, code, None, key)
    # Refused before KMS is asked.
    before = len(kms.calls)
    for res in both(b, "kms.encrypt", {"plaintext": "not base64!"}):
        expect_err(res, 400, "bad_request", "base64", "bad base64")
    for res in both(b, "kms.decrypt", {"ciphertext": "QQ"}):
        expect_err(res, 400, "bad_request", "base64", "unpadded base64")
    for res in both(b, "kms.generate_data_key", {"key_spec": "AES_256", "number_of_bytes": 8}):
        expect_err(res, 400, "bad_request", "not both", "spec and bytes")
    for res in both(b, "kms.sign", {"signing_algorithm": "ECDSA_SHA_256"}):
        expect_err(res, 400, "bad_request", "exactly one", "no message")
    for res in both(b, "kms.encrypt", {"plaintext": b64("x"), "encryption_context": {"a": 1}}):
        expect_err(res, 400, "bad_request", "encryption_context", "context values")
    for res in both(b, "kms.sign", {"message": b64("m"), "signing_algorithm": "MD5"}):
        expect_err(res, 400, "bad_request", "signing_algorithm", "algorithm enum")
    check(len(kms.calls) == before, "invalid input reached KMS")
    # A slow KMS is a timeout: 503.
    for res in both(b, "kms.encrypt", {"plaintext": b64("x"), "key_id": "slow-key"}):
        expect_err(res, 503, None, "unreachable", "timeout")
    no_problems(kms)
    for name, data in b.logs().items():
        check(PLANT.encode() not in data and b64(PLANT).encode() not in data and
              SECRET.encode() not in data, "%s holds a secret" % name)


def case_no_key(cl):
    kms, b = stack(cl, key_default=None)
    for op, args in (("kms.encrypt", {"plaintext": b64("x")}), ("kms.generate_data_key", {}),
                     ("kms.sign", {"message": b64("m"), "signing_algorithm": "ECDSA_SHA_256"})):
        for res in both(b, op, args):
            expect_err(res, 400, "bad_request", "key_id", op + " without a key")
    check(not kms.calls, "KMS called without a key")


def case_unreachable(cl):
    kms, b = stack(cl, env={"AWS_KMS_ENDPOINT": "http://127.0.0.1:%d/" % procs.free_port()})
    for res in both(b, "kms.encrypt", {"plaintext": b64("x")}):
        expect_err(res, 503, None, "unreachable", "no KMS")


def case_bad_signature(cl):
    """The fake KMS recomputes every signature: a bridge holding the wrong
    secret is refused (InvalidSignatureException), which is the bridge's
    problem and so an upstream error for the caller."""
    kms, b = stack(cl, env={"AWS_SECRET_ACCESS_KEY": "not-" + SECRET})
    for res in both(b, "kms.encrypt", {"plaintext": b64("x")}):
        expect_err(res, 502, "upstream_error", "InvalidSignatureException", "bad signature")
    check(kms.problems and all(p.startswith("sigv4: signature mismatch") for p in kms.problems),
          "the fake KMS did not catch the bad signature: %r" % kms.problems)


def case_credfile(cl):
    """No AWS_* keys: the shared credentials file and profile, with a
    session token that must be sent and signed."""
    tmp = L.tmpdir(cl, "vmb-kms-cred-")
    path = os.path.join(tmp, "credentials")
    with open(path, "w") as f:
        f.write("# test\n[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n"
                "[agent]\r\naws_access_key_id = %s\r\naws_secret_access_key=%s\r\n"
                "aws_session_token = %s\r\n" % (AKID, SECRET, TOKEN))
    os.chmod(path, 0o600)
    kms, b = stack(cl, creds_env=False, token=TOKEN,
                   env={"AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "agent"})
    for res in both(b, "kms.encrypt", {"plaintext": b64(PLANT)}):
        expect_ok(res, "encrypt with file credentials")
    no_problems(kms)
    for name, data in b.logs().items():
        for s in (SECRET, TOKEN, PLANT):
            check(s.encode() not in data, "%s holds a credential" % name)
    # A profile that is not in the file: no credentials, no call.
    kms2, b2 = stack(cl, creds_env=False, env={"AWS_SHARED_CREDENTIALS_FILE": path,
                                                "AWS_PROFILE": "nobody"})
    for res in both(b2, "kms.encrypt", {"plaintext": b64("x")}):
        expect_err(res, 503, "not_enabled", "credentials", "missing profile")
    check(not kms2.calls and not kms2.problems, "called KMS without credentials")


def case_caller_creds(cl):
    """Issue 14: an admin caller may send temporary AWS credentials for one
    call, only with KMS_ALLOW_CALLER_CREDENTIALS=true; the fake KMS knows
    both pairs and records which access key id signed each request."""
    admin_key = "kms-admin-" + secrets.token_hex(16)
    c_akid = "ASIACALLER" + secrets.token_hex(8).upper()
    c_secret = "caller-secret-" + secrets.token_hex(16)
    c_token = "caller-session-" + secrets.token_hex(24)
    creds = {"aws_access_key_id": c_akid, "aws_secret_access_key": c_secret,
             "aws_session_token": c_token}
    keys = {KEY: "agent_k",
            admin_key: {"subject": "kms_admin", "scopes": ["read", "write", "admin"]}}

    def bridge(allow):
        kms = fakekms.FakeKMS(procs.free_port(), [{"akid": AKID, "secret": SECRET},
                                                  {"akid": c_akid, "secret": c_secret,
                                                   "token": c_token}])
        cl.add(kms.close)
        e = {"AWS_KMS_ENABLED": "true", "AWS_REGION": "us-east-1",
             "AWS_KMS_ENDPOINT": kms.url, "AWS_KMS_DEFAULT_KEY_ID": "alias/app",
             "VAULT_TIMEOUT_MS": "1500", "HOME": "/nonexistent",
             "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
             "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None, "AWS_SHARED_CREDENTIALS_FILE": None,
             "REGISTRY_ENABLED": "false", "CHILD_TOKEN_ENABLED": "false",
             "KMS_ALLOW_CALLER_CREDENTIALS": allow}
        return kms, L.Bridge(cl, DEAD_VAULT, keys, env=e)

    answers = []
    # Setting off (the default spelled out): refused even for an admin.
    kms, b = bridge("false")
    for who in (admin_key, KEY):
        res = b.op("kms.encrypt", dict(creds, plaintext=b64("x")), key=who)
        answers.append(res)
        expect_err(res, 403, "forbidden", "KMS_ALLOW_CALLER_CREDENTIALS", "setting off")
    check(not kms.calls and not kms.problems, "refused call reached KMS")
    b.close()
    logs = [b.logs(), {"stderr": open(os.path.join(b.tmp, "stderr.txt"), "rb").read()}]

    kms, b = bridge("true")
    # Not admin: refused, over REST and MCP.
    for res in both(b, "kms.encrypt", dict(creds, plaintext=b64("x"))):
        answers.append(res)
        expect_err(res, 403, "forbidden", "admin", "non-admin caller credentials")
    # Key id without secret, and a malformed key id: 400.
    res = b.op("kms.encrypt", {"plaintext": b64("x"), "aws_access_key_id": c_akid}, key=admin_key)
    answers.append(res)
    expect_err(res, 400, "bad_request", "together", "key id without secret")
    res = b.op("kms.encrypt", dict(creds, plaintext=b64("x"), aws_access_key_id="asia-lower-case-1"),
               key=admin_key)
    answers.append(res)
    expect_err(res, 400, "bad_request", "aws_access_key_id", "key id pattern")
    check(not kms.calls and not kms.problems, "refused call reached KMS")
    # Admin, setting on: every operation is signed by the caller's pair.
    res = b.op("kms.encrypt", dict(creds, plaintext=b64(PLANT)), key=admin_key)
    answers.append(res)
    ct = expect_ok(res, "encrypt with caller credentials")["ciphertext"]
    res = b.op("kms.decrypt", dict(creds, ciphertext=ct), key=admin_key)
    answers.append(res)
    check(base64.b64decode(expect_ok(res, "decrypt")["plaintext"]).decode() == PLANT, "round trip")
    for op, args in (("kms.generate_data_key", {}),
                     ("kms.sign", {"message": b64("m"), "signing_algorithm": "ECDSA_SHA_256"})):
        res = b.op(op, dict(creds, **args), key=admin_key)
        answers.append(res)
        r = expect_ok(res, op)
    res = b.op("kms.verify", dict(creds, message=b64("m"), signature=r["signature"],
                                  signing_algorithm="ECDSA_SHA_256"), key=admin_key)
    answers.append(res)
    check(expect_ok(res, "verify")["valid"] is True, "verify with caller credentials")
    check(kms.signed_by == [c_akid] * 5, "caller credentials signed: %r" % kms.signed_by)
    # The next call without them uses the configured pair again (used once).
    expect_ok(b.op("kms.encrypt", {"plaintext": b64("y")}, key=admin_key), "own credentials")
    check(kms.signed_by[-1] == AKID, "bridge credentials after: %r" % kms.signed_by)
    no_problems(kms)
    # The description tells the console they are used once and never stored.
    st, doc = b.raw("GET", "/openapi.json")
    text = json.dumps(doc)
    check(st == 200 and "aws_secret_access_key" in text and
          "used for this request only, never stored" in text, "openapi describes the fields")
    b.close()
    logs += [b.logs(), {"stderr": open(os.path.join(b.tmp, "stderr.txt"), "rb").read()}]
    for name, data in [kv for lg in logs for kv in lg.items()]:
        for s in (c_secret, c_token):
            check(s.encode() not in data, "%s holds a caller credential" % name)
    for st, doc in answers:
        for s in (c_secret, c_token):
            check(s not in json.dumps(doc), "an answer holds a caller credential")


if __name__ == "__main__":
    cleanup = L.Cleanup()
    try:
        globals()["case_" + sys.argv[1]](cleanup)
    finally:
        cleanup.run()
    print("ok:", sys.argv[1])
