#!/usr/bin/env python3
"""Writes the sample config files in examples/config/ from the settings
table (the one source of truth, read through `vault-mcp-fcgi --help`, as
scripts/gen-config-doc.py does for docs/settings-table.md).

  scripts/gen-config-examples.py build/bin/vault-mcp-fcgi examples/config
  scripts/gen-config-examples.py build/bin/vault-mcp-fcgi examples/config --check
  scripts/gen-config-examples.py build/bin/vault-mcp-fcgi DIR --all-active

Files:
  config.example.yaml, config.example.toml
      every setting with its help text, default and range. The few every
      deployment sets are active; the rest are commented out at their
      defaults, so the file documents everything without pinning defaults.
  mtls-only.yaml    agents authenticate with client certificates only
  jwt-jwks.yaml     agents authenticate with JWTs (RS256/ES256) from an
                    identity provider's JWKS endpoint

--all-active writes the two complete examples with every setting active
(a test checks that the bridge accepts them, so no default in the table
is one the bridge would refuse). --check fails when a file differs from
what the table gives.
"""
import importlib.util
import json
import os
import re
import sys

# The --help parser is gen-config-doc.py's: one reader of the table's
# printed form (the file name has dashes, hence the loader).
_spec = importlib.util.spec_from_file_location(
    "gen_config_doc", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-config-doc.py"))
gen_config_doc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_config_doc)

# Values of the active settings per file (anything else stays commented).
# Secrets are empty: the samples hold no credential, real or fake.
COMMON = {
    "VAULT_ADDR": "https://vault.example.com:8200",
    "VAULT_TOKEN": "",
    "LOG_DIR": "/var/log/vault-mcp",
    "RUN_DIR": "/run/vault-mcp",
}
PROFILES = {
    "config.example": {
        "title": "every setting of the bridge, with its default",
        "active": dict(COMMON, API_KEYS_JSON={}, AUTH_MTLS_ENABLED=False),
    },
    "mtls-only": {
        "title": "agents authenticate with client certificates only (mTLS)",
        "note": ["The web server verifies client certificates and passes the",
                 "result (deploy/*/vault-mcp-mtls-required.conf); API keys and",
                 "JWTs are refused."],
        "active": dict(COMMON, AUTH_MTLS_ENABLED=True, AUTH_API_KEY_ENABLED=False,
                       AUTH_JWT_ENABLED=False, MTLS_SUBJECT_CN_PREFIX="CN="),
    },
    "jwt-jwks": {
        "title": "agents authenticate with JWTs signed by an identity provider",
        "note": ["RS256/ES256 keys come from the provider's JWKS endpoint and",
                 "are cached; tokens must carry iss, aud and a kid."],
        "active": dict(COMMON, AUTH_JWT_ENABLED=True, AUTH_API_KEY_ENABLED=False,
                       AUTH_MTLS_ENABLED=False,
                       JWT_JWKS_URL="https://idp.example.com/.well-known/jwks.json",
                       JWT_ISSUER="https://idp.example.com/",
                       JWT_AUDIENCE="vault-mcp", JWT_REQUIRE_KID=True,
                       JWT_JWKS_CACHE_SECONDS=300,
                       OAUTH_AUTHORIZATION_SERVERS="https://idp.example.com/"),
    },
}


def settings(binary):
    return [{"name": env, "help": desc, "default": default, "range": rng}
            for _flag, desc, env, default, rng in gen_config_doc.settings(binary)]


def typed_default(s):
    """The default as a typed value: the table gives text only."""
    d = s["default"]
    if d in ("true", "false"):
        return d == "true"
    if re.fullmatch(r"-?\d+", d) and s["range"] and not s["range"].endswith("s"):
        return int(d)
    if d == "{}":
        return {}
    return d


def quote(v):
    # A JSON string is a valid YAML double-quoted and TOML basic string for
    # the characters the table uses (ASCII, \" and \\ escapes).
    return json.dumps(v, ensure_ascii=True)


def value(v, fmt):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        # A JSON object setting as JSON text: both parsers take a string.
        return quote(json.dumps(v, separators=(",", ":")))
    return quote(v)


def render(rows, name, prof, fmt, all_active=False):
    sep = ": " if fmt == "yaml" else " = "
    lines = ["# %s.%s - Vault MCP Bridge: %s." % (name, fmt, prof["title"]),
             "# Generated from the settings table by scripts/gen-config-examples.py;",
             "# do not edit (a test fails when it drifts). Every setting is also a",
             "# flag (--vault-addr) and an environment variable (VAULT_ADDR); see",
             "# docs/configuration.md and docs/settings-table.md.",
             "# Check a copy with: APP_CONFIG_FILE=FILE vault-mcp-fcgi --check-config"]
    for n in prof.get("note", []):
        lines.append("# " + n)
    lines.append("# Secrets (VAULT_TOKEN, API keys, JWT secret) go into the copy, which")
    lines.append("# must be readable by the bridge's user only (root:vault-mcp-bridge 0640).")
    full = name == "config.example"
    for s in rows:
        active = s["name"] in prof["active"] or all_active
        if not active and not full:
            continue
        v = prof["active"].get(s["name"], typed_default(s))
        rng = " (%s)" % s["range"] if s["range"] else ""
        lines.append("")
        lines.append("# %s%s" % (s["help"], rng))
        line = "%s%s%s" % (s["name"], sep, value(v, fmt))
        lines.append(line if active else "# " + line)
    return "\n".join(lines) + "\n"


def files(rows, all_active=False):
    out = {}
    for name, prof in PROFILES.items():
        fmts = ("yaml", "toml") if name == "config.example" else ("yaml",)
        if all_active and name != "config.example":
            continue
        for fmt in fmts:
            out["%s.%s" % (name, fmt)] = render(rows, name, prof, fmt, all_active)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, outdir = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    rows = settings(binary)
    gen = files(rows, all_active=(mode == "--all-active"))
    if mode == "--check":
        stale = []
        for fname, text in gen.items():
            path = os.path.join(outdir, fname)
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(fname)
        if stale:
            sys.exit("out of date in %s: %s (run scripts/gen-config-examples.py)"
                     % (outdir, ", ".join(stale)))
        print("config examples current (%d files, %d settings)" % (len(gen), len(rows)))
        return
    os.makedirs(outdir, exist_ok=True)
    for fname, text in gen.items():
        with open(os.path.join(outdir, fname), "w") as f:
            f.write(text)
        print(os.path.join(outdir, fname))


if __name__ == "__main__":
    main()
