#!/usr/bin/env python3
"""Prints the settings table (Markdown) from `vault-mcp-fcgi --help`, the
one source of truth being the settings table in core/src/config/config.c.
  scripts/gen-config-doc.py build/bin/vault-mcp-fcgi > docs/settings-table.md
  scripts/gen-config-doc.py build/bin/vault-mcp-fcgi --check docs/settings-table.md
"""
import re
import subprocess
import sys

binary = sys.argv[1]
out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
rows = []
for line in out.splitlines():
    m = re.match(r'\s+--(\S+)\s+(.*) \(env (\w+), default "(.*)"(?:, range (\S+))?\)$', line)
    if m:
        flag, desc, env, default, rng = m.groups()
        default = default.replace("|", "\\|")
        desc = desc.replace("|", "\\|")
        rng = "`%s`" % rng if rng else ""
        rows.append("| `%s` | `--%s` | `%s` | %s | %s |" % (env, flag, default, rng, desc))
table = ("| environment | flag | default | range | meaning |\n|---|---|---|---|---|\n"
         + "\n".join(rows) + "\n")
if len(sys.argv) > 3 and sys.argv[2] == "--check":
    current = open(sys.argv[3]).read()
    if current != table:
        sys.exit("%s is out of date: run scripts/gen-config-doc.py" % sys.argv[3])
    print("settings table current (%d settings)" % len(rows))
else:
    sys.stdout.write(table)
