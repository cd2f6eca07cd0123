/*
** vault-sim SSH secrets engine (CONTRACT §9): OTP and CA roles, OTP
** credentials (leased, not renewable), a CA signing key, and OpenSSH
** certificates written in the wire format of PROTOCOL.certkeys and
** signed with OpenSSL, so `ssh-keygen -L` reads them and they verify
** against the CA public key.
*/
#include "sim.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ssh_role {
  char *key_type;
  char *default_user;
  char *cidr_list;
  char *exclude_cidr_list;
  char *allowed_users;
  char *allowed_domains;
  char *key_id_format;
  char *allowed_extensions;
  char *allowed_critical_options;
  char *algorithm_signer;
  int64_t port;
  int allow_user_certs, allow_host_certs, allow_user_key_ids;
  int allow_empty_principals, allow_bare_domains, allow_subdomains;
  int64_t ttl, max_ttl, not_before;
  json_object *default_extensions;       /* owned map or NULL */
  json_object *default_critical_options; /* owned map or NULL */
};

struct otp {
  char *username, *ip, *role;
};

struct ssh_state {
  struct smap *roles;
  struct smap *otps;
  EVP_PKEY *ca;
  char *ca_line; /* "type base64" */
};

static void role_free(void *p)
{
  struct ssh_role *r = p;
  if (!r)
    return;
  free(r->key_type);
  free(r->default_user);
  free(r->cidr_list);
  free(r->exclude_cidr_list);
  free(r->allowed_users);
  free(r->allowed_domains);
  free(r->key_id_format);
  free(r->allowed_extensions);
  free(r->allowed_critical_options);
  free(r->algorithm_signer);
  json_object_put(r->default_extensions);
  json_object_put(r->default_critical_options);
  free(r);
}

static void otp_free(void *p)
{
  struct otp *o = p;
  if (!o)
    return;
  free(o->username);
  free(o->ip);
  free(o->role);
  free(o);
}

static void *ssh_create(struct sim_mount *m)
{
  (void)m;
  struct ssh_state *s = xcalloc(1, sizeof *s);
  s->roles = smap_new(role_free);
  s->otps = smap_new(otp_free);
  return s;
}

static void ssh_destroy(void *p)
{
  struct ssh_state *s = p;
  if (!s)
    return;
  smap_free(s->roles);
  smap_free(s->otps);
  EVP_PKEY_free(s->ca);
  free(s->ca_line);
  free(s);
}

/* ---- SSH wire helpers ---------------------------------------------------------- */

static int bn_param(EVP_PKEY *pk, const char *name, struct sbuf *b)
{
  BIGNUM *bn = NULL;
  if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
    return -1;
  int n = BN_num_bytes(bn);
  unsigned char *buf = xcalloc((size_t)n + 1, 1);
  BN_bn2bin(bn, buf);
  int rc = sbuf_mpint(b, buf, (size_t)n);
  free(buf);
  BN_free(bn);
  return rc;
}

static const char *ec_ident(EVP_PKEY *pk)
{
  char g[64] = "";
  size_t gl = 0;
  if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, g,
                                     sizeof g, &gl) != 1)
    return NULL;
  if (strcmp(g, "prime256v1") == 0 || strcmp(g, "P-256") == 0)
    return "nistp256";
  if (strcmp(g, "secp384r1") == 0 || strcmp(g, "P-384") == 0)
    return "nistp384";
  if (strcmp(g, "secp521r1") == 0 || strcmp(g, "P-521") == 0)
    return "nistp521";
  return NULL;
}

/* Public key blob in SSH wire format; returns the key type name. */
static const char *pub_blob(EVP_PKEY *pk, struct sbuf *b)
{
  if (EVP_PKEY_is_a(pk, "ED25519")) {
    unsigned char raw[32];
    size_t rl = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pk, raw, &rl) != 1)
      return NULL;
    sbuf_str(b, "ssh-ed25519", 11);
    sbuf_str(b, raw, rl);
    return "ssh-ed25519";
  }
  if (EVP_PKEY_is_a(pk, "RSA")) {
    sbuf_str(b, "ssh-rsa", 7);
    if (bn_param(pk, OSSL_PKEY_PARAM_RSA_E, b) < 0 ||
        bn_param(pk, OSSL_PKEY_PARAM_RSA_N, b) < 0)
      return NULL;
    return "ssh-rsa";
  }
  if (EVP_PKEY_is_a(pk, "EC")) {
    const char *id = ec_ident(pk);
    if (!id)
      return NULL;
    unsigned char pt[160];
    size_t pl = 0;
    if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        pt, sizeof pt, &pl) != 1)
      return NULL;
    static char tname[32];
    snprintf(tname, sizeof tname, "ecdsa-sha2-%s", id);
    sbuf_str(b, tname, strlen(tname));
    sbuf_str(b, id, strlen(id));
    sbuf_str(b, pt, pl);
    return strcmp(id, "nistp256") == 0   ? "ecdsa-sha2-nistp256"
           : strcmp(id, "nistp384") == 0 ? "ecdsa-sha2-nistp384"
                                         : "ecdsa-sha2-nistp521";
  }
  return NULL;
}

static char *authorized_line(EVP_PKEY *pk)
{
  struct sbuf b = {0};
  const char *t = pub_blob(pk, &b);
  char *out = NULL;
  if (t) {
    char *enc = b64_std_encode(b.p, b.len);
    out = xasprintf("%s %s", t, enc);
    free(enc);
  }
  sbuf_free(&b);
  return out;
}

/* Reads an SSH "string" from a blob. */
static int rd_str(const unsigned char **p, size_t *n, const unsigned char **s,
                  size_t *sl)
{
  if (*n < 4)
    return -1;
  uint32_t l = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
               (uint32_t)(*p)[2] << 8 | (*p)[3];
  if (l > *n - 4)
    return -1;
  *s = *p + 4;
  *sl = l;
  *p += 4 + l;
  *n -= 4 + l;
  return 0;
}

/* A parsed subject key: its type, the whole blob, and the fields that
** follow the type string (copied into the certificate as-is). */
struct subject {
  char type[64];
  unsigned char *blob;
  size_t bloblen;
  const unsigned char *fields;
  size_t fieldlen;
  int bits;
};

static int parse_subject(const char *line, struct subject *sk, char **err)
{
  memset(sk, 0, sizeof *sk);
  while (*line == ' ' || *line == '\t')
    line++;
  const char *sp = strpbrk(line, " \t");
  if (!sp || (size_t)(sp - line) >= sizeof sk->type) {
    *err = xstrdup("ssh: no key found");
    return -1;
  }
  memcpy(sk->type, line, (size_t)(sp - line));
  sk->type[sp - line] = 0;
  while (*sp == ' ' || *sp == '\t')
    sp++;
  size_t bl = strcspn(sp, " \t\r\n");
  if (bl == 0 || b64_std_decode(sp, bl, &sk->blob, &sk->bloblen, NULL) < 0) {
    *err = xstrdup("ssh: no key found");
    return -1;
  }
  const unsigned char *p = sk->blob, *t;
  size_t n = sk->bloblen, tl;
  if (rd_str(&p, &n, &t, &tl) < 0 || tl != strlen(sk->type) ||
      memcmp(t, sk->type, tl) != 0) {
    *err = xstrdup("ssh: no key found");
    return -1;
  }
  sk->fields = p;
  sk->fieldlen = n;
  /* Validate the fields per type. */
  const unsigned char *a, *b2;
  size_t al, bl2;
  if (strcmp(sk->type, "ssh-ed25519") == 0) {
    if (rd_str(&p, &n, &a, &al) < 0 || al != 32 || n != 0)
      goto bad;
    sk->bits = 256;
  } else if (strcmp(sk->type, "ssh-rsa") == 0) {
    if (rd_str(&p, &n, &a, &al) < 0 || rd_str(&p, &n, &b2, &bl2) < 0 || n)
      goto bad;
    while (bl2 > 0 && b2[0] == 0) {
      b2++;
      bl2--;
    }
    sk->bits = (int)bl2 * 8;
  } else if (str_has_prefix(sk->type, "ecdsa-sha2-nistp")) {
    if (rd_str(&p, &n, &a, &al) < 0 || rd_str(&p, &n, &b2, &bl2) < 0 || n)
      goto bad;
    int64_t eb = 0;
    sk->bits = parse_int64(sk->type + 16, &eb) == 0 ? (int)eb : 0;
  } else {
    *err = xasprintf("ssh: unknown key algorithm: %s", sk->type);
    return -1;
  }
  return 0;
bad:
  *err = xstrdup("ssh: short read");
  return -1;
}

/* ---- IP and CIDR checks -------------------------------------------------------- */

static int parse_ip(const char *s, unsigned char out[16], int *v6)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, s, &a4) == 1) {
    memcpy(out, &a4, 4);
    *v6 = 0;
    return 0;
  }
  if (inet_pton(AF_INET6, s, &a6) == 1) {
    memcpy(out, &a6, 16);
    *v6 = 1;
    return 0;
  }
  return -1;
}

/* 1 if ip is inside cidr, 0 if not, -1 if cidr is malformed. */
static int cidr_contains(const char *cidr, const unsigned char ip[16], int v6)
{
  const char *slash = strchr(cidr, '/');
  if (!slash)
    return -1;
  char *net = xstrndup(cidr, (size_t)(slash - cidr));
  unsigned char n[16];
  int nv6;
  int64_t bits;
  int rc = parse_ip(net, n, &nv6);
  free(net);
  if (rc < 0 || parse_int64(slash + 1, &bits) < 0 || bits < 0 ||
      bits > (nv6 ? 128 : 32))
    return -1;
  if (nv6 != v6)
    return 0;
  for (int i = 0; i < bits; i++) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((n[byte] >> bit) & 1) != ((ip[byte] >> bit) & 1))
      return 0;
  }
  return 1;
}

static int cidr_list_ok(const char *list, char **err)
{
  struct strlist l = {0};
  strlist_split(&l, list ? list : "");
  unsigned char z[16] = {0};
  for (size_t i = 0; i < l.n; i++)
    if (cidr_contains(l.v[i], z, strchr(l.v[i], ':') != NULL) < 0) {
      *err = xasprintf("failed to validate cidr_list: invalid CIDR address: %s",
                       l.v[i]);
      strlist_free(&l);
      return 0;
    }
  strlist_free(&l);
  return 1;
}

static int list_contains_ip(const char *list, const unsigned char ip[16],
                            int v6)
{
  struct strlist l = {0};
  strlist_split(&l, list ? list : "");
  int hit = 0;
  for (size_t i = 0; i < l.n && !hit; i++)
    hit = cidr_contains(l.v[i], ip, v6) == 1;
  strlist_free(&l);
  return hit;
}

/* ---- CA ----------------------------------------------------------------------------- */

static void config_ca(struct ssh_state *s, struct sim_req *q,
                      struct sim_resp *r)
{
  static const char *const known[] = {"generate_signing_key", "key_type",
                                      "key_bits", "private_key",
                                      "public_key", "managed_key_name",
                                      "managed_key_id", NULL};
  q->known = known;
  if (q->op == SIM_OP_READ) {
    if (!s->ca) {
      resp_err(r, 400, "keys haven't been configured yet");
      return;
    }
    json_object *d = json_object_new_object();
    char *line = xasprintf("%s\n", s->ca_line);
    json_object_object_add(d, "public_key", json_object_new_string(line));
    free(line);
    resp_data(r, 200, d);
    return;
  }
  if (q->op == SIM_OP_DELETE) {
    EVP_PKEY_free(s->ca);
    s->ca = NULL;
    free(s->ca_line);
    s->ca_line = NULL;
    resp_nocontent(r);
    return;
  }
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  const char *priv = "", *type = "";
  req_str(q, "private_key", &priv);
  req_str(q, "key_type", &type);
  int gen = !*priv;
  if (req_bool(q, r, "generate_signing_key", gen, &gen) < 0)
    return;
  int64_t bits = 0;
  if (req_int(q, r, "key_bits", 0, &bits) < 0)
    return;
  if (s->ca) {
    resp_err(r, 400, "keys are already configured; delete them before "
                     "reconfiguring");
    return;
  }
  EVP_PKEY *pk = NULL;
  if (*priv) {
    BIO *b = BIO_new_mem_buf(priv, -1);
    pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!pk) {
      resp_err(r, 400, "failed to parse private_key: unsupported key format");
      return;
    }
  } else if (gen) {
    if (!*type || strcmp(type, "ssh-rsa") == 0 || strcmp(type, "rsa") == 0)
      pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
                             (size_t)(bits >= 2048 ? bits : 4096));
    else if (strcmp(type, "ssh-ed25519") == 0 || strcmp(type, "ed25519") == 0)
      pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else if (strcmp(type, "ec256") == 0 ||
             strcmp(type, "ecdsa-sha2-nistp256") == 0)
      pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(type, "ec384") == 0 ||
             strcmp(type, "ecdsa-sha2-nistp384") == 0)
      pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (strcmp(type, "ec521") == 0 ||
             strcmp(type, "ecdsa-sha2-nistp521") == 0)
      pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    else {
      resp_err(r, 400, "unknown key_type: %s", type);
      return;
    }
  } else {
    resp_err(r, 400, "missing private_key");
    return;
  }
  char *line = pk ? authorized_line(pk) : NULL;
  if (!line) {
    EVP_PKEY_free(pk);
    resp_multierr(r, 500, "internal error");
    return;
  }
  s->ca = pk;
  s->ca_line = line;
  json_object *d = json_object_new_object();
  char *l2 = xasprintf("%s\n", line);
  json_object_object_add(d, "public_key", json_object_new_string(l2));
  free(l2);
  resp_data(r, 200, d);
}

/* ---- roles ------------------------------------------------------------------------- */

static void set_str(struct sim_req *q, const char *name, char **dst)
{
  const char *v;
  if (req_str(q, name, &v) > 0) {
    free(*dst);
    *dst = xstrdup(v);
  }
}

static json_object *str_map(struct sim_req *q, struct sim_resp *r,
                            const char *name, int *bad)
{
  json_object *v = req_get(q, name);
  *bad = 0;
  if (!v || json_object_is_type(v, json_type_null))
    return NULL;
  if (!json_object_is_type(v, json_type_object)) {
    resp_err(r, 400, "error converting input for field \"%s\"", name);
    *bad = 1;
    return NULL;
  }
  json_object *o = json_object_new_object();
  json_object_object_foreach(v, k, val)
      json_object_object_add(o, k, json_object_new_string(json_as_str(val)));
  return o;
}

static void role_write(struct ssh_state *s, const char *name,
                       struct sim_req *q, struct sim_resp *r)
{
  q->known_all = 1;
  const char *kt = "";
  req_str(q, "key_type", &kt);
  if (!*kt) {
    resp_err(r, 400, "missing key type");
    return;
  }
  if (strcmp(kt, "otp") != 0 && strcmp(kt, "ca") != 0) {
    if (strcmp(kt, "dynamic") == 0)
      resp_err(r, 400, "dynamic key type roles are no longer supported");
    else
      resp_err(r, 400, "invalid key type");
    return;
  }
  struct ssh_role *ro = xcalloc(1, sizeof *ro);
  ro->key_type = xstrdup(kt);
  set_str(q, "default_user", &ro->default_user);
  set_str(q, "cidr_list", &ro->cidr_list);
  set_str(q, "exclude_cidr_list", &ro->exclude_cidr_list);
  set_str(q, "allowed_users", &ro->allowed_users);
  set_str(q, "allowed_domains", &ro->allowed_domains);
  set_str(q, "key_id_format", &ro->key_id_format);
  set_str(q, "allowed_extensions", &ro->allowed_extensions);
  set_str(q, "allowed_critical_options", &ro->allowed_critical_options);
  set_str(q, "algorithm_signer", &ro->algorithm_signer);
  int bad = 0;
  char *err = NULL;
  if (req_int(q, r, "port", 22, &ro->port) < 0 ||
      req_bool(q, r, "allow_user_certificates", 0, &ro->allow_user_certs) < 0 ||
      req_bool(q, r, "allow_host_certificates", 0, &ro->allow_host_certs) < 0 ||
      req_bool(q, r, "allow_user_key_ids", 0, &ro->allow_user_key_ids) < 0 ||
      req_bool(q, r, "allow_empty_principals", 0,
               &ro->allow_empty_principals) < 0 ||
      req_bool(q, r, "allow_bare_domains", 0, &ro->allow_bare_domains) < 0 ||
      req_bool(q, r, "allow_subdomains", 0, &ro->allow_subdomains) < 0 ||
      req_duration(q, r, "ttl", 0, &ro->ttl) < 0 ||
      req_duration(q, r, "max_ttl", 0, &ro->max_ttl) < 0 ||
      req_duration(q, r, "not_before_duration", 30, &ro->not_before) < 0)
    goto fail;
  ro->default_extensions = str_map(q, r, "default_extensions", &bad);
  if (bad)
    goto fail;
  ro->default_critical_options = str_map(q, r, "default_critical_options", &bad);
  if (bad)
    goto fail;
  if (strcmp(kt, "otp") == 0) {
    if (!ro->default_user || !*ro->default_user) {
      resp_err(r, 400, "missing default user");
      goto fail;
    }
    if (!cidr_list_ok(ro->cidr_list, &err) ||
        !cidr_list_ok(ro->exclude_cidr_list, &err)) {
      resp_err(r, 400, "%s", err);
      free(err);
      goto fail;
    }
  } else {
    if (ro->max_ttl > 0 && ro->ttl > ro->max_ttl) {
      resp_err(r, 400, "ttl cannot be longer than max_ttl");
      goto fail;
    }
    if (ro->algorithm_signer && *ro->algorithm_signer &&
        strcmp(ro->algorithm_signer, "default") != 0 &&
        strcmp(ro->algorithm_signer, "ssh-rsa") != 0 &&
        strcmp(ro->algorithm_signer, "rsa-sha2-256") != 0 &&
        strcmp(ro->algorithm_signer, "rsa-sha2-512") != 0) {
      resp_err(r, 400, "unknown algorithm signer %s", ro->algorithm_signer);
      goto fail;
    }
  }
  smap_put(s->roles, name, ro);
  resp_nocontent(r);
  return;
fail:
  role_free(ro);
}

#define S(x) json_object_new_string((x) ? (x) : "")

static json_object *role_json(const struct ssh_role *ro)
{
  json_object *d = json_object_new_object();
  if (strcmp(ro->key_type, "otp") == 0) {
    json_object_object_add(d, "allowed_users", S(ro->allowed_users));
    json_object_object_add(d, "cidr_list", S(ro->cidr_list));
    json_object_object_add(d, "default_user", S(ro->default_user));
    json_object_object_add(d, "exclude_cidr_list", S(ro->exclude_cidr_list));
    json_object_object_add(d, "key_type", S(ro->key_type));
    json_object_object_add(d, "port", json_object_new_int64(ro->port));
    return d;
  }
  json_object_object_add(d, "algorithm_signer",
                         S(ro->algorithm_signer && *ro->algorithm_signer
                               ? ro->algorithm_signer
                               : "default"));
  json_object_object_add(d, "allow_bare_domains",
                         json_object_new_boolean(ro->allow_bare_domains));
  json_object_object_add(d, "allow_empty_principals",
                         json_object_new_boolean(ro->allow_empty_principals));
  json_object_object_add(d, "allow_host_certificates",
                         json_object_new_boolean(ro->allow_host_certs));
  json_object_object_add(d, "allow_subdomains",
                         json_object_new_boolean(ro->allow_subdomains));
  json_object_object_add(d, "allow_user_certificates",
                         json_object_new_boolean(ro->allow_user_certs));
  json_object_object_add(d, "allow_user_key_ids",
                         json_object_new_boolean(ro->allow_user_key_ids));
  json_object_object_add(d, "allowed_critical_options",
                         S(ro->allowed_critical_options));
  json_object_object_add(d, "allowed_domains", S(ro->allowed_domains));
  json_object_object_add(d, "allowed_extensions", S(ro->allowed_extensions));
  json_object_object_add(d, "allowed_users", S(ro->allowed_users));
  json_object_object_add(d, "default_critical_options",
                         ro->default_critical_options
                             ? json_object_get(ro->default_critical_options)
                             : json_object_new_object());
  json_object_object_add(d, "default_extensions",
                         ro->default_extensions
                             ? json_object_get(ro->default_extensions)
                             : json_object_new_object());
  json_object_object_add(d, "default_user", S(ro->default_user));
  json_object_object_add(d, "key_id_format", S(ro->key_id_format));
  json_object_object_add(d, "key_type", S(ro->key_type));
  json_object_object_add(d, "max_ttl", json_object_new_int64(ro->max_ttl));
  json_object_object_add(d, "not_before_duration",
                         json_object_new_int64(ro->not_before));
  json_object_object_add(d, "ttl", json_object_new_int64(ro->ttl));
  return d;
}

/* ---- OTP ------------------------------------------------------------------------------ */

/* An OTP's lease: revoking it deletes the OTP, as Vault's
** secretOTPRevoke does, so an OTP of a revoked token no longer verifies.
** The mount is looked up again at revocation: it may be gone. */
struct otp_lease {
  char *mount;
  char key[37];
};

static void otp_lease_free(void *p)
{
  struct otp_lease *ol = p;
  free(ol->mount);
  OPENSSL_cleanse(ol->key, sizeof ol->key);
  free(ol);
}

static char *otp_lease_revoke(void *ud)
{
  struct otp_lease *ol = ud;
  const char *rest = NULL;
  struct sim_mount *m = sim_mount_find(ol->mount, &rest);
  if (m && m->be == &sim_backend_ssh && strcmp(m->path, ol->mount) == 0)
    smap_del(((struct ssh_state *)m->state)->otps, ol->key);
  return NULL;
}

static const struct sim_lease_hooks otp_hooks = {
    .revoke = otp_lease_revoke,
    .free_ud = otp_lease_free,
};

static const char *const k_creds[] = {"ip", "username", NULL};

static void creds(struct sim_mount *m, struct ssh_state *s, const char *name,
                  struct sim_req *q, struct sim_resp *r)
{
  const char *ipraw = "", *user = "";
  req_str(q, "ip", &ipraw);
  req_str(q, "username", &user);
  if (!*ipraw) {
    resp_err(r, 400, "Missing ip");
    return;
  }
  struct ssh_role *ro = smap_get(s->roles, name);
  if (!ro) {
    resp_err(r, 400, "Role \"%s\" not found", name);
    return;
  }
  if (!*user) {
    if (!ro->default_user || !*ro->default_user) {
      resp_err(r, 400, "No default username registered. Use 'username' "
                       "option");
      return;
    }
    user = ro->default_user;
  }
  if (ro->allowed_users && *ro->allowed_users) {
    struct strlist al = {0};
    strlist_split(&al, ro->allowed_users);
    int ok = strlist_has(&al, "*") || strlist_has(&al, user);
    strlist_free(&al);
    if (!ok && !(ro->default_user && strcmp(user, ro->default_user) == 0)) {
      resp_err(r, 400, "Username is not present is allowed users list");
      return;
    }
  } else if (!ro->default_user || strcmp(user, ro->default_user) != 0) {
    resp_err(r, 400, "Username has to be either in allowed users list or has "
                     "to be a default username");
    return;
  }
  unsigned char ip[16];
  int v6;
  if (parse_ip(ipraw, ip, &v6) < 0) {
    resp_err(r, 400, "Invalid IP \"%s\"", ipraw);
    return;
  }
  if (!ro->cidr_list || !*ro->cidr_list) {
    resp_err(r, 400, "Error validating IP: IP \"%s\" not found in role's "
                     "CIDR list", ipraw);
    return;
  }
  if (!list_contains_ip(ro->cidr_list, ip, v6) ||
      list_contains_ip(ro->exclude_cidr_list, ip, v6)) {
    resp_err(r, 400, "Error validating IP: IP does not belong to role");
    return;
  }
  if (strcmp(ro->key_type, "otp") != 0) {
    resp_err(r, 400, "key type unknown");
    return;
  }
  char key[37];
  make_uuid(key);
  struct otp *o = xcalloc(1, sizeof *o);
  o->username = xstrdup(user);
  o->ip = xstrdup(ipraw);
  o->role = xstrdup(name);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "ip", json_object_new_string(ipraw));
  json_object_object_add(d, "key", json_object_new_string(key));
  json_object_object_add(d, "key_type", json_object_new_string("otp"));
  json_object_object_add(d, "port", json_object_new_int64(ro->port));
  json_object_object_add(d, "username", json_object_new_string(user));
  smap_put(s->otps, key, o);
  resp_data(r, 200, d);
  struct otp_lease *ol = xcalloc(1, sizeof *ol);
  ol->mount = xstrdup(m->path);
  memcpy(ol->key, key, sizeof ol->key);
  sim_lease_issue(q, r, q->path, sim_mount_default_ttl(m), sim_mount_max_ttl(m),
                  0, &otp_hooks, ol);
}

static const char *const k_verify[] = {"otp", NULL};

static void verify_otp(struct ssh_state *s, struct sim_req *q,
                       struct sim_resp *r)
{
  const char *otp = "";
  req_str(q, "otp", &otp);
  if (!*otp) {
    resp_err(r, 400, "Missing otp");
    return;
  }
  if (strcmp(otp, "verify-echo-request") == 0) {
    /* vault-ssh-helper -verify-only checks its connection this way. */
    json_object *d = json_object_new_object();
    json_object_object_add(d, "message",
                           json_object_new_string("verify-echo-response"));
    resp_data(r, 200, d);
    return;
  }
  struct otp *o = smap_get(s->otps, otp);
  if (!o) {
    resp_err(r, 400, "OTP not found");
    return;
  }
  json_object *d = json_object_new_object();
  json_object_object_add(d, "ip", json_object_new_string(o->ip));
  json_object_object_add(d, "role_name", json_object_new_string(o->role));
  json_object_object_add(d, "username", json_object_new_string(o->username));
  smap_del(s->otps, otp);
  resp_data(r, 200, d);
}

/* ---- certificates ----------------------------------------------------------------------- */

/* Packs name/value pairs (sorted by name) as PROTOCOL.certkeys wants:
** flag options carry an empty data field, valued ones a nested string. */
static void pack_options(struct sbuf *out, json_object *opts)
{
  struct sbuf b = {0};
  if (opts) {
    size_t n = (size_t)json_object_object_length(opts), i = 0;
    const char **names = xcalloc(n + 1, sizeof *names);
    json_object_object_foreach(opts, k, v)
    {
      (void)v;
      names[i++] = k;
    }
    struct strlist l = {0};
    for (i = 0; i < n; i++)
      strlist_add(&l, names[i]);
    strlist_sort_uniq(&l);
    for (i = 0; i < l.n; i++) {
      json_object *ov = NULL;
      json_object_object_get_ex(opts, l.v[i], &ov);
      const char *val = json_as_str(ov);
      sbuf_str(&b, l.v[i], strlen(l.v[i]));
      if (*val) {
        struct sbuf inner = {0};
        sbuf_str(&inner, val, strlen(val));
        sbuf_str(&b, inner.p, inner.len);
        sbuf_free(&inner);
      } else {
        sbuf_str(&b, "", 0);
      }
    }
    strlist_free(&l);
    free(names);
  }
  sbuf_str(out, b.p ? b.p : (unsigned char *)"", b.len);
  sbuf_free(&b);
}

/* Signs data with the CA; appends the SSH signature blob to out. */
static int ca_sign(EVP_PKEY *ca, const char *signer, const unsigned char *data,
                   size_t len, struct sbuf *out)
{
  EVP_MD_CTX *mc = EVP_MD_CTX_new();
  unsigned char *sig = NULL;
  size_t sl = 0;
  const char *alg = NULL;
  const EVP_MD *md = NULL;
  int ok = 0;
  if (EVP_PKEY_is_a(ca, "ED25519")) {
    alg = "ssh-ed25519";
  } else if (EVP_PKEY_is_a(ca, "RSA")) {
    if (signer && strcmp(signer, "ssh-rsa") == 0) {
      alg = "ssh-rsa";
      md = EVP_sha1();
    } else if (signer && strcmp(signer, "rsa-sha2-512") == 0) {
      alg = "rsa-sha2-512";
      md = EVP_sha512();
    } else {
      alg = "rsa-sha2-256";
      md = EVP_sha256();
    }
  } else {
    const char *id = ec_ident(ca);
    alg = !id ? NULL
          : strcmp(id, "nistp256") == 0 ? "ecdsa-sha2-nistp256"
          : strcmp(id, "nistp384") == 0 ? "ecdsa-sha2-nistp384"
                                        : "ecdsa-sha2-nistp521";
    md = !id ? NULL
         : strcmp(id, "nistp256") == 0 ? EVP_sha256()
         : strcmp(id, "nistp384") == 0 ? EVP_sha384()
                                       : EVP_sha512();
  }
  if (!mc || !alg || EVP_DigestSignInit(mc, NULL, md, NULL, ca) != 1 ||
      EVP_DigestSign(mc, NULL, &sl, data, len) != 1)
    goto done;
  sig = xcalloc(sl + 1, 1);
  if (EVP_DigestSign(mc, sig, &sl, data, len) != 1)
    goto done;
  struct sbuf s = {0};
  sbuf_str(&s, alg, strlen(alg));
  if (EVP_PKEY_is_a(ca, "EC")) {
    /* SSH wants mpint r, mpint s instead of DER. */
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
    if (!es) {
      sbuf_free(&s);
      goto done;
    }
    struct sbuf rs = {0};
    unsigned char buf[80];
    int n = BN_bn2bin(ECDSA_SIG_get0_r(es), buf);
    sbuf_mpint(&rs, buf, (size_t)n);
    n = BN_bn2bin(ECDSA_SIG_get0_s(es), buf);
    sbuf_mpint(&rs, buf, (size_t)n);
    ECDSA_SIG_free(es);
    sbuf_str(&s, rs.p, rs.len);
    sbuf_free(&rs);
  } else {
    sbuf_str(&s, sig, sl);
  }
  sbuf_str(out, s.p, s.len);
  sbuf_free(&s);
  ok = 1;
done:
  EVP_MD_CTX_free(mc);
  free(sig);
  return ok ? 0 : -1;
}

/* Checks requested options against a role's allowed list. */
static int options_allowed(json_object *req, const char *allowed,
                           const char *what, struct sim_resp *r)
{
  if (!req || (allowed && strcmp(allowed, "*") == 0))
    return 1;
  struct strlist al = {0}, bad = {0};
  strlist_split(&al, allowed ? allowed : "");
  json_object_object_foreach(req, k, v)
  {
    (void)v;
    if (!strlist_has(&al, k))
      strlist_add(&bad, k);
  }
  strlist_free(&al);
  if (!bad.n)
    return 1;
  strlist_sort_uniq(&bad);
  char *j = strlist_join(&bad, " ");
  if (strcmp(what, "extensions") == 0)
    resp_err(r, 400, "extensions [%s] are not on allowed list", j);
  else
    resp_err(r, 400, "critical options not on allowed list: [%s]", j);
  free(j);
  strlist_free(&bad);
  return 0;
}

static const char *const k_sign[] = {
    "public_key", "cert_type", "valid_principals", "ttl", "key_id",
    "critical_options", "extensions", NULL};

static void sign(struct sim_mount *m, struct ssh_state *s, const char *name,
                 struct sim_req *q, struct sim_resp *r)
{
  struct subject sk;
  memset(&sk, 0, sizeof sk);
  json_object *ext = NULL, *crit = NULL;
  struct strlist princ = {0};
  struct sbuf cert = {0};
  struct ssh_role *ro = smap_get(s->roles, name);
  if (!ro || strcmp(ro->key_type, "ca") != 0) {
    resp_err(r, 400, "Unknown role: %s", name);
    return;
  }
  const char *pub = "", *ctype = "", *vp = "", *kid = "";
  req_str(q, "public_key", &pub);
  req_str(q, "cert_type", &ctype);
  req_str(q, "valid_principals", &vp);
  req_str(q, "key_id", &kid);
  if (!*pub) {
    resp_err(r, 400, "missing public_key");
    return;
  }
  char *err = NULL;
  if (parse_subject(pub, &sk, &err) < 0) {
    resp_err(r, 400, "failed to parse public_key as SSH key: %s", err);
    free(err);
    goto out;
  }
  if ((strcmp(sk.type, "ssh-rsa") == 0 && sk.bits < 2048)) {
    resp_err(r, 400, "public_key failed to meet the key requirements: key is "
                     "of an invalid size: %d", sk.bits);
    goto out;
  }
  if (!s->ca) {
    resp_err(r, 400, "failed to read CA public key: keys haven't been "
                     "configured yet");
    goto out;
  }
  int user = 1;
  if (!*ctype || strcmp(ctype, "user") == 0)
    user = 1;
  else if (strcmp(ctype, "host") == 0)
    user = 0;
  else {
    resp_err(r, 400, "cert_type must be either 'user' or 'host'");
    goto out;
  }
  if ((user && !ro->allow_user_certs) || (!user && !ro->allow_host_certs)) {
    resp_err(r, 400, "cert_type '%s' is not allowed by role",
             user ? "user" : "host");
    goto out;
  }
  if (*kid && !ro->allow_user_key_ids) {
    resp_err(r, 400, "setting key_id is not allowed by role");
    goto out;
  }
  strlist_split(&princ, vp);
  if (!princ.n && ro->default_user && *ro->default_user)
    strlist_add(&princ, ro->default_user);
  if (!princ.n && !ro->allow_empty_principals) {
    resp_err(r, 400, "refusing to issue unsafe, globally-valid certificate "
                     "with no principals specified; set valid_principals or "
                     "default_user");
    goto out;
  }
  const char *allowed = user ? ro->allowed_users : ro->allowed_domains;
  if (princ.n && !(allowed && strcmp(allowed, "*") == 0)) {
    struct strlist al = {0};
    strlist_split(&al, allowed ? allowed : "");
    if (!al.n) {
      strlist_free(&al);
      resp_err(r, 400, "role is not configured to allow any principals");
      goto out;
    }
    for (size_t i = 0; i < princ.n; i++) {
      int ok = strlist_has(&al, princ.v[i]);
      if (!user && !ok && ro->allow_subdomains)
        for (size_t k = 0; k < al.n && !ok; k++) {
          char *suf = xasprintf(".%s", al.v[k]);
          ok = str_has_suffix(princ.v[i], suf);
          free(suf);
        }
      if (!ok) {
        strlist_free(&al);
        resp_err(r, 400, "%s is not a valid value for valid_principals",
                 princ.v[i]);
        goto out;
      }
    }
    strlist_free(&al);
  }
  int64_t max = ro->max_ttl > 0 ? ro->max_ttl : sim_mount_max_ttl(m);
  int64_t ttl = 0;
  int set = req_duration(q, r, "ttl", 0, &ttl);
  if (set < 0)
    goto out;
  if (set > 0 && ttl > 0) {
    if (ttl > max) {
      resp_err(r, 400, "ttl is larger than maximum allowed %lld",
               (long long)max);
      goto out;
    }
  } else {
    ttl = ro->ttl > 0 ? ro->ttl : sim_mount_default_ttl(m);
    if (ttl > max)
      ttl = max;
  }
  int bad = 0;
  crit = str_map(q, r, "critical_options", &bad);
  if (bad)
    goto out;
  ext = str_map(q, r, "extensions", &bad);
  if (bad)
    goto out;
  if (crit && json_object_object_length(crit) &&
      !options_allowed(crit, ro->allowed_critical_options, "critical", r))
    goto out;
  if (ext && json_object_object_length(ext) &&
      !options_allowed(ext, ro->allowed_extensions, "extensions", r))
    goto out;
  if (!ext || !json_object_object_length(ext)) {
    json_object_put(ext);
    ext = ro->default_extensions ? json_object_get(ro->default_extensions)
                                 : NULL;
  }
  if (!crit || !json_object_object_length(crit)) {
    json_object_put(crit);
    crit = ro->default_critical_options
               ? json_object_get(ro->default_critical_options)
               : NULL;
  }

  /* Key id: explicit, templated, or vault-<display name>-<sha256>. */
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256(sk.blob, sk.bloblen, h);
  char *hx = hex_encode(h, sizeof h);
  const char *dn = q->token ? q->token->display_name : "";
  char *key_id;
  if (*kid) {
    key_id = xstrdup(kid);
  } else if (ro->key_id_format && *ro->key_id_format) {
    struct sbuf kb = {0};
    const char *p = ro->key_id_format;
    while (*p) {
      if (str_has_prefix(p, "{{token_display_name}}")) {
        sbuf_put(&kb, dn, strlen(dn));
        p += 22;
      } else if (str_has_prefix(p, "{{role_name}}")) {
        sbuf_put(&kb, name, strlen(name));
        p += 13;
      } else if (str_has_prefix(p, "{{public_key_hash}}")) {
        sbuf_put(&kb, hx, strlen(hx));
        p += 19;
      } else {
        sbuf_put(&kb, p++, 1);
      }
    }
    sbuf_put(&kb, "", 1);
    key_id = (char *)kb.p;
  } else {
    key_id = xasprintf("vault-%s-%s", dn, hx);
  }
  free(hx);

  uint64_t serial;
  rand_bytes((unsigned char *)&serial, sizeof serial);
  char *ctn = xasprintf("%s-cert-v01@openssh.com", sk.type);
  unsigned char nonce[32];
  rand_bytes(nonce, sizeof nonce);
  sbuf_str(&cert, ctn, strlen(ctn));
  sbuf_str(&cert, nonce, sizeof nonce);
  sbuf_put(&cert, sk.fields, sk.fieldlen);
  sbuf_u64(&cert, serial);
  sbuf_u32(&cert, user ? 1 : 2);
  sbuf_str(&cert, key_id, strlen(key_id));
  struct sbuf pb = {0};
  for (size_t i = 0; i < princ.n; i++)
    sbuf_str(&pb, princ.v[i], strlen(princ.v[i]));
  sbuf_str(&cert, pb.p ? pb.p : (unsigned char *)"", pb.len);
  sbuf_free(&pb);
  int64_t nb = ro->not_before;
  sbuf_u64(&cert, (uint64_t)(ts_sec(q->now) - nb));
  sbuf_u64(&cert, (uint64_t)(ts_sec(q->now) + ttl));
  pack_options(&cert, crit);
  pack_options(&cert, ext);
  sbuf_str(&cert, "", 0);
  struct sbuf cab = {0};
  pub_blob(s->ca, &cab);
  sbuf_str(&cert, cab.p, cab.len);
  sbuf_free(&cab);
  free(key_id);
  if (ca_sign(s->ca, ro->algorithm_signer, cert.p, cert.len, &cert) < 0) {
    free(ctn);
    resp_multierr(r, 500, "failed to sign certificate");
    goto out;
  }
  char *b64 = b64_std_encode(cert.p, cert.len);
  char *signed_key = xasprintf("%s %s\n", ctn, b64);
  free(b64);
  free(ctn);
  char serhex[24];
  snprintf(serhex, sizeof serhex, "%llx", (unsigned long long)serial);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "serial_number", json_object_new_string(serhex));
  json_object_object_add(d, "signed_key", json_object_new_string(signed_key));
  free(signed_key);
  resp_data(r, 200, d);
out:
  free(sk.blob);
  strlist_free(&princ);
  sbuf_free(&cert);
  json_object_put(ext);
  json_object_put(crit);
}

/* ---- routing ------------------------------------------------------------------------- */

static void p_config_ca(struct sim_call *c)
{
  config_ca(c->state, c->q, c->r);
}

static void p_public_key(struct sim_call *c)
{
  struct ssh_state *s = c->state;
  if (!s->ca) {
    resp_err_empty(c->r, 404);
    return;
  }
  resp_clear(c->r);
  c->r->status = 200;
  c->r->kind = RESP_TEXT;
  c->r->text = xasprintf("%s\n", s->ca_line);
}

static void p_roles_list(struct sim_call *c)
{
  struct ssh_state *s = c->state;
  size_t n = 0;
  const char **keys = smap_keys(s->roles, &n);
  if (!n) {
    free(keys);
    resp_err_empty(c->r, 404);
    return;
  }
  json_object *a = json_object_new_array(), *info = json_object_new_object();
  for (size_t i = 0; i < n; i++) {
    json_object_array_add(a, json_object_new_string(keys[i]));
    struct ssh_role *ro = smap_get(s->roles, keys[i]);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "key_type", S(ro->key_type));
    json_object_object_add(info, keys[i], e);
  }
  free(keys);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "key_info", info);
  json_object_object_add(d, "keys", a);
  resp_data(c->r, 200, d);
}

static void p_role(struct sim_call *c)
{
  struct ssh_state *s = c->state;
  const char *name = sim_cap(c, "role");
  struct ssh_role *ro = smap_get(s->roles, name);
  switch (c->q->op) {
  case SIM_OP_READ:
    if (ro)
      resp_data(c->r, 200, role_json(ro));
    else
      resp_err_empty(c->r, 404);
    break;
  case SIM_OP_DELETE:
    smap_del(s->roles, name);
    resp_nocontent(c->r);
    break;
  default:
    role_write(s, name, c->q, c->r);
  }
}

static void p_creds(struct sim_call *c)
{
  creds(c->m, c->state, sim_cap(c, "role"), c->q, c->r);
}

static void p_sign(struct sim_call *c)
{
  sign(c->m, c->state, sim_cap(c, "role"), c->q, c->r);
}

static void p_verify(struct sim_call *c)
{
  verify_otp(c->state, c->q, c->r);
}

/* builtin/logical/ssh/backend.go Paths; public_key and verify are its
** PathsSpecial.Unauthenticated. Role names follow
** framework.GenericNameWithAtRegex ({role@}: '@' allowed inside). */
static const struct sim_path ssh_paths[] = {
    {"config/ca", SIM_OPB_ALL, NULL, 0, p_config_ca, NULL, NULL, NULL},
    {"public_key", SIM_OPB_READ, NULL, SIM_PATH_UNAUTH, p_public_key, NULL,
     NULL, NULL},
    {"roles/?", SIM_OPB_LIST, NULL, 0, p_roles_list, NULL, NULL, NULL},
    {"roles/{role@}", SIM_OPB_READ | SIM_OPB_WRITE | SIM_OPB_DELETE, NULL,
     0, p_role, NULL, NULL, NULL},
    {"creds/{role@}", SIM_OPB_WRITE, k_creds, 0, p_creds, NULL, NULL, NULL},
    {"sign/{role@}", SIM_OPB_WRITE, k_sign, 0, p_sign, NULL, NULL, NULL},
    {"verify", SIM_OPB_WRITE, k_verify, SIM_PATH_UNAUTH, p_verify, NULL, NULL,
     NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_ssh = {
    .type = "ssh",
    .create = ssh_create,
    .destroy = ssh_destroy,
    .paths = ssh_paths,
};
