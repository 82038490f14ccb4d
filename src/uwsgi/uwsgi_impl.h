/*
 * Internals of the uWSGI adapter (src/uwsgi/), shared by its two files:
 *
 *   service.c  the entry points uWSGI calls (vigil_uwsgi_init after the
 *              worker is forked, vigil_uwsgi_request per request), reading
 *              the configuration, the one vg_server of the worker process,
 *              and stopping it when the worker exits
 *   request.c  one request: uWSGI's variables and body → struct
 *              vg_http_req, vg_server_handle, the answer back to uWSGI
 */
#ifndef VIGIL_UWSGI_IMPL_H
#define VIGIL_UWSGI_IMPL_H

#include <stdint.h>

#include "vigil/server.h"

struct wsgi_request;

/* Serve one request whose variables are parsed (request.c). */
void uwsgi__serve(struct vg_server *s, uint64_t max_body, struct wsgi_request *wr);
/* Answer 503 not_ready with `why` (the service is not there). */
void uwsgi__unavailable(struct wsgi_request *wr, const char *why);

#endif
