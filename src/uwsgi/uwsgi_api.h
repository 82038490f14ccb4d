/*
 * The part of uWSGI's C API that the vigil adapter calls, declared here
 * instead of including the header that `uwsgi-core --dot-h` prints.
 *
 * Why not that header: the layout of its struct wsgi_request depends on the
 * defines uWSGI itself was built with (UWSGI_SSL adds a field, and so on),
 * and the header pulls in pcre.h, sys/capability.h, openssl/ssl.h and
 * libxml2 — development packages vigil has no other use for. The adapter
 * never looks inside a request: it hands the pointer back to these
 * functions, which the uwsgi-core binary exports to the plug-ins it loads
 * (dlopen, RTLD_GLOBAL). So it needs no layout and no uWSGI build flags.
 *
 * The prototypes are copied from the header of uWSGI 2.0.21 (Debian
 * bookworm's uwsgi-core); they have not changed through the 2.0 series.
 * tests/cli/uwsgi.sh compiles this file together with the real header, so a
 * change would be caught as a conflicting declaration.
 */
#ifndef VIGIL_UWSGI_API_H
#define VIGIL_UWSGI_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct wsgi_request; /* opaque: owned by uWSGI, one per request */

/* What a request handler returns when it is done with the request. */
#define VG_UWSGI_OK 0
/* The exit status that, with need-app and lazy-apps, makes the uWSGI master
 * stop the whole instance instead of respawning the worker. */
#define VG_UWSGI_FAILED_APP_CODE 22

/* Parse the request's variables (symcall leaves this to the handler). */
int uwsgi_parse_vars(struct wsgi_request *);
/* A request variable (REQUEST_METHOD, HTTP_AUTHORIZATION, …), not
 * NUL-terminated: its length goes to the last argument. NULL if absent. */
char *uwsgi_get_var(struct wsgi_request *, char *, uint16_t, uint16_t *);

/* The body as announced by Content-Length: up to hint bytes per call into a
 * buffer of uWSGI's; an empty string at the end (without setting the length
 * argument!), NULL on a read error or timeout. */
char *uwsgi_request_body_read(struct wsgi_request *, ssize_t, ssize_t *);
/* The next chunk of a chunked body; length 0 at the end, NULL on error. */
char *uwsgi_chunked_read(struct wsgi_request *, size_t *, int, int);

int uwsgi_response_prepare_headers_int(struct wsgi_request *, int);
int uwsgi_response_add_header(struct wsgi_request *, char *, uint16_t, char *, uint16_t);
int uwsgi_response_add_content_length(struct wsgi_request *, uint64_t);
int uwsgi_response_write_headers_do(struct wsgi_request *);
int uwsgi_response_write_body_do(struct wsgi_request *, char *, size_t);

void uwsgi_log(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
