/*
** version.h - the bridge's version string (the project version CMake
** compiles into the core) and the build facts `--version` prints after
** it. Lowest layer: metrics, traces, MCP and the API all report it.
*/
#ifndef VMB_VERSION_H
#define VMB_VERSION_H

#include <stdio.h>

const char *vmb_version(void);

/* Writes "build: ..." (build type, compiler, sanitizers) and
   "libraries: ..." lines to f. Library versions come from the libraries
   themselves (the loaded .so, which may be newer than the headers the
   binary was built with). Shared by vault-mcp-fcgi and vault-mcp-stdio so
   a bug report from either names the same facts. */
void vmb_build_info_print(FILE *f);

#endif
