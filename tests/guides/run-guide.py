#!/usr/bin/env python3
"""run-guide.py: execute deploy guides (Markdown) as written.

  run-guide.py --root DIR [--set NAME=VALUE]... [--variant V] GUIDE.md...

Every fenced shell block (```sh, ```bash, ```shell) in a guide must be
preceded by a marker comment saying what the block is; an unmarked shell
block is an error, so no command in a guide is silently left untested:

  <!-- guide:settings -->   NAME=value / export NAME=value lines: the only
                            placeholders a test may replace (--set)
  <!-- guide:run -->        a step, run in order
  <!-- guide:check -->      a check, run after every file's steps
  <!-- guide:cleanup -->    run at exit (failure included), last file first
  <!-- guide:systemd units=a.service,b.service -->
                            the systemd way: not run here; the units are
                            verified with `systemd-analyze verify`
  <!-- guide:skip why="..." -->
                            shown to operators, not run (a reason is required)

run, check and cleanup take `only=V1,V2`: the block runs only when
--variant is one of them (one README covering two setups).

All blocks of all files run in ONE bash process (set -Eeuo pipefail), from
the repository root, so a variable or `cd` from one step is seen by the
next. --set values may contain {root}, the scratch root. Nothing but the
declared settings is substituted: the commands run exactly as printed.

After the run every pid file left under the scratch root is inspected: a
process still alive means the guide's stop steps are incomplete; it is
killed and the run fails.
"""
import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHELL_LANGS = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"^<!--\s*guide:(\w+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
KINDS = {"settings", "run", "check", "cleanup", "systemd", "skip"}
ATTR = re.compile(r'(\w+)=("([^"]*)"|\S+)')
SETTING = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$")


class GuideError(Exception):
    pass


def parse(path):
    """Returns the list of (kind, attrs, lines, lineno) blocks of a guide."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    pending = None   # (kind, attrs, lineno) of a marker awaiting its block
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line.strip())
        if m:
            kind = m.group(1)
            if kind not in KINDS:
                raise GuideError("%s:%d: unknown marker guide:%s" % (path, i + 1, kind))
            attrs = {a.group(1): a.group(3) if a.group(3) is not None else a.group(2)
                     for a in ATTR.finditer(m.group(2))}
            if kind == "skip" and not attrs.get("why"):
                raise GuideError("%s:%d: guide:skip needs why=\"...\"" % (path, i + 1))
            if kind == "systemd" and not attrs.get("units"):
                raise GuideError("%s:%d: guide:systemd needs units=..." % (path, i + 1))
            pending = (kind, attrs, i + 1)
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            fence, lang = f.group(1), f.group(2).lower()
            body = []
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise GuideError("%s:%d: unterminated code block" % (path, start))
            i += 1
            if lang in SHELL_LANGS:
                if not pending:
                    raise GuideError("%s:%d: shell block without a guide: marker "
                                     "(run, check, cleanup, settings, systemd or skip)"
                                     % (path, start))
                blocks.append((pending[0], pending[1], body, start))
            elif pending:
                raise GuideError("%s:%d: guide:%s marker before a non-shell block"
                                 % (path, pending[2], pending[0]))
            pending = None
            continue
        if pending and line.strip():
            raise GuideError("%s:%d: guide:%s marker not followed by a code block"
                             % (path, pending[2], pending[0]))
        i += 1
    if pending:
        raise GuideError("%s:%d: dangling marker" % (path, pending[2]))
    return blocks


def selected(attrs, variant):
    only = attrs.get("only")
    if not only:
        return True
    return variant in only.split(",")


def build_script(guides, overrides, variant, root):
    declared = {}
    settings, steps, checks, cleanups, units = [], [], [], [], []
    for g in guides:
        rel = os.path.relpath(os.path.abspath(g), REPO)
        file_cleanups = []
        for kind, attrs, body, lineno in parse(g):
            where = "%s:%d" % (rel, lineno)
            if kind == "settings":
                out = []
                for line in body:
                    m = SETTING.match(line)
                    if m:
                        name = m.group(1)
                        declared[name] = where
                        if name in overrides:
                            line = "export %s=%s" % (name, shlex.quote(overrides[name]))
                        elif not line.lstrip().startswith("export"):
                            line = "export " + line.lstrip()
                    out.append(line)
                settings.append((where, out))
            elif kind == "systemd":
                units.extend((where, u) for u in attrs["units"].split(",")
                             if u not in [x[1] for x in units])
            elif kind in ("run", "check", "cleanup") and selected(attrs, variant):
                {"run": steps, "check": checks, "cleanup": file_cleanups}[kind].append((where, body))
        cleanups = file_cleanups + cleanups
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise GuideError("--set of undeclared settings: %s (declare them in a "
                         "guide:settings block)" % ", ".join(unknown))
    if not steps:
        raise GuideError("no guide:run steps selected (variant %r)" % variant)

    def emit(where, body):
        return ["__step %s" % shlex.quote(where)] + body

    s = ["#!/usr/bin/env bash",
         "# generated by tests/guides/run-guide.py; do not edit",
         "set -Eeuo pipefail",
         "__step() { printf '\\n== %s\\n' \"$1\" >&2; }",
         "__fail() { printf '\\nguide step FAILED (exit %s) at line %s: %s\\n' \"$1\" \"$2\" \"$3\" >&2; }",
         "trap '__fail $? $LINENO \"$BASH_COMMAND\"' ERR",
         "__cleanup() {",
         "  local rc=$?",
         "  set +eE; trap - ERR",
         "  printf '\\n== cleanup steps\\n' >&2"]
    for where, body in cleanups:
        s += ["  __step %s" % shlex.quote(where), "  ("] + ["    " + b for b in body] + ["  )"]
    s += ["  exit $rc", "}", "trap __cleanup EXIT"]
    for where, body in settings:
        s += emit(where, body)
    for where, body in steps + checks:
        s += emit(where, body)
    s += ["__step 'all steps passed'"]
    return "\n".join(s) + "\n", units


def verify_units(units):
    failed = 0
    for where, unit in units:
        # Relative unit paths are relative to the repository, like the
        # guides' commands.
        unit = os.path.join(REPO, unit)
        if not os.path.exists(unit):
            print("FAIL systemd unit %s (from %s) does not exist" % (unit, where))
            failed += 1
            continue
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                           capture_output=True, text=True)
        # Warnings about the host (no running systemd, missing users) are
        # printed too; only a non-zero exit is a broken unit.
        if r.returncode != 0:
            print("FAIL systemd-analyze verify %s:\n%s%s" % (unit, r.stdout, r.stderr))
            failed += 1
        else:
            print("ok   systemd-analyze verify %s" % unit)
    return failed


def leftover_processes(root):
    alive = []
    for d, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".pid"):
                continue
            try:
                with open(os.path.join(d, name)) as f:
                    pids = [int(x) for x in f.read().split() if x.isdigit()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, 0)
                except OSError:
                    continue
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmd = "?"
                alive.append((pid, os.path.join(d, name), cmd.strip()))
    return alive


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="scratch root (created)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--variant", default="")
    ap.add_argument("--print", action="store_true", help="print the script, run nothing")
    ap.add_argument("--no-systemd-verify", action="store_true")
    ap.add_argument("guides", nargs="+")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    overrides = {}
    for kv in a.set:
        name, sep, value = kv.partition("=")
        if not sep:
            ap.error("--set wants NAME=VALUE, got %r" % kv)
        overrides[name] = value.replace("{root}", root)
    try:
        script, units = build_script(a.guides, overrides, a.variant, root)
    except GuideError as e:
        print("run-guide: %s" % e, file=sys.stderr)
        return 2
    if a.print:
        sys.stdout.write(script)
        return 0
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "guide.sh")
    with open(path, "w") as f:
        f.write(script)
    failed = 0
    if units and not a.no_systemd_verify:
        failed += verify_units(units)
    env = dict(os.environ)
    # apt-get in a guide waits for the dpkg lock instead of failing when
    # another installation runs on the same host.
    aptconf = os.path.join(root, "apt.conf")
    with open(aptconf, "w") as f:
        f.write('DPkg::Lock::Timeout "600";\n')
    env["APT_CONFIG"] = aptconf
    env["DEBIAN_FRONTEND"] = "noninteractive"
    t0 = time.time()
    rc = subprocess.run(["bash", path], cwd=REPO, env=env).returncode
    print("\nrun-guide: script exited %d after %.1f s" % (rc, time.time() - t0))
    left = leftover_processes(root)
    for pid, pidfile, cmd in left:
        print("FAIL the guide left pid %d running (%s): %s" % (pid, pidfile, cmd))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        failed += 1
    return 1 if (rc or failed) else 0


if __name__ == "__main__":
    sys.exit(main())
