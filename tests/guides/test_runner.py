#!/usr/bin/env python3
"""Self-test of tests/guides/run-guide.py: the runner must refuse guides it
cannot vouch for and fail when a step fails, else a passing guides label
would mean nothing."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "run-guide.py")
failures = 0


def run(text, *args, variant=""):
    with tempfile.TemporaryDirectory() as d:
        g = os.path.join(d, "guide.md")
        with open(g, "w") as f:
            f.write(text)
        r = subprocess.run([sys.executable, RUNNER, "--root", os.path.join(d, "root"),
                            "--variant", variant, "--no-systemd-verify", *args, g],
                           capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        marker = os.path.join(d, "root", "out.txt")
        got = open(marker).read() if os.path.exists(marker) else None
        return r.returncode, out, got


def expect(name, cond, detail=""):
    global failures
    if cond:
        print("ok   %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))


SETTINGS = "<!-- guide:settings -->\n```sh\nexport OUT=/nonexistent\nexport WORD=hello\n```\n\n"

# A well-formed guide: settings replaced, steps in order, checks after the
# steps, cleanup at the end, variables shared between blocks.
good = SETTINGS + """
<!-- guide:run -->
```sh
x=1
echo "step1 $WORD" >"$OUT"
```

<!-- guide:check -->
```sh
echo "check $x" >>"$OUT"
```

<!-- guide:run -->
```sh
echo step2 >>"$OUT"
```

<!-- guide:run only=other -->
```sh
echo not-this-variant >>"$OUT"
```

<!-- guide:skip why="shown only" -->
```sh
exit 1
```

<!-- guide:cleanup -->
```sh
echo cleanup >>"$OUT"
```

```ini
not = shell, not run
```
"""
rc, out, got = run(good, "--set", "OUT={root}/out.txt")
expect("well-formed guide runs", rc == 0, out)
expect("steps, checks, cleanup in order; settings replaced; variant filter",
       got == "step1 hello\nstep2\ncheck 1\ncleanup\n", repr(got))

rc, out, got = run(good, "--set", "OUT={root}/out.txt", variant="other")
expect("only= block runs for its variant", got and "not-this-variant" in got, repr(got))

rc, out, _ = run(SETTINGS + "```sh\necho unmarked\n```\n")
expect("unmarked shell block is refused", rc == 2 and "without a guide: marker" in out, out)

rc, out, _ = run(good, "--set", "NOT_DECLARED=1")
expect("undeclared --set is refused", rc == 2 and "undeclared" in out, out)

rc, out, _ = run(SETTINGS + '<!-- guide:skip -->\n```sh\ntrue\n```\n'
                 '<!-- guide:run -->\n```sh\ntrue\n```\n')
expect("skip without a reason is refused", rc == 2 and "why" in out, out)

bad = SETTINGS + """<!-- guide:run -->
```sh
echo one >"$OUT"
false
echo never >>"$OUT"
```

<!-- guide:cleanup -->
```sh
echo cleanup >>"$OUT"
```
"""
rc, out, got = run(bad, "--set", "OUT={root}/out.txt")
expect("a failing step fails the run and cleanup still runs",
       rc != 0 and got == "one\ncleanup\n" and "FAILED" in out, repr((rc, got, out)))

leak = SETTINGS + """<!-- guide:run -->
```sh
sleep 30 &
echo $! >"$OUT.pid"
```
"""
rc, out, _ = run(leak, "--set", "OUT={root}/out.txt")
expect("a process left running fails the run", rc != 0 and "left pid" in out, out)

sys.exit(1 if failures else 0)
