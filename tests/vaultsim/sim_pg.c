/*
** vault-sim: the PostgreSQL side of the database engine (issue 20).
**
** What Vault's postgresql-database-plugin does against a live server,
** through libpq: verify a connection, create a user from the role's
** creation statements, extend its expiration on renewal, change a
** password (rotate-root) and drop the user on revocation, with Vault's
** default revocation when the role has no revocation statements.
**
** Statement handling follows Vault (sdk dbtxn and strutil):
**   - each element of a statement list is parsed like
**     strutil.ParseArbitraryStringSlice: base64 is decoded, a JSON array
**     of strings is taken as is, anything else is split on ';';
**   - creation statements that contain the word END outside quotes are
**     run whole (a DO block or a function body), as the plugin does;
**   - {{name}}, {{username}}, {{password}} and {{expiration}} are
**     replaced as plain text, no quoting (Vault's behaviour: generated
**     names and passwords hold no quote characters);
**   - the statements of one call run in one transaction.
**
** One connection per call, closed at the end (Vault keeps a pool; a
** connection per call keeps the simulator stateless towards the server
** and costs a few milliseconds on loopback). connect_timeout is 5 s so a
** dead server cannot hold the simulator's global lock for long.
**
** Every error text handed back has the connection password and any
** generated password replaced by "[password]" (Vault's plugin does this
** for the root password through its error sanitizer middleware).
** Ownership: every char * returned is malloc'd and owned by the caller.
*/
#include "sim.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Secrets to scrub from error texts: up to three, NULL-terminated. */
struct secrets {
  const char *v[4];
};

/* Returns a copy of s with every occurrence of each secret replaced. */
static char *scrub(const char *s, const struct secrets *sec)
{
  char *out = xstrdup(s);
  for (int i = 0; sec && sec->v[i]; i++) {
    const char *pw = sec->v[i];
    size_t pl = strlen(pw);
    if (pl < 4)
      continue; /* too short to be a password worth hiding */
    struct sbuf b = {0};
    const char *p = out, *hit;
    while ((hit = strstr(p, pw)) != NULL) {
      sbuf_put(&b, p, (size_t)(hit - p));
      sbuf_put(&b, "[password]", 10);
      p = hit + pl;
    }
    sbuf_put(&b, p, strlen(p) + 1);
    free(out);
    out = (char *)b.p;
  }
  return out;
}

/* Replaces "{{key}}" by value for each pair (k1, v1, ..., NULL), like
** Vault's dbtxn parseQuery. New string. */
static char *subst(const char *tpl, const char *const *pairs)
{
  char *cur = xstrdup(tpl);
  for (size_t i = 0; pairs && pairs[i]; i += 2) {
    char *pat = xasprintf("{{%s}}", pairs[i]);
    const char *val = pairs[i + 1] ? pairs[i + 1] : "";
    size_t pl = strlen(pat), vl = strlen(val);
    struct sbuf b = {0};
    const char *p = cur, *hit;
    while ((hit = strstr(p, pat)) != NULL) {
      sbuf_put(&b, p, (size_t)(hit - p));
      sbuf_put(&b, val, vl);
      p = hit + pl;
    }
    sbuf_put(&b, p, strlen(p) + 1);
    OPENSSL_cleanse(cur, strlen(cur));
    free(cur);
    free(pat);
    cur = (char *)b.p;
  }
  return cur;
}

/* Percent-encodes everything but RFC 3986 unreserved characters, for
** the user-info part of a postgresql:// URL. New string. */
static char *pct_encode(const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  struct sbuf b = {0};
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
        *p == '~') {
      sbuf_put(&b, p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      sbuf_put(&b, e, 3);
    }
  }
  sbuf_put(&b, "", 1);
  return (char *)b.p;
}

/* The connection string: connection_url with {{username}} and
** {{password}} filled in (percent-encoded in URL form, as Vault's
** connection producer escapes them). New string; holds the password. */
static char *conn_string(const struct sim_pg_target *t)
{
  const char *url = t->connection_url ? t->connection_url : "";
  int uri = str_has_prefix(url, "postgres://") ||
            str_has_prefix(url, "postgresql://");
  char *u = uri ? pct_encode(t->username ? t->username : "")
                : xstrdup(t->username);
  char *p = uri ? pct_encode(t->password ? t->password : "")
                : xstrdup(t->password);
  const char *pairs[] = {"username", u, "password", p, NULL};
  char *cs = subst(url, pairs);
  OPENSSL_cleanse(p, strlen(p));
  free(u);
  free(p);
  return cs;
}

/* libpq messages end in a newline; keep the first line only. */
static char *first_line(const char *m)
{
  size_t n = strcspn(m ? m : "", "\n");
  return xstrndup(m ? m : "", n);
}

static PGconn *pg_open(const struct sim_pg_target *t,
                       const struct secrets *sec, char **err)
{
  if (!t->connection_url || !*t->connection_url) {
    *err = xstrdup("connection_url cannot be empty");
    return NULL;
  }
  char *cs = conn_string(t);
  const char *const kw[] = {"dbname", "connect_timeout", "application_name",
                            NULL};
  const char *const val[] = {cs, "5", "vault-sim", NULL};
  PGconn *c = PQconnectdbParams(kw, val, 1);
  OPENSSL_cleanse(cs, strlen(cs));
  free(cs);
  if (!c) {
    *err = xstrdup("out of memory");
    return NULL;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    /* libpq's URI parse errors quote the whole URI, where the password
    ** stands percent-encoded: hide that form too (the callers use at most
    ** two of the three slots). */
    struct secrets all = {{NULL}};
    if (sec)
      all = *sec;
    char *enc = pct_encode(t->password ? t->password : "");
    size_t i = 0;
    while (i < 3 && all.v[i])
      i++;
    if (i < 3 && t->password && strcmp(enc, t->password) != 0)
      all.v[i] = enc;
    char *l = first_line(PQerrorMessage(c));
    *err = scrub(l, &all);
    OPENSSL_cleanse(l, strlen(l));
    free(l);
    OPENSSL_cleanse(enc, strlen(enc));
    free(enc);
    PQfinish(c);
    return NULL;
  }
  return c;
}

/* "ERROR: <message> (SQLSTATE <code>)", the shape pgx gives Vault. */
static char *result_error(PGconn *c, PGresult *res, const struct secrets *sec)
{
  const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                         : NULL;
  const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY) : NULL;
  char *raw;
  if (prim)
    raw = xasprintf("%s: %s (SQLSTATE %s)", sev ? sev : "ERROR", prim,
                    code ? code : "?");
  else
    raw = first_line(PQerrorMessage(c));
  char *out = scrub(raw, sec);
  OPENSSL_cleanse(raw, strlen(raw));
  free(raw);
  return out;
}

/* Runs one command; NULL or the error text. */
static char *run(PGconn *c, const char *sql, const struct secrets *sec)
{
  PGresult *res = PQexec(c, sql);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  char *err = NULL;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    err = result_error(c, res, sec);
  PQclear(res);
  return err;
}

/* ---- statement parsing (strutil.ParseArbitraryStringSlice) ----------- */

static void trim_add(struct strlist *out, const char *p, size_t n)
{
  while (n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
    p++;
    n--;
  }
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' ||
               p[n - 1] == '\r'))
    n--;
  if (n) {
    char *s = xstrndup(p, n);
    strlist_add(out, s);
    free(s);
  }
}

/* Splits one statement element into queries (trimmed, empty dropped). */
static void parse_statement(const char *stmt, struct strlist *out)
{
  size_t n = strlen(stmt);
  while (n && (*stmt == ' ' || *stmt == '\n' || *stmt == '\t' ||
               *stmt == '\r')) {
    stmt++;
    n--;
  }
  unsigned char *dec = NULL;
  size_t dl = 0, bad = 0;
  const char *src = stmt;
  if (n && b64_std_decode(stmt, n, &dec, &dl, &bad) == 0)
    src = (const char *)dec;
  json_object *arr = json_tokener_parse(src);
  if (arr && json_object_is_type(arr, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
      const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
      trim_add(out, s ? s : "", strlen(s ? s : ""));
    }
  } else {
    const char *p = src;
    for (;;) {
      const char *semi = strchr(p, ';');
      size_t len = semi ? (size_t)(semi - p) : strlen(p);
      trim_add(out, p, len);
      if (!semi)
        break;
      p = semi + 1;
    }
  }
  json_object_put(arr);
  free(dec);
}

/* Vault's containsMultilineStatement: the word END (upper case, word
** boundaries) outside single- and double-quoted phrases. */
static int multiline(const char *stmt)
{
  size_t n = strlen(stmt);
  char *s = xstrdup(stmt);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\'' || s[i] == '"') {
      char q = s[i];
      const char *end = strchr(s + i + 1, q);
      if (!end)
        break;
      size_t j = (size_t)(end - s);
      memset(s + i, ' ', j - i + 1);
      i = j;
    }
  }
  int found = 0;
  for (const char *p = s; (p = strstr(p, "END")) != NULL; p += 3) {
    int word_before = p > s && (p[-1] == '_' || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                (p[-1] >= 'a' && p[-1] <= 'z') ||
                                (p[-1] >= '0' && p[-1] <= '9'));
    char a = p[3];
    int word_after = a == '_' || (a >= 'A' && a <= 'Z') ||
                     (a >= 'a' && a <= 'z') || (a >= '0' && a <= '9');
    if (!word_before && !word_after) {
      found = 1;
      break;
    }
  }
  free(s);
  return found;
}

/* Runs a statement list in one transaction with the pairs substituted.
** whole_multiline: creation statements holding END run unsplit. */
static char *exec_statements(PGconn *c, const struct strlist *stmts,
                             int whole_multiline, const char *const *pairs,
                             const struct secrets *sec)
{
  char *err = run(c, "BEGIN", sec);
  if (err)
    return err;
  for (size_t i = 0; i < stmts->n && !err; i++) {
    struct strlist q = {0};
    if (whole_multiline && multiline(stmts->v[i]))
      strlist_add(&q, stmts->v[i]);
    else
      parse_statement(stmts->v[i], &q);
    for (size_t k = 0; k < q.n && !err; k++) {
      char *sql = subst(q.v[k], pairs);
      err = run(c, sql, sec);
      OPENSSL_cleanse(sql, strlen(sql));
      free(sql);
    }
    strlist_free(&q);
  }
  if (err) {
    char *e2 = run(c, "ROLLBACK", sec);
    free(e2);
    return err;
  }
  return run(c, "COMMIT", sec);
}

/* ---- the plugin operations ------------------------------------------- */

void sim_pg_expiration(struct timespec t, char out[40])
{
  /* Go layout "2006-01-02 15:04:05-0700", in UTC like the simulator. */
  struct tm tm;
  time_t s = t.tv_sec;
  if (!gmtime_r(&s, &tm)) {
    snprintf(out, 40, "1970-01-01 00:00:00+0000");
    return;
  }
  if (strftime(out, 40, "%Y-%m-%d %H:%M:%S+0000", &tm) == 0)
    snprintf(out, 40, "1970-01-01 00:00:00+0000");
}

char *sim_pg_verify(const struct sim_pg_target *t)
{
  struct secrets sec = {{t->password, NULL}};
  char *err = NULL;
  PGconn *c = pg_open(t, &sec, &err);
  if (!c)
    return err;
  err = run(c, "SELECT 1", &sec);
  PQfinish(c);
  return err;
}

char *sim_pg_new_user(const struct sim_pg_target *t,
                      const struct strlist *creation, const char *name,
                      const char *password, const char *expiration)
{
  if (!creation->n)
    return xstrdup("empty creation statements");
  struct secrets sec = {{t->password, password, NULL}};
  char *err = NULL;
  PGconn *c = pg_open(t, &sec, &err);
  if (!c) {
    char *e = xasprintf("unable to get connection: %s", err);
    free(err);
    return e;
  }
  const char *pairs[] = {"name", name, "username", name, "password", password,
                         "expiration", expiration, NULL};
  err = exec_statements(c, creation, 1, pairs, &sec);
  PQfinish(c);
  if (err) {
    char *e = xasprintf("failed to execute query: %s", err);
    free(err);
    return e;
  }
  return NULL;
}

char *sim_pg_update_expiration(const struct sim_pg_target *t,
                               const struct strlist *renew, const char *name,
                               const char *expiration)
{
  static const char def[] =
      "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';";
  struct strlist dflt = {0};
  if (!renew->n)
    strlist_add(&dflt, def);
  struct secrets sec = {{t->password, NULL}};
  char *err = NULL;
  PGconn *c = pg_open(t, &sec, &err);
  if (c) {
    const char *pairs[] = {"name", name, "username", name, "expiration",
                           expiration, NULL};
    err = exec_statements(c, renew->n ? renew : &dflt, 0, pairs, &sec);
    PQfinish(c);
  }
  strlist_free(&dflt);
  return err;
}

char *sim_pg_change_password(const struct sim_pg_target *t,
                             const struct strlist *stmts, const char *name,
                             const char *password)
{
  static const char def[] =
      "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';";
  struct strlist dflt = {0};
  if (!stmts->n)
    strlist_add(&dflt, def);
  struct secrets sec = {{t->password, password, NULL}};
  char *err = NULL;
  PGconn *c = pg_open(t, &sec, &err);
  if (c) {
    const char *pairs[] = {"name", name, "username", name, "password",
                           password, NULL};
    err = exec_statements(c, stmts->n ? stmts : &dflt, 0, pairs, &sec);
    PQfinish(c);
  }
  strlist_free(&dflt);
  return err;
}

/* Appends "<head><ident> FROM <user>;" with both names quoted as
** identifiers (ident may be NULL when head names the object itself). */
static void add_revoke(PGconn *c, struct strlist *l, const char *head,
                       const char *ident, const char *user)
{
  char *qi = ident ? PQescapeIdentifier(c, ident, strlen(ident)) : NULL;
  char *qu = PQescapeIdentifier(c, user, strlen(user));
  if (qu && (qi || !ident)) {
    char *s = xasprintf("%s%s FROM %s;", head, qi ? qi : "", qu);
    strlist_add(l, s);
    free(s);
  }
  PQfreemem(qi);
  PQfreemem(qu);
}

/* Vault's defaultDeleteUser: revoke what can be revoked (not in a
** transaction, so one failure does not keep the rest), then drop. */
static char *default_delete(PGconn *c, const char *name,
                            const struct secrets *sec)
{
  const char *params[1] = {name};
  PGresult *res = PQexecParams(
      c, "SELECT exists (SELECT rolname FROM pg_roles WHERE rolname=$1)", 1,
      NULL, params, NULL, NULL, 0);
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
    char *e = result_error(c, res, sec);
    PQclear(res);
    return e;
  }
  int exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  if (!exists)
    return NULL;

  struct strlist stmts = {0};
  res = PQexecParams(c,
                     "SELECT DISTINCT table_schema FROM "
                     "information_schema.role_column_grants WHERE grantee=$1",
                     1, NULL, params, NULL, NULL, 0);
  char *rows_err = NULL;
  if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(res); i++) {
      const char *schema = PQgetvalue(res, i, 0);
      add_revoke(c, &stmts, "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA ", schema, name);
      add_revoke(c, &stmts, "REVOKE USAGE ON SCHEMA ", schema, name);
    }
  } else {
    rows_err = result_error(c, res, sec);
  }
  PQclear(res);
  add_revoke(c, &stmts, "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public",
             NULL, name);
  add_revoke(c, &stmts, "REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public",
             NULL, name);
  add_revoke(c, &stmts, "REVOKE USAGE ON SCHEMA public", NULL, name);
  res = PQexec(c, "SELECT current_database()");
  if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    add_revoke(c, &stmts, "REVOKE CONNECT ON DATABASE ", PQgetvalue(res, 0, 0),
               name);
  PQclear(res);

  char *last = NULL;
  for (size_t i = 0; i < stmts.n; i++) {
    char *e = run(c, stmts.v[i], sec);
    if (e) {
      free(last);
      last = e;
    }
  }
  strlist_free(&stmts);
  if (rows_err) {
    char *e = xasprintf("could not generate revocation statements for all "
                        "rows: %s", rows_err);
    free(rows_err);
    free(last);
    return e;
  }
  if (last) {
    char *e = xasprintf("could not perform all revocation statements: %s",
                        last);
    free(last);
    return e;
  }
  char *qu = PQescapeIdentifier(c, name, strlen(name));
  if (!qu)
    return first_line(PQerrorMessage(c));
  char *drop = xasprintf("DROP ROLE IF EXISTS %s;", qu);
  PQfreemem(qu);
  char *err = run(c, drop, sec);
  free(drop);
  return err;
}

char *sim_pg_delete_user(const struct sim_pg_target *t,
                         const struct strlist *revocation, const char *name)
{
  struct secrets sec = {{t->password, NULL}};
  char *err = NULL;
  PGconn *c = pg_open(t, &sec, &err);
  if (!c)
    return err;
  if (revocation->n) {
    const char *pairs[] = {"name", name, "username", name, NULL};
    err = exec_statements(c, revocation, 0, pairs, &sec);
  } else {
    err = default_delete(c, name, &sec);
  }
  PQfinish(c);
  return err;
}
