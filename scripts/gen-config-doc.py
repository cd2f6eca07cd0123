#!/usr/bin/env python3
"""Documentation generated from the programs themselves, the one source of
truth being the settings table in core/src/config/config.c (printed by --help).

  scripts/gen-config-doc.py build/bin/vault-mcp-fcgi > docs/settings-table.md
  scripts/gen-config-doc.py build/bin/vault-mcp-fcgi --check docs/settings-table.md
  scripts/gen-config-doc.py BINARY --man PAGE VERSION OUT
      a roff man page: PAGE is vault-mcp-fcgi (section 8), vault-mcp-stdio (1)
      or vault-sim (1). The settings (or vault-sim's options) come from
      BINARY --help; the prose around them is kept here. No date is written,
      so the pages build reproducibly. The build runs this (packaging/).
"""
import re
import subprocess
import sys


def help_text(binary):
    return subprocess.run([binary, "--help"], capture_output=True, text=True,
                          check=True).stdout


def settings(binary):
    """(flag, description, env, default, range or None) per setting, in
    table order."""
    rows = []
    for line in help_text(binary).splitlines():
        m = re.match(r'\s+--(\S+)\s+(.*) \(env (\w+), default "(.*)"(?:, range (\S+))?\)$',
                     line)
        if m:
            rows.append(m.groups())
    if not rows:
        sys.exit("%s --help printed no settings" % binary)
    return rows


def markdown_table(binary):
    rows = []
    for flag, desc, env, default, rng in settings(binary):
        default = default.replace("|", "\\|")
        desc = desc.replace("|", "\\|")
        rng = "`%s`" % rng if rng else ""
        rows.append("| `%s` | `--%s` | `%s` | %s | %s |" % (env, flag, default, rng, desc))
    return ("| environment | flag | default | range | meaning |\n|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")


# ---- roff ------------------------------------------------------------------

def esc(text):
    """Plain text to roff: backslashes, hyphens that must stay ASCII, and
    a leading dot or quote that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def para(text):
    return ".PP\n" + esc(" ".join(text.split())) + "\n"


def item(tag, text):
    return ".TP\n" + tag + "\n" + esc(" ".join(text.split())) + "\n"


def bold(text):
    return "\\fB" + esc(text) + "\\fR"


def italic(text):
    return "\\fI" + esc(text) + "\\fR"


def settings_section(binary):
    out = [".SH SETTINGS\n", para(
        "Every setting is read, strongest first, from its command-line flag, "
        "its environment variable, the configuration file, and the built-in "
        "default. The configuration file is APP_CONFIG_FILE, else the first of "
        "config.json, config.yaml, config.yml and config.toml in the working "
        "directory; its keys are the variable names. An unknown flag or key, "
        "or an invalid value, stops start-up with exit status 2 and a message "
        "naming the setting and its source.")]
    for flag, desc, env, default, rng in settings(binary):
        tag = bold("--" + flag) + " " + italic("value") + ", " + bold(env)
        text = desc.rstrip(".") + ". " + ("Default: %s." % default if default
                                          else "Default: empty.")
        if rng:
            text += " Range: %s." % rng
        out.append(item(tag, text))
    return "".join(out)


def sim_options(binary):
    """vault-sim --help: '  --opt ARG   text' lines with continuations."""
    opts, cur = [], None
    for line in help_text(binary).splitlines():
        m = re.match(r"^  (-\S.*?)\s{2,}(\S.*)$", line)
        if m:
            cur = [m.group(1), m.group(2)]
            opts.append(cur)
        elif cur and re.match(r"^\s{10,}\S", line):
            cur[1] += " " + line.strip()
        else:
            cur = None
    if not opts:
        sys.exit("%s --help printed no options" % binary)
    return opts


PAGES = {
    "vault-mcp-fcgi": ("8", "Vault MCP Bridge FastCGI responder"),
    "vault-mcp-stdio": ("1", "Vault MCP Bridge over standard input and output"),
    "vault-sim": ("1", "in-memory HashiCorp Vault simulator for tests"),
}


def man_fcgi(binary):
    return "".join([
        ".SH SYNOPSIS\n", bold("vault-mcp-fcgi"), " [", bold("--listen"), " ",
        italic("addr"), "] [", bold("--threads"), " ", italic("n"), "] [",
        italic("setting flags"), "]\n.br\n", bold("vault-mcp-fcgi --check-config"),
        "\n.br\n", bold("vault-mcp-fcgi --help"), " | ", bold("--version"), "\n",
        ".SH DESCRIPTION\n",
        para("vault-mcp-fcgi is the FastCGI application of the Vault MCP Bridge. "
             "A web server in front of it (lighttpd, nginx, Apache or Caddy) "
             "terminates TLS and passes requests over FastCGI; the bridge "
             "authenticates the agent (API key, JWT or the web server's verified "
             "client certificate), checks its scopes and rate limit, calls "
             "HashiCorp Vault (or AWS KMS) with its own credentials, and answers "
             "over REST or the Model Context Protocol."),
        para("Without --listen it serves the listening socket inherited as file "
             "descriptor 0: that is how spawn-fcgi, mod_fcgid and the systemd "
             "socket unit (StandardInput=socket) hand it over. Each of the THREADS "
             "threads serves one request at a time."),
        ".SH OPTIONS\n",
        item(bold("--help"), "Print every setting with its flag, variable and default."),
        item(bold("--version"), "Print the version, how the binary was built and "
             "the versions of the libraries it runs with."),
        item(bold("--check-config"), "Print the effective configuration as JSON, "
             "each value with its source, secrets redacted, and exit."),
        settings_section(binary),
        ".SH SIGNALS\n",
        item(bold("SIGTERM") + ", " + bold("SIGINT"), "Stop accepting, finish the "
             "requests in flight (open event streams end), exit 0."),
        ".SH FILES\n",
        item(italic("/etc/vault-mcp-bridge/config.yaml"), "The configuration file of "
             "the packaged service (APP_CONFIG_FILE)."),
        item(italic("/run/vault-mcp-bridge/"), "The FastCGI socket of the systemd "
             "units and RUN_DIR, the host-wide shared counters (rate limits, "
             "metrics) of every process of the pool."),
        item(italic("/var/log/vault-mcp-bridge/"), "LOG_DIR: requests.log, "
             "responses.log and server.log, one JSON object per line."),
        item(italic("/usr/share/vault-mcp-bridge/webserver/"), "Web-server "
             "configurations for lighttpd, nginx, Apache and Caddy."),
        ".SH EXIT STATUS\n",
        para("0 after a clean stop or an informational option; 1 when the socket "
             "or the serving threads cannot be set up; 2 for an invalid setting "
             "or argument."),
        ".SH SEE ALSO\n",
        bold("vault-mcp-stdio"), "(1), ", bold("vault-sim"), "(1), ",
        bold("spawn-fcgi"), "(1), ", bold("systemd.socket"), "(5)\n",
    ])


def man_stdio(binary):
    return "".join([
        ".SH SYNOPSIS\n", bold("SUBJECT="), italic("agent"), " [",
        bold("SCOPES="), italic("scopes"), "] ", bold("vault-mcp-stdio"), " [",
        italic("setting flags"), "]\n",
        ".SH DESCRIPTION\n",
        para("vault-mcp-stdio speaks the Model Context Protocol as newline-"
             "delimited JSON-RPC on standard input and output, for an MCP client "
             "that starts it as a local process. It offers the same tools, "
             "resources and prompts as the FastCGI responder and sends every "
             "call through the same gate (scopes, rate limit, logs)."),
        para("There is no authentication on stdio: the local user who starts it "
             "is trusted and names the subject in SUBJECT (1 to 128 printable "
             "characters). SCOPES, default \"read write delete list\", limits "
             "what the tools may do. Standard output carries protocol messages "
             "only; logs go to LOG_DIR, or to standard error when LOG_DIR is "
             "empty. End of input ends the process with status 0."),
        ".SH OPTIONS\n",
        item(bold("--help"), "Print every setting with its flag, variable and default."),
        item(bold("--version"), "Print the version, build and library versions."),
        ".SH ENVIRONMENT\n",
        item(bold("SUBJECT"), "The agent this process acts for (required)."),
        item(bold("SCOPES"), "Space- or comma-separated scopes: read, write, "
             "delete, list."),
        settings_section(binary),
        ".SH SEE ALSO\n",
        bold("vault-mcp-fcgi"), "(8), ", bold("vault-sim"), "(1)\n",
    ])


def man_sim(binary):
    out = [
        ".SH SYNOPSIS\n", bold("vault-sim"), " [", bold("server"), "] ",
        bold("--dev"), " [", italic("options"), "]\n",
        ".SH DESCRIPTION\n",
        para("vault-sim stands in for the development server of HashiCorp Vault "
             "Community Edition in tests. It keeps everything in memory and "
             "implements the parts of the Vault HTTP API the bridge uses: token "
             "and AppRole authentication, ACL policies, KV version 2, Transit, "
             "database credentials with leases, SSH one-time passwords and "
             "certificates, and the sys endpoints for health, mounts and "
             "policies. It starts initialised and unsealed, like vault server "
             "-dev, and serves plain HTTP only: put a TLS-terminating web server "
             "in front to test TLS."),
        para("It is a test tool. It never writes to disk, and every secret is "
             "lost when it stops. Do not use it to keep real secrets."),
        ".SH OPTIONS\n",
    ]
    for opt, text in sim_options(binary):
        out.append(item(bold(opt), text))
    out += [
        ".SH ENVIRONMENT\n",
        item(bold("VAULT_DEV_ROOT_TOKEN_ID"), "Root token, as --dev-root-token-id."),
        item(bold("VAULT_DEV_LISTEN_ADDRESS"), "Listen address, as "
             "--dev-listen-address."),
        ".SH SIGNALS\n",
        item(bold("SIGTERM") + ", " + bold("SIGINT"), "Stop with exit status 0."),
        ".SH SEE ALSO\n",
        bold("vault-mcp-fcgi"), "(8), ", bold("vault-mcp-stdio"), "(1)\n",
    ]
    return "".join(out)


def man_page(binary, page, version):
    section, title = PAGES[page]
    body = {"vault-mcp-fcgi": man_fcgi, "vault-mcp-stdio": man_stdio,
            "vault-sim": man_sim}[page](binary)
    head = ('.\\" Generated by scripts/gen-config-doc.py from %s --help; do not edit.\n'
            '.TH %s %s "" "vault-mcp-bridge %s" "Vault MCP Bridge"\n'
            ".SH NAME\n%s \\- %s\n" % (page, esc(page).upper(), section,
                                        esc(version), esc(page), esc(title)))
    return head + body


def main():
    binary = sys.argv[1]
    if len(sys.argv) == 6 and sys.argv[2] == "--man":
        page, version, out = sys.argv[3], sys.argv[4], sys.argv[5]
        if page not in PAGES:
            sys.exit("unknown page %s (one of %s)" % (page, ", ".join(PAGES)))
        with open(out + ".tmp", "w") as f:
            f.write(man_page(binary, page, version))
        import os
        os.replace(out + ".tmp", out)
        return
    table = markdown_table(binary)
    if len(sys.argv) > 3 and sys.argv[2] == "--check":
        current = open(sys.argv[3]).read()
        if current != table:
            sys.exit("%s is out of date: run scripts/gen-config-doc.py" % sys.argv[3])
        print("settings table current (%d settings)" % (table.count("\n") - 2))
    else:
        sys.stdout.write(table)


if __name__ == "__main__":
    main()
