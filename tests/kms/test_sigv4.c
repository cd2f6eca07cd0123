/*
** test_sigv4.c - one AWS SigV4 suite case: parse <dir>/<case>.req, sign
** it with the suite's fixed credentials and compare the canonical
** request, the string to sign and the Authorization value byte for byte
** with .creq, .sts and .authz.
**
** usage: test_sigv4 <suite-dir> <case>
** A missing file is a failure, never a skip: a vector set that vanished
** must not turn the suite green.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define MAX_FILE (256 * 1024)
#define MAX_HDRS 64

static char *slurp(const char *dir, const char *name, const char *ext, size_t *len)
{
  char path[4096];
  FILE *f;
  char *buf;
  size_t n;
  int w = snprintf(path, sizeof(path), "%s/%s/%s.%s", dir, name, name, ext);
  if(w < 0 || (size_t)w >= sizeof(path))
    return NULL;
  f = fopen(path, "rb");
  if(!f) {
    fprintf(stderr, "FAIL: cannot open %s\n", path);
    return NULL;
  }
  buf = malloc(MAX_FILE + 1);
  if(!buf) {
    fclose(f);
    return NULL;
  }
  n = fread(buf, 1, MAX_FILE, f);
  fclose(f);
  buf[n] = '\0';
  if(len)
    *len = n;
  return buf;
}

/* Compare and print both sides on a mismatch. */
static int same(const char *what, const char *got, size_t gotlen, const char *want)
{
  if(gotlen == strlen(want) && memcmp(got, want, gotlen) == 0)
    return 1;
  fprintf(stderr, "FAIL: %s differs\n--- want\n%s\n--- got\n%.*s\n---\n", what, want,
          (int)gotlen, got);
  return 0;
}

int main(int argc, char **argv)
{
  struct vmb_sigv4_header hdrs[MAX_HDRS];
  struct vmb_sigv4_request req;
  struct vmb_sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  struct vmb_sigv4_result res;
  char *raw, *creq, *sts, *authz, *p, *line, *sp, *target, *q, *amz_date = NULL;
  size_t rawlen, nh = 0;
  int ok = 1;

  if(argc != 3) {
    fprintf(stderr, "usage: %s <suite-dir> <case>\n", argv[0]);
    return 2;
  }
  raw = slurp(argv[1], argv[2], "req", &rawlen);
  creq = slurp(argv[1], argv[2], "creq", NULL);
  sts = slurp(argv[1], argv[2], "sts", NULL);
  authz = slurp(argv[1], argv[2], "authz", NULL);
  if(!raw || !creq || !sts || !authz)
    return 1;

  /* get-space.req starts with a UTF-8 byte order mark; the expected
     outputs assume it is absent. */
  p = raw;
  if(rawlen >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;

  /* Request line: METHOD SP target SP HTTP/1.1. The target may itself
     contain spaces (get-space), so the version is cut from the right. */
  line = p;
  p = strchr(p, '\n');
  if(!p)
    return 1;
  *p++ = '\0';
  sp = strchr(line, ' ');
  target = sp ? sp + 1 : NULL;
  sp = strrchr(line, ' ');
  if(!target || !sp || sp < target)
    return 1;
  *sp = '\0';
  target[-1] = '\0';
  q = strchr(target, '?');
  if(q)
    *q++ = '\0';

  /* Headers up to a blank line; a line starting with blanks continues
     the previous header and counts as another value of it. */
  memset(&req, 0, sizeof(req));
  while(*p && *p != '\n') {
    char *end = strchr(p, '\n'), *colon;
    if(end)
      *end = '\0';
    if((*p == ' ' || *p == '\t') && nh) {
      if(nh == MAX_HDRS)
        return 1;
      hdrs[nh].name = hdrs[nh - 1].name;
      hdrs[nh].value = p;
      nh++;
    }
    else {
      colon = strchr(p, ':');
      if(!colon || nh == MAX_HDRS)
        return 1;
      *colon = '\0';
      hdrs[nh].name = p;
      hdrs[nh].value = colon + 1;
      if(strcmp(p, "X-Amz-Date") == 0)
        amz_date = colon + 1;
      nh++;
    }
    if(!end) {
      p += strlen(p);
      break;
    }
    p = end + 1;
  }
  if(*p == '\n')
    p++;
  if(!amz_date)
    return 1;

  req.method = line;
  req.path = target;
  req.query = q;
  req.headers = hdrs;
  req.n_headers = nh;
  req.payload = p;
  req.payload_len = strlen(p);

  vmb_sigv4_result_init(&res);
  if(vmb_sigv4_sign(&req, "us-east-1", "service", amz_date, &creds, &res)) {
    fprintf(stderr, "FAIL: vmb_sigv4_sign returned an error\n");
    ok = 0;
  }
  else {
    ok &= same("canonical request", res.creq.data, res.creq.len, creq);
    ok &= same("string to sign", res.sts.data, res.sts.len, sts);
    ok &= same("Authorization", res.authz.data, res.authz.len, authz);
  }
  vmb_sigv4_result_free(&res);
  free(raw);
  free(creq);
  free(sts);
  free(authz);
  if(ok)
    printf("ok: %s\n", argv[2]);
  return ok ? 0 : 1;
}
