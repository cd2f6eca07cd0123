#!/usr/bin/env python3
"""hostile-paths.tsv through the real responder, over REST and MCP (issue 4).

For every case: verdict "ok" must succeed and land exactly at
secret/data/mcp/alice/<path> (checked in vault-sim directly); verdict
"reject" must be refused before Vault is called. At the end the whole KV
tree is listed with the root token: nothing may exist outside
mcp/alice/, whatever the requests tried.

A NUL byte cannot travel in a FastCGI param (libfcgi hands the app C
strings), so NUL cases are sent over REST only where they can be: in the
query string as %00. Over MCP every case is sent as a JSON string."""

import json
import os
import sys
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mcp"))
import mcplib as m  # noqa: E402

check = m.check


def load_cases():
    cases = []
    for raw in open(os.path.join(HERE, "hostile-paths.tsv"), encoding="utf-8"):
        raw = raw.rstrip("\n")
        if raw.startswith("#") or not raw.strip("\t"):
            if raw.startswith("#") or raw == "":
                continue
        parts = raw.split("\t")
        path, verdict = parts[0], parts[1]
        kind = parts[2] if len(parts) > 2 and parts[2] else "secret"
        out = bytearray()
        i = 0
        while i < len(path):
            if path.startswith("\\x", i):
                out.append(int(path[i + 2:i + 4], 16))
                i += 4
            elif path.startswith("\\\\", i):
                out.append(0x5C)
                i += 2
            else:
                out += path[i].encode()
                i += 1
        cases.append((bytes(out), verdict, kind))
    return cases


def vault_keys(vault_addr, prefix=""):
    """Every key of the KV tree, recursively, with the root token."""
    req = urllib.request.Request(vault_addr + "/v1/secret/metadata/" + prefix + "?list=true",
                                 headers={"X-Vault-Token": m.ROOT_TOKEN})
    try:
        doc = json.load(urllib.request.urlopen(req, timeout=10))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return []
        raise
    out = []
    for k in doc["data"]["keys"]:
        if k.endswith("/"):
            out += vault_keys(vault_addr, prefix + urllib.parse.quote(k))
        else:
            out.append(urllib.parse.unquote(prefix) + k)
    return out


def main():
    cleanup = m.Cleanup()
    try:
        tmp = m.tmpdir(cleanup, "vmb-paths-")
        vault = m.Vault(cleanup)
        bridge = m.Bridge(cleanup, tmp, vault.addr)
        cases = load_cases()
        check(len(cases) >= 60, "only %d cases" % len(cases))
        failures = []
        for n, (path, verdict, kind) in enumerate(cases):
            text = path.decode("utf-8", "surrogateescape")
            # ---- REST ----
            if kind == "folder":
                st, _, body = m.fc.request(bridge.addr, "GET", "/secrets",
                                           headers={"X-API-Key": m.ALICE},
                                           query="prefix=" + urllib.parse.quote(path, safe=""))
                rest_ok = st == 200
            elif b"\0" in path:
                rest_ok = None          # not expressible in SCRIPT_NAME
            else:
                st, _, body = m.fc.request(
                    bridge.addr, "PUT", "/secrets/" + text,
                    headers={"X-API-Key": m.ALICE, "Content-Type": "application/json"},
                    body=json.dumps({"data": {"case": n}}).encode())
                rest_ok = st == 200
                if verdict == "reject" and st not in (400, 404):
                    failures.append("REST %r: status %d %r" % (path, st, body))
                    continue
            if rest_ok is not None and rest_ok != (verdict == "ok"):
                failures.append("REST %r: expected %s, got %d %r" % (path, verdict, st, body[:200]))
            # ---- MCP tools/call ----
            if kind == "folder":
                args = {"prefix": text}
                tool = "kv.list"
            else:
                args = {"path": text, "data": {"case": n}}
                tool = "kv.write"
            doc = bridge.rpc("tools/call", {"name": tool, "arguments": args}, rid=n + 1)
            res = doc.get("result") or {}
            mcp_ok = "result" in doc and not res.get("isError")
            if mcp_ok != (verdict == "ok"):
                failures.append("MCP %r: expected %s, got %r" % (path, verdict, doc))
            # ---- where did an accepted write land? ----
            if verdict == "ok" and kind == "secret":
                url = "%s/v1/secret/data/mcp/alice/%s" % (vault.addr, urllib.parse.quote(text))
                req = urllib.request.Request(url, headers={"X-Vault-Token": m.ROOT_TOKEN})
                stored = json.load(urllib.request.urlopen(req, timeout=10))["data"]["data"]
                if stored != {"case": n}:
                    failures.append("%r stored %r" % (path, stored))
        keys = vault_keys(vault.addr)
        outside = [k for k in keys if not k.startswith("mcp/alice/")]
        check(not outside, "keys outside the subject's namespace: %r" % outside)
        check(bridge.alive(), "responder died")
        if failures:
            print("\n".join(failures))
            raise AssertionError("%d of %d cases failed" % (len(failures), len(cases)))
        print("ok: %d hostile-path cases through REST and MCP; %d keys, all under mcp/alice/"
              % (len(cases), len(keys)))
    finally:
        cleanup.run()


if __name__ == "__main__":
    main()
