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
