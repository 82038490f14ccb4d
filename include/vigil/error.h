/*
 * vigil — error codes shared by every module.
 *
 * Every public function of libvigil returns a vg_err and writes its results to
 * out-parameters. Functions that parse something a person wrote (logs, model
 * files, flags) also take an optional `struct vg_error *` that receives the place
 * (file, line, column) and a human sentence. The library never prints and never
 * exits; front ends turn a vg_error into "what:where: why" on stderr.
 */
#ifndef VIGIL_ERROR_H
#define VIGIL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_err {
    VG_OK = 0,
    VG_ERR_NOMEM,       /* allocation failed */
    VG_ERR_IO,          /* read/write/open failed (errno is in the message) */
    VG_ERR_PARSE,       /* malformed input: XML, CSV, JSON, date, number */
    VG_ERR_FORMAT,      /* well-formed but not what we expect (missing key, wrong element) */
    VG_ERR_TOO_LARGE,   /* a buffer or table limit was reached */
    VG_ERR_INVALID,     /* a bad argument or option value */
    VG_ERR_CORRUPT,     /* checksum or framing mismatch in one of our own files */
    VG_ERR_VERSION,     /* our own file, but a version we cannot read */
    VG_ERR_NOT_FOUND,   /* the thing asked for does not exist */
    VG_ERR_UNSUPPORTED, /* a feature this build does not have */
    VG_ERR__COUNT
} vg_err;

/* A static English sentence for `code`; never NULL. */
const char *vg_strerror(vg_err code);

#define VG_ERROR_MSG_MAX 256
#define VG_ERROR_WHERE_MAX 256

/* Where and why something failed. `where` is usually a file name; line/col are
 * 1-based, 0 meaning "not known". */
struct vg_error {
    vg_err code;
    long line;
    long col;
    char where[VG_ERROR_WHERE_MAX];
    char msg[VG_ERROR_MSG_MAX];
};

/* Fill `e` (if not NULL) and return `code`, so callers can write
 * `return vg_error_set(err, VG_ERR_PARSE, line, 0, "bad date '%s'", s);`.
 * `where` of `e` is left as is: the caller that knows the file sets it. */
vg_err vg_error_set(struct vg_error *e, vg_err code, long line, long col,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
vg_err vg_error_vset(struct vg_error *e, vg_err code, long line, long col,
                     const char *fmt, va_list ap);

/* Set the `where` part (e.g. a file name); safe with e == NULL. */
void vg_error_where(struct vg_error *e, const char *where);

/* Render as "where:line:col: msg" (parts that are unknown are left out) into
 * buf of size n; returns buf. */
char *vg_error_format(const struct vg_error *e, char *buf, size_t n);

/* A callback for warnings: readers and loaders call it for things that are
 * accepted but worth saying (a repeated case id, events without timestamps). */
typedef void (*vg_warn_fn)(void *ud, const struct vg_error *w);

#ifdef __cplusplus
}
#endif
#endif
