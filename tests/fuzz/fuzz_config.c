/*
** fuzz_config.c - config file readers (JSON, YAML, TOML subset).
**
** First byte selects the reader; the rest is the file text. Every value
** handed to the entry callback must be a NUL-terminated string with a
** key (an empty key is left to the settings
** table, which names it as unknown).
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config_file.h"

static int entry(void *ud, const char *key, const char *value, char *err,
                 size_t errlen)
{
  size_t *count = ud;
  (void)err;
  (void)errlen;
  if(!key || !value)
    abort();
  (void)strlen(value);
  (*count)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[256] = "";
  size_t count = 0;
  char *text;
  if(size < 1)
    return 0;
  text = fz_strndup(data + 1, size - 1);
  switch(data[0] % 3) {
  case 0: vmb_config_text_json(text, size - 1, entry, &count, err, sizeof(err)); break;
  case 1: vmb_config_text_yaml(text, size - 1, entry, &count, err, sizeof(err)); break;
  default: vmb_config_text_toml(text, size - 1, entry, &count, err, sizeof(err)); break;
  }
  if(strnlen(err, sizeof(err)) >= sizeof(err))
    abort();
  free(text);
  return 0;
}
