/*
** version.c - vmb_version() and the build facts --version prints.
**
** VMB_VERSION comes from core/CMakeLists.txt; the build facts are compile
** definitions set once in the top-level CMakeLists.txt (VMB_BUILD_TYPE,
** VMB_COMPILER, VMB_SANITIZERS); missing ones print as "unknown" so a
** build by other means still compiles. No date or host name: the packages
** are meant to build reproducibly. libjwt is not listed: the binaries do
** not call it (the linker drops it; only a test uses it as an oracle).
*/
#include "vmb/version.h"

#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <yaml.h>

const char *vmb_version(void) { return VMB_VERSION; }

#ifndef VMB_BUILD_TYPE
#define VMB_BUILD_TYPE "unknown"
#endif
#ifndef VMB_COMPILER
#define VMB_COMPILER "unknown"
#endif
#ifndef VMB_SANITIZERS
#define VMB_SANITIZERS "none"
#endif

void vmb_build_info_print(FILE *f)
{
  fprintf(f, "build: %s, %s, sanitizers: %s\n", VMB_BUILD_TYPE, VMB_COMPILER,
          VMB_SANITIZERS);
  fprintf(f, "libraries: json-c %s, OpenSSL %s, libyaml %s,\n  %s\n",
          json_c_version(), OpenSSL_version(OPENSSL_VERSION_STRING),
          yaml_get_version_string(), curl_version());
}
