/*
** config_file.h - config file readers (JSON, YAML, TOML subset).
**
** Each reader accepts one top-level table of settings and calls entry()
** once per key with the value as text: scalars as written, nested
** objects and arrays as compact JSON (so API_KEYS_JSON may be written as
** a real mapping). Files are capped at 1 MiB and nesting at 16 levels.
*/
#ifndef VMB_CONFIG_FILE_H
#define VMB_CONFIG_FILE_H

#include <stddef.h>

typedef int (*vmb_config_entry_fn)(void *ud, const char *key,
                                   const char *value, char *err,
                                   size_t errlen);

int vmb_config_file_json(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen);
int vmb_config_file_yaml(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen);
int vmb_config_file_toml(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen);

/* The same readers over a buffer, for tests. */
int vmb_config_text_json(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen);
int vmb_config_text_yaml(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen);
int vmb_config_text_toml(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen);

#endif
