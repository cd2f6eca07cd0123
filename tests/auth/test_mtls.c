/*
** test_mtls.c - client-certificate identity: DN parsing in the three
** spellings web servers use, and who may claim a DN (issue 4).
*/
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "harness.h"
#include "nspath.h"
#include "vmb/config.h"
#include "vmb/request.h"

struct dn_case {
  const char *dn;
  const char *prefix;
  const char *expect;     /* the subject, or "!reason" */
};

static const struct dn_case dn_cases[] = {
  /* RFC 2253 (Apache 2.4, nginx $ssl_client_s_dn, Caddy) */
  {"CN=agent_mtls,OU=Agents,O=Example\\, Inc.,C=US", "CN=", "agent_mtls"},
  {"C=US,O=Example\\, Inc.,OU=Agents,CN=agent_mtls", "CN=", "agent_mtls"},
  {"cn=agent1", "CN=", "agent1"},
  {"CN=agent1+UID=42,O=x", "CN=", "agent1"},
  {"UID=svc-7,CN=agent1,O=x", "UID=", "svc-7"},
  {"UID=svc-7,CN=agent1", "UID", "svc-7"},
  {"CN=agent\\2D1,O=x", "CN=", "agent-1"},
  {"CN=\"agent1\",O=x", "CN=", "agent1"},
  {"CN=agent1 ,O=x", "CN=", "agent1"},
  {"commonName=agent1,O=x", "CN=", "agent1"},
  {"2.5.4.3=agent1,O=x", "CN=", "agent1"},
  {"O=x;CN=agent1", "CN=", "agent1"},
  {"CN=a\\,b,O=x", "CN=", "!bad_subject"},
  {"CN=..,O=x", "CN=", "!bad_subject"},
  {"CN=../agent2,O=x", "CN=", "!bad_subject"},
  {"CN=agent/x,O=x", "CN=", "!bad_subject"},
  {"CN=agent1,CN=admin", "CN=", "!ambiguous_cn"},
  /* Escapes that decode to NUL or control bytes: never a shorter subject
     (issue 13, found again by tests/fuzz/fuzz_dn). */
  {"CN=agent\\00evil,O=x", "CN=", "!bad_dn"},
  {"CN=\\00,O=x", "CN=", "!bad_dn"},
  {"CN=agent\\0A,O=x", "CN=", "!bad_dn"},
  {"CN=agent1,O=ev\\7Fil", "CN=", "!bad_dn"},
  {"CN=agent\\1b[0m", "CN=", "!bad_dn"},
  {"CN=agent_mtls,emailAddress=a@b.c", "CN=", "agent_mtls"},
  {"O=Example,C=US", "CN=", "!no_cn"},
  {"CN=,O=x", "CN=", "!no_cn"},
  {"CN=#0403616263,O=x", "CN=", "!bad_dn"},
  {"CN=agent1,", "CN=", "!bad_dn"},
  {"CN=\"agent1,O=x", "CN=", "!bad_dn"},
  {"garbage", "CN=", "!bad_dn"},
  {"CN=ag\"ent", "CN=", "!bad_dn"},
  {"", "CN=", "!no_certificate"},
  /* OpenSSL one-line slash form (legacy) */
  {"/C=US/O=Example, Inc./CN=agent_mtls", "CN=", "agent_mtls"},
  /* '/' is never escaped in this form, so an attribute after the CN may
     be the tail of the CN's own value ("agent/OU=x"): refused (issue 13). */
  {"/C=US/O=Example, Inc./OU=Agents/CN=agent_mtls/emailAddress=a@b.c", "CN=", "!ambiguous_cn"},
  {"/C=US/CN=agent/OU=x", "CN=", "!ambiguous_cn"},
  {"/C=US/CN=agent1/CN=agent2", "CN=", "!ambiguous_cn"},
  {"/CN=agent\\x00evil", "CN=", "!bad_dn"},
  {"/CN=agent\\x0aevil", "CN=", "!bad_dn"},
  {"/O=\\x01/CN=agent1", "CN=", "!bad_dn"},
  {"/CN=agent\\x2D1", "CN=", "agent-1"},
  {"/O=evil/CN=admin/CN=agent1", "CN=", "!ambiguous_cn"},
  {"/O=x/CN=admin,x/CN=agent1", "CN=", "!ambiguous_cn"},
  {"/O=a/b/CN=agent1", "CN=", "agent1"},
  {"/C=US/O=x", "CN=", "!no_cn"},
  {"/=x/CN=a", "CN=", "!bad_dn"},
  /* lighttpd / OpenSSL XN_FLAG_ONELINE: spaces around '=', quoted values */
  {"C = US, O = \"Example, Inc.\", OU = Agents, CN = agent_mtls", "CN=", "agent_mtls"},
  {"C = US, O = Example\\, Inc., CN = agent_mtls", "CN=", "agent_mtls"},
  {"CN = \"agent 1\"", "CN=", "!bad_subject"},
  {"C = US, CN = agent1, CN = agent2", "CN=", "!ambiguous_cn"},
  {"C = US, O = \"a\\\"b\", CN = agent1", "CN=", "agent1"},
};

static struct vmb_config cfg;

static void set_cfg(bool trust)
{
  char err[256];
  memset(&cfg, 0, sizeof(cfg));
  cfg.auth_mtls_enabled = true;
  cfg.mtls_identity_header = "x-ssl-client-s-dn";
  cfg.mtls_verify_header = "x-ssl-client-verify";
  cfg.mtls_subject_cn_prefix = "CN=";
  cfg.mtls_trust_proxy_headers = trust;
  CHECK_INT(vmb_mtls_init(&cfg, err, sizeof(err)), 0);
}

static enum vmb_auth_result run(bool https, const char *dn, const char *verify,
                                const struct vmb_header *h, size_t nh,
                                struct vmb_identity *id, const char **reason)
{
  struct vmb_request req;
  memset(&req, 0, sizeof(req));
  memset(id, 0, sizeof(*id));
  req.tls.https = https;
  req.tls.client_s_dn = dn;
  req.tls.client_verify = verify;
  req.headers = h;
  req.n_headers = nh;
  *reason = NULL;
  return vmb_mtls_check(&req, id, reason);
}

int main(void)
{
  size_t i;
  char out[VMB_SUBJECT_MAX + 1];
  struct vmb_identity id;
  const char *reason;
  static const struct vmb_header forged[] = {
    {"x-ssl-client-s-dn", "CN=admin,O=Example"},
    {"x-ssl-client-verify", "SUCCESS"},
  };

  for(i = 0; i < sizeof(dn_cases) / sizeof(dn_cases[0]); i++) {
    const struct dn_case *c = &dn_cases[i];
    const char *why = vmb_mtls_dn_subject(c->dn, c->prefix, out, sizeof(out));
    bool parsed = why == NULL;
    /* As vmb_mtls_check does: a parsed value must still be a subject. */
    if(!why && !vmb_subject_valid(out))
      why = "bad_subject";
    if(c->expect[0] == '!') {
      CHECK_STR(why, c->expect + 1);
      if(!parsed)
        CHECK_STR(out, "");
    }
    else {
      CHECK_STR(why ? why : "ok", "ok");
      CHECK_STR(out, c->expect);
    }
    if(harness_failures)
      fprintf(stderr, "  after DN case %zu: %s\n", i, c->dn);
  }

  /* The web server's params: HTTPS + SUCCESS + DN. */
  set_cfg(false);
  CHECK_INT(run(true, "CN=agent_mtls,O=Example\\, Inc.", "SUCCESS", NULL, 0, &id, &reason), VMB_AUTH_OK);
  CHECK_STR(id.subject, "agent_mtls");
  CHECK_STR(id.mode, "mtls");
  CHECK_INT(id.scopes, VMB_SCOPES_DEFAULT);
  CHECK_INT(run(false, "CN=agent1", "SUCCESS", NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_STR(reason, "not_https");
  CHECK_INT(run(true, "CN=agent1", "FAILED:unable to verify", NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_STR(reason, "cert_not_verified");
  CHECK_INT(run(true, "CN=agent1", "success", NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_INT(run(true, "CN=agent1", "NONE", NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_INT(run(true, "CN=agent1", NULL, NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_INT(run(true, NULL, "SUCCESS", NULL, 0, &id, &reason), VMB_AUTH_NONE);
  CHECK_INT(run(true, "", "SUCCESS", NULL, 0, &id, &reason), VMB_AUTH_NONE);
  CHECK_INT(run(true, "CN=../x", "SUCCESS", NULL, 0, &id, &reason), VMB_AUTH_INVALID);
  CHECK_STR(reason, "bad_subject");
  CHECK(!id.authenticated);

  /* A forged header is refused by default: no identity, no error either. */
  CHECK_INT(run(true, NULL, NULL, forged, 2, &id, &reason), VMB_AUTH_NONE);
  CHECK_STR(reason, "no_certificate");
  CHECK(!id.authenticated);
  CHECK_STR(id.subject, "");
  CHECK_INT(run(false, NULL, NULL, forged, 2, &id, &reason), VMB_AUTH_NONE);
  /* A real certificate wins over the forged header. */
  CHECK_INT(run(true, "CN=agent1", "SUCCESS", forged, 2, &id, &reason), VMB_AUTH_OK);
  CHECK_STR(id.subject, "agent1");

  /* With MTLS_TRUST_PROXY_HEADERS=true the proxy's headers count. */
  set_cfg(true);
  CHECK_INT(run(false, NULL, NULL, forged, 2, &id, &reason), VMB_AUTH_OK);
  CHECK_STR(id.subject, "admin");
  CHECK_INT(run(false, NULL, NULL, forged, 1, &id, &reason), VMB_AUTH_INVALID);
  CHECK_STR(reason, "cert_not_verified");
  CHECK_INT(run(true, "CN=agent1", "SUCCESS", forged, 2, &id, &reason), VMB_AUTH_OK);
  CHECK_STR(id.subject, "agent1");

  /* The proxy's header and a client's underscore spelling of it, passed by
     the web server as two params of one name (issue 13): refused,
     whichever comes first. */
  {
    static const struct vmb_header doubled[] = {
      {"x-ssl-client-s-dn", "CN=evil"},
      {"x-ssl-client-s-dn", "CN=agent1"},
      {"x-ssl-client-verify", "SUCCESS"},
    };
    static const struct vmb_header doubled_verify[] = {
      {"x-ssl-client-s-dn", "CN=agent1"},
      {"x-ssl-client-verify", "SUCCESS"},
      {"X-SSL-Client-Verify", "SUCCESS"},
    };
    struct vmb_request req;
    CHECK_INT(run(false, NULL, NULL, doubled, 3, &id, &reason), VMB_AUTH_INVALID);
    CHECK_STR(reason, "duplicate_identity_header");
    CHECK(!id.authenticated);
    CHECK_INT(run(false, NULL, NULL, doubled_verify, 3, &id, &reason), VMB_AUTH_INVALID);
    CHECK_STR(reason, "duplicate_identity_header");
    /* The dedicated params win over any header a client sent. */
    memset(&req, 0, sizeof(req));
    memset(&id, 0, sizeof(id));
    req.headers = doubled;
    req.n_headers = 3;
    req.tls.proxy_s_dn = "CN=agent_proxy,O=x";
    req.tls.proxy_verify = "SUCCESS";
    CHECK_INT(vmb_mtls_check(&req, &id, &reason), VMB_AUTH_OK);
    CHECK_STR(id.subject, "agent_proxy");
    req.tls.proxy_verify = "FAILED";
    CHECK_INT(vmb_mtls_check(&req, &id, &reason), VMB_AUTH_INVALID);
    CHECK_STR(reason, "cert_not_verified");
    /* Without trust, the params count for nothing either. */
    set_cfg(false);
    req.tls.proxy_verify = "SUCCESS";
    memset(&id, 0, sizeof(id));
    CHECK_INT(vmb_mtls_check(&req, &id, &reason), VMB_AUTH_NONE);
  }

  fprintf(stderr, "%zu DN cases\n", sizeof(dn_cases) / sizeof(dn_cases[0]));
  return harness_result("mtls");
}
