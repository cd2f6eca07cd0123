/*
** vault-sim: private header shared by the simulator's modules.
**
** The simulator is a stand-in for HashiCorp Vault CE that follows
** tests/data/vault-api/CONTRACT.md. It shares no code with the bridge.
**
** Threading: every module keeps its state in file-static variables that
** are only touched while the global lock (sim_lock) is held. The HTTP
** layer takes the lock once per request around the whole gate + handler,
** so handlers never lock themselves.
*/
#ifndef VAULTSIM_SIM_H
#define VAULTSIM_SIM_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIM_VERSION "1.17.2"
#define SIM_DEFAULT_TTL 2764800 /* 768h, Vault's system default */
#define SIM_MAX_TTL 2764800     /* 768h, Vault's system max */
#define SIM_MAX_BODY (32u * 1024u * 1024u)

/* Logical operations, as Vault's core names them (CONTRACT §1.1). */
enum sim_op {
  SIM_OP_READ,
  SIM_OP_LIST,
  SIM_OP_CREATE,
  SIM_OP_UPDATE,
  SIM_OP_DELETE,
  SIM_OP_PATCH
};

/* Capability bits (CONTRACT §5.1). */
enum {
  CAP_CREATE = 1 << 0,
  CAP_READ = 1 << 1,
  CAP_UPDATE = 1 << 2,
  CAP_PATCH = 1 << 3,
  CAP_DELETE = 1 << 4,
  CAP_LIST = 1 << 5,
  CAP_SUDO = 1 << 6,
  CAP_DENY = 1 << 7
};

/* ---- sim_util.c: strings, encodings, time, randomness ---------------- */

/* Growable byte buffer; sbuf_* return 0 on success, -1 on OOM/overflow. */
struct sbuf {
  unsigned char *p;
  size_t len;
  size_t cap;
};
int sbuf_put(struct sbuf *b, const void *p, size_t n);
int sbuf_u32(struct sbuf *b, uint32_t v);
int sbuf_u64(struct sbuf *b, uint64_t v);
int sbuf_str(struct sbuf *b, const void *p, size_t n); /* SSH "string" */
int sbuf_mpint(struct sbuf *b, const unsigned char *p, size_t n);
void sbuf_free(struct sbuf *b);

/* List of owned C strings. */
struct strlist {
  char **v;
  size_t n;
};
int strlist_add(struct strlist *l, const char *s);
int strlist_has(const struct strlist *l, const char *s);
void strlist_sort_uniq(struct strlist *l);
void strlist_free(struct strlist *l);
/* Splits on ',' and trims spaces; empty items are dropped. */
int strlist_split(struct strlist *l, const char *s);
char *strlist_join(const struct strlist *l, const char *sep); /* new */
json_object *strlist_json(const struct strlist *l);            /* new */

char *xstrdup(const char *s); /* aborts on OOM: the sim is a test tool */
char *xstrndup(const char *s, size_t n);
void *xcalloc(size_t n, size_t sz);
char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
int str_has_prefix(const char *s, const char *prefix);
int str_has_suffix(const char *s, const char *suffix);

/* Go encoding/base64 StdEncoding semantics (CONTRACT §7.12).
** Returns 0, or -1 with *bad set to the offset Go would report.
** *out is malloc'd (caller frees) and NUL-terminated for convenience. */
int b64_std_decode(const char *in, size_t inlen, unsigned char **out,
                   size_t *outlen, size_t *bad);
int b64_rawurl_decode(const char *in, size_t inlen, unsigned char **out,
                      size_t *outlen);
char *b64_std_encode(const unsigned char *p, size_t n);    /* new */
char *b64_rawurl_encode(const unsigned char *p, size_t n); /* new */
char *hex_encode(const unsigned char *p, size_t n);        /* new */

void rand_bytes(unsigned char *p, size_t n);
void rand_base62(char *out, size_t n); /* writes n chars + NUL */
void make_uuid(char out[37]);

/* Wall clock. */
struct timespec now_ts(void);
int64_t ts_sec(struct timespec t);
int ts_zero(struct timespec t);
int ts_before(struct timespec a, struct timespec b);
struct timespec ts_add(struct timespec t, int64_t secs);
/* RFC 3339 with Go's trimmed nanoseconds, UTC ("Z"). */
void fmt_rfc3339(struct timespec t, char out[40]);
/* Go time.Duration.String() for whole seconds ("0s", "1h2m3s"). */
void fmt_go_duration(int64_t secs, char out[40]);
/* parseutil.ParseDurationSecond: ints are seconds, strings may be
** "300", "1h30m", "10s", "2d". Returns 0 or -1. */
int parse_duration_str(const char *s, int64_t *secs);
int parse_duration_json(json_object *v, int64_t *secs);
/* strconv.ParseBool. Returns 0/1 or -1. */
int parse_go_bool(const char *s);
/* strtoll with full validation; returns 0 or -1. */
int parse_int64(const char *s, int64_t *out);

/* ---- sim_store.c: string-keyed hash map --------------------------- */
struct smap;
typedef void (*smap_free_fn)(void *);
struct smap *smap_new(smap_free_fn free_val);
void smap_free(struct smap *m);
void *smap_get(const struct smap *m, const char *key);
/* Inserts or replaces (the old value is freed). Key is copied. */
void smap_put(struct smap *m, const char *key, void *val);
/* Removes and frees; returns 1 if the key was present. */
int smap_del(struct smap *m, const char *key);
/* Removes without freeing the value, which is returned. */
void *smap_take(struct smap *m, const char *key);
size_t smap_count(const struct smap *m);
/* Sorted snapshot of the keys (borrowed pointers, valid until the
** map changes). The array is malloc'd; caller frees it. */
const char **smap_keys(const struct smap *m, size_t *n);

/* ---- sim_http.c: request and response model ------------------------- */
struct sim_token;

struct sim_req {
  enum sim_op op;
  char *path;          /* logical path after /v1/, owned */
  json_object *data;   /* request fields, owned, never NULL */
  const char *ctype;   /* Content-Type header or NULL */
  struct sim_token *token; /* borrowed, NULL on unauthenticated paths */
  int is_root;
  const char *mount_path; /* mount the request was routed to */
  struct timespec now;
  const char *const *known; /* fields the handler understands */
  int known_all;            /* handler accepts arbitrary fields */
  const char *client_token; /* X-Vault-Token / Bearer value or NULL */
  int64_t wrap_ttl;         /* X-Vault-Wrap-TTL in seconds, 0 = none */
};

struct sim_resp {
  int status;
  int kind; /* RESP_* */
  json_object *body;     /* RESP_RAW / RESP_ERROR: the whole body */
  json_object *data;     /* RESP_ENVELOPE */
  json_object *auth;     /* RESP_ENVELOPE */
  json_object *warnings; /* array or NULL */
  json_object *top;      /* extra top-level keys (legacy sys paths) */
  char *lease_id;
  int renewable;
  int64_t lease_duration;
  const char *mount_type;
  char *text; /* RESP_TEXT body */
  const char *text_type; /* RESP_TEXT Content-Type, NULL = text/plain */
  json_object *wrap_info; /* RESP_ENVELOPE wrap_info, NULL = null */
  int wrapped; /* envelope of a wrap: no request_id, not wrapped again */
};

enum { RESP_NONE, RESP_EMPTY, RESP_RAW, RESP_ERROR, RESP_ENVELOPE,
       RESP_TEXT };

void resp_init(struct sim_resp *r);
void resp_clear(struct sim_resp *r);
void resp_err(struct sim_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void resp_err_empty(struct sim_resp *r, int status);
/* Go multierror text: "1 error occurred:\n\t* msg\n\n". */
void resp_multierr(struct sim_resp *r, int status, const char *msg);
void resp_unsupported_path(struct sim_resp *r);
void resp_unsupported_op(struct sim_resp *r);
/* Envelope with data (stolen, may be NULL). */
void resp_data(struct sim_resp *r, int status, json_object *data);
void resp_nocontent(struct sim_resp *r);
void resp_raw(struct sim_resp *r, int status, json_object *body);
/* LIST answers ({"keys": [...]}, 404 when empty). resp_list_keys: every
** key of m. resp_list_children: one level below prefix, sub-folders as
** "name/" (Vault's storage List); m may be NULL; skip_self drops a key
** equal to the prefix. */
void resp_list_keys(struct sim_resp *r, const struct smap *m);
void resp_list_children(struct sim_resp *r, const struct smap *m,
                        const char *prefix, int skip_self);
void resp_warn(struct sim_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Serialises the response; *body is malloc'd (NULL for no body). */
void resp_render(struct sim_resp *r, const char *request_id, char **body,
                 size_t *len);

/* Field access on req->data. All return borrowed pointers. */
json_object *req_get(const struct sim_req *q, const char *name);
int req_has(const struct sim_req *q, const char *name);
/* The getters return 0 when absent (out = def), 1 when set, -1 when the
** value does not convert (the response is already filled with 400). */
int req_str(const struct sim_req *q, const char *name, const char **out);
int req_bool(const struct sim_req *q, struct sim_resp *r, const char *name,
             int def, int *out);
int req_int(const struct sim_req *q, struct sim_resp *r, const char *name,
            int64_t def, int64_t *out);
int req_duration(const struct sim_req *q, struct sim_resp *r,
                 const char *name, int64_t def, int64_t *out);
int req_strlist(const struct sim_req *q, struct sim_resp *r,
                const char *name, struct strlist *out);
/* A JSON value as a Go-ish string (numbers and bools converted). */
const char *json_as_str(json_object *v);
/* Adds "Endpoint ignored these unrecognized parameters" when due. */
void req_check_unknown(const struct sim_req *q, struct sim_resp *r);

/* ---- sim_path.c: per-engine path tables ------------------------------ */
/*
** Each engine declares its endpoints as a table of struct sim_path, in the
** spirit of Vault's sdk/framework.Path: a pattern, the operations it
** supports, the fields it knows, flags (token-free etc.) and a handler.
** The gate matches the table once per request and answers 404
** "unsupported path" when nothing matches and 405 "unsupported operation"
** when the operation is not in the row's set, as framework.Backend does.
**
** Pattern syntax (matched against the path below the mount, anchored at
** both ends; no regex engine, so matching stays cheap):
**   literal text        must match exactly
**   X?                  the character X is optional (e.g. "roles/?")
**   {n}                 Vault's GenericNameRegex: \w([\w.-]*\w)?
**   {n@}                GenericNameWithAtRegex (also '@' inside)
**   {n:seg}             one non-empty segment without '/'
**   {n:any}             the rest of the path, possibly empty, '/' allowed
**   {n:rest}            the rest of the path, non-empty
**   {n:opt}             OptionalParamRegex: nothing, or "/" + non-empty
**                       rest (the capture is the part after the '/')
** A row with .sub set matches its pattern as a literal prefix and goes
** on matching the remainder against the sub-table (used by sys/ to
** mount the tables of sim_acl.c and sim_lease.c).
*/
enum {
  SIM_OPB_READ = 1u << SIM_OP_READ,
  SIM_OPB_LIST = 1u << SIM_OP_LIST,
  SIM_OPB_CREATE = 1u << SIM_OP_CREATE,
  SIM_OPB_UPDATE = 1u << SIM_OP_UPDATE,
  SIM_OPB_DELETE = 1u << SIM_OP_DELETE,
  SIM_OPB_PATCH = 1u << SIM_OP_PATCH
};
#define SIM_OPB_WRITE (SIM_OPB_CREATE | SIM_OPB_UPDATE)
#define SIM_OPB_ALL 0x3fu

enum {
  /* No token needed (logical.Paths.Unauthenticated). */
  SIM_PATH_UNAUTH = 1u << 0,
  /* Any field is accepted (framework.Path.TakesArbitraryInput). */
  SIM_PATH_ANY_FIELDS = 1u << 1,
  /* Answered before the seal check and body parsing, like the sys
  ** handlers Vault's http/handler.go serves itself (health, seal-status).
  ** The handler gets the method and the query; it returns 0 to decline,
  ** after which the request is routed as if nothing matched. */
  SIM_PATH_RAW = 1u << 2,
  /* Served while sealed (sys/unseal). */
  SIM_PATH_SEALED = 1u << 3,
  /* sys/wrapping/{lookup,unwrap,rewrap}: the wrapping token is validated
  ** before the token and ACL checks (sim_wrap_validate). */
  SIM_PATH_WRAPPING = 1u << 4
};

#define SIM_MAX_CAPS 4
struct sim_mount;
struct sim_call;
struct sim_path {
  const char *pattern;
  unsigned ops;                /* SIM_OPB_* */
  const char *const *fields;   /* known fields, NULL: handler decides */
  unsigned flags;              /* SIM_PATH_* */
  void (*handler)(struct sim_call *c);
  /* Existence check for writes (framework.Path.ExistenceCheck):
  ** 1 exists (update), 0 absent (create). NULL: always update. */
  int (*exists)(struct sim_call *c);
  /* RAW rows: returns 1 when answered, 0 to decline. */
  int (*raw)(struct sim_call *c);
  const struct sim_path *sub; /* prefix row: nested table */
};
#define SIM_PATH_END {NULL, 0, NULL, 0, NULL, NULL, NULL, NULL}

/* One matched request: everything a handler needs. */
struct sim_call {
  struct sim_mount *m;
  void *state; /* m->state */
  struct sim_req *q;
  struct sim_resp *r;
  const struct sim_path *path; /* matched row or NULL */
  const char *rest;            /* path below the mount */
  size_t ncap;
  struct {
    const char *name; /* points into the pattern, not terminated */
    size_t name_len;
    char *val; /* owned */
  } cap[SIM_MAX_CAPS];
  /* RAW rows only. */
  const char *method;
  const char *(*query)(const char *name, void *ud);
  void *ud;
};

/* Matches rest against table; fills c->path and the captures. */
const struct sim_path *sim_path_match(const struct sim_path *table,
                                      const char *rest, struct sim_call *c);
/* A capture by name, "" when absent (borrowed). */
const char *sim_cap(const struct sim_call *c, const char *name);
void sim_call_clear(struct sim_call *c);
/* Runs the matched row: 405 when the op is not supported, else sets the
** known fields and calls the handler. */
void sim_path_dispatch(struct sim_call *c);

/* ---- mounts and backends (sim_sys.c) --------------------------------- */

/* One secrets engine or auth method implementation (CONVENTIONS P3). */
struct sim_backend {
  const char *type;
  /* Allocates the per-mount state; NULL on failure. */
  void *(*create)(struct sim_mount *m);
  void (*destroy)(void *state);
  const struct sim_path *paths;
  /* Answer when no row matches; NULL: 404 "unsupported path". */
  void (*nomatch)(struct sim_call *c);
};

struct sim_mount {
  char *path; /* "secret/", "auth/approle/" */
  char *type;
  char *description;
  char accessor[64];
  char uuid[37];
  int kv_version;
  int64_t default_ttl; /* 0 = system */
  int64_t max_ttl;
  int builtin;
  json_object *options; /* owned, may be NULL */
  const struct sim_backend *be;
  void *state;
};

extern const struct sim_backend sim_backend_kv;
extern const struct sim_backend sim_backend_kv1;
extern const struct sim_backend sim_backend_transit;
extern const struct sim_backend sim_backend_database;
extern const struct sim_backend sim_backend_ssh;
extern const struct sim_backend sim_backend_approle;
extern const struct sim_backend sim_backend_token;
extern const struct sim_backend sim_backend_system;
extern const struct sim_backend sim_backend_stub;

void sim_sys_init(void);
/* --database-plugins real: the PostgreSQL plugin talks to real servers
** (sim_pg.c); otherwise database configs are stored only. */
void sim_database_set_real(int on);
int sim_sys_sealed(void);
void sim_sys_set_unseal_key(const char *b64);
/* Longest-prefix mount lookup; *rest points into path. */
struct sim_mount *sim_mount_find(const char *path, const char **rest);
int64_t sim_mount_default_ttl(const struct sim_mount *m);
int64_t sim_mount_max_ttl(const struct sim_mount *m);
/* ---- sim_acl.c ---------------------------------------------------- */
void sim_acl_init(void);
/* Capabilities a policy set grants on path (CONTRACT §5.2). */
unsigned sim_acl_caps(const struct strlist *policies, const char *path,
                      int is_list);
int sim_acl_policy_exists(const char *name);
/* Returns 1 if op is allowed on path for the token's policies. */
int sim_acl_allows(const struct strlist *policies, const char *path,
                   enum sim_op op);
int sim_acl_needs_sudo(const char *path);
/* Any capability at or below a mount path (hasMountAccess). */
int sim_acl_mount_access(const struct strlist *policies, const char *mount);
/* sys/policies/acl and the legacy sys/policy (rows for sys/'s table). */
extern const struct sim_path sim_acl_paths[];

/* ---- sim_token.c --------------------------------------------------- */
struct sim_token {
  char *id;
  char accessor[32];
  char *parent; /* NULL for orphans */
  struct strlist policies;
  json_object *meta; /* owned object or NULL */
  char *display_name;
  char *path;
  char entity_id[37];
  struct timespec issue;
  struct timespec expire; /* zero = never */
  struct timespec last_renewal;
  int64_t creation_ttl;
  int64_t explicit_max_ttl;
  int64_t max_ttl; /* role/mount max TTL for renewals, 0 = system max */
  int64_t period;
  int64_t num_uses; /* 0 unlimited, -1 = spent, revoke after request */
  int renewable;
  int orphan;
  int is_root;
  char *role_name; /* approle role for renewal checks, or NULL */
};

void sim_token_init(const char *root_id);
/* Looks up a live token (expired ones and their subtrees are revoked
** on the way). Borrowed pointer. */
struct sim_token *sim_token_lookup(const char *id, struct timespec now);
void sim_token_revoke_tree(const char *id);
/* The live token behind an accessor, or NULL. Borrowed. */
struct sim_token *sim_token_by_accessor(const char *accessor,
                                        struct timespec now);
/* Revokes expired tokens (with their leases); one pass per second. */
void sim_token_sweep(struct timespec now);
/* Creates an orphan token for an auth method login; fills r->auth. */
struct sim_token *sim_token_issue_login(struct sim_req *q,
                                        struct sim_resp *r,
                                        const struct strlist *policies,
                                        int no_default, int64_t ttl,
                                        int64_t max_ttl,
                                        int64_t explicit_max,
                                        int64_t num_uses, int64_t period,
                                        const char *display_name,
                                        json_object *meta,
                                        const char *path,
                                        const char *role_name);
json_object *sim_token_auth_json(const struct sim_token *t,
                                 int64_t lease_duration);
int64_t sim_token_ttl_left(const struct sim_token *t, struct timespec now);

/* Issues a response-wrapping token (see sim_wrap.c). Borrowed. */
struct sim_token *sim_token_issue_wrapping(int64_t ttl, const char *path,
                                           struct timespec now);

/* ---- sim_cubby.c: per-token storage (the cubbyhole engine) ---------- */
#define SIM_WRAP_POLICY "response-wrapping"
/* Stores data (stolen) at path in the token's cubbyhole. */
void sim_cubby_put(const char *token_id, const char *path, json_object *data);
json_object *sim_cubby_get(const char *token_id, const char *path); /* borr. */
/* Drops a token's whole cubbyhole (on revocation and expiry). */
void sim_cubby_drop(const char *token_id);
extern const struct sim_backend sim_backend_cubbyhole;

/* ---- sim_wrap.c: response wrapping (vault/wrapping.go) ------------------ */
/* The X-Vault-Wrap-TTL header as http/handler.go requestWrapInfo parses
** it: 0 (no wrapping) or seconds; -1 with r filled (400) on a bad value. */
int sim_wrap_parse_ttl(const char *hdr, struct sim_resp *r, int64_t *ttl);
/* The wrapping-token check Vault's request_handling.go runs for
** sys/wrapping/{lookup,unwrap,rewrap} before the token and ACL checks.
** Returns 0 to go on, -1 with r filled. */
int sim_wrap_validate(struct sim_req *q, struct sim_resp *r);
/* Wraps a finished response when q->wrap_ttl asks for it. request_id is
** the id the original envelope carries inside the wrap. */
void sim_wrap_response(struct sim_req *q, struct sim_resp *r,
                       const char *request_id);
/* Rows of sys/'s table: sys/wrapping/{wrap,unwrap,lookup,rewrap}. */
extern const struct sim_path sim_wrap_paths[];

/* ---- sim_approle.c ------------------------------------------------- */
/* NULL when a token issued for role may be renewed, else the reason. */
const char *sim_approle_renew_check(const char *role,
                                    const struct strlist *policies);

/* ---- sim_lease.c --------------------------------------------------- */
struct sim_lease;
/* What an engine does when one of its leases ends or is renewed. The
** revoke and renew hooks return NULL on success or a malloc'd error text
** (no secrets in it); free_ud releases ud when the lease goes away. */
struct sim_lease_hooks {
  char *(*revoke)(void *ud);
  char *(*renew)(void *ud, struct timespec new_expire);
  void (*free_ud)(void *ud);
};
/* Registers a lease for a secret; fills r->lease_* fields. hooks (static
** storage, may be NULL) and ud (owned by the lease from here on). */
void sim_lease_issue(struct sim_req *q, struct sim_resp *r,
                     const char *path, int64_t ttl, int64_t max_ttl,
                     int renewable, const struct sim_lease_hooks *hooks,
                     void *ud);
void sim_lease_revoke_by_token(const char *token_id);
/* Revokes now; a failed revoke hook keeps the lease (retried by the
** sweep) and its error is returned (caller frees), else NULL. */
char *sim_lease_revoke_err(const char *id);
void sim_lease_revoke(const char *id); /* the same, error dropped */
/* Revokes every lease whose id starts with prefix (a mount path on
** unmount); returns how many could not be revoked. */
int sim_lease_revoke_prefix(const char *prefix);
/* Revokes expired leases; at most one pass per second. */
void sim_lease_sweep(struct timespec now);
/* Rows below sys/leases/, and sys/renew + sys/revoke below sys/. */
extern const struct sim_path sim_lease_paths[];
extern const struct sim_path sim_lease_legacy_paths[];

/* ---- sim_pg.c: PostgreSQL through libpq (issue 20) ------------------- */
/* Where the database engine connects: connection_url may hold
** {{username}} and {{password}}, filled from the other two fields. */
struct sim_pg_target {
  const char *connection_url;
  const char *username;
  const char *password;
};
/* Each returns NULL on success or a malloc'd error text (caller frees)
** from which the passwords involved are scrubbed. All block for at most
** the 5 s connect timeout plus the statements' run time. */
char *sim_pg_verify(const struct sim_pg_target *t);
/* Vault's NewUser: creation statements with {{name}}, {{username}},
** {{password}}, {{expiration}}; "empty creation statements" if none. */
char *sim_pg_new_user(const struct sim_pg_target *t,
                      const struct strlist *creation, const char *name,
                      const char *password, const char *expiration);
/* UpdateUser(expiration): renew statements or ALTER ROLE .. VALID UNTIL. */
char *sim_pg_update_expiration(const struct sim_pg_target *t,
                               const struct strlist *renew, const char *name,
                               const char *expiration);
/* UpdateUser(password): given statements or ALTER ROLE .. WITH PASSWORD. */
char *sim_pg_change_password(const struct sim_pg_target *t,
                             const struct strlist *stmts, const char *name,
                             const char *password);
/* DeleteUser: revocation statements or Vault's default revocation
** (revoke schema privileges and CONNECT, then DROP ROLE IF EXISTS). */
char *sim_pg_delete_user(const struct sim_pg_target *t,
                         const struct strlist *revocation, const char *name);
/* {{expiration}} in the plugin's layout, "2006-01-02 15:04:05-0700". */
void sim_pg_expiration(struct timespec t, char out[40]);

/* ---- sim_transit.c ------------------------------------------------- */
/* sys/tools/random and sys/tools/hash share transit's code. urlrest is
** the part of the URL after "random/" (may be ""), urlalg the one after
** "hash/". */
void sim_tools_random(const char *urlrest, struct sim_req *q,
                      struct sim_resp *r);
void sim_tools_hash(const char *urlalg, struct sim_req *q,
                    struct sim_resp *r);

#endif
