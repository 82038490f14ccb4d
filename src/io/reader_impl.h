/*
 * Internal contract between reader.c (opening, gzip detection, dispatch) and
 * the format back ends xes.c, csv.c and jsonl.c. Not installed.
 */
#ifndef VIGIL_IO_READER_IMPL_H
#define VIGIL_IO_READER_IMPL_H

#include <zlib.h>

#include "vigil/buf.h"
#include "vigil/reader.h"

#define READER_CHUNK (64 * 1024)

struct vg_reader;
struct sniff;

struct reader_ops {
    /* Called once after the common part is set up; allocates r->impl. */
    vg_err (*open)(struct vg_reader *r, struct vg_error *err);
    vg_err (*next)(struct vg_reader *r, const struct vg_event **ev, struct vg_error *err);
    void (*close)(struct vg_reader *r);
};

struct vg_reader {
    const struct reader_ops *ops;
    struct vg_reader_opts opts; /* with defaults filled in (max_* non-zero) */
    enum vg_log_format format;
    char *path;                 /* for messages */
    gzFile gz;                  /* reads plain and gzip'd input alike */
    int fd_is_stdin;
    struct vg_reader_stats st;
    struct sniff *sniffed;      /* bytes read ahead to guess the format */
    vg_err sticky;              /* first error; repeated on later calls */
    struct vg_error sticky_err;
    void *impl;
};

/* Read up to n decompressed bytes; returns bytes read, 0 at end, -1 on error
 * (err filled, located at `line`). Updates st.bytes_in / bytes_decoded. */
long reader__read(struct vg_reader *r, void *buf, size_t n, long line, struct vg_error *err);

/* Report a warning through opts.warn (if any), located at `line`. */
void reader__warn(struct vg_reader *r, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

extern const struct reader_ops reader__xes_ops;
extern const struct reader_ops reader__csv_ops;
extern const struct reader_ops reader__jsonl_ops;

#endif
