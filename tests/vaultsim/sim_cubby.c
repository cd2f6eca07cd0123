/*
** vault-sim cubbyhole engine (vault/logical_cubbyhole.go): per-token
** private storage at cubbyhole/. Every token sees only its own entries;
** they die with the token (sim_token.c calls sim_cubby_drop on every
** revocation, expiry included). Response wrapping (sim_wrap.c) keeps the
** wrapped answer in the wrapping token's cubbyhole under "response" and
** "wrapinfo", as vault/wrapping.go wrapInCubbyhole does.
**
** State: token id -> (path -> JSON object), owned here, touched only
** under the global lock.
*/
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static struct smap *g_cubby; /* token id -> struct smap (path -> json) */

static void put_json(void *p)
{
  json_object_put(p);
}

static void free_box(void *p)
{
  smap_free(p);
}

static struct smap *box(const char *token_id, int create)
{
  if (!g_cubby) {
    if (!create)
      return NULL;
    g_cubby = smap_new(free_box);
  }
  struct smap *b = smap_get(g_cubby, token_id);
  if (!b && create) {
    b = smap_new(put_json);
    smap_put(g_cubby, token_id, b);
  }
  return b;
}

void sim_cubby_put(const char *token_id, const char *path, json_object *data)
{
  smap_put(box(token_id, 1), path, data);
}

json_object *sim_cubby_get(const char *token_id, const char *path)
{
  struct smap *b = box(token_id, 0);
  return b ? smap_get(b, path) : NULL;
}

void sim_cubby_drop(const char *token_id)
{
  if (g_cubby)
    smap_del(g_cubby, token_id);
}

/* Values go in and out as deep copies: json-c reference counts are not
** atomic and responses are serialised outside the lock. */
static json_object *copy(json_object *o)
{
  json_object *c = NULL;
  if (json_object_deep_copy(o, &c, NULL) != 0)
    return json_object_new_object();
  return c;
}

static int only_wrap_policy(const struct sim_token *t)
{
  return t->policies.n == 1 && strcmp(t->policies.v[0], SIM_WRAP_POLICY) == 0;
}

static void p_read(struct sim_call *c)
{
  const char *path = sim_cap(c, "path");
  json_object *v = sim_cubby_get(c->q->token->id, path);
  if (!v) {
    resp_err_empty(c->r, 404);
    return;
  }
  resp_data(c->r, 200, copy(v));
  /* vault/request_handling.go handleRequest warns a wrapping token that
  ** reads its own response directly. */
  if (strcmp(path, "response") == 0 && only_wrap_policy(c->q->token))
    resp_warn(c->r, "Reading from 'cubbyhole/response' is deprecated. "
                    "Please use sys/wrapping/unwrap to unwrap responses, as "
                    "it provides additional security checks and other "
                    "benefits.");
}

static void p_write(struct sim_call *c)
{
  if (json_object_object_length(c->q->data) == 0) {
    resp_multierr(c->r, 500, "missing data fields");
    return;
  }
  sim_cubby_put(c->q->token->id, sim_cap(c, "path"), copy(c->q->data));
  resp_nocontent(c->r);
}

static void p_delete(struct sim_call *c)
{
  struct smap *b = box(c->q->token->id, 0);
  if (b)
    smap_del(b, sim_cap(c, "path"));
  resp_nocontent(c->r);
}

/* One level below the prefix; sub-folders end in '/'. */
static void p_list(struct sim_call *c)
{
  resp_list_children(c->r, box(c->q->token->id, 0), sim_cap(c, "path"), 0);
}

static void p_any(struct sim_call *c)
{
  switch (c->q->op) {
  case SIM_OP_READ:
    p_read(c);
    break;
  case SIM_OP_LIST:
    p_list(c);
    break;
  case SIM_OP_DELETE:
    p_delete(c);
    break;
  default:
    p_write(c);
  }
}

static int cubby_exists(struct sim_call *c)
{
  const char *tok = c->q->client_token;
  return tok && sim_cubby_get(tok, sim_cap(c, "path")) != NULL;
}

/* One ".*" path with read, create/update, delete and list. */
static const struct sim_path cubby_paths[] = {
    {"{path:any}",
     SIM_OPB_READ | SIM_OPB_WRITE | SIM_OPB_DELETE | SIM_OPB_LIST, NULL,
     SIM_PATH_ANY_FIELDS, p_any, cubby_exists, NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_cubbyhole = {
    .type = "cubbyhole",
    .paths = cubby_paths,
};
