/*
** ops_table.h - the operation table itself. It lives at the top because
** its rows bind handlers from every layer below; start-up installs it in
** the gate (vmb_ops_install) and derives the metric labels from it.
*/
#ifndef VMB_OPS_TABLE_H
#define VMB_OPS_TABLE_H

#include <stddef.h>

#include "ops.h"

extern const struct vmb_op vmb_ops[];
extern const size_t vmb_n_ops;

#endif
