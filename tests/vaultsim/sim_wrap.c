/*
** vault-sim response wrapping, after vault/wrapping.go (wrapInCubbyhole,
** ValidateWrappingToken), vault/request_handling.go
** (handleCancelableRequest, handleRequest), vault/logical_system.go
** (handleWrappingWrap/Unwrap/Lookup/Rewrap) and http/logical.go
** (respondLogical):
**
** - X-Vault-Wrap-TTL on any request: a successful answer with a body is
**   replaced by {wrap_info: {token, accessor, ttl, creation_time,
**   creation_path[, wrapped_accessor]}} with an empty request_id and no
**   data, warnings or auth. The original envelope (with its request id)
**   is kept as a JSON string in the wrapping token's cubbyhole under
**   "response", and {creation_ttl, creation_time, creation_path} under
**   "wrapinfo" (sim_cubby.c).
** - The wrapping token is an orphan with the single "response-wrapping"
**   policy, one use and TTL = explicit max TTL = the wrap TTL; revoking
**   or outliving it drops its cubbyhole, so a second unwrap, an expired
**   token and a made-up one all answer 400 "wrapping token is not valid
**   or does not exist".
** - unwrap/rewrap take the token from the body ("third party": the
**   caller's own token pays for the request, the wrapping token is used
**   up and revoked by the handler) or from X-Vault-Token (the gate spends
**   its single use).
*/
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_wrap_parse_ttl(const char *hdr, struct sim_resp *r, int64_t *ttl)
{
  *ttl = 0;
  if (!hdr || !*hdr)
    return 0;
  int64_t v = 0;
  /* Beyond 9223372036 s Go's time.Duration overflows; refuse those as
  ** unparsable rather than mimic the wrap-around. */
  if (parse_duration_str(hdr, &v) < 0 || v > 9223372036LL) {
    /* parseutil.ParseDurationSecond ends in time.ParseDuration. */
    resp_err(r, 400, "error parsing X-Vault-Wrap-TTL header: time: invalid "
                     "duration \"%s\"", hdr);
    return -1;
  }
  if (v < 0) {
    resp_err(r, 400, "error parsing X-Vault-Wrap-TTL header: requested "
                     "wrap ttl cannot be negative");
    return -1;
  }
  *ttl = v;
  return 0;
}

static int is_wrapping_token(const struct sim_token *t)
{
  return t && t->policies.n == 1 &&
         strcmp(t->policies.v[0], SIM_WRAP_POLICY) == 0;
}

/* The token a wrapping endpoint works on: the body's "token" (third
** party) or the caller's own. Validated by sim_wrap_validate first. */
static const char *subject_token(const struct sim_req *q, int *third)
{
  json_object *bt = req_get(q, "token");
  if (bt && json_object_is_type(bt, json_type_string) &&
      json_object_get_string_len(bt) > 0) {
    *third = 1;
    return json_object_get_string(bt);
  }
  *third = 0;
  return q->client_token ? q->client_token : "";
}

int sim_wrap_validate(struct sim_req *q, struct sim_resp *r)
{
  const char *why = NULL;
  const char *token = "";
  json_object *bt = req_get(q, "token");
  if (bt && !json_object_is_type(bt, json_type_null)) {
    if (!json_object_is_type(bt, json_type_string))
      why = "could not decode token in request body";
    else if (json_object_get_string_len(bt) == 0)
      why = "empty token in request body";
    else
      token = json_object_get_string(bt);
  } else if (q->client_token) {
    token = q->client_token;
  }
  if (!why && !*token)
    why = "token is empty";
  if (why) {
    resp_err(r, 403, "error validating wrapping token: %s", why);
    return -1;
  }
  if (!is_wrapping_token(sim_token_lookup(token, q->now))) {
    resp_err(r, 400, "wrapping token is not valid or does not exist");
    return -1;
  }
  return 0;
}

/* Creates the wrapping token, stores response in its cubbyhole and turns
** r into the wrap envelope. */
static void make_wrap(struct sim_req *q, struct sim_resp *r, int64_t ttl,
                      const char *creation_path, const char *response,
                      const char *wrapped_accessor)
{
  struct sim_token *t = sim_token_issue_wrapping(ttl, creation_path, q->now);
  char when[40];
  fmt_rfc3339(q->now, when);
  json_object *resp = json_object_new_object();
  json_object_object_add(resp, "response", json_object_new_string(response));
  sim_cubby_put(t->id, "response", resp);
  json_object *info = json_object_new_object();
  json_object_object_add(info, "creation_ttl", json_object_new_int64(ttl));
  json_object_object_add(info, "creation_time", json_object_new_string(when));
  json_object_object_add(info, "creation_path",
                         json_object_new_string(creation_path));
  sim_cubby_put(t->id, "wrapinfo", info);

  json_object *wi = json_object_new_object();
  json_object_object_add(wi, "token", json_object_new_string(t->id));
  json_object_object_add(wi, "accessor", json_object_new_string(t->accessor));
  json_object_object_add(wi, "ttl", json_object_new_int64(ttl));
  json_object_object_add(wi, "creation_time", json_object_new_string(when));
  json_object_object_add(wi, "creation_path",
                         json_object_new_string(creation_path));
  if (wrapped_accessor && *wrapped_accessor)
    json_object_object_add(wi, "wrapped_accessor",
                           json_object_new_string(wrapped_accessor));
  resp_clear(r);
  r->status = 200;
  r->kind = RESP_ENVELOPE;
  r->wrap_info = wi;
  r->wrapped = 1;
  r->mount_type = "";
}

void sim_wrap_response(struct sim_req *q, struct sim_resp *r,
                       const char *request_id)
{
  /* Only a successful logical answer with a body is wrapped; errors,
  ** 204s and raw answers go out as they are. */
  if (q->wrap_ttl <= 0 || r->wrapped || r->kind != RESP_ENVELOPE ||
      r->status != 200)
    return;
  char *body = NULL;
  size_t len = 0;
  resp_render(r, request_id, &body, &len);
  char *accessor = NULL;
  json_object *acc = NULL;
  if (r->auth && json_object_object_get_ex(r->auth, "accessor", &acc))
    accessor = xstrdup(json_object_get_string(acc));
  make_wrap(q, r, q->wrap_ttl, q->path, body ? body : "", accessor);
  free(accessor);
  free(body);
}

/* ---- sys/wrapping endpoints --------------------------------------------------- */

/* handleWrappingWrap: the request's fields become the wrapped data. */
static void p_wrap(struct sim_call *c)
{
  if (c->q->wrap_ttl <= 0) {
    resp_err(c->r, 400, "endpoint requires response wrapping to be used");
    return;
  }
  json_object *d = NULL;
  if (json_object_object_length(c->q->data) > 0 &&
      json_object_deep_copy(c->q->data, &d, NULL) != 0)
    d = NULL;
  resp_data(c->r, 200, d);
}

/* The stored answer and wrap info of a validated wrapping token. */
static int wrapped_entry(struct sim_call *c, const char **token,
                         const char **response, json_object **info,
                         int *third)
{
  *token = subject_token(c->q, third);
  json_object *resp = sim_cubby_get(*token, "response"), *v = NULL;
  *info = sim_cubby_get(*token, "wrapinfo");
  if (!resp || !*info || !json_object_object_get_ex(resp, "response", &v)) {
    resp_multierr(c->r, 500, "no response found inside the cubbyhole");
    return -1;
  }
  *response = json_object_get_string(v);
  return 0;
}

/* handleWrappingUnwrap: the original envelope, byte for byte. */
static void p_unwrap(struct sim_call *c)
{
  const char *token, *response;
  json_object *info;
  int third;
  if (wrapped_entry(c, &token, &response, &info, &third) < 0)
    return;
  char *text = xstrdup(response);
  if (third) {
    /* responseWrappingUnwrap: the caller's token paid for the request;
    ** the wrapping token is used up and revoked here. */
    char *id = xstrdup(token);
    sim_token_revoke_tree(id);
    free(id);
  }
  resp_clear(c->r);
  c->r->status = 200;
  c->r->kind = RESP_TEXT;
  c->r->text = text;
  c->r->text_type = "application/json";
}

/* handleWrappingLookup: creation data only; the token is not used. */
static void p_lookup(struct sim_call *c)
{
  const char *token, *response;
  json_object *info, *v;
  int third;
  if (wrapped_entry(c, &token, &response, &info, &third) < 0)
    return;
  json_object *d = json_object_new_object();
  static const char *const keys[] = {"creation_ttl", "creation_time",
                                     "creation_path"};
  for (size_t i = 0; i < 3; i++)
    if (json_object_object_get_ex(info, keys[i], &v))
      json_object_object_add(
          d, keys[i],
          i == 0 ? json_object_new_int64(json_object_get_int64(v))
                 : json_object_new_string(json_object_get_string(v)));
  resp_data(c->r, 200, d);
}

/* handleWrappingRewrap: a new wrapping token for the same answer, with
** the original creation path and TTL (or a shorter X-Vault-Wrap-TTL). */
static void p_rewrap(struct sim_call *c)
{
  const char *token, *response;
  json_object *info, *v = NULL;
  int third;
  if (wrapped_entry(c, &token, &response, &info, &third) < 0)
    return;
  int64_t ttl = json_object_object_get_ex(info, "creation_ttl", &v)
                    ? json_object_get_int64(v)
                    : 0;
  char *path = xstrdup(json_object_object_get_ex(info, "creation_path", &v)
                           ? json_object_get_string(v)
                           : "");
  char *text = xstrdup(response);
  if (third) {
    char *id = xstrdup(token);
    sim_token_revoke_tree(id);
    free(id);
  }
  if (c->q->wrap_ttl > 0 && c->q->wrap_ttl < ttl)
    ttl = c->q->wrap_ttl;
  make_wrap(c->q, c->r, ttl, path, text, NULL);
  free(text);
  free(path);
}

static const char *const k_token[] = {"token", NULL};

/* vault/logical_system_paths.go wrappingPaths. lookup is in the sys
** backend's PathsSpecial.Unauthenticated. */
const struct sim_path sim_wrap_paths[] = {
    {"wrapping/wrap", SIM_OPB_WRITE, NULL, SIM_PATH_ANY_FIELDS, p_wrap, NULL,
     NULL, NULL},
    {"wrapping/unwrap", SIM_OPB_WRITE, k_token, SIM_PATH_WRAPPING, p_unwrap,
     NULL, NULL, NULL},
    {"wrapping/lookup", SIM_OPB_READ | SIM_OPB_WRITE, k_token,
     SIM_PATH_WRAPPING | SIM_PATH_UNAUTH, p_lookup, NULL, NULL, NULL},
    {"wrapping/rewrap", SIM_OPB_WRITE, k_token, SIM_PATH_WRAPPING, p_rewrap,
     NULL, NULL, NULL},
    SIM_PATH_END};
