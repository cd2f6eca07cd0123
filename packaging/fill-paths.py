#!/usr/bin/env python3
"""fill-paths.py IN OUT NAME=VALUE... : copy a deploy/ web-server file with
the package's own paths put in for its @NAME@ placeholders. Comment lines
are left alone (they document the placeholders); the placeholders not
named (TLS files, address, port) stay for the operator. A header line says
where the file came from. Run by packaging/CMakeLists.txt at configure time.
"""
import os
import re
import sys

src, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
values = dict(p.split("=", 1) for p in pairs)
with open(src) as f:
    text = f.read()
lines = []
for line in text.splitlines(keepends=True):
    if not re.match(r"\s*#", line):
        for k, v in values.items():
            line = line.replace("@%s@" % k, v)
    lines.append(line)
head = ("# Installed by the vault-mcp-bridge package with the package's paths\n"
        "# filled in; replace the remaining @...@ placeholders (see README.md here).\n")
with open(out + ".tmp", "w") as f:
    f.write(head + "".join(lines))
os.replace(out + ".tmp", out)
