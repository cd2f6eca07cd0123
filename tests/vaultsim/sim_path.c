/*
** vault-sim path tables: matching a request path against an engine's
** table of struct sim_path rows (see sim.h for the pattern syntax) and
** running the matched row the way Vault's sdk/framework Backend does
** (framework/backend.go HandleRequest: no route -> ErrUnsupportedPath,
** operation not in the row -> ErrUnsupportedOperation).
**
** Matching is a hand-written scan, not a regex engine: tables are short
** and every request of every bridge test passes through here.
*/
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static int is_word(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_';
}

/* Length of a Vault generic name at s (\w([\w.-]*\w)?, '@' inside too
** when at is set), or 0. Names never contain '/', and every pattern
** follows a name with '/' or the end, so the longest run decides. */
static size_t name_len(const char *s, int at)
{
  size_t n = 0;
  while (is_word(s[n]) || s[n] == '-' || s[n] == '.' || (at && s[n] == '@'))
    n++;
  if (n == 0 || !is_word(s[0]) || !is_word(s[n - 1]))
    return 0;
  return n;
}

static void add_cap(struct sim_call *c, const char *name, size_t nl,
                    const char *val, size_t vl)
{
  if (c->ncap >= SIM_MAX_CAPS)
    return; /* patterns are ours; more than four never happens */
  c->cap[c->ncap].name = name;
  c->cap[c->ncap].name_len = nl;
  c->cap[c->ncap].val = xstrndup(val, vl);
  c->ncap++;
}

/* Matches pat against s. With prefix set, pat only has to match a
** prefix of s and *end gets the remainder. Returns 1 on a match. */
static int match(const char *pat, const char *s, struct sim_call *c,
                 int prefix, const char **end)
{
  while (*pat) {
    if (*pat == '{') {
      const char *close = strchr(pat, '}');
      if (!close)
        return 0;
      const char *nm = pat + 1;
      const char *colon = memchr(nm, ':', (size_t)(close - nm));
      size_t nl = (size_t)((colon ? colon : close) - nm);
      const char *kind = colon ? colon + 1 : "";
      size_t kl = colon ? (size_t)(close - kind) : 0;
      size_t n = 0;
      const char *val = s;
      int at = nl > 0 && nm[nl - 1] == '@';
      if (kl == 0) {
        n = name_len(s, at);
        if (!n)
          return 0;
        if (at)
          nl--;
      } else if (kl == 3 && memcmp(kind, "seg", 3) == 0) {
        n = strcspn(s, "/");
        if (!n)
          return 0;
      } else if (kl == 3 && memcmp(kind, "any", 3) == 0) {
        n = strlen(s);
      } else if (kl == 4 && memcmp(kind, "rest", 4) == 0) {
        n = strlen(s);
        if (!n)
          return 0;
      } else if (kl == 3 && memcmp(kind, "opt", 3) == 0) {
        n = strlen(s);
        if (n == 1)
          return 0;
        if (n > 0) {
          if (s[0] != '/')
            return 0;
          val = s + 1;
        }
      } else {
        return 0;
      }
      add_cap(c, nm, nl, val, n - (size_t)(val - s));
      s += n;
      pat = close + 1;
      continue;
    }
    if (pat[1] == '?') {
      if (*s == *pat)
        s++;
      pat += 2;
      continue;
    }
    if (*pat != *s)
      return 0;
    pat++;
    s++;
  }
  if (prefix) {
    *end = s;
    return 1;
  }
  return *s == 0;
}

static void drop_caps(struct sim_call *c, size_t keep)
{
  while (c->ncap > keep) {
    c->ncap--;
    free(c->cap[c->ncap].val);
    c->cap[c->ncap].val = NULL;
  }
}

const struct sim_path *sim_path_match(const struct sim_path *table,
                                      const char *rest, struct sim_call *c)
{
  size_t keep = c->ncap;
  for (const struct sim_path *p = table; p && p->pattern; p++) {
    if (p->sub) {
      const char *tail = NULL;
      if (match(p->pattern, rest, c, 1, &tail)) {
        const struct sim_path *hit = sim_path_match(p->sub, tail, c);
        if (hit)
          return hit;
      }
    } else if (match(p->pattern, rest, c, 0, NULL)) {
      c->path = p;
      return p;
    }
    drop_caps(c, keep);
  }
  c->path = NULL;
  return NULL;
}

const char *sim_cap(const struct sim_call *c, const char *name)
{
  size_t nl = strlen(name);
  for (size_t i = 0; i < c->ncap; i++)
    if (c->cap[i].name_len == nl && memcmp(c->cap[i].name, name, nl) == 0)
      return c->cap[i].val;
  return "";
}

void sim_call_clear(struct sim_call *c)
{
  drop_caps(c, 0);
  c->path = NULL;
}

void sim_path_dispatch(struct sim_call *c)
{
  const struct sim_path *p = c->path;
  if (!(p->ops & (1u << c->q->op)) || !p->handler) {
    resp_unsupported_op(c->r);
    return;
  }
  if (p->fields)
    c->q->known = p->fields;
  if (p->flags & SIM_PATH_ANY_FIELDS)
    c->q->known_all = 1;
  p->handler(c);
}
