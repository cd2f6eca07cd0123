/*
** fuzz_fcgi_record.c - the FastCGI record reader and writer of parked
** streams (fcgi-app/fcgi_record.c, issue 21).
**
** The input is what a web server (or anyone who can reach the FastCGI
** socket) sends on a parked stream's connection. The first byte picks how
** the bytes are split across reads, so record headers and content arrive
** cut at every place; the reader must agree with itself whatever the split
** (same verdict as one whole feed), never read out of bounds, and stop at
** an ABORT_REQUEST for our request id only. The rest of the input is also
** framed as STDOUT records and read back: the framing must parse as whole
** records of the right id whose content is the input again.
*/
#include <stdlib.h>
#include <string.h>

#include "fcgi_record.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct vmb_fcgi_reader whole, parts;
  enum vmb_fcgi_input a, b = VMB_FCGI_MORE;
  struct vmb_buf out;
  size_t step, off, got = 0;
  uint16_t id;
  if(size < 3)
    return 0;
  step = (size_t)data[0] % 17 + 1;
  id = (uint16_t)(data[1] << 8 | data[2]);
  data += 3;
  size -= 3;

  vmb_fcgi_reader_init(&whole, id);
  a = vmb_fcgi_reader_feed(&whole, data, size);
  vmb_fcgi_reader_init(&parts, id);
  for(off = 0; off < size && b == VMB_FCGI_MORE; off += step) {
    size_t n = size - off < step ? size - off : step;
    b = vmb_fcgi_reader_feed(&parts, data + off, n);
  }
  if(a != b)
    abort();

  /* Round trip: frame the input, then walk the records. */
  vmb_buf_init(&out, 4u * 65536u + 1024u);
  if(vmb_fcgi_put_stdout(&out, id, (const char *)data, size) == 0 &&
     vmb_fcgi_put_end(&out, id) == 0) {
    const uint8_t *p = (const uint8_t *)out.data;
    size_t left = out.len;
    int ended = 0;
    while(left >= 8) {
      size_t clen = (size_t)(p[4] << 8 | p[5]), pad = p[6];
      if(p[0] != 1 || (uint16_t)(p[2] << 8 | p[3]) != id || left < 8 + clen + pad ||
         ((clen + pad) & 7) != 0 || ended)
        abort();
      if(p[1] == 6 && clen) {
        if(memcmp(p + 8, data + got, clen))
          abort();
        got += clen;
      }
      else if(p[1] == 3)
        ended = 1;
      else if(p[1] != 6)
        abort();
      p += 8 + clen + pad;
      left -= 8 + clen + pad;
    }
    if(left || !ended || got != size)
      abort();
  }
  vmb_buf_free(&out);
  return 0;
}
