/*
 * vigil — growable byte buffer with a hard maximum (after curl's dynbuf).
 *
 * Every buffer that grows from outside input has a limit: growing past it
 * returns VG_ERR_TOO_LARGE and leaves the contents as they were. The buffer
 * owns its memory; vg_buf_free releases it. The contents are always
 * NUL-terminated (the terminator is not counted in len), so they may be
 * handed to C string functions when they hold no NUL of their own.
 */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* the most bytes len may reach */
};

void vg_buf_init(struct vg_buf *b, size_t max);
void vg_buf_free(struct vg_buf *b);
void vg_buf_reset(struct vg_buf *b); /* len = 0, memory kept */
vg_err vg_buf_reserve(struct vg_buf *b, size_t extra);
vg_err vg_buf_add(struct vg_buf *b, const void *p, size_t n);
vg_err vg_buf_addc(struct vg_buf *b, char c);
vg_err vg_buf_adds(struct vg_buf *b, const char *s);
vg_err vg_buf_printf(struct vg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* JSON output helpers: append `s` as a quoted, escaped JSON string
 * (control characters as \u00XX, invalid UTF-8 bytes as U+FFFD). */
vg_err vg_buf_add_json_str(struct vg_buf *b, const char *s, size_t n);
/* A double in the shortest form that reads back to the same value. */
vg_err vg_buf_add_json_num(struct vg_buf *b, double v);
vg_err vg_buf_add_u64(struct vg_buf *b, uint64_t v);
vg_err vg_buf_add_i64(struct vg_buf *b, int64_t v);

#ifdef __cplusplus
}
#endif
#endif
