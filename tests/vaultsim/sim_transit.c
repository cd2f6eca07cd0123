/* vault-sim transit backend: placeholder until implemented. */
#include "sim.h"

static void h(struct sim_mount *m, const char *rest, struct sim_req *q,
              struct sim_resp *r)
{
  (void)m;
  (void)rest;
  (void)q;
  resp_unsupported_path(r);
}

const struct sim_backend sim_backend_transit = {
    .type = "transit",
    .handle = h,
};

void sim_tools_random(const char *urlrest, struct sim_req *q,
                      struct sim_resp *r)
{
  (void)urlrest;
  (void)q;
  resp_unsupported_path(r);
}

void sim_tools_hash(const char *urlalg, struct sim_req *q, struct sim_resp *r)
{
  (void)urlalg;
  (void)q;
  resp_unsupported_path(r);
}
