#!/usr/bin/env python3
"""An agent that plans with a language model and acts through the bridge's MCP tools.

The model is any OpenAI-compatible chat-completions endpoint:

    OPENAI_BASE_URL   e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1
    OPENAI_API_KEY    sent as "Authorization: Bearer ..." (optional for local servers)
    OPENAI_MODEL      the model name

The bridge: BRIDGE_URL plus DEMO_API_KEY (or --jwt TOKEN, or --cert/--key
for mTLS), from the environment or .dev/stack.env, as examples/direct_agent.py.

    examples/llm_agent.py "Store the password 'pw-1' under app/db, then read it back."

It fetches the caller's tools with MCP tools/list, offers them to the model as
function tools (the portable names such as kv_read are valid function names),
runs each tool call the model asks for through MCP tools/call, feeds the results
back, and stops when the model answers without a tool call or after --max-turns
model turns. Standard library only. It prints tool names, their arguments'
keys (never their values) and the model's final answer; no credential and no
tool result is printed (results can carry secrets).
"""
import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

MAX_RESULT_CHARS = 16000  # per tool result fed back to the model


def stack_env():
    """NAME='value' lines of $DEV_DIR/stack.env (<repo>/.dev/stack.env)."""
    dev_dir = os.environ.get("DEV_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".dev")
    env = {}
    path = os.path.join(dev_dir, "stack.env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    line = line[len("export "):]
                k, sep, v = line.partition("=")
                if sep and not k.startswith("#"):
                    env[k] = v.strip("'\"")
    return env


def post_json(url, body, headers, timeout, context=None):
    """POST JSON, return (status, parsed body, response headers)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict(headers, **{"Content-Type": "application/json"}))
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, parse(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, parse(e.read()), e.headers


def parse(raw):
    """A JSON body, or None (empty, e.g. 202 to a notification, or not JSON)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class McpClient:
    """MCP 2025-06-18 over Streamable HTTP (JSON answers), with a session."""

    def __init__(self, url, auth_headers, context=None):
        self.url = url.rstrip("/") + "/mcp/rpc"
        self.auth = auth_headers
        self.context = context
        self.session = None
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        headers = dict(self.auth, **{"Accept": "application/json, text/event-stream",
                                     "MCP-Protocol-Version": "2025-06-18"})
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        status, doc, hdrs = post_json(self.url, msg, headers, 30, self.context)
        if hdrs is not None and hdrs.get("Mcp-Session-Id"):
            self.session = hdrs.get("Mcp-Session-Id")
        if status != 200 or not isinstance(doc, dict):
            raise RuntimeError("MCP %s: HTTP %s" % (method, status))
        if "error" in doc:
            raise RuntimeError("MCP %s: error %s" % (method, doc["error"].get("code")))
        return doc["result"]

    def start(self):
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "llm_agent", "version": "1"}})
        self.call_notification("notifications/initialized")

    def call_notification(self, method):
        headers = dict(self.auth, **{"Accept": "application/json, text/event-stream",
                                     "MCP-Protocol-Version": "2025-06-18"})
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        post_json(self.url, {"jsonrpc": "2.0", "method": method}, headers, 30, self.context)


class ChatModel:
    """POST {base}/chat/completions, the OpenAI wire format."""

    def __init__(self, base_url, api_key, model):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": "Bearer " + api_key} if api_key else {}
        self.model = model

    def complete(self, messages, tools):
        body = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        status, doc, _ = post_json(self.url, body, self.headers, 120)
        if status != 200 or not isinstance(doc, dict) or not doc.get("choices"):
            # The answer may echo the request; print only the status.
            raise RuntimeError("chat completions: HTTP %s" % status)
        return doc["choices"][0]["message"]


def function_tools(mcp_tools):
    """MCP tool descriptions as OpenAI function tools."""
    out = []
    for t in mcp_tools:
        schema = t.get("inputSchema") or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": {
            "name": t["name"],
            "description": (t.get("description") or t.get("title") or t["name"])[:1024],
            "parameters": schema}})
    return out


def result_text(res):
    """What the model sees of a tools/call result: its text content (or the
    structured content), marked when it is an error, bounded in size."""
    parts = [c.get("text", "") for c in res.get("content", []) if c.get("type") == "text"]
    text = "\n".join(parts) if parts else json.dumps(res.get("structuredContent"))
    if res.get("isError"):
        text = "ERROR: " + text
    return text[:MAX_RESULT_CHARS]


def run(task, mcp, model, max_turns, log=print):
    tools = mcp.call("tools/list").get("tools", [])
    names = {t["name"] for t in tools}
    log("tools/list: %d tools offered to the model" % len(tools))
    messages = [
        {"role": "system", "content":
         "You are an agent with access to a secrets vault through tools. Use the tools to do "
         "the user's task, then answer briefly. Never repeat secret values in your answer."},
        {"role": "user", "content": task}]
    specs = function_tools(tools)
    for turn in range(1, max_turns + 1):
        msg = model.complete(messages, specs)
        calls = msg.get("tool_calls") or []
        messages.append({"role": "assistant", "content": msg.get("content"),
                         **({"tool_calls": calls} if calls else {})})
        if not calls:
            log("model: %s" % (msg.get("content") or "").strip())
            return 0
        for c in calls:
            fn = c.get("function") or {}
            name = fn.get("name", "")
            try:
                args = json.loads(fn.get("arguments") or "{}")
                if not isinstance(args, dict):
                    raise ValueError("arguments are not an object")
            except ValueError as e:
                content = "ERROR: arguments are not a JSON object (%s)" % e
                args = None
            if args is not None:
                if name not in names:
                    content = "ERROR: no tool named %r" % name
                else:
                    log("turn %d: tools/call %s (argument keys: %s)"
                        % (turn, name, ", ".join(sorted(args)) or "none"))
                    try:
                        content = result_text(mcp.call("tools/call",
                                                       {"name": name, "arguments": args}))
                    except RuntimeError as e:
                        content = "ERROR: %s" % e
            messages.append({"role": "tool", "tool_call_id": c.get("id", ""), "content": content})
    log("stopped: no final answer after %d model turns" % max_turns)
    return 3


def main():
    dev = stack_env()
    env = lambda k: os.environ.get(k) or dev.get(k)  # noqa: E731
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", nargs="?", default=(
        "Write the secret {\"password\": \"llm-example-only\"} at the path llm/demo, read it "
        "back to check it, then delete it. Say whether all three steps succeeded."))
    ap.add_argument("--url", default=env("BRIDGE_URL"))
    ap.add_argument("--api-key", default=env("DEMO_API_KEY"))
    ap.add_argument("--jwt", help="a bearer token instead of the API key")
    ap.add_argument("--cert", help="client certificate (mTLS, https:// URL)")
    ap.add_argument("--key", help="client key (mTLS)")
    ap.add_argument("--cacert", help="CA that signed the bridge's server certificate")
    ap.add_argument("--max-turns", type=int, default=8)
    a = ap.parse_args()
    base, model_name = os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_MODEL")
    if not base or not model_name:
        sys.exit("llm_agent: set OPENAI_BASE_URL and OPENAI_MODEL (and OPENAI_API_KEY if the "
                 "endpoint needs one)")
    if not a.url:
        sys.exit("llm_agent: set BRIDGE_URL (source .dev/stack.env) or pass --url")
    if not 1 <= a.max_turns <= 50:
        sys.exit("llm_agent: --max-turns must be 1..50")
    context = None
    if a.cert:
        if not a.key:
            sys.exit("llm_agent: --cert needs --key")
        context = ssl.create_default_context(cafile=a.cacert)
        context.load_cert_chain(a.cert, a.key)
        auth = {}
    elif a.jwt:
        auth = {"Authorization": "Bearer " + a.jwt}
    elif a.api_key:
        auth = {"X-API-Key": a.api_key}
    else:
        sys.exit("llm_agent: no credential (DEMO_API_KEY, --jwt or --cert/--key)")
    mcp = McpClient(a.url, auth, context)
    model = ChatModel(base, os.environ.get("OPENAI_API_KEY", ""), model_name)
    try:
        mcp.start()
        return run(a.task, mcp, model, a.max_turns)
    except (RuntimeError, urllib.error.URLError, OSError) as e:
        print("llm_agent: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
