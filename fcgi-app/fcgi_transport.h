/*
** fcgi_transport.h - translate one FastCGI request into a vmb_request,
** serve it through the core and write the response back.
*/
#ifndef VMB_FCGI_TRANSPORT_H
#define VMB_FCGI_TRANSPORT_H

#include <fcgiapp.h>

struct vmb_worker;

/* Serve the request r has just accepted. Never fails: problems reading
   or writing are logged and the request is finished anyway. */
void vmb_fcgi_serve(FCGX_Request *r, struct vmb_worker *w);

#endif
