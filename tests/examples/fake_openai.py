#!/usr/bin/env python3
"""A scripted stand-in for an OpenAI-compatible chat-completions endpoint.

    fake_openai.py --port P --state FILE --script write-read-delete|loop
                   [--api-key K] [--model M] [--secret S]

POST /v1/chat/completions answers from a script and checks what the agent
sent: the bearer key, the model, the offered function tools, and each tool
result it fed back. Every request rewrites FILE with
{"requests": n, "errors": [...], "done": bool}; the test reads it after the
agent exits. Scripts:

  write-read-delete  kv_write llm/demo {password: S}; kv_read llm/demo (the
                     result must carry S); kv_read ../escape (the result must
                     be an error); kv_delete llm/demo; then a final answer.
  loop               a kv_list call on every turn, never a final answer (the
                     agent must stop on its own turn limit).
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

A = None
STATE = {"requests": 0, "errors": [], "done": False}


def save():
    with open(A.state + ".tmp", "w") as f:
        json.dump(STATE, f)
    os.replace(A.state + ".tmp", A.state)


def check(cond, what):
    if not cond:
        STATE["errors"].append(what)


def call(n, name, args):
    return {"id": "call_%d" % n, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def last_tool_result(messages, call_id):
    for m in reversed(messages):
        if m.get("role") == "tool" and m.get("tool_call_id") == call_id:
            return m.get("content")
    return None


def answer(body):
    """The scripted assistant message for request number STATE['requests']."""
    n = STATE["requests"]
    msgs = body.get("messages", [])
    names = {t.get("function", {}).get("name") for t in body.get("tools", [])}
    check(body.get("model") == A.model, "request %d: model %r" % (n, body.get("model")))
    for t in ("kv_write", "kv_read", "kv_delete"):
        check(t in names, "request %d: tool %s not offered" % (n, t))
    for t in body.get("tools", []):
        p = t.get("function", {}).get("parameters", {})
        check(t.get("type") == "function" and p.get("type") == "object",
              "request %d: tool %r is not a function with an object schema" % (n, t))
    if A.script == "loop":
        return {"role": "assistant", "content": None,
                "tool_calls": [call(n, "kv_list", {"prefix": ""})]}
    if n == 1:
        check(msgs and msgs[-1].get("role") == "user", "request 1: last message is not the task")
        return {"role": "assistant", "content": None,
                "tool_calls": [call(1, "kv_write", {"path": "llm/demo",
                                                    "data": {"password": A.secret}})]}
    if n == 2:
        r = last_tool_result(msgs, "call_1")
        check(r is not None and not r.startswith("ERROR"), ("kv_write result: %r" % (r,))[:200])
        return {"role": "assistant", "content": None,
                "tool_calls": [call(2, "kv_read", {"path": "llm/demo"})]}
    if n == 3:
        r = last_tool_result(msgs, "call_2")
        check(r is not None and not r.startswith("ERROR") and A.secret in r,
              "kv_read result does not carry the written value")
        # Two calls in one turn: a refused path, and an unknown tool.
        return {"role": "assistant", "content": None,
                "tool_calls": [call(3, "kv_read", {"path": "../escape"}),
                               call(4, "no_such_tool", {})]}
    if n == 4:
        r3, r4 = last_tool_result(msgs, "call_3"), last_tool_result(msgs, "call_4")
        check(r3 is not None and r3.startswith("ERROR"), "../escape was not an error: %r" % (r3,))
        check(r4 is not None and r4.startswith("ERROR"), "unknown tool was not an error: %r" % (r4,))
        return {"role": "assistant", "content": None,
                "tool_calls": [call(5, "kv_delete", {"path": "llm/demo"})]}
    if n == 5:
        r = last_tool_result(msgs, "call_5")
        check(r is not None and not r.startswith("ERROR"), "kv_delete result: %r" % (r,))
        STATE["done"] = True
        return {"role": "assistant", "content": "All three steps succeeded."}
    check(False, "request %d after the script ended" % n)
    return {"role": "assistant", "content": "the script ended"}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error(404)
            return
        STATE["requests"] += 1
        check(self.headers.get("Authorization") == "Bearer " + A.api_key,
              "request %d: wrong or missing bearer key" % STATE["requests"])
        try:
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n))
            msg = answer(body)
        except (ValueError, KeyError, AttributeError) as e:
            check(False, "request %d: bad request (%s)" % (STATE["requests"], e))
            msg = {"role": "assistant", "content": "bad request"}
        save()
        out = json.dumps({"id": "chatcmpl-%d" % STATE["requests"], "object": "chat.completion",
                          "model": A.model, "choices": [{
                              "index": 0, "message": msg,
                              "finish_reason": "tool_calls" if msg.get("tool_calls") else "stop"}]}
                         ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--script", choices=["write-read-delete", "loop"], required=True)
    ap.add_argument("--api-key", default="test-openai-key")
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--secret", default="fake-llm-secret")
    A = ap.parse_args()
    save()
    srv = ThreadingHTTPServer(("127.0.0.1", A.port), Handler)
    srv.daemon_threads = True
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
