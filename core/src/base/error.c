/*
** error.c - views of the error list in vmb/error.h.
*/
#include "vmb/error.h"

struct err_row {
  int http;
  int rpc;
  const char *name;
  const char *message;
};

static const struct err_row err_rows[VMB_ERR__LAST] = {
#define VMB_X_ROW(name, http, rpc, wire, msg) {http, rpc, wire, msg},
  VMB_ERROR_MAP(VMB_X_ROW)
#undef VMB_X_ROW
};

static const struct err_row *row_of(enum vmb_err err)
{
  if((unsigned)err >= (unsigned)VMB_ERR__LAST)
    return &err_rows[VMB_ERR_INTERNAL];
  return &err_rows[err];
}

int vmb_err_http_status(enum vmb_err err) { return row_of(err)->http; }
int vmb_err_jsonrpc_code(enum vmb_err err) { return row_of(err)->rpc; }
const char *vmb_err_name(enum vmb_err err) { return row_of(err)->name; }
const char *vmb_err_message(enum vmb_err err) { return row_of(err)->message; }
