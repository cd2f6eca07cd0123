"""vault-sim fidelity suites (issue 19): behaviour checked against what
HashiCorp Vault's own source does. Every check names the Vault file and
function its expectation comes from (hashicorp/vault unless another
repository is named). Imported by run_tests.py; each suite takes the
run_tests Suite object `t` (t.check / t.fail / t.sim.req).
"""
import json
import time

INVALID_WRAP = {"errors": ["wrapping token is not valid or does not exist"]}


def validating(msg):
    return {"errors": ["error validating wrapping token: " + msg]}


def wrap_ttl(ttl):
    return {"X-Vault-Wrap-TTL": str(ttl)}


def wrapped(t, what, method, path, body=None, ttl=60, token="root",
            creation_path=None, want_ttl=None):
    """Issues a request with X-Vault-Wrap-TTL and checks the wrap
    envelope (http/logical.go respondLogical: only wrap_info is set)."""
    st, got, _ = t.check(what, method, path, body, 200, token=token,
                         headers=wrap_ttl(ttl))
    wi = got.get("wrap_info")
    exp_path = creation_path or path[len("/v1/"):].split("?")[0]
    if want_ttl is None:
        want_ttl = int(ttl)
    if not isinstance(wi, dict) or wi.get("ttl") != want_ttl or \
            wi.get("creation_path") != exp_path or \
            not wi.get("token") or not wi.get("accessor") or \
            not wi.get("creation_time"):
        t.fail("%s: wrap_info %r (want ttl %s, creation_path %s)"
               % (what, wi, ttl, exp_path))
    if got["request_id"] != "" or got["data"] is not None or \
            got["warnings"] is not None or got["auth"] is not None or \
            got["lease_id"] != "" or got["mount_type"] != "":
        t.fail("%s: respondLogical sends wrap_info alone: %r" % (what, got))
    return wi


def suite_wrapping(t):
    """vault/wrapping.go, vault/request_handling.go, vault/logical_system.go
    wrapping handlers, http/handler.go requestWrapInfo."""
    t.check("kv write", "POST", "/v1/secret/data/w",
            {"data": {"pw": "s3cret"}}, 200)
    st, plain, _ = t.check("kv read", "GET", "/v1/secret/data/w", status=200)

    # Header parsing: http/handler.go requestWrapInfo (ParseDurationSecond,
    # negative refused), wrapped in buildLogicalRequest's message.
    t.check("handler.go requestWrapInfo: bad duration", "GET",
            "/v1/secret/data/w", headers=wrap_ttl("abc"), status=400,
            expect={"errors": ['error parsing X-Vault-Wrap-TTL header: time: '
                               'invalid duration "abc"']})
    t.check("handler.go requestWrapInfo: negative", "GET",
            "/v1/secret/data/w", headers=wrap_ttl("-5"), status=400,
            expect={"errors": ["error parsing X-Vault-Wrap-TTL header: "
                               "requested wrap ttl cannot be negative"]})
    wrapped(t, "handler.go requestWrapInfo: '5m' is 300 s", "GET",
            "/v1/secret/data/w", ttl="5m", want_ttl=300)
    st, got, _ = t.check("requestWrapInfo: TTL 0 does not wrap", "GET",
                         "/v1/secret/data/w", headers=wrap_ttl(0), status=200)
    if got["wrap_info"] is not None or got["data"]["data"] != {"pw": "s3cret"}:
        t.fail("wrap ttl 0 wrapped: %r" % got)

    # wrapInCubbyhole + respondLogical.
    wi = wrapped(t, "wrapping.go wrapInCubbyhole: KV read", "GET",
                 "/v1/secret/data/w")
    if "wrapped_accessor" in wi:
        t.fail("wrapped_accessor without an auth response: %r" % wi)

    # Lookup is unauthenticated (logical_system.go PathsSpecial) and does
    # not use the token (handleWrappingLookup).
    for i in range(2):
        t.check("logical_system.go handleWrappingLookup (no X-Vault-Token)",
                "POST", "/v1/sys/wrapping/lookup", {"token": wi["token"]},
                200, {"data": {"creation_ttl": 60,
                               "creation_path": "secret/data/w",
                               "creation_time": wi["creation_time"]}},
                token=None)
    t.check("handleWrappingLookup: token from X-Vault-Token, GET", "GET",
            "/v1/sys/wrapping/lookup", status=200, token=wi["token"],
            expect={"data": {"creation_ttl": 60}})

    # The wrapping token itself, seen through the token store.
    st, got, _ = t.check("wrapInCubbyhole: the wrapping token's entry",
                         "POST", "/v1/auth/token/lookup",
                         {"token": wi["token"]}, 200)
    d = got["data"]
    if d["policies"] != ["response-wrapping"] or d["num_uses"] != 1 or \
            d["explicit_max_ttl"] != 60 or d["renewable"] or \
            not d["orphan"] or d["path"] != "secret/data/w" or \
            not 0 < d["ttl"] <= 60 or d["accessor"] != wi["accessor"]:
        t.fail("wrapping token entry: %r" % d)

    # Third-party unwrap: handleWrappingUnwrap returns the stored envelope
    # byte for byte (respondRaw), responseWrappingUnwrap revokes the token.
    st, got, resp = t.check("handleWrappingUnwrap: third party", "POST",
                            "/v1/sys/wrapping/unwrap", {"token": wi["token"]},
                            200)
    if resp.getheader("Content-Type") != "application/json" or \
            got["data"] != plain["data"] or not got["request_id"] or \
            got["wrap_info"] is not None or got["mount_type"] != "kv":
        t.fail("unwrapped envelope %r vs %r" % (got, plain))
    t.check("ValidateWrappingToken: used token", "POST",
            "/v1/sys/wrapping/unwrap", {"token": wi["token"]}, 400,
            INVALID_WRAP)
    t.check("ValidateWrappingToken: used token, lookup", "POST",
            "/v1/sys/wrapping/lookup", {"token": wi["token"]}, 400,
            INVALID_WRAP, token=None)

    # First-party unwrap: the wrapping token in X-Vault-Token pays with its
    # single use (handleRequest UseToken) and dies after the request.
    wi = wrapped(t, "wrapInCubbyhole: second wrap", "GET",
                 "/v1/secret/data/w")
    t.check("handleWrappingUnwrap: first party", "POST",
            "/v1/sys/wrapping/unwrap", {}, 200, {"data": plain["data"]},
            token=wi["token"])
    t.check("first party: token spent", "POST", "/v1/sys/wrapping/unwrap",
            {}, 400, INVALID_WRAP, token=wi["token"])

    # The response-wrapping policy (policy_store.go) allows nothing else,
    # and a denied request still spends the single use (handleRequest).
    wi = wrapped(t, "wrap for misuse", "GET", "/v1/secret/data/w")
    t.check("policy_store.go responseWrappingPolicy: KV denied", "GET",
            "/v1/secret/data/w", status=403, token=wi["token"])
    t.check("handleRequest: the denied request used the token", "POST",
            "/v1/sys/wrapping/unwrap", {"token": wi["token"]}, 400,
            INVALID_WRAP)

    # ValidateWrappingToken errors, answered by handleCancelableRequest
    # before the token check: 403 with the reason, 400 when not valid.
    t.check("ValidateWrappingToken: empty body token", "POST",
            "/v1/sys/wrapping/unwrap", {"token": ""}, 403,
            validating("empty token in request body"))
    t.check("ValidateWrappingToken: token not a string", "POST",
            "/v1/sys/wrapping/unwrap", {"token": 5}, 403,
            validating("could not decode token in request body"))
    t.check("ValidateWrappingToken: no token at all", "POST",
            "/v1/sys/wrapping/lookup", {}, 403, validating("token is empty"),
            token=None)
    t.check("ValidateWrappingToken: made-up token", "POST",
            "/v1/sys/wrapping/unwrap", {"token": "hvs.nosuchtoken"}, 400,
            INVALID_WRAP)
    t.check("ValidateWrappingToken: root is not a wrapping token", "POST",
            "/v1/sys/wrapping/unwrap", {}, 400, INVALID_WRAP)
    t.check("ValidateWrappingToken runs before the token check", "POST",
            "/v1/sys/wrapping/unwrap", {"token": "hvs.nosuchtoken"}, 400,
            INVALID_WRAP, token="hvs.bogus")

    # Expiry: TTL = explicit max TTL; an expired wrapping token is gone.
    wi = wrapped(t, "wrap with a 1 s TTL", "GET", "/v1/secret/data/w", ttl=1)
    start = time.time()
    t.check("expiry: valid at first", "POST", "/v1/sys/wrapping/lookup",
            {"token": wi["token"]}, 200, token=None)
    while True:
        st, got, _ = t.sim.req("POST", "/v1/sys/wrapping/lookup",
                               {"token": wi["token"]}, token=None)
        if st == 400:
            break
        if st != 200 or time.time() - start > 10:
            t.fail("wrapping token did not expire: %d %r" % (st, got))
        time.sleep(0.1)
    if got != INVALID_WRAP or time.time() - start < 0.5:
        t.fail("expiry: %r after %.2fs" % (got, time.time() - start))
    t.check("expired token cannot be unwrapped", "POST",
            "/v1/sys/wrapping/unwrap", {"token": wi["token"]}, 400,
            INVALID_WRAP)

    # sys/wrapping/wrap: handleWrappingWrap.
    t.check("handleWrappingWrap: needs X-Vault-Wrap-TTL", "POST",
            "/v1/sys/wrapping/wrap", {"a": "b"}, 400,
            {"errors": ["endpoint requires response wrapping to be used"]})
    wi = wrapped(t, "handleWrappingWrap: arbitrary data", "POST",
                 "/v1/sys/wrapping/wrap", {"a": "b", "n": 1}, ttl=120)
    t.check("unwrap sys/wrapping/wrap data", "POST",
            "/v1/sys/wrapping/unwrap", {"token": wi["token"]}, 200,
            {"data": {"a": "b", "n": 1}, "lease_id": "", "auth": None})

    # Auth responses: wrapped_accessor is the new token's accessor.
    wi = wrapped(t, "wrapInCubbyhole: token create", "POST",
                 "/v1/auth/token/create", {"policies": ["default"]})
    st, got, _ = t.check("unwrap the token", "POST",
                         "/v1/sys/wrapping/unwrap", {"token": wi["token"]},
                         200)
    if wi.get("wrapped_accessor") != got["auth"]["accessor"]:
        t.fail("wrapped_accessor %r vs %r" % (wi, got["auth"]))
    child = got["auth"]["client_token"]
    t.check("the unwrapped token works", "GET", "/v1/auth/token/lookup-self",
            status=200, token=child)

    # Rewrap: handleWrappingRewrap keeps creation path and TTL; a shorter
    # X-Vault-Wrap-TTL wins (handleRequest: the shortest TTL).
    wi = wrapped(t, "wrap for rewrap", "GET", "/v1/secret/data/w", ttl=90)
    st, first, _ = t.sim.req("POST", "/v1/sys/wrapping/lookup",
                             {"token": wi["token"]}, token=None)
    wi2 = wrapped(t, "handleWrappingRewrap: third party", "POST",
                  "/v1/sys/wrapping/rewrap", {"token": wi["token"]}, ttl=30,
                  creation_path="secret/data/w")
    t.check("rewrap revoked the old token", "POST",
            "/v1/sys/wrapping/lookup", {"token": wi["token"]}, 400,
            INVALID_WRAP, token=None)
    st, got, _ = t.check("rewrap without a header keeps the TTL", "POST",
                         "/v1/sys/wrapping/rewrap", {"token": wi2["token"]},
                         200)
    wi3 = got["wrap_info"]
    if wi3["ttl"] != 30 or wi3["creation_path"] != "secret/data/w":
        t.fail("rewrap ttl/path: %r" % wi3)
    t.check("rewrapped answer unwraps", "POST", "/v1/sys/wrapping/unwrap",
            {"token": wi3["token"]}, 200, {"data": plain["data"]})
    wi = wrapped(t, "wrap for first-party rewrap", "GET", "/v1/secret/data/w")
    t.check("responseWrappingPolicy lacks sys/wrapping/rewrap", "POST",
            "/v1/sys/wrapping/rewrap", {}, 403, token=wi["token"])

    # A default-policy token may wrap and unwrap, not rewrap
    # (policy_store.go defaultPolicy).
    tok = t.token(["default"])
    wi = wrapped(t, "defaultPolicy: sys/wrapping/wrap", "POST",
                 "/v1/sys/wrapping/wrap", {"k": "v"}, token=tok)
    t.check("defaultPolicy: rewrap denied", "POST", "/v1/sys/wrapping/rewrap",
            {"token": wi["token"]}, 403, token=tok)
    t.check("defaultPolicy: unwrap", "POST", "/v1/sys/wrapping/unwrap",
            {"token": wi["token"]}, 200, {"data": {"k": "v"}}, token=tok)

    # Only answers with a body are wrapped (handleCancelableRequest:
    # resp != nil && !resp.IsError()).
    t.check("errors are not wrapped", "GET", "/v1/secret/data/nokey",
            headers=wrap_ttl(60), status=404)
    t.check("204 is not wrapped", "POST", "/v1/sys/policies/acl/wp",
            {"policy": 'path "x" { capabilities = ["read"] }'}, 204,
            headers=wrap_ttl(60))
    wi = wrapped(t, "a LIST is wrapped", "LIST", "/v1/secret/metadata",
                 creation_path="secret/metadata/")
    t.check("unwrap the listing", "POST", "/v1/sys/wrapping/unwrap",
            {"token": wi["token"]}, 200, {"data": {"keys": ["w"]}})

    # The response-wrapping policy is non-assignable: not listed
    # (policy_store.go nonAssignablePolicies), not writable (immutable).
    st, got, _ = t.check("policy list", "LIST", "/v1/sys/policies/acl",
                         status=200)
    if "response-wrapping" in got["data"]["keys"]:
        t.fail("response-wrapping listed: %r" % got["data"]["keys"])
    t.check("immutablePolicies: response-wrapping", "POST",
            "/v1/sys/policies/acl/response-wrapping",
            {"policy": 'path "x" { capabilities = ["read"] }'}, 400)

    # Cubbyhole storage (vault/logical_cubbyhole.go): per token, dies with
    # the token; reading cubbyhole/response warns (handleRequest).
    a, b = t.token(["default"]), t.token(["default"])
    t.check("logical_cubbyhole.go handleWrite", "POST", "/v1/cubbyhole/x",
            {"v": "1"}, 204, token=a)
    t.check("handleRead: own entry", "GET", "/v1/cubbyhole/x", status=200,
            expect={"data": {"v": "1"}}, token=a)
    t.check("handleRead: another token's cubbyhole is its own", "GET",
            "/v1/cubbyhole/x", status=404, token=b)
    t.check("handleList", "LIST", "/v1/cubbyhole", status=200,
            expect={"data": {"keys": ["x"]}}, token=a)
    t.check("handleWrite: missing data fields", "POST", "/v1/cubbyhole/y",
            {}, 500, {"errors": ["1 error occurred:\n\t* missing data "
                                 "fields\n\n"]}, token=a)
    wi = wrapped(t, "wrap for cubbyhole/response", "GET", "/v1/secret/data/w")
    st, got, _ = t.check("cubbyhole/response with the wrapping token", "GET",
                         "/v1/cubbyhole/response", status=200,
                         token=wi["token"])
    inner = json.loads(got["data"]["response"])
    if inner["data"] != plain["data"] or not got["warnings"] or \
            "deprecated" not in got["warnings"][0]:
        t.fail("cubbyhole/response: %r" % got)
    t.check("reading cubbyhole/response used the token", "POST",
            "/v1/sys/wrapping/unwrap", {"token": wi["token"]}, 400,
            INVALID_WRAP)
    t.check("revoke a", "POST", "/v1/auth/token/revoke", {"token": a}, 204)
    t.check("a revoked token no longer reaches its cubbyhole", "GET",
            "/v1/cubbyhole/x", status=403, token=a)


def _ts(s):
    """RFC 3339 with Go's trimmed nanoseconds -> seconds since epoch."""
    import datetime
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


UNSUPPORTED = {"errors": ["1 error occurred:\n\t* unsupported path\n\n"]}


def suite_fidelity(t):
    """Issue 19 items 2-6, each against the Vault source it cites."""
    ui_mounts(t)
    null_body(t)
    transit(t)
    kv_delete_version_after(t)
    names_and_list(t)
    side_by_side(t)


def ui_mounts(t):
    # vault/logical_system.go pathInternalUIMountRead / ...MountsRead;
    # both are PathsSpecial.Unauthenticated in NewSystemBackend.
    t.mount("transit", "transit")
    st, got, _ = t.check("pathInternalUIMountRead: root", "GET",
                         "/v1/sys/internal/ui/mounts/secret", status=200,
                         expect={"data": {"type": "kv", "path": "secret/",
                                          "options": {"version": "2"}}})
    t.check("pathInternalUIMountRead: a path inside the mount", "GET",
            "/v1/sys/internal/ui/mounts/secret/data/a/b", status=200,
            expect={"data": {"type": "kv", "path": "secret/",
                             "accessor": got["data"]["accessor"]}})
    t.check("pathInternalUIMountRead: auth mount keyed without auth/",
            "GET", "/v1/sys/internal/ui/mounts/auth/token", status=200,
            expect={"data": {"type": "token", "path": "token/"}})
    t.check("fetchACLTokenEntryAndEntity: no token", "GET",
            "/v1/sys/internal/ui/mounts/secret", status=403, token=None)
    t.check("fetchACLTokenEntryAndEntity: unknown token", "GET",
            "/v1/sys/internal/ui/mounts/secret", status=403,
            token="hvs.unknown")
    t.policy("uim", 'path "secret/data/app/*" { capabilities = ["read"] }')
    tok = t.token(["uim"], no_default_policy=True)
    t.check("hasMountAccess: a rule below the mount", "GET",
            "/v1/sys/internal/ui/mounts/secret", status=200,
            expect={"data": {"path": "secret/"}}, token=tok)
    pre = ("preflight capability check returned 403, please ensure "
           "client's policies grant access to path \"%s\"")
    t.check("hasMountAccess: no rule under transit/", "GET",
            "/v1/sys/internal/ui/mounts/transit", status=403,
            expect={"errors": [pre % "transit/"]}, token=tok)
    t.check("MatchingMountEntry nil: same 403, no probing", "GET",
            "/v1/sys/internal/ui/mounts/nosuch", status=403,
            expect={"errors": [pre % "nosuch/"]}, token=tok)
    t.check("mounts/(?P<path>.+) needs a path", "GET",
            "/v1/sys/internal/ui/mounts/", status=404, expect=UNSUPPORTED)
    st, got, _ = t.check("pathInternalUIMountsRead: no token", "GET",
                         "/v1/sys/internal/ui/mounts", status=200, token=None,
                         expect={"data": {"auth": {}, "secret": {}}})
    if got["data"]["secret"] or got["data"]["auth"]:
        t.fail("unauthenticated listing shows mounts: %r" % got["data"])
    st, got, _ = t.check("pathInternalUIMountsRead: root sees all", "GET",
                         "/v1/sys/internal/ui/mounts", status=200)
    if not {"secret/", "sys/", "transit/", "cubbyhole/"} <= \
            set(got["data"]["secret"]) or "token/" not in got["data"]["auth"]:
        t.fail("root listing: %r" % got["data"])
    st, got, _ = t.check("pathInternalUIMountsRead: filtered by ACL", "GET",
                         "/v1/sys/internal/ui/mounts", status=200, token=tok)
    if set(got["data"]["secret"]) != {"secret/"} or got["data"]["auth"]:
        t.fail("filtered listing: %r" % got["data"])

    # handleCapabilitiesAccessor.
    st, got, _ = t.sim.req("POST", "/v1/auth/token/lookup", {"token": tok})
    acc = got["data"]["accessor"]
    t.check("handleCapabilitiesAccessor", "POST",
            "/v1/sys/capabilities-accessor",
            {"accessor": acc, "paths": ["secret/data/app/x"]}, 200,
            {"data": {"capabilities": ["read"],
                      "secret/data/app/x": ["read"]}})
    t.check("handleCapabilitiesAccessor: two paths", "POST",
            "/v1/sys/capabilities-accessor",
            {"accessor": acc, "paths": ["secret/data/app/x", "transit/x"]},
            200, {"data": {"secret/data/app/x": ["read"],
                           "transit/x": ["deny"]}})
    t.check("handleCapabilitiesAccessor: missing accessor", "POST",
            "/v1/sys/capabilities-accessor", {"path": "x"}, 400,
            {"errors": ["missing accessor"]})
    t.check("lookupByAccessor: invalid accessor", "POST",
            "/v1/sys/capabilities-accessor",
            {"accessor": "nope", "path": "x"}, 400,
            {"errors": ["1 error occurred:\n\t* invalid accessor\n\n"]})
    t.check("defaultPolicy lacks sys/capabilities-accessor", "POST",
            "/v1/sys/capabilities-accessor", {"accessor": acc, "path": "x"},
            403, token=t.token(["default"]))


def null_body(t):
    # http/handler.go parseJSONRequest decodes into a map: JSON null
    # leaves it nil, an empty request (Go's client, `vault write -f`).
    js = {"Content-Type": "application/json"}
    st, got, _ = t.check("parseJSONRequest: null is an empty request",
                         "POST", "/v1/auth/token/create", raw=b"null",
                         headers=js, status=200)
    if not got["auth"]["client_token"]:
        t.fail("token create with null body: %r" % got)
    t.check("null with whitespace", "POST", "/v1/transit/keys/nullkey",
            raw=b" null\n", headers=js, status=200,
            expect={"data": {"type": "aes256-gcm96"}})
    t.check("null: handler sees no fields", "PUT", "/v1/sys/policies/acl/n",
            raw=b"null", headers=js, status=400,
            expect={"errors": ["'policy' parameter not supplied or empty"]})
    for bad in (b"[]", b"nul", b"null x", b'"null"', b"5"):
        t.check("not an object: %r" % bad, "POST", "/v1/auth/token/create",
                raw=bad, headers=js, status=400,
                expect={"errors": ["error parsing JSON"]})


def transit(t):
    k = "/v1/transit/keys/"
    # path_keys.go pathPolicyDelete + keysutil LockManager.DeletePolicy.
    t.check("pathPolicyDelete: missing key", "DELETE", k + "nokey",
            status=400, expect={"errors": [
                "error deleting policy nokey: could not delete key; not "
                "found"]})
    t.check("create hk", "POST", k + "hk", {}, 200)
    t.check("DeletePolicy: deletion not allowed", "DELETE", k + "hk",
            status=400, expect={"errors": [
                "error deleting policy hk: deletion is not allowed for this "
                "key"]})
    t.check("rotate hk", "POST", k + "hk/rotate", {}, 200)

    # path_hmac.go pathHMACWrite.
    h = "/v1/transit/hmac/hk"
    t.check("pathHMACWrite: no input", "POST", h, {}, 400,
            {"errors": ["missing input for HMAC"]})
    st, got, _ = t.check("pathHMACWrite: empty input is input", "POST", h,
                         {"input": ""}, 200)
    st, got, _ = t.check("pathHMACWrite: batch item without input", "POST",
                         h, {"batch_input": [{"input": "aGk=",
                                              "reference": "a"},
                                             {"reference": "b"}]}, 200)
    res = got["data"]["batch_results"]
    if res[1] != {"error": "missing input for HMAC", "reference": "b"} or \
            not res[0]["hmac"].startswith("vault:v2:"):
        t.fail("HMAC batch: %r" % res)
    st, got, _ = t.check("pathHMACWrite: top-level key_version for items",
                         "POST", h, {"key_version": 1, "batch_input": [
                             {"input": "aGk="},
                             {"input": "aGk=", "key_version": 2}]}, 200)
    res = got["data"]["batch_results"]
    if not all(r["hmac"].startswith("vault:v1:") for r in res) or \
            res[0]["hmac"] != res[1]["hmac"]:
        t.fail("HMAC batch key_version: %r" % res)
    mac1 = res[0]["hmac"]

    # path_hmac.go pathHMACVerify (through verify/): batchResponseHMACItem
    # has valid with omitempty.
    v = "/v1/transit/verify/hk"
    st, got, _ = t.check("pathHMACVerify: batch", "POST", v, {
        "batch_input": [{"input": "aGk=", "hmac": mac1, "reference": "ok"},
                        {"input": "aGk=", "hmac": mac1[:-4] + "AAA=",
                         "reference": "bad"}]}, 200)
    res = got["data"]["batch_results"]
    if res[0] != {"valid": True, "reference": "ok"} or \
            res[1] != {"reference": "bad"}:
        t.fail("HMAC verify batch (valid omitempty): %r" % res)
    t.check("pathHMACVerify: single mismatch says valid false", "POST", v,
            {"input": "aGk=", "hmac": mac1[:-4] + "AAA="}, 200,
            {"data": {"valid": False}})

    # path_sign_verify.go pathSignWrite / pathVerifyWrite.
    t.check("create sk", "POST", k + "sk", {"type": "ecdsa-p256"}, 200)
    t.check("rotate sk", "POST", k + "sk/rotate", {}, 200)
    s = "/v1/transit/sign/sk"
    st, got, _ = t.check("pathSignWrite: top-level key_version", "POST", s,
                         {"key_version": 1, "batch_input": [
                             {"input": "aGk=", "reference": "x"},
                             {"input": "aGk=", "key_version": 2},
                             {"reference": "z"}]}, 200)
    res = got["data"]["batch_results"]
    if not (res[0]["key_version"] == 1 and
            res[0]["signature"].startswith("vault:v1:") and
            res[1]["key_version"] == 1 and
            res[1]["signature"].startswith("vault:v1:")):
        t.fail("sign batch key_version: %r" % res)
    if res[2] != {"key_version": 0, "error": "missing input",
                  "reference": "z"}:
        t.fail("sign batch item without input: %r" % res[2])
    sig = res[0]["signature"]
    t.check("pathSignWrite: single request without input signs ''", "POST",
            s, {}, 200, {"data": {"key_version": 2}})
    vs = "/v1/transit/verify/sk"
    t.check("pathVerifyWrite: an item missing its signature", "POST", vs,
            {"batch_input": [{"input": "aGk=", "signature": sig},
                             {"input": "aGk="}]}, 400,
            {"errors": ["some elements of batch_input are missing "
                        "'signature'"]})
    t.check("pathVerifyWrite: no item has a signature", "POST", vs,
            {"batch_input": [{"input": "aGk="}]}, 400,
            {"errors": ["no batch_input elements have 'signature' or "
                        "'hmac'"]})
    t.check("pathVerifyWrite: signature and hmac items mixed", "POST", vs,
            {"batch_input": [{"input": "aGk=", "signature": sig},
                             {"input": "aGk=", "hmac": mac1}]}, 400,
            {"errors": ["elements of batch_input must all provide "
                        "'signature' or all provide 'hmac'"]})
    st, got, _ = t.check("batchResponseVerifyItem: valid without omitempty",
                         "POST", vs, {"batch_input": [
                             {"input": "aGk=", "signature": sig,
                              "reference": "good"},
                             {"input": "aGVsbG8=", "signature": sig,
                              "reference": "other"},
                             {"input": "aGk=", "signature": "junk",
                              "reference": "junk"},
                             {"signature": sig, "reference": "noinput"}]},
                         200)
    res = got["data"]["batch_results"]
    if res[0] != {"valid": True, "reference": "good"} or \
            res[1] != {"valid": False, "reference": "other"} or \
            res[2].get("valid") is not False or not res[2].get("error") or \
            res[3] != {"valid": False, "error": "missing input",
                       "reference": "noinput"}:
        t.fail("verify batch items: %r" % res)


def kv_delete_version_after(t):
    # vault-plugin-secrets-kv delete_version_after.go deletionTime,
    # path_config.go pathConfigWrite, path_data.go pathDataWrite.
    def deletion_after(path):
        st, got, _ = t.check("write " + path, "POST", "/v1/secret/data/" +
                             path, {"data": {"a": 1}}, 200)
        d = got["data"]
        if d["deletion_time"] == "":
            return None
        return round(_ts(d["deletion_time"]) - _ts(d["created_time"]))

    t.check("mount dva 1h", "POST", "/v1/secret/config",
            {"delete_version_after": "1h"}, 204)
    t.check("key dva 30m", "POST", "/v1/secret/metadata/d1",
            {"delete_version_after": "30m"}, 204)
    if deletion_after("d1") != 1800:
        t.fail("deletionTime: the smaller of key (30m) and mount (1h)")
    t.check("key dva 2h", "POST", "/v1/secret/metadata/d2",
            {"delete_version_after": "2h"}, 204)
    if deletion_after("d2") != 3600:
        t.fail("deletionTime: the smaller of key (2h) and mount (1h)")
    if deletion_after("d3") != 3600:
        t.fail("deletionTime: mount only")
    t.check("pathConfigWrite: negative disables", "POST", "/v1/secret/config",
            {"delete_version_after": "-5s"}, 204)
    t.check("pathConfigRead: disabled reads -1s", "GET", "/v1/secret/config",
            status=200, expect={"data": {"delete_version_after": "-1s"}})
    if deletion_after("d1") is not None:
        t.fail("IsDeleteVersionAfterDisabled: key setting must not apply")
    t.check("pathConfigWrite: 0 clears", "POST", "/v1/secret/config",
            {"delete_version_after": 0}, 204)
    t.check("pathConfigRead: cleared", "GET", "/v1/secret/config",
            status=200, expect={"data": {"delete_version_after": "0s"}})
    if deletion_after("d2") != 7200:
        t.fail("deletionTime: key only once the mount is cleared")
    if deletion_after("d3") is not None:
        t.fail("deletionTime: neither set")


def names_and_list(t):
    # framework.GenericNameRegex: database (path_roles.go, ...), AppRole
    # (path_role.go); GenericNameWithAtRegex: SSH (path_roles.go, ...).
    t.mount("database", "database")
    t.mount("ssh", "ssh")
    t.check("enable approle", "POST", "/v1/sys/auth/approle",
            {"type": "approle"}, 204)
    for method, path, body in (
            ("POST", "/v1/database/config/pg.", {"plugin_name": "x"}),
            ("POST", "/v1/database/config/-pg", {"plugin_name": "x"}),
            ("POST", "/v1/database/roles/ro.", {"db_name": "pg"}),
            ("GET", "/v1/database/creds/ro.", None),
            ("POST", "/v1/database/rotate-root/pg.", {}),
            ("POST", "/v1/database/reset/pg.", {}),
            ("POST", "/v1/ssh/roles/r.", {"key_type": "otp"}),
            ("POST", "/v1/ssh/sign/r.", {"public_key": "x"}),
            ("POST", "/v1/ssh/creds/r.", {"ip": "127.0.0.1"}),
            ("POST", "/v1/auth/approle/role/r.", {}),
            ("GET", "/v1/auth/approle/role/r./role-id", None)):
        t.check("GenericNameRegex: %s %s" % (method, path), method, path,
                body, 404, UNSUPPORTED)
    t.check("a '.' inside a database name", "POST",
            "/v1/database/roles/r.o", {"db_name": "pg"}, 204)
    t.check("GenericNameWithAtRegex: '@' inside an SSH role", "POST",
            "/v1/ssh/roles/ops@host", {"key_type": "otp",
                                       "default_user": "u"}, 204)
    t.check("'@' is not a generic name char (AppRole)", "POST",
            "/v1/auth/approle/role/a@b", {}, 404, UNSUPPORTED)

    # http/logical.go buildLogicalRequestNoAuth: only a non-empty ?list=
    # is parsed; an empty one leaves a plain read.
    t.check("?list= is a read", "GET",
            "/v1/sys/policies/acl/default?list=", status=200,
            expect={"data": {"name": "default"}})
    t.check("?list=false is a read", "GET",
            "/v1/sys/policies/acl/default?list=false", status=200,
            expect={"data": {"name": "default"}})
    t.check("?list=true lists", "GET", "/v1/sys/policies/acl?list=true",
            status=200)
    t.check("?list=junk is 400", "GET", "/v1/sys/policies/acl?list=junk",
            status=400, expect={"errors": []})


def side_by_side(t):
    """Differences found reading more handlers next to the simulator."""
    # vault/logical_system.go handleTidyLeases: 202 + warning, update only.
    st, got, _ = t.check("handleTidyLeases", "POST", "/v1/sys/leases/tidy",
                         {}, 202, {"data": None, "mount_type": ""})
    if not got["warnings"] or not got["warnings"][0].startswith(
            "Tidy operation successfully started"):
        t.fail("tidy warning: %r" % got)
    t.check("tidy is an update operation", "GET", "/v1/sys/leases/tidy",
            status=405)
    # sdk/framework/backend.go HandleRequest: fields a path does not
    # declare draw a warning; the simulator takes them from its rows.
    for path, body in (("/v1/transit/encrypt/hk",
                        {"plaintext": "aGk=", "junk": 1, "zz": 2}),
                       ("/v1/auth/token/create",
                        {"policies": ["default"], "junk": 1, "zz": 2})):
        st, got, _ = t.check("framework.Path fields: " + path, "POST", path,
                             body, 200)
        if got["warnings"] != ["Endpoint ignored these unrecognized "
                               "parameters: [junk zz]"]:
            t.fail("unknown-field warning: %r" % got["warnings"])
