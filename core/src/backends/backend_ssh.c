/*
** backend_ssh.c - SSH secrets: one-time passwords and signed
** certificates (SPEC section 4; CONTRACT section 9).
**
** Both operations hand the agent a credential (the OTP, the signed key),
** so neither may appear in a log: responses.log gets the role, the
** target address and user, the certificate serial and the principal
** count only.
*/
#include <arpa/inet.h>
#include <string.h>

#include "backend.h"
#include "backends.h"
#include "vmb/arena.h"

/* The settings this backend reads, taken at start-up (vmb_ssh_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *mount;                 /* SSH_MOUNT */
} conf;

int vmb_ssh_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.mount = cfg->ssh_mount;
  return 0;
}

#define MAX_PRINCIPALS 64

/* A login name or principal: printable, no separators Vault splits on
   (comma) and no whitespace, 1..256 characters. */
static bool principal_ok(const char *s)
{
  size_t i, n = s ? strlen(s) : 0;
  if(n < 1 || n > 256)
    return false;
  for(i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if(ch <= 0x20 || ch == 0x7f || ch == ',')
      return false;
  }
  return true;
}

static const char *checked_role(struct vmb_call *c)
{
  return vmb_checked_name(c, "role");
}

/*
** OTP: POST {mount}/creds/<role> {ip, username}. Vault takes the port
** from the role and ignores one in the request (CONTRACT 9.1), so the
** optional 'port' argument is not forwarded: when it differs from the
** role's port the answer says so in 'warnings' instead of pretending
** the OTP is for the requested port.
*/
enum vmb_err vmb_h_ssh_otp(struct vmb_call *c)
{
  static const char *const out[] = {"key", "key_type", "ip", "username", "port", NULL};
  const char *role = checked_role(c), *ip = vmb_arg_str(c, "ip"),
             *user = vmb_arg_str(c, "username"), *path;
  int64_t want_port = vmb_arg_int(c, "port", 0);
  unsigned char addr[16];
  struct vmb_vault_reply r;
  json_object *body, *data, *v;
  const char *const *k;
  enum vmb_err e;

  if(!role)
    return VMB_ERR_BAD_REQUEST;
  if(!ip || (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)) {
    c->detail = "field 'ip' must be an IPv4 or IPv6 address";
    return VMB_ERR_BAD_REQUEST;
  }
  if(user && !principal_ok(user)) {
    c->detail = "field 'username' must be 1 to 256 printable characters "
                "without spaces or commas";
    return VMB_ERR_BAD_REQUEST;
  }
  json_object_object_add(c->log_fields, "ip", json_object_new_string(ip));
  if(user)
    json_object_object_add(c->log_fields, "username", json_object_new_string(user));
  path = vmb_arena_printf(c->req->arena, "%s/creds/%s", conf.mount, role);
  body = json_object_new_object();
  if(!path || !body) {
    json_object_put(body);
    return VMB_ERR_NOMEM;
  }
  json_object_object_add(body, "ip", json_object_new_string(ip));
  if(user)
    json_object_object_add(body, "username", json_object_new_string(user));
  e = vmb_backend_vault(c, "ssh.otp", "POST", path, body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  data = vmb_reply_data(&r);
  if(!data || !json_object_object_get_ex(data, "key", &v) ||
     !json_object_is_type(v, json_type_string)) {
    c->detail = "Vault's answer lacks the one-time password";
    return VMB_ERR_VAULT_ERROR;
  }
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  for(k = out; *k; k++)
    vmb_json_copy(c->result, data, *k);
  if(want_port > 0 && json_object_object_get_ex(data, "port", &v) &&
     json_object_get_int64(v) != want_port) {
    json_object *w = json_object_new_array();
    json_object_array_add(w, json_object_new_string(vmb_arena_printf(
      c->req->arena, "the role fixes the port at %lld; the requested port %lld was not used",
      (long long)json_object_get_int64(v), (long long)want_port)));
    json_object_object_add(c->result, "warnings", w);
  }
  return VMB_ERR_OK;
}

/*
** valid_principals arrives as one comma-separated string or an array;
** Vault wants the string. Each entry is checked so an array element
** cannot smuggle in extra principals with a comma.
*/
static const char *principals_text(struct vmb_call *c, int *count)
{
  json_object *v = vmb_arg(c, "valid_principals");
  const char *out = "";
  size_t i, n;
  *count = 0;
  if(!v)
    return NULL;
  if(json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v), *p = s;
    if(!*s)
      return "";
    /* Split on commas only to check each entry. */
    while(p) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char *one = vmb_arena_strndup(c->req->arena, p, len);
      if(!one || !principal_ok(one) || ++*count > MAX_PRINCIPALS)
        return NULL;
      p = comma ? comma + 1 : NULL;
    }
    return s;
  }
  n = json_object_array_length(v);
  if(n > MAX_PRINCIPALS)
    return NULL;
  for(i = 0; i < n; i++) {
    const char *one = json_object_get_string(json_object_array_get_idx(v, i));
    if(!principal_ok(one))
      return NULL;
    out = i ? vmb_arena_printf(c->req->arena, "%s,%s", out, one)
            : vmb_arena_strdup(c->req->arena, one);
    if(!out)
      return NULL;
    ++*count;
  }
  return out;
}

/* A TTL Vault understands: whole seconds, or a number with s, m or h. */
static bool ttl_ok(const char *s)
{
  size_t i, n = strlen(s);
  if(n < 1 || n > 16)
    return false;
  for(i = 0; i < n; i++)
    if(!(s[i] >= '0' && s[i] <= '9'))
      break;
  if(i == 0)
    return false;
  return i == n || (i == n - 1 && (s[i] == 's' || s[i] == 'm' || s[i] == 'h'));
}

enum vmb_err vmb_h_ssh_sign(struct vmb_call *c)
{
  const char *role = checked_role(c), *path, *principals, *ttl = vmb_arg_str(c, "ttl"),
             *key_id = vmb_arg_str(c, "key_id"), *cert_type = vmb_arg_str(c, "cert_type");
  const char *pub = vmb_arg_str(c, "public_key");
  struct vmb_vault_reply r;
  json_object *body, *data, *signed_key = NULL, *serial = NULL;
  int count = 0;
  enum vmb_err e;
  size_t i;

  if(!role)
    return VMB_ERR_BAD_REQUEST;
  /* `cat key.pub` ends in a newline: trailing white space is dropped, as
     Vault itself does, before the one-line check. */
  {
    size_t n = strlen(pub);
    while(n && (pub[n - 1] == '\n' || pub[n - 1] == '\r' || pub[n - 1] == ' ' ||
                pub[n - 1] == '\t'))
      n--;
    pub = vmb_arena_strndup(c->req->arena, pub, n);
    if(!pub)
      return VMB_ERR_NOMEM;
    if(n == 0) {
      c->detail = "field 'public_key' must be one line of OpenSSH public key text";
      return VMB_ERR_BAD_REQUEST;
    }
  }
  /* One authorized_keys line: no control characters (a newline would let
     a second key ride along). */
  for(i = 0; pub[i]; i++)
    if((unsigned char)pub[i] < 0x20 || pub[i] == 0x7f) {
      c->detail = "field 'public_key' must be one line of OpenSSH public key text";
      return VMB_ERR_BAD_REQUEST;
    }
  principals = principals_text(c, &count);
  if(vmb_arg(c, "valid_principals") && !principals) {
    c->detail = "field 'valid_principals' must list up to 64 names without spaces, "
                "separated by commas";
    return VMB_ERR_BAD_REQUEST;
  }
  if(ttl && !ttl_ok(ttl)) {
    c->detail = "field 'ttl' must be seconds or a number followed by s, m or h";
    return VMB_ERR_BAD_REQUEST;
  }
  if(key_id && !principal_ok(key_id)) {
    c->detail = "field 'key_id' must be 1 to 256 printable characters without spaces "
                "or commas";
    return VMB_ERR_BAD_REQUEST;
  }
  if(cert_type)
    json_object_object_add(c->log_fields, "cert_type", json_object_new_string(cert_type));
  json_object_object_add(c->log_fields, "principals", json_object_new_int(count));
  path = vmb_arena_printf(c->req->arena, "%s/sign/%s", conf.mount, role);
  body = json_object_new_object();
  if(!path || !body) {
    json_object_put(body);
    return VMB_ERR_NOMEM;
  }
  json_object_object_add(body, "public_key", json_object_new_string(pub));
  if(cert_type)
    json_object_object_add(body, "cert_type", json_object_new_string(cert_type));
  if(principals)
    json_object_object_add(body, "valid_principals", json_object_new_string(principals));
  if(ttl)
    json_object_object_add(body, "ttl", json_object_new_string(ttl));
  if(key_id)
    json_object_object_add(body, "key_id", json_object_new_string(key_id));
  e = vmb_backend_vault(c, "ssh.sign", "POST", path, body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  data = vmb_reply_data(&r);
  if(!data || !json_object_object_get_ex(data, "signed_key", &signed_key) ||
     !json_object_is_type(signed_key, json_type_string)) {
    c->detail = "Vault's answer lacks the signed key";
    return VMB_ERR_VAULT_ERROR;
  }
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  json_object_object_add(c->result, "signed_key", json_object_get(signed_key));
  if(json_object_object_get_ex(data, "serial_number", &serial)) {
    json_object_object_add(c->result, "serial_number", json_object_get(serial));
    json_object_object_add(c->log_fields, "serial_number", json_object_get(serial));
  }
  return VMB_ERR_OK;
}
