/*
** fcgi_record.c - FastCGI record framing for parked streams
** (fcgi_record.h). Written from the FastCGI 1.0 specification: an
** 8-byte header {version 1, type, requestId (big endian), contentLength
** (big endian), paddingLength, reserved}, then content and padding.
*/
#include "fcgi_record.h"

#include <string.h>

#define REC_VERSION 1
#define T_ABORT_REQUEST 2
#define T_END_REQUEST 3
#define T_STDOUT 6
/* Largest content per record that keeps content + padding <= 65535
   with 8-byte alignment. */
#define CONTENT_MAX 65528u

static void header(uint8_t h[8], uint8_t type, uint16_t id, uint16_t clen, uint8_t pad)
{
  h[0] = REC_VERSION;
  h[1] = type;
  h[2] = (uint8_t)(id >> 8);
  h[3] = (uint8_t)(id & 0xff);
  h[4] = (uint8_t)(clen >> 8);
  h[5] = (uint8_t)(clen & 0xff);
  h[6] = pad;
  h[7] = 0;
}

int vmb_fcgi_put_stdout(struct vmb_buf *out, uint16_t id, const char *data, size_t len)
{
  static const uint8_t zeros[8];
  size_t start = out->len;
  while(len) {
    size_t n = len > CONTENT_MAX ? CONTENT_MAX : len;
    uint8_t h[8], pad = (uint8_t)((8 - (n & 7)) & 7);
    header(h, T_STDOUT, id, (uint16_t)n, pad);
    if(vmb_buf_append(out, h, 8) || vmb_buf_append(out, data, n) ||
       (pad && vmb_buf_append(out, zeros, pad))) {
      out->len = start;              /* all or nothing */
      if(out->data)
        out->data[start] = '\0';
      return -1;
    }
    data += n;
    len -= n;
  }
  return 0;
}

int vmb_fcgi_put_end(struct vmb_buf *out, uint16_t id)
{
  uint8_t rec[24];
  header(rec, T_STDOUT, id, 0, 0);
  header(rec + 8, T_END_REQUEST, id, 8, 0);
  memset(rec + 16, 0, 8);            /* appStatus 0, REQUEST_COMPLETE (0) */
  return vmb_buf_append(out, rec, sizeof(rec));
}

void vmb_fcgi_reader_init(struct vmb_fcgi_reader *r, uint16_t id)
{
  memset(r, 0, sizeof(*r));
  r->id = id;
}

enum vmb_fcgi_input vmb_fcgi_reader_feed(struct vmb_fcgi_reader *r, const uint8_t *data,
                                         size_t len)
{
  while(len) {
    if(r->left) {                    /* skip content we do not need */
      size_t n = len < r->left ? len : r->left;
      r->left -= (uint32_t)n;
      data += n;
      len -= n;
      continue;
    }
    r->head[r->have++] = *data++;
    len--;
    if(r->have < 8)
      continue;
    r->have = 0;
    if(r->head[0] != REC_VERSION)
      return VMB_FCGI_BAD;
    r->type = r->head[1];
    r->rid = (uint16_t)(r->head[2] << 8 | r->head[3]);
    r->left = (uint32_t)(r->head[4] << 8 | r->head[5]) + r->head[6];
    /* ABORT_REQUEST carries no content; whatever it says, it ends ours. */
    if(r->type == T_ABORT_REQUEST && r->rid == r->id)
      return VMB_FCGI_ABORT;
  }
  return VMB_FCGI_MORE;
}
