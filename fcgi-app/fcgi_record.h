/*
** fcgi_record.h - the few FastCGI records a parked stream needs, written
** and read without libfcgi (docs/mcp.md, "How streams are held").
**
** Once a stream's headers are out, fcgi_transport.c takes the request's
** connection away from libfcgi (its fd and request id) and the core's
** event loop owns it. From then on this module frames what the loop
** sends (STDOUT records, and at the end an empty STDOUT plus
** END_REQUEST) and reads what the web server sends on that connection:
** ABORT_REQUEST for our request ends the stream; stray STDIN, PARAMS,
** management records (request id 0) and records of other request ids are
** skipped. Everything read is hostile: a record header with a version
** other than 1 is a protocol error and the stream is closed.
*/
#ifndef VMB_FCGI_RECORD_H
#define VMB_FCGI_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "vmb/buf.h"

/* Append data as STDOUT records for request id (content split at 65528
   bytes, padded to a multiple of 8). len 0 appends nothing. 0, or -1
   when out is at its ceiling (out keeps what it had). */
int vmb_fcgi_put_stdout(struct vmb_buf *out, uint16_t id, const char *data, size_t len);

/* Append the end of the response: an empty STDOUT record (end of
   stream) and END_REQUEST (appStatus 0, REQUEST_COMPLETE). 0 or -1. */
int vmb_fcgi_put_end(struct vmb_buf *out, uint16_t id);

/* Reading state of one connection: where we are in the current record. */
struct vmb_fcgi_reader {
  uint16_t id;            /* our request id */
  uint8_t head[8];        /* the record header being collected */
  uint8_t have;           /* bytes of head collected, 0..8 */
  uint8_t type;           /* current record's type, once head is whole */
  uint16_t rid;           /* current record's request id */
  uint32_t left;          /* content + padding bytes still to skip */
};

enum vmb_fcgi_input {
  VMB_FCGI_MORE = 0,      /* nothing that ends the stream */
  VMB_FCGI_ABORT = 1,     /* ABORT_REQUEST for our request */
  VMB_FCGI_BAD = -1       /* not FastCGI: close the connection */
};

void vmb_fcgi_reader_init(struct vmb_fcgi_reader *r, uint16_t id);

/* Feed bytes read from the connection (any split, any length). Stops at
   the first record that ends the stream. */
enum vmb_fcgi_input vmb_fcgi_reader_feed(struct vmb_fcgi_reader *r, const uint8_t *data,
                                         size_t len);

#endif
