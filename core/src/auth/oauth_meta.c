/*
** oauth_meta.c - the bridge as an OAuth resource server (RFC 9728, MCP
** authorization): the protected-resource metadata document, and its URL
** for the WWW-Authenticate challenge of a 401. Only meaningful when
** bearer JWTs are accepted.
*/
#include "oauth_meta.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scope.h"
#include "vmb/arena.h"
#include "vmb/log.h"

/* The settings this module reads, taken at start-up (vmb_oauth_meta_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  bool jwt_enabled;                 /* AUTH_JWT_ENABLED */
  const char *base_path;            /* BASE_PATH */
  const char *issuer;               /* JWT_ISSUER */
  const char *audience;             /* JWT_AUDIENCE */
  const char *authorization_servers;   /* OAUTH_AUTHORIZATION_SERVERS */
} conf;

int vmb_oauth_meta_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.jwt_enabled = cfg->auth_jwt_enabled;
  conf.base_path = cfg->base_path;
  conf.issuer = cfg->jwt_issuer;
  conf.audience = cfg->jwt_audience;
  conf.authorization_servers = cfg->oauth_authorization_servers;
  return 0;
}

/* The externally visible origin of this request: scheme from the web
   server's HTTPS param, host from the Host header (only when it looks
   like a host[:port]; else "localhost"), then BASE_PATH. Arena string. */
static const char *public_base(struct vmb_request *req)
{
  const char *host = vmb_request_header(req, "host");
  const char *p;
  bool ok = host && *host && strlen(host) <= 255;
  for(p = host; ok && *p; p++)
    ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
         *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']';
  return vmb_arena_printf(req->arena, "%s://%s%s", req->tls.https ? "https" : "http",
                          ok ? host : "localhost", conf.base_path ? conf.base_path : "");
}

static bool is_url(const char *s)
{
  return s && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7));
}

const char *vmb_oauth_metadata_url(struct vmb_request *req)
{
  const char *base;
  if(!conf.jwt_enabled)
    return NULL;
  base = public_base(req);
  return base ? vmb_arena_printf(req->arena, "%s/.well-known/oauth-protected-resource/mcp/rpc",
                                 base) : NULL;
}

/* Add each URL of a comma/space separated list to arr. */
static void add_list(json_object *arr, const char *list)
{
  while(list && *list) {
    size_t n;
    while(*list == ' ' || *list == ',')
      list++;
    n = strcspn(list, ", ");
    if(n) {
      json_object *s = json_object_new_string_len(list, (int)n);
      if(s && json_object_array_add(arr, s))
        json_object_put(s);
    }
    list += n;
  }
}

/*
** GET /.well-known/oauth-protected-resource[/mcp/rpc]. Only meaningful
** when bearer JWTs are accepted: then the bridge is an OAuth resource
** server (MCP authorization). The resource identifier is JWT_AUDIENCE
** when that is a URL (the operator's canonical URI, which tokens must
** name), else derived from the request: the MCP endpoint for the
** path-suffixed document, the base for the root one (RFC 9728 section
** 3.3: the identifier is the one the well-known URL was built from).
*/
enum vmb_err vmb_oauth_metadata(struct vmb_request *req, json_object **doc,
                                const char **detail)
{
  json_object *servers, *scopes, *methods;
  const char *resource, *base;
  size_t plen = strlen(req->path), slen = strlen("/mcp/rpc");
  bool suffixed = plen >= slen && !strcmp(req->path + plen - slen, "/mcp/rpc");

  *doc = NULL;
  if(!conf.jwt_enabled) {
    *detail = "OAuth bearer tokens are not enabled on this server";
    return VMB_ERR_NOT_FOUND;
  }
  servers = json_object_new_array();
  if(!servers)
    return VMB_ERR_NOMEM;
  add_list(servers, conf.authorization_servers);
  /* An issuer that is a URL names its authorization server; a bare
     name ("mcp-auth", the default) names nothing a client can fetch. */
  if(!json_object_array_length(servers) && is_url(conf.issuer))
    add_list(servers, conf.issuer);
  if(!json_object_array_length(servers)) {
    /* RFC 9728 / MCP: the document MUST name an authorization server. */
    json_object_put(servers);
    vmb_log_server(VMB_LOG_WARN, "mcp", "protected-resource metadata requested but "
                   "OAUTH_AUTHORIZATION_SERVERS and JWT_ISSUER are empty");
    *detail = "no authorization server is configured";
    return VMB_ERR_NOT_FOUND;
  }
  base = public_base(req);
  if(is_url(conf.audience))
    resource = conf.audience;
  else
    resource = base ? vmb_arena_printf(req->arena, "%s%s", base, suffixed ? "/mcp/rpc" : "")
                    : NULL;
  if(!resource) {
    json_object_put(servers);
    return VMB_ERR_NOMEM;
  }
  *doc = json_object_new_object();
  if(!*doc) {
    json_object_put(servers);
    return VMB_ERR_NOMEM;
  }
  json_object_object_add(*doc, "resource", json_object_new_string(resource));
  json_object_object_add(*doc, "authorization_servers", servers);
  methods = json_object_new_array();
  json_object_array_add(methods, json_object_new_string("header"));
  json_object_object_add(*doc, "bearer_methods_supported", methods);
  scopes = vmb_scopes_to_json(VMB_SCOPES_DEFAULT | VMB_SCOPE_ADMIN);
  json_object_object_add(*doc, "scopes_supported", scopes);
  json_object_object_add(*doc, "resource_name", json_object_new_string("Vault MCP Bridge"));
  return VMB_ERR_OK;
}
