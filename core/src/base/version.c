/*
** version.c - vmb_version(): VMB_VERSION comes from core/CMakeLists.txt.
*/
#include "vmb/version.h"

const char *vmb_version(void) { return VMB_VERSION; }
