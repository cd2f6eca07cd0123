/*
** vault-sim ACL: policy storage (sys/policies/acl and the legacy
** sys/policy), a small HCL parser for policy documents (JSON documents go
** through json-c), and the evaluation algorithm of CONTRACT §5.2:
**
**   exact rule -> (LIST: exact without '/') -> best wildcard candidate
**   -> (LIST: again without '/'); only the winning pattern counts, equal
**   patterns from several policies are unioned, deny wins inside one.
*/
#include "sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rule_kind { RULE_EXACT, RULE_PREFIX, RULE_SEGMENT };

struct rule {
  char *key; /* EXACT: path; PREFIX: prefix without '*'; SEGMENT: as written */
  enum rule_kind kind;
  unsigned caps;
};

struct policy {
  char *name;
  char *text;
  struct rule *rules;
  size_t n;
};

static struct smap *g_policies; /* name -> struct policy */

static void policy_free(void *p)
{
  struct policy *pol = p;
  if (!pol)
    return;
  for (size_t i = 0; i < pol->n; i++)
    free(pol->rules[i].key);
  free(pol->rules);
  free(pol->name);
  free(pol->text);
  free(pol);
}

/* Merges caps the way Vault merges the same pattern: union, but a deny
** anywhere leaves deny alone. */
static unsigned merge_caps(unsigned a, unsigned b)
{
  unsigned c = a | b;
  return (c & CAP_DENY) ? CAP_DENY : c;
}

static int add_rule(struct policy *pol, const char *pattern, unsigned caps)
{
  struct rule nr;
  memset(&nr, 0, sizeof nr);
  const char *p = pattern;
  while (*p == '/')
    p++;
  if (strchr(p, '+')) {
    nr.kind = RULE_SEGMENT;
    nr.key = xstrdup(p);
  } else if (str_has_suffix(p, "*")) {
    nr.kind = RULE_PREFIX;
    nr.key = xstrndup(p, strlen(p) - 1);
  } else {
    nr.kind = RULE_EXACT;
    nr.key = xstrdup(p);
  }
  nr.caps = caps;
  for (size_t i = 0; i < pol->n; i++) {
    if (pol->rules[i].kind == nr.kind && strcmp(pol->rules[i].key, nr.key) == 0) {
      pol->rules[i].caps = merge_caps(pol->rules[i].caps, caps);
      free(nr.key);
      return 0;
    }
  }
  struct rule *nv = realloc(pol->rules, (pol->n + 1) * sizeof *nv);
  if (!nv) {
    free(nr.key);
    return -1;
  }
  pol->rules = nv;
  pol->rules[pol->n++] = nr;
  return 0;
}

static int cap_bit(const char *s, unsigned *bit)
{
  static const struct {
    const char *name;
    unsigned bit;
  } t[] = {{"create", CAP_CREATE}, {"read", CAP_READ},
           {"update", CAP_UPDATE}, {"patch", CAP_PATCH},
           {"delete", CAP_DELETE}, {"list", CAP_LIST},
           {"sudo", CAP_SUDO},     {"deny", CAP_DENY},
           {"root", 0},            {"subscribe", 0},
           {"recover", 0},         {"scan", 0}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(s, t[i].name) == 0) {
      *bit = t[i].bit;
      return 0;
    }
  return -1;
}

/* Legacy "policy = read" shorthand. */
static int legacy_bits(const char *s, unsigned *bits)
{
  if (strcmp(s, "deny") == 0)
    *bits = CAP_DENY;
  else if (strcmp(s, "read") == 0)
    *bits = CAP_READ | CAP_LIST;
  else if (strcmp(s, "write") == 0)
    *bits = CAP_READ | CAP_LIST | CAP_CREATE | CAP_UPDATE | CAP_DELETE;
  else if (strcmp(s, "sudo") == 0)
    *bits = CAP_READ | CAP_LIST | CAP_CREATE | CAP_UPDATE | CAP_DELETE |
            CAP_SUDO;
  else
    return -1;
  return 0;
}

/* ---- HCL (the subset policy documents use) -------------------------------- */

enum tok_kind { T_EOF, T_STR, T_IDENT, T_NUM, T_PUNCT, T_ERR };

struct lexer {
  const char *s;
  size_t i, n;
  int line;
  enum tok_kind kind;
  char punct;
  struct sbuf text;
  char err[160];
};

static void lex_skip(struct lexer *L)
{
  for (;;) {
    while (L->i < L->n && isspace((unsigned char)L->s[L->i])) {
      if (L->s[L->i] == '\n')
        L->line++;
      L->i++;
    }
    if (L->i < L->n && (L->s[L->i] == '#' ||
                        (L->s[L->i] == '/' && L->i + 1 < L->n &&
                         L->s[L->i + 1] == '/'))) {
      while (L->i < L->n && L->s[L->i] != '\n')
        L->i++;
      continue;
    }
    if (L->i + 1 < L->n && L->s[L->i] == '/' && L->s[L->i + 1] == '*') {
      L->i += 2;
      while (L->i + 1 < L->n && !(L->s[L->i] == '*' && L->s[L->i + 1] == '/')) {
        if (L->s[L->i] == '\n')
          L->line++;
        L->i++;
      }
      L->i = L->i + 2 <= L->n ? L->i + 2 : L->n;
      continue;
    }
    return;
  }
}

static void lex_next(struct lexer *L)
{
  L->text.len = 0;
  lex_skip(L);
  if (L->i >= L->n) {
    L->kind = T_EOF;
    return;
  }
  char c = L->s[L->i];
  if (c == '"') {
    L->i++;
    while (L->i < L->n && L->s[L->i] != '"') {
      char ch = L->s[L->i++];
      if (ch == '\n') {
        snprintf(L->err, sizeof L->err, "At %d: unterminated string",
                 L->line);
        L->kind = T_ERR;
        return;
      }
      if (ch == '\\' && L->i < L->n) {
        char e = L->s[L->i++];
        ch = e == 'n' ? '\n' : e == 't' ? '\t' : e;
      }
      sbuf_put(&L->text, &ch, 1);
    }
    if (L->i >= L->n) {
      snprintf(L->err, sizeof L->err, "At %d: unterminated string", L->line);
      L->kind = T_ERR;
      return;
    }
    L->i++;
    sbuf_put(&L->text, "", 1);
    L->kind = T_STR;
    return;
  }
  if (isalpha((unsigned char)c) || c == '_') {
    while (L->i < L->n && (isalnum((unsigned char)L->s[L->i]) ||
                           L->s[L->i] == '_' || L->s[L->i] == '-' ||
                           L->s[L->i] == '.'))
      sbuf_put(&L->text, &L->s[L->i++], 1);
    sbuf_put(&L->text, "", 1);
    L->kind = T_IDENT;
    return;
  }
  if (isdigit((unsigned char)c) || c == '-') {
    while (L->i < L->n && (isalnum((unsigned char)L->s[L->i]) ||
                           L->s[L->i] == '.' || L->s[L->i] == '-'))
      sbuf_put(&L->text, &L->s[L->i++], 1);
    sbuf_put(&L->text, "", 1);
    L->kind = T_NUM;
    return;
  }
  if (strchr("{}[]=,:", c)) {
    L->i++;
    L->kind = T_PUNCT;
    L->punct = c;
    return;
  }
  snprintf(L->err, sizeof L->err, "At %d: illegal char '%c'", L->line, c);
  L->kind = T_ERR;
}

static int is_punct(const struct lexer *L, char c)
{
  return L->kind == T_PUNCT && L->punct == c;
}

static int hcl_fail(struct lexer *L, const char *what)
{
  if (L->kind != T_ERR)
    snprintf(L->err, sizeof L->err, "At %d: %s", L->line, what);
  return -1;
}

/*
** Parses one value into a json-c object (new reference). Values are
** strings, numbers, bools, lists and objects ({ k = v }).
*/
static int hcl_value(struct lexer *L, json_object **out);

static int hcl_object_body(struct lexer *L, json_object *obj)
{
  /* Current token is the first key or '}'. */
  while (!is_punct(L, '}')) {
    if (L->kind != T_IDENT && L->kind != T_STR)
      return hcl_fail(L, "expected a key");
    char *key = xstrdup((const char *)L->text.p);
    lex_next(L);
    /* Nested block keys: key "label" { ... } */
    json_object *target = obj;
    char *label = NULL;
    if (L->kind == T_STR) {
      label = xstrdup((const char *)L->text.p);
      lex_next(L);
    }
    if (is_punct(L, '=') || is_punct(L, ':'))
      lex_next(L);
    json_object *v = NULL;
    if (hcl_value(L, &v) < 0) {
      free(key);
      free(label);
      return -1;
    }
    if (label) {
      json_object *inner = NULL;
      if (!json_object_object_get_ex(obj, key, &inner) ||
          !json_object_is_type(inner, json_type_object)) {
        inner = json_object_new_object();
        json_object_object_add(obj, key, inner);
      }
      target = inner;
      json_object_object_add(target, label, v);
    } else {
      json_object_object_add(target, key, v);
    }
    free(key);
    free(label);
    if (is_punct(L, ','))
      lex_next(L);
    if (L->kind == T_EOF || L->kind == T_ERR)
      return hcl_fail(L, "expected '}'");
  }
  lex_next(L);
  return 0;
}

static int hcl_value(struct lexer *L, json_object **out)
{
  *out = NULL;
  if (L->kind == T_STR) {
    *out = json_object_new_string((const char *)L->text.p);
    lex_next(L);
    return 0;
  }
  if (L->kind == T_NUM) {
    int64_t v;
    if (parse_int64((const char *)L->text.p, &v) == 0)
      *out = json_object_new_int64(v);
    else
      *out = json_object_new_string((const char *)L->text.p);
    lex_next(L);
    return 0;
  }
  if (L->kind == T_IDENT) {
    const char *t = (const char *)L->text.p;
    if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
      *out = json_object_new_boolean(t[0] == 't');
    else
      *out = json_object_new_string(t);
    lex_next(L);
    return 0;
  }
  if (is_punct(L, '[')) {
    json_object *a = json_object_new_array();
    lex_next(L);
    while (!is_punct(L, ']')) {
      json_object *v = NULL;
      if (hcl_value(L, &v) < 0) {
        json_object_put(a);
        return -1;
      }
      json_object_array_add(a, v);
      if (is_punct(L, ','))
        lex_next(L);
      else if (!is_punct(L, ']')) {
        json_object_put(a);
        return hcl_fail(L, "expected ',' or ']'");
      }
    }
    lex_next(L);
    *out = a;
    return 0;
  }
  if (is_punct(L, '{')) {
    json_object *o = json_object_new_object();
    lex_next(L);
    if (hcl_object_body(L, o) < 0) {
      json_object_put(o);
      return -1;
    }
    *out = o;
    return 0;
  }
  return hcl_fail(L, "expected a value");
}

/* HCL document -> the same JSON shape a JSON policy has. New ref. */
static json_object *hcl_to_json(const char *text, char *err, size_t errlen)
{
  struct lexer L;
  memset(&L, 0, sizeof L);
  L.s = text;
  L.n = strlen(text);
  L.line = 1;
  lex_next(&L);
  json_object *root = json_object_new_object();
  while (L.kind != T_EOF) {
    if (L.kind != T_IDENT && L.kind != T_STR) {
      hcl_fail(&L, "expected a key");
      goto fail;
    }
    char *key = xstrdup((const char *)L.text.p);
    lex_next(&L);
    char *label = NULL;
    if (L.kind == T_STR) {
      label = xstrdup((const char *)L.text.p);
      lex_next(&L);
    }
    if (is_punct(&L, '=') || is_punct(&L, ':'))
      lex_next(&L);
    json_object *v = NULL;
    if (hcl_value(&L, &v) < 0) {
      free(key);
      free(label);
      goto fail;
    }
    if (label) {
      json_object *inner = NULL;
      if (!json_object_object_get_ex(root, key, &inner) ||
          !json_object_is_type(inner, json_type_object)) {
        inner = json_object_new_object();
        json_object_object_add(root, key, inner);
      }
      /* A repeated path block merges into the earlier one. */
      json_object *prev = NULL;
      if (json_object_object_get_ex(inner, label, &prev) &&
          json_object_is_type(prev, json_type_object) &&
          json_object_is_type(v, json_type_object)) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(prev));
        json_object_array_add(arr, v);
        json_object_object_add(inner, label, arr);
      } else {
        json_object_object_add(inner, label, v);
      }
    } else {
      json_object_object_add(root, key, v);
    }
    free(key);
    free(label);
    if (L.kind == T_ERR)
      goto fail;
  }
  sbuf_free(&L.text);
  return root;
fail:
  snprintf(err, errlen, "%s", L.err[0] ? L.err : "parse error");
  sbuf_free(&L.text);
  json_object_put(root);
  return NULL;
}

static int rule_from_block(struct policy *pol, const char *pattern,
                           json_object *blk, char *err, size_t errlen)
{
  if (json_object_is_type(blk, json_type_array)) {
    size_t n = json_object_array_length(blk);
    for (size_t i = 0; i < n; i++)
      if (rule_from_block(pol, pattern, json_object_array_get_idx(blk, i),
                          err, errlen) < 0)
        return -1;
    return 0;
  }
  if (!json_object_is_type(blk, json_type_object)) {
    snprintf(err, errlen, "path %s: expected an object", pattern);
    return -1;
  }
  unsigned caps = 0;
  json_object *c = NULL;
  if (json_object_object_get_ex(blk, "policy", &c)) {
    unsigned b;
    if (legacy_bits(json_as_str(c), &b) < 0) {
      snprintf(err, errlen, "path %s: invalid policy '%s'", pattern,
               json_as_str(c));
      return -1;
    }
    caps |= b;
  }
  if (json_object_object_get_ex(blk, "capabilities", &c)) {
    if (!json_object_is_type(c, json_type_array)) {
      snprintf(err, errlen, "path %s: capabilities must be a list", pattern);
      return -1;
    }
    size_t n = json_object_array_length(c);
    for (size_t i = 0; i < n; i++) {
      const char *name = json_as_str(json_object_array_get_idx(c, i));
      unsigned b;
      if (cap_bit(name, &b) < 0) {
        snprintf(err, errlen, "path \"%s\": invalid capability \"%s\"",
                 pattern, name);
        return -1;
      }
      caps |= b;
    }
  }
  if (caps & CAP_DENY)
    caps = CAP_DENY;
  return add_rule(pol, pattern, caps);
}

/* Builds a policy from text. NULL with err filled on failure. */
static struct policy *policy_parse(const char *name, const char *text,
                                   char *err, size_t errlen)
{
  const char *t = text;
  while (isspace((unsigned char)*t))
    t++;
  json_object *doc = NULL;
  if (*t == '{') {
    json_tokener *tok = json_tokener_new_ex(64);
    doc = json_tokener_parse_ex(tok, t, (int)strlen(t));
    if (json_tokener_get_error(tok) != json_tokener_success) {
      json_object_put(doc);
      doc = NULL;
      snprintf(err, errlen, "%s",
               json_tokener_error_desc(json_tokener_get_error(tok)));
    }
    json_tokener_free(tok);
  } else {
    doc = hcl_to_json(text, err, errlen);
  }
  if (!doc)
    return NULL;
  struct policy *pol = xcalloc(1, sizeof *pol);
  pol->name = xstrdup(name);
  pol->text = xstrdup(text);
  json_object *paths = NULL;
  if (json_object_object_get_ex(doc, "path", &paths)) {
    if (json_object_is_type(paths, json_type_object)) {
      json_object_object_foreach(paths, k, v)
      {
        if (rule_from_block(pol, k, v, err, errlen) < 0)
          goto fail;
      }
    } else if (json_object_is_type(paths, json_type_array)) {
      /* JSON form [{"pattern": {...}}, ...] */
      size_t n = json_object_array_length(paths);
      for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(paths, i);
        if (!json_object_is_type(e, json_type_object))
          continue;
        json_object_object_foreach(e, k, v)
        {
          if (rule_from_block(pol, k, v, err, errlen) < 0)
            goto fail;
        }
      }
    } else {
      snprintf(err, errlen, "path must be an object");
      goto fail;
    }
  }
  json_object_put(doc);
  return pol;
fail:
  json_object_put(doc);
  policy_free(pol);
  return NULL;
}

static const char DEFAULT_POLICY[] =
    "# Built-in policy every token gets unless it opts out. It lets a\n"
    "# token inspect, renew and revoke itself and use its cubbyhole.\n"
    "path \"auth/token/lookup-self\" {\n    capabilities = [\"read\"]\n}\n\n"
    "path \"auth/token/renew-self\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"auth/token/revoke-self\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/capabilities-self\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"identity/entity/id/{{identity.entity.id}}\" {\n"
    "    capabilities = [\"read\"]\n}\n\n"
    "path \"identity/entity/name/{{identity.entity.name}}\" {\n"
    "    capabilities = [\"read\"]\n}\n\n"
    "path \"sys/internal/ui/resultant-acl\" {\n"
    "    capabilities = [\"read\"]\n}\n\n"
    "path \"sys/renew\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/leases/renew\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/leases/lookup\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"cubbyhole/*\" {\n"
    "    capabilities = [\"create\", \"read\", \"update\", \"delete\", "
    "\"list\"]\n}\n\n"
    "path \"sys/wrapping/wrap\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/wrapping/lookup\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/wrapping/unwrap\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/tools/hash\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/tools/hash/*\" {\n    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/control-group/request\" {\n"
    "    capabilities = [\"update\"]\n}\n\n"
    "path \"sys/mfa/challenge\" {\n    capabilities = [\"update\"]\n}\n";

/* vault/policy_store.go responseWrappingPolicy: what a wrapping token may
** do. Immutable and non-assignable, so it is kept out of listings. */
static const char RESPONSE_WRAPPING_POLICY[] =
    "path \"cubbyhole/response\" {\n"
    "    capabilities = [\"create\", \"read\"]\n}\n\n"
    "path \"sys/wrapping/unwrap\" {\n    capabilities = [\"update\"]\n}\n";

void sim_acl_init(void)
{
  g_policies = smap_new(policy_free);
  char err[200];
  struct policy *p = policy_parse("default", DEFAULT_POLICY, err, sizeof err);
  if (p)
    smap_put(g_policies, "default", p);
  p = policy_parse(SIM_WRAP_POLICY, RESPONSE_WRAPPING_POLICY, err, sizeof err);
  if (p)
    smap_put(g_policies, SIM_WRAP_POLICY, p);
}

int sim_acl_policy_exists(const char *name)
{
  return strcmp(name, "root") == 0 || smap_get(g_policies, name) != NULL;
}

/* ---- evaluation ------------------------------------------------------------------ */

struct cand {
  const char *key; /* pattern without a trailing '*' */
  int first_wc;
  int is_prefix;
  int wildcards;
  unsigned caps;
};

/* Returns >0 when a has higher priority than b (CONTRACT §5.2 step 3). */
static int cand_cmp(const struct cand *a, const struct cand *b)
{
  if (a->first_wc != b->first_wc)
    return a->first_wc > b->first_wc ? 1 : -1;
  if (a->is_prefix != b->is_prefix)
    return a->is_prefix ? -1 : 1;
  if (a->wildcards != b->wildcards)
    return a->wildcards < b->wildcards ? 1 : -1;
  size_t la = strlen(a->key), lb = strlen(b->key);
  if (la != lb)
    return la > lb ? 1 : -1;
  int c = strcmp(a->key, b->key);
  return c > 0 ? 1 : c < 0 ? -1 : 0;
}

/* Does segment pattern pat (no trailing '*' unless prefix) match path?
** Fills first_wc/wildcards/is_prefix. */
static int segment_match(const char *pattern, const char *path,
                         struct cand *c)
{
  size_t plen = strlen(pattern);
  int is_prefix = plen > 0 && pattern[plen - 1] == '*';
  char *pat = xstrndup(pattern, is_prefix ? plen - 1 : plen);
  /* Count segments. */
  size_t np = 1, nq = 1;
  for (const char *s = pat; *s; s++)
    np += *s == '/';
  for (const char *s = path; *s; s++)
    nq += *s == '/';
  int ok = 1;
  if ((!is_prefix && np != nq) || (is_prefix && np > nq))
    ok = 0;
  int wildcards = 0;
  const char *a = pat, *b = path;
  for (size_t i = 0; ok && i < np; i++) {
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    int last = i == np - 1;
    if (la == 1 && a[0] == '+') {
      wildcards++;
    } else if (la == lb && strncmp(a, b, la) == 0) {
      /* equal segment */
    } else if (is_prefix && last && lb >= la && strncmp(a, b, la) == 0) {
      /* last segment prefix-matches */
    } else {
      ok = 0;
    }
    a += la + (a[la] == '/');
    b += lb + (b[lb] == '/');
  }
  if (ok) {
    c->first_wc = (int)(strchr(pattern, '+') - pattern);
    c->is_prefix = is_prefix;
    c->wildcards = wildcards;
  }
  free(pat);
  return ok;
}

/* Returns caps, or -1 when nothing matched. */
static long caps_for(const struct strlist *pols, const char *path, int exact)
{
  long found = -1;
  if (exact) {
    for (size_t i = 0; i < pols->n; i++) {
      const struct policy *p = smap_get(g_policies, pols->v[i]);
      for (size_t k = 0; p && k < p->n; k++)
        if (p->rules[k].kind == RULE_EXACT &&
            strcmp(p->rules[k].key, path) == 0)
          found = found < 0 ? (long)p->rules[k].caps
                            : (long)merge_caps((unsigned)found,
                                               p->rules[k].caps);
    }
    return found;
  }
  struct cand best = {0};
  int have = 0;
  /* Glob rules: the longest prefix is the single glob candidate. */
  struct cand glob = {0};
  int have_glob = 0;
  for (size_t i = 0; i < pols->n; i++) {
    const struct policy *p = smap_get(g_policies, pols->v[i]);
    for (size_t k = 0; p && k < p->n; k++) {
      const struct rule *ru = &p->rules[k];
      if (ru->kind != RULE_PREFIX || !str_has_prefix(path, ru->key))
        continue;
      size_t kl = strlen(ru->key);
      if (!have_glob || kl > strlen(glob.key)) {
        glob.key = ru->key;
        glob.caps = ru->caps;
        have_glob = 1;
      } else if (kl == strlen(glob.key)) {
        glob.caps = merge_caps(glob.caps, ru->caps);
      }
    }
  }
  if (have_glob) {
    glob.first_wc = (int)strlen(glob.key);
    glob.is_prefix = 1;
    glob.wildcards = 0;
    best = glob;
    have = 1;
  }
  for (size_t i = 0; i < pols->n; i++) {
    const struct policy *p = smap_get(g_policies, pols->v[i]);
    for (size_t k = 0; p && k < p->n; k++) {
      const struct rule *ru = &p->rules[k];
      struct cand c = {0};
      if (ru->kind != RULE_SEGMENT || !segment_match(ru->key, path, &c))
        continue;
      c.key = ru->key;
      c.caps = ru->caps;
      /* The same pattern in several policies merges. */
      unsigned merged = c.caps;
      for (size_t i2 = 0; i2 < pols->n; i2++) {
        const struct policy *p2 = smap_get(g_policies, pols->v[i2]);
        for (size_t k2 = 0; p2 && k2 < p2->n; k2++)
          if (p2->rules[k2].kind == RULE_SEGMENT &&
              strcmp(p2->rules[k2].key, ru->key) == 0)
            merged = merge_caps(merged, p2->rules[k2].caps);
      }
      c.caps = merged;
      /* Stripped '*' so lengths compare like Vault's fullPath. */
      if (!have || cand_cmp(&c, &best) > 0) {
        best = c;
        have = 1;
      }
    }
  }
  return have ? (long)best.caps : -1;
}

unsigned sim_acl_caps(const struct strlist *policies, const char *path,
                      int is_list)
{
  long c = caps_for(policies, path, 1);
  char *trim = NULL;
  if (c < 0 && is_list && str_has_suffix(path, "/")) {
    trim = xstrndup(path, strlen(path) - 1);
    c = caps_for(policies, trim, 1);
  }
  if (c < 0)
    c = caps_for(policies, path, 0);
  if (c < 0 && trim)
    c = caps_for(policies, trim, 0);
  free(trim);
  return c < 0 ? 0 : (unsigned)c;
}

/* vault/logical_system.go hasMountAccess: does any policy grant some
** capability (deny aside) at or below mount? Exact and glob rules are
** walked by prefix; a glob or '+' rule whose pattern covers the mount
** path itself counts too (CheckAllowedFromNonExactPaths with bareMount). */
int sim_acl_mount_access(const struct strlist *policies, const char *mount)
{
  const unsigned any = CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_PATCH |
                       CAP_DELETE | CAP_LIST | CAP_SUDO;
  for (size_t i = 0; i < policies->n; i++) {
    const struct policy *p = smap_get(g_policies, policies->v[i]);
    for (size_t k = 0; p && k < p->n; k++) {
      const struct rule *ru = &p->rules[k];
      if ((ru->caps & CAP_DENY) || !(ru->caps & any))
        continue;
      if (str_has_prefix(ru->key, mount))
        return 1;
      if (ru->kind == RULE_PREFIX && str_has_prefix(mount, ru->key))
        return 1;
      if (ru->kind != RULE_SEGMENT)
        continue;
      /* Segment by segment over the shorter of pattern and mount. */
      const char *a = ru->key, *b = mount;
      int ok = 1;
      while (ok && *a && *b) {
        size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
        int glob_tail = a[la] == 0 && la > 0 && a[la - 1] == '*';
        if (!(la == 1 && a[0] == '+') &&
            !(la == lb && strncmp(a, b, la) == 0) &&
            !(glob_tail && lb >= la - 1 && strncmp(a, b, la - 1) == 0))
          ok = 0;
        a += la + (a[la] == '/');
        b += lb + (b[lb] == '/');
      }
      if (ok)
        return 1;
    }
  }
  return 0;
}

/* Root-protected paths need sudo on top of the operation's capability. */
int sim_acl_needs_sudo(const char *path)
{
  static const char *const prefixes[] = {
      "sys/auth/",          "sys/audit",           "sys/raw",
      "sys/rotate",         "sys/seal",            "sys/step-down",
      "sys/leases/revoke-prefix/", "sys/leases/revoke-force/",
      "sys/leases/lookup/", "sys/revoke-prefix/",  "sys/revoke-force/",
      "sys/remount",        "sys/config/cors",     "sys/plugins/catalog/",
      "auth/token/revoke-orphan", "auth/token/accessors"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (str_has_prefix(path, prefixes[i]))
      return 1;
  return 0;
}

int sim_acl_allows(const struct strlist *policies, const char *path,
                   enum sim_op op)
{
  unsigned caps = sim_acl_caps(policies, path, op == SIM_OP_LIST);
  if (caps & CAP_DENY)
    return 0;
  unsigned need = 0;
  switch (op) {
  case SIM_OP_READ:
    need = CAP_READ;
    break;
  case SIM_OP_LIST:
    need = CAP_LIST;
    break;
  case SIM_OP_CREATE:
    need = CAP_CREATE;
    break;
  case SIM_OP_UPDATE:
    need = CAP_UPDATE;
    break;
  case SIM_OP_DELETE:
    need = CAP_DELETE;
    break;
  case SIM_OP_PATCH:
    need = CAP_PATCH;
    break;
  }
  if (!(caps & need))
    return 0;
  if (sim_acl_needs_sudo(path) && !(caps & CAP_SUDO))
    return 0;
  return 1;
}

/* ---- sys/policies/acl and sys/policy ----------------------------------------- */

static json_object *policy_names(void)
{
  size_t n = 0;
  const char **keys = smap_keys(g_policies, &n);
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], SIM_WRAP_POLICY) != 0) /* non-assignable */
      json_object_array_add(a, json_object_new_string(keys[i]));
  json_object_array_add(a, json_object_new_string("root"));
  free(keys);
  return a;
}

static void policy_write(const char *name, int legacy, struct sim_req *q,
                         struct sim_resp *r)
{
  static const char *const known[] = {"name", "policy", "rules", NULL};
  q->known = known;
  const char *text = "";
  if (req_str(q, "policy", &text) <= 0 || !*text) {
    if (legacy)
      req_str(q, "rules", &text);
  }
  if (!*text) {
    resp_err(r, 400, "'policy' parameter not supplied or empty");
    return;
  }
  if (strcmp(name, "root") == 0 || strcmp(name, SIM_WRAP_POLICY) == 0) {
    resp_err(r, 400, "cannot update \"%s\" policy", name);
    return;
  }
  /* The document may arrive base64-encoded. */
  unsigned char *dec = NULL;
  size_t dl = 0;
  if (b64_std_decode(text, strlen(text), &dec, &dl, NULL) == 0 &&
      dl == strlen((char *)dec) && dl > 0)
    text = (const char *)dec;
  char err[240] = "";
  struct policy *p = policy_parse(name, text, err, sizeof err);
  free(dec);
  if (!p) {
    resp_err(r, 400, "failed to parse policy: %s", err);
    return;
  }
  smap_put(g_policies, name, p);
  resp_nocontent(r);
}

static void acl_handle(const char *rest, int legacy, struct sim_req *q,
                       struct sim_resp *r)
{
  if (!*rest) {
    int listing = q->op == SIM_OP_LIST || (legacy && q->op == SIM_OP_READ);
    if (!listing) {
      resp_unsupported_op(r);
      return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "keys", policy_names());
    if (legacy) {
      json_object_object_add(d, "policies", policy_names());
      resp_data(r, 200, d);
      r->top = json_object_get(d);
    } else {
      resp_data(r, 200, d);
    }
    return;
  }
  char *name = xstrdup(rest);
  for (char *s = name; *s; s++)
    *s = (char)tolower((unsigned char)*s);
  if (str_has_suffix(name, "/"))
    name[strlen(name) - 1] = 0;
  switch (q->op) {
  case SIM_OP_READ: {
    const struct policy *p = smap_get(g_policies, name);
    if (!p && strcmp(name, "root") != 0) {
      resp_err_empty(r, 404);
      break;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "name", json_object_new_string(name));
    json_object_object_add(d, legacy ? "rules" : "policy",
                           json_object_new_string(p ? p->text : ""));
    resp_data(r, 200, d);
    if (legacy)
      r->top = json_object_get(d);
    break;
  }
  case SIM_OP_CREATE:
  case SIM_OP_UPDATE:
    policy_write(name, legacy, q, r);
    break;
  case SIM_OP_DELETE:
    if (strcmp(name, "default") == 0)
      resp_err(r, 400, "cannot delete default policy");
    else if (strcmp(name, "root") == 0)
      resp_err(r, 400, "cannot delete root policy");
    else if (strcmp(name, SIM_WRAP_POLICY) == 0)
      resp_err(r, 400, "cannot delete %s policy", name);
    else {
      smap_del(g_policies, name);
      resp_nocontent(r);
    }
    break;
  default:
    resp_unsupported_op(r);
  }
  free(name);
}

/* ---- path tables (vault/logical_system_paths.go policyPaths) ---------- */

static void p_acl(struct sim_call *c)
{
  acl_handle(sim_cap(c, "name"), 0, c->q, c->r);
}

static void p_legacy(struct sim_call *c)
{
  acl_handle(sim_cap(c, "name"), 1, c->q, c->r);
}

/* Rows of sys/'s table. The handler checks the operation: a listing and
** a named policy share the code. */
const struct sim_path sim_acl_paths[] = {
    {"policies/acl/?", SIM_OPB_ALL, NULL, 0, p_acl, NULL, NULL, NULL},
    {"policies/acl/{name:rest}", SIM_OPB_ALL, NULL, 0, p_acl, NULL, NULL,
     NULL},
    {"policy/?", SIM_OPB_ALL, NULL, 0, p_legacy, NULL, NULL, NULL},
    {"policy/{name:rest}", SIM_OPB_ALL, NULL, 0, p_legacy, NULL, NULL, NULL},
    SIM_PATH_END};
