/* vault-sim approle backend: placeholder until implemented. */
#include "sim.h"

static void h(struct sim_mount *m, const char *rest, struct sim_req *q,
              struct sim_resp *r)
{
  (void)m;
  (void)rest;
  (void)q;
  resp_unsupported_path(r);
}

const struct sim_backend sim_backend_approle = {
    .type = "approle",
    .handle = h,
};

const char *sim_approle_renew_check(const char *role,
                                    const struct strlist *policies);
const char *sim_approle_renew_check(const char *role,
                                    const struct strlist *policies)
{
  (void)role;
  (void)policies;
  return 0;
}
