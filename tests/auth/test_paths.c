/*
** test_paths.c - the hostile-path table (hostile-paths.tsv) against
** vmb_kv_path_check_n, the one function REST, MCP tools and MCP resources
** use to decide whether a KV path stays inside the caller's folder.
** The file format is described in its first line.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nspath.h"

static int hexv(char c)
{
  if(c >= '0' && c <= '9') return c - '0';
  if(c >= 'a' && c <= 'f') return c - 'a' + 10;
  if(c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decode the TSV escapes (\xHH, \\) of s[0..n) into out; returns length. */
static long unescape(const char *s, size_t n, char *out, size_t cap)
{
  size_t i, o = 0;
  for(i = 0; i < n; i++) {
    char c = s[i];
    if(c == '\\' && i + 1 < n && s[i + 1] == '\\') {
      i++;
    }
    else if(c == '\\' && i + 3 < n && s[i + 1] == 'x' &&
            hexv(s[i + 2]) >= 0 && hexv(s[i + 3]) >= 0) {
      c = (char)(hexv(s[i + 2]) * 16 + hexv(s[i + 3]));
      i += 3;
    }
    else if(c == '\\') {
      return -1;                    /* unknown escape: the file is wrong */
    }
    if(o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  out[o] = '\0';
  return (long)o;
}

int main(int argc, char **argv)
{
  FILE *f;
  char line[4096];
  int lineno = 0, cases = 0;
  if(argc != 2) {
    fprintf(stderr, "usage: test_paths hostile-paths.tsv\n");
    return 2;
  }
  f = fopen(argv[1], "r");
  if(!f) {
    perror(argv[1]);
    return 1;
  }
  while(fgets(line, sizeof(line), f)) {
    char *tab1, *tab2, *end, path[2048];
    const char *verdict, *kind = "secret", *why;
    long plen;
    bool folder;
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    if(line[0] == '#' || (line[0] == '\0'))
      continue;
    tab1 = strchr(line, '\t');
    if(!tab1) {
      fprintf(stderr, "line %d: no verdict\n", lineno);
      CHECK(0);
      continue;
    }
    *tab1 = '\0';
    verdict = tab1 + 1;
    tab2 = strchr(verdict, '\t');
    if(tab2) {
      *tab2 = '\0';
      kind = tab2 + 1;
    }
    end = tab1;
    plen = unescape(line, (size_t)(end - line), path, sizeof(path));
    CHECK(plen >= 0);
    CHECK(!strcmp(verdict, "ok") || !strcmp(verdict, "reject"));
    CHECK(!strcmp(kind, "secret") || !strcmp(kind, "folder"));
    if(plen < 0)
      continue;
    folder = !strcmp(kind, "folder");
    why = vmb_kv_path_check_n(path, (size_t)plen, folder, folder);
    cases++;
    if((why == NULL) != !strcmp(verdict, "ok")) {
      fprintf(stderr, "line %d: \"%s\" (%s): expected %s, got %s\n", lineno,
              line, kind, verdict, why ? why : "ok");
      CHECK(0);
    }
    else {
      CHECK(1);
    }
  }
  fclose(f);
  CHECK(cases >= 60);
  fprintf(stderr, "%d path cases\n", cases);
  return harness_result("hostile paths");
}
