/*
** version.h - the bridge's version string (the project version CMake
** compiles into the core). Lowest layer: metrics, traces, MCP and the
** API all report it.
*/
#ifndef VMB_VERSION_H
#define VMB_VERSION_H

const char *vmb_version(void);

#endif
