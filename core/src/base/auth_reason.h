/*
** auth_reason.h - the one list of reasons an authentication can fail
** with (SPEC section 2). The authenticators (auth/, stdio) report these
** names in logs, 401 details and the auth_failures_total{reason} label;
** metrics derive their bounded label set from this list, so a reason
** missing here would be counted as "other". scripts/check-auth-reasons.sh
** (ctest lint_auth_reasons) fails on a reason literal that is not listed.
** Append only: the order is part of the metrics file layout.
*/
#ifndef VMB_AUTH_REASON_H
#define VMB_AUTH_REASON_H

#define VMB_AUTH_REASON_MAP(X) \
  X(missing_credentials)           \
  X(not_bearer)                    \
  X(unknown_key)                   \
  X(empty)                         \
  X(too_long)                      \
  X(too_large)                     \
  X(internal)                      \
  X(out_of_memory)                 \
  X(jwt_not_configured)            \
  X(mtls_not_configured)           \
  X(malformed)                     \
  X(bad_header)                    \
  X(bad_typ)                       \
  X(bad_kid)                       \
  X(missing_kid)                   \
  X(unknown_kid)                   \
  X(crit_unsupported)              \
  X(alg_not_allowed)               \
  X(alg_mismatch)                  \
  X(key_alg_mismatch)              \
  X(bad_signature)                 \
  X(bad_claims)                    \
  X(bad_exp)                       \
  X(missing_exp)                   \
  X(expired)                       \
  X(bad_nbf)                       \
  X(not_yet_valid)                 \
  X(bad_iat)                       \
  X(iat_in_future)                 \
  X(bad_issuer)                    \
  X(bad_audience)                  \
  X(bad_subject)                   \
  X(bad_scope)                     \
  X(jwks_unavailable)              \
  X(no_certificate)                \
  X(cert_not_verified)             \
  X(not_https)                     \
  X(bad_dn)                        \
  X(no_cn)                         \
  X(ambiguous_cn)                  \
  X(duplicate_identity_header)     \
  X(registry_unavailable)

#endif
