/*
** vault-sim store: a string-keyed hash map with chaining.
**
** Every table of the simulator (tokens, leases, policies, KV keys,
** transit keys, roles) is one of these. Listing needs sorted keys, which
** smap_keys() produces on demand: lists are rare next to point look-ups,
** so the sort cost is paid only where Vault itself pays a storage scan.
** Not thread-safe by itself; callers hold the global lock.
*/
#include "sim.h"

#include <stdlib.h>
#include <string.h>

struct smap_ent {
  char *key;
  void *val;
  uint64_t hash;
  struct smap_ent *next;
};

struct smap {
  struct smap_ent **b;
  size_t nb;
  size_t n;
  smap_free_fn free_val;
};

/* FNV-1a: fast, and the keys are not attacker-chosen in a test tool. */
static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

struct smap *smap_new(smap_free_fn free_val)
{
  struct smap *m = xcalloc(1, sizeof *m);
  m->nb = 64;
  m->b = xcalloc(m->nb, sizeof *m->b);
  m->free_val = free_val;
  return m;
}

void smap_free(struct smap *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->nb; i++) {
    struct smap_ent *e = m->b[i];
    while (e) {
      struct smap_ent *nx = e->next;
      if (m->free_val)
        m->free_val(e->val);
      free(e->key);
      free(e);
      e = nx;
    }
  }
  free(m->b);
  free(m);
}

static struct smap_ent **find(const struct smap *m, const char *key,
                              uint64_t h)
{
  struct smap_ent **pp = &m->b[h & (m->nb - 1)];
  while (*pp && !((*pp)->hash == h && strcmp((*pp)->key, key) == 0))
    pp = &(*pp)->next;
  return pp;
}

void *smap_get(const struct smap *m, const char *key)
{
  struct smap_ent **pp = find(m, key, hash_str(key));
  return *pp ? (*pp)->val : NULL;
}

static void grow(struct smap *m)
{
  size_t nnb = m->nb * 2;
  struct smap_ent **nb = xcalloc(nnb, sizeof *nb);
  for (size_t i = 0; i < m->nb; i++) {
    struct smap_ent *e = m->b[i];
    while (e) {
      struct smap_ent *nx = e->next;
      e->next = nb[e->hash & (nnb - 1)];
      nb[e->hash & (nnb - 1)] = e;
      e = nx;
    }
  }
  free(m->b);
  m->b = nb;
  m->nb = nnb;
}

void smap_put(struct smap *m, const char *key, void *val)
{
  uint64_t h = hash_str(key);
  struct smap_ent **pp = find(m, key, h);
  if (*pp) {
    if (m->free_val && (*pp)->val != val)
      m->free_val((*pp)->val);
    (*pp)->val = val;
    return;
  }
  struct smap_ent *e = xcalloc(1, sizeof *e);
  e->key = xstrdup(key);
  e->val = val;
  e->hash = h;
  *pp = e;
  m->n++;
  if (m->n > m->nb)
    grow(m);
}

void *smap_take(struct smap *m, const char *key)
{
  struct smap_ent **pp = find(m, key, hash_str(key));
  if (!*pp)
    return NULL;
  struct smap_ent *e = *pp;
  void *v = e->val;
  *pp = e->next;
  free(e->key);
  free(e);
  m->n--;
  return v;
}

int smap_del(struct smap *m, const char *key)
{
  struct smap_ent **pp = find(m, key, hash_str(key));
  if (!*pp)
    return 0;
  void *v = smap_take(m, key);
  if (m->free_val)
    m->free_val(v);
  return 1;
}

size_t smap_count(const struct smap *m)
{
  return m->n;
}

static int cmp_cstr(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **smap_keys(const struct smap *m, size_t *n)
{
  const char **k = xcalloc(m->n + 1, sizeof *k);
  size_t w = 0;
  for (size_t i = 0; i < m->nb; i++)
    for (struct smap_ent *e = m->b[i]; e; e = e->next)
      k[w++] = e->key;
  qsort(k, w, sizeof *k, cmp_cstr);
  *n = w;
  return k;
}
