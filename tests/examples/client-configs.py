#!/usr/bin/env python3
"""Checks the client configurations of docs/mcp-clients.md.

Every ```json block parses; each server entry is either HTTP (points at
/mcp/rpc, sends X-API-Key or carries it through mcp-remote) or stdio
(runs vault-mcp-stdio with SUBJECT, VAULT_ADDR, VAULT_TOKEN). Each stdio
entry is then started as a client would start it (command, args, env with the
placeholders filled in) against a vault-sim on a free port, and must answer
initialize and tools/list with kv_read among the tools. A desktop session
gives the client XDG_RUNTIME_DIR, where the bridge keeps its shared files;
here that is a scratch directory of the test's, removed at the end (without
it the bridge would fall back to /tmp/vault-mcp-bridge-UID and leave it).
Env: VMB_BUILD_DIR.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from procs import binary, free_port, stop, wait_port  # noqa: E402
from harness import Cleanup, tmpdir  # noqa: E402

errors = []


def check(cond, what):
    if not cond:
        errors.append(what)
    return cond


def entries(doc):
    return list((doc.get("mcpServers") or doc.get("servers") or {}).items())


def main():
    text = open(os.path.join(ROOT, "docs", "mcp-clients.md")).read()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    check(len(blocks) == 4, "want 4 json blocks, found %d" % len(blocks))
    stdio, http = [], 0
    for i, b in enumerate(blocks):
        try:
            doc = json.loads(b)
        except ValueError as e:
            errors.append("block %d does not parse: %s" % (i, e))
            continue
        es = entries(doc)
        check(es, "block %d has no server" % i)
        for name, e in es:
            where = "block %d server %s" % (i, name)
            cmd = e.get("command", "")
            if cmd.endswith("vault-mcp-stdio"):
                env = e.get("env", {})
                for k in ("SUBJECT", "VAULT_ADDR", "VAULT_TOKEN"):
                    check(k in env, "%s: env lacks %s" % (where, k))
                stdio.append((where, e))
            elif "url" in e:
                http += 1
                check(e["url"] == "http://127.0.0.1:8089/mcp/rpc", "%s: url %s" % (where, e["url"]))
                check("X-API-Key" in e.get("headers", {}), "%s: no X-API-Key header" % where)
            elif cmd == "npx":
                http += 1
                args = e.get("args", [])
                check("http://127.0.0.1:8089/mcp/rpc" in args, "%s: no /mcp/rpc url" % where)
                check(any(a.startswith("X-API-Key:") for a in args), "%s: no X-API-Key" % where)
            else:
                errors.append("%s: neither stdio nor http" % where)
    check(len(stdio) == 3 and http == 3, "want 3 stdio and 3 http entries, got %d/%d"
          % (len(stdio), http))

    # Start each stdio entry against a simulator.
    port = free_port()
    token = "cfg-test-root"
    with tempfile.TemporaryFile() as err:   # read again by procs.stop
        sim = subprocess.Popen([binary("vault-sim"), "--dev", "--dev-root-token-id", token,
                                "--dev-listen-address", "127.0.0.1:%d" % port],
                               stdout=subprocess.DEVNULL, stderr=err)
    cleanup = Cleanup()
    try:
        runtime = tmpdir(cleanup, "vmb-cfg-runtime-")
        wait_port(port, 15, sim)
        addr = "http://127.0.0.1:%d" % port
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "provision-vault.sh")],
                       env=dict(os.environ, VAULT_ADDR=addr, VAULT_TOKEN=token, POSTGRES_URL=""),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # <REPO>/build/bin/vault-mcp-stdio is this test's build dir's binary.
        build = os.path.dirname(os.path.dirname(binary("vault-mcp-stdio")))
        fill = {"<REPO>/build": build, "<VAULT_ADDR>": addr, "<VAULT_TOKEN>": token}

        def sub(s):
            for k, v in fill.items():
                s = s.replace(k, v)
            return s
        for where, e in stdio:
            cmd = sub(e["command"])
            env = {"PATH": os.environ.get("PATH", ""), "XDG_RUNTIME_DIR": runtime}
            env.update({k: sub(v) for k, v in e.get("env", {}).items()})
            msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
                     "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": {"name": "cfg", "version": "1"}}},
                    {"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
            p = subprocess.run([cmd] + e.get("args", []), env=env, timeout=30,
                               input="".join(json.dumps(m) + "\n" for m in msgs).encode(),
                               capture_output=True)
            answers = {}
            for line in p.stdout.decode().splitlines():
                try:
                    d = json.loads(line)
                except ValueError:
                    errors.append("%s: non-JSON line on stdout" % where)
                    continue
                answers[d.get("id")] = d
            check(answers.get(1, {}).get("result", {}).get("protocolVersion") == "2025-06-18",
                  "%s: initialize answer %r" % (where, answers.get(1)))
            names = [t["name"] for t in answers.get(2, {}).get("result", {}).get("tools", [])]
            if check("kv_read" in names, "%s: tools/list %r" % (where, names[:5])):
                print("ok: %s: vault-mcp-stdio answers, %d tools" % (where, len(names)))
    finally:
        stop(sim)
        cleanup.run()
    for e in errors:
        print("FAIL:", e)
    if errors:
        return 1
    print("PASS: %d json blocks, %d stdio and %d http entries" % (len(blocks), len(stdio), http))
    return 0


if __name__ == "__main__":
    sys.exit(main())
