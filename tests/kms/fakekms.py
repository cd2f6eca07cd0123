"""A stand-in AWS KMS for the bridge's tests (python3 stdlib only).

It checks every request the way KMS would before doing anything else:
the SigV4 signature is recomputed here with hmac/hashlib, independently
of the C signer, and the X-Amz-Target header and the JSON body are held
against the shapes in tests/data/kms/api.json (required
members, no unknown members, base64 blobs and their sizes, enums).
Anything wrong is recorded in .problems and answered as KMS would.

Encrypt/Decrypt are a reversible transform bound to the key id and the
encryption context, so round trips work; Sign/Verify use an HMAC keyed
by the key id. Special key ids trigger KMS errors (see ERROR_KEYS)."""

import base64
import binascii
import hashlib
import hmac
import http.server
import json
import os
import re
import threading
import time

API = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "data", "kms", "api.json"))

# key id -> (HTTP status, error name, how the name is sent)
ERROR_KEYS = {
    "deny-key": (400, "AccessDeniedException", "type"),
    "missing-key": (400, "NotFoundException", "type"),
    "header-missing-key": (400, "NotFoundException:http://internal.amazon.com/coral/x/", "header"),
    "code-missing-key": (400, "aws.protocoltests.restjson#NotFoundException", "code"),
    "throttle-key": (400, "ThrottlingException", "type"),
    "disabled-key": (400, "DisabledException", "type"),
    "internal-key": (500, "KMSInternalException", "type"),
}
SLOW_KEY = "slow-key"
MAGIC = b"FAKEKMS1"


def _b64(data):
    return base64.b64encode(data).decode()


def _unb64(s):
    return base64.b64decode(s.encode(), validate=True)


def _ctx_digest(ctx):
    return hashlib.sha256(json.dumps(ctx or {}, sort_keys=True).encode()).digest()[:8]


def _stream(key_id, n):
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(key_id.encode() + i.to_bytes(4, "big")).digest()
        i += 1
    return out[:n]


def seal(key_id, plaintext, ctx):
    kid = key_id.encode()
    body = bytes(a ^ b for a, b in zip(plaintext, _stream(key_id, len(plaintext))))
    return MAGIC + bytes([len(kid)]) + kid + _ctx_digest(ctx) + body


def unseal(blob, ctx):
    if not blob.startswith(MAGIC) or len(blob) < 9:
        return None, None
    n = blob[8]
    kid = blob[9:9 + n].decode()
    if blob[9 + n:17 + n] != _ctx_digest(ctx):
        return None, None
    body = blob[17 + n:]
    return kid, bytes(a ^ b for a, b in zip(body, _stream(kid, len(body))))


def arn(key_id):
    if key_id.startswith("arn:"):
        return key_id
    return "arn:aws:kms:us-east-1:111122223333:key/" + key_id


# ---- SigV4, recomputed -------------------------------------------------------

def _sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def _hmac(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


def verify_sigv4(method, path, headers, body, creds, region):
    """Return None when the Authorization header is a valid SigV4 signature
    of this request under creds, else a reason."""
    auth = headers.get("Authorization", "")
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
    if not m:
        return "malformed Authorization %r" % auth[:40]
    akid, date, reg, service, signed, sig = m.groups()
    # creds may be one pair or a list of pairs (the bridge's own and a
    # caller's temporary ones): the access key id picks the pair.
    pairs = creds if isinstance(creds, (list, tuple)) else [creds]
    creds = next((c for c in pairs if c["akid"] == akid), None)
    if creds is None:
        return "unknown access key id"
    if reg != region or service != "kms":
        return "wrong scope %s/%s" % (reg, service)
    amz_date = headers.get("X-Amz-Date", "")
    if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date) or amz_date[:8] != date:
        return "bad X-Amz-Date"
    skew = abs(time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) -
               time.mktime(time.gmtime()))
    if skew > 300:
        return "X-Amz-Date is off by %ds" % skew
    names = signed.split(";")
    need = ["content-type", "host", "x-amz-date", "x-amz-target"]
    if creds.get("token"):
        need.append("x-amz-security-token")
        if headers.get("X-Amz-Security-Token") != creds["token"]:
            return "wrong session token"
    elif "X-Amz-Security-Token" in headers:
        return "unexpected session token"
    for n in need:
        if n not in names:
            return "%s is not signed" % n
    if names != sorted(names):
        return "SignedHeaders not sorted"
    lines = []
    for n in names:
        vals = headers.get_all(n) or []
        if not vals:
            return "signed header %s absent" % n
        lines.append("%s:%s\n" % (n, ",".join(" ".join(v.split()) for v in vals)))
    creq = "\n".join([method, path, "", "".join(lines), signed, _sha256_hex(body)])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/kms/aws4_request" % (date, reg),
                     _sha256_hex(creq.encode())])
    k = _hmac(("AWS4" + creds["secret"]).encode(), date)
    k = _hmac(k, reg)
    k = _hmac(k, "kms")
    k = _hmac(k, "aws4_request")
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return "signature mismatch"
    return None


# ---- body shapes ---------------------------------------------------------------

def check_shape(spec, doc):
    """None, or why doc does not fit the operation's request members."""
    if not isinstance(doc, dict):
        return "body is not an object"
    members = spec["request_members"]
    for r in spec["required"]:
        if r not in doc:
            return "missing %s" % r
    for k, v in doc.items():
        m = members.get(k)
        if m is None:
            return "unknown member %s" % k
        if v is None:
            return "%s is null (omit it instead)" % k
        t = m["type"]
        if t == "blob":
            if not isinstance(v, str):
                return "%s is not a string" % k
            try:
                raw = _unb64(v)
            except (binascii.Error, ValueError):
                return "%s is not standard base64" % k
            if _b64(raw) != v:
                return "%s is not canonical padded base64" % k
            if not (m.get("min", 0) <= len(raw) <= m.get("max", 1 << 30)):
                return "%s has %d bytes" % (k, len(raw))
        elif t == "string":
            if not isinstance(v, str) or not v:
                return "%s is not a non-empty string" % k
            if "enum" in m and v not in m["enum"]:
                return "%s=%r not in the enum" % (k, v)
            if len(v) > m.get("max", 1 << 30):
                return "%s too long" % k
        elif t == "map":
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                return "%s is not a map of strings" % k
        elif t == "list":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                return "%s is not a list of strings" % k
            if len(v) > m.get("max", 1 << 30):
                return "%s has too many items" % k
        elif t == "integer":
            if not isinstance(v, int) or isinstance(v, bool):
                return "%s is not an integer" % k
            if not (m.get("min", -(1 << 62)) <= v <= m.get("max", 1 << 62)):
                return "%s out of range" % k
    return None


class FakeKMS:
    def __init__(self, port, creds, region="us-east-1"):
        if not os.path.exists(API):
            raise RuntimeError("FAIL: KMS API facts %s are missing (the repository "
                               "copy lives in tests/data/kms)" % API)
        with open(API) as f:
            self.api = json.load(f)
        self.creds, self.region = creds, region
        self.problems, self.calls = [], []
        self.signed_by = []   # access key id of each request whose signature verified
        self.lock = threading.Lock()
        outer = self
        targets = {v["x_amz_target"]: k for k, v in self.api["operations"].items()}

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, doc, extra=None):
                data = json.dumps(doc).encode() if doc is not None else b""
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (extra or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _problem(self, what, status, name):
                with outer.lock:
                    outer.problems.append(what)
                self._send(status, {"__type": name, "message": what})

            def do_GET(self):
                self._problem("GET %s" % self.path, 400, "UnknownOperationException")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                why = verify_sigv4("POST", self.path, self.headers, body, outer.creds,
                                   outer.region)
                if why:
                    return self._problem("sigv4: " + why, 400, "InvalidSignatureException")
                with outer.lock:
                    outer.signed_by.append(self.headers.get("Authorization", "")
                                           .split("Credential=")[-1].split("/")[0])
                if self.path != "/":
                    return self._problem("path %s" % self.path, 400, "UnknownOperationException")
                if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                    return self._problem("content type %r" % self.headers.get("Content-Type"),
                                         400, "SerializationException")
                op = targets.get(self.headers.get("X-Amz-Target", ""))
                if not op:
                    return self._problem("target %r" % self.headers.get("X-Amz-Target"), 400,
                                         "UnknownOperationException")
                try:
                    doc = json.loads(body)
                except ValueError:
                    return self._problem("body is not JSON", 400, "SerializationException")
                why = check_shape(outer.api["operations"][op], doc)
                if why:
                    return self._problem("%s: %s" % (op, why), 400, "ValidationException")
                if op == "GenerateDataKey" and "KeySpec" in doc and "NumberOfBytes" in doc:
                    return self._problem("KeySpec and NumberOfBytes", 400, "ValidationException")
                with outer.lock:
                    outer.calls.append((op, doc))
                key = doc.get("KeyId", "")
                if key == SLOW_KEY:
                    time.sleep(3)
                if key in ERROR_KEYS:
                    status, name, how = ERROR_KEYS[key]
                    if how == "header":
                        return self._send(status, None, {"X-Amzn-Errortype": name})
                    member = "code" if how == "code" else "__type"
                    return self._send(status, {member: name, "message": "planted message"})
                getattr(self, "op_" + op)(doc)

            def op_Encrypt(self, d):
                blob = seal(d["KeyId"], _unb64(d["Plaintext"]), d.get("EncryptionContext"))
                self._send(200, {"CiphertextBlob": _b64(blob), "KeyId": arn(d["KeyId"]),
                                 "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})

            def op_Decrypt(self, d):
                kid, pt = unseal(_unb64(d["CiphertextBlob"]), d.get("EncryptionContext"))
                if kid is None or ("KeyId" in d and d["KeyId"] != kid):
                    return self._send(400, {"__type": "InvalidCiphertextException"})
                self._send(200, {"Plaintext": _b64(pt), "KeyId": arn(kid),
                                 "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})

            def op_GenerateDataKey(self, d):
                n = d.get("NumberOfBytes") or (16 if d.get("KeySpec") == "AES_128" else 32)
                pt = os.urandom(n)
                with outer.lock:
                    outer.data_keys.append(pt)
                blob = seal(d["KeyId"], pt, d.get("EncryptionContext"))
                self._send(200, {"Plaintext": _b64(pt), "CiphertextBlob": _b64(blob),
                                 "KeyId": arn(d["KeyId"])})

            def _mac(self, d):
                return hmac.new(d["KeyId"].encode(), (d.get("MessageType", "RAW") + ":" +
                                d["SigningAlgorithm"]).encode() + _unb64(d["Message"]),
                                hashlib.sha256).digest()

            def op_Sign(self, d):
                self._send(200, {"Signature": _b64(self._mac(d)), "KeyId": arn(d["KeyId"]),
                                 "SigningAlgorithm": d["SigningAlgorithm"]})

            def op_Verify(self, d):
                if not hmac.compare_digest(self._mac(d), _unb64(d["Signature"])):
                    return self._send(400, {"__type": "KMSInvalidSignatureException"})
                self._send(200, {"SignatureValid": True, "KeyId": arn(d["KeyId"]),
                                 "SigningAlgorithm": d["SigningAlgorithm"]})

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.data_keys = []
        self.server = S(("127.0.0.1", port), H)
        self.port = port
        self.url = "http://127.0.0.1:%d/" % port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
