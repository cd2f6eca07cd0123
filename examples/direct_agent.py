#!/usr/bin/env python3
"""A direct (no-LLM) agent: the calls an AI agent would make, in plain code.

It talks to the bridge twice over, the way agents do: REST first, then
MCP's Streamable HTTP (initialize, tools/list, tools/call, resources/read).
Standard library only.

    examples/direct_agent.py                      # BRIDGE_URL, DEMO_API_KEY from the
                                                  # environment or .dev/stack.env
    examples/direct_agent.py --jwt "$DEMO_JWT"    # the same with a bearer token
    examples/direct_agent.py --url https://... --cert c.crt --key c.key --cacert ca.crt
                                                  # the same with a client certificate
"""
import argparse
import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.request


class Bridge:
    def __init__(self, url, api_key=None, jwt=None, context=None):
        self.url = url.rstrip("/")
        if api_key:
            self.auth = {"X-API-Key": api_key}
        elif jwt:
            self.auth = {"Authorization": "Bearer " + jwt}
        else:
            self.auth = {}  # mTLS: the client certificate in `context` authenticates
        self.context = context
        self.session = None
        self.rpc_id = 0

    def rest(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.auth)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.context) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def mcp(self, method, params=None):
        self.rpc_id += 1
        msg = {"jsonrpc": "2.0", "id": self.rpc_id, "method": method}
        if params is not None:
            msg["params"] = params
        headers = dict(self.auth, **{"Content-Type": "application/json",
                                     "Accept": "application/json, text/event-stream",
                                     "MCP-Protocol-Version": "2025-06-18"})
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        req = urllib.request.Request(self.url + "/mcp/rpc", data=json.dumps(msg).encode(),
                                     method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=10, context=self.context) as r:
            self.session = r.headers.get("Mcp-Session-Id") or self.session
            doc = json.load(r)
        if "error" in doc:
            raise RuntimeError("%s: %s" % (method, doc["error"]))
        return doc["result"]


def must(cond, what):
    if not cond:
        sys.exit("direct_agent: " + what)
    print("ok:", what)


def stack_env():
    """The dev stack's settings from .dev/stack.env (export KEY='value'
    lines; $DEV_DIR/stack.env when DEV_DIR is set), so
    the example also works without exporting them."""
    dev_dir = os.environ.get("DEV_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".dev")
    path = os.path.join(dev_dir, "stack.env")
    env = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("export "):
                line = line[len("export "):]
            k, sep, v = line.partition("=")
            if sep and not k.startswith("#"):
                env[k] = v.strip("'\"")
    return env


def main():
    dev = stack_env()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("BRIDGE_URL") or dev.get("BRIDGE_URL"))
    ap.add_argument("--api-key", default=os.environ.get("DEMO_API_KEY") or dev.get("DEMO_API_KEY"))
    ap.add_argument("--jwt")
    ap.add_argument("--cert", help="client certificate for mTLS (an https:// URL)")
    ap.add_argument("--key", help="client key for mTLS")
    ap.add_argument("--cacert", help="CA of the bridge's server certificate")
    a = ap.parse_args()
    if not a.url or not (a.api_key or a.jwt or a.cert):
        sys.exit("set BRIDGE_URL and DEMO_API_KEY (source .dev/stack.env) or pass --url/--jwt")
    context = None
    if a.cert:
        if not a.key:
            sys.exit("--cert needs --key")
        context = ssl.create_default_context(cafile=a.cacert)
        context.load_cert_chain(a.cert, a.key)
        b = Bridge(a.url, context=context)
    else:
        b = Bridge(a.url, None if a.jwt else a.api_key, a.jwt)

    st, me = b.rest("GET", "/whoami")
    must(st == 200, "whoami: %s as %s" % (me.get("subject"), me.get("auth_mode")))
    st, w = b.rest("PUT", "/secrets/example/app", {"data": {"user": "svc", "password": "example-only"}})
    must(st == 200, "wrote example/app version %s" % w.get("version"))
    st, r = b.rest("GET", "/secrets/example/app")
    must(st == 200 and r["data"]["user"] == "svc", "read it back over REST")
    st, enc = b.rest("POST", "/transit/encrypt",
                     {"key": "mcp-default", "plaintext": base64.b64encode(b"hello").decode()})
    must(st == 200 and enc["ciphertext"].startswith("vault:v"), "encrypted with transit")
    st, dec = b.rest("POST", "/transit/decrypt", {"key": "mcp-default", "ciphertext": enc["ciphertext"]})
    must(st == 200 and base64.b64decode(dec["plaintext"]) == b"hello", "decrypted it again")

    init = b.mcp("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": {"name": "direct_agent", "version": "1"}})
    must(init["protocolVersion"] == "2025-06-18", "MCP initialize")
    tools = [t["name"] for t in b.mcp("tools/list")["tools"]]
    must("kv_read" in tools, "tools/list offers %d tools" % len(tools))
    res = b.mcp("tools/call", {"name": "kv_read", "arguments": {"path": "example/app"}})
    must(not res.get("isError") and res["structuredContent"]["data"]["user"] == "svc",
         "tools/call kv_read")
    res = b.mcp("tools/call", {"name": "kv_read", "arguments": {"path": "../escape"}})
    must(res.get("isError") is True, "a path outside the namespace is refused")
    uri = "kv://%s/example/app" % me["subject"]
    contents = b.mcp("resources/read", {"uri": uri})["contents"]
    must(json.loads(contents[0]["text"])["data"]["user"] == "svc", "resources/read " + uri)
    st, _ = b.rest("DELETE", "/secrets/example/app")
    must(st == 200, "deleted example/app")


if __name__ == "__main__":
    main()
