/*
 * Segment files of the event log: their names, listing a directory, the
 * 32-byte header, creating a segment durably, and the write-all / read-all /
 * fsync helpers the writer and the readers share (see log_impl.h).
 *
 * Header: "VIGILLOG" | u32 version | u32 flags (0) | u64 first seq |
 *         u32 reserved (0) | u32 CRC-32 of the 28 bytes before it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "log/log_impl.h"

#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".vlog"
#define SEG_DIGITS 20
#define SEG_MODE 0640 /* events may be personal data: not world-readable */

/* ---- errors ------------------------------------------------------------------ */

vg_err log__fail_at(struct vg_error *err, vg_err code, const char *path, uint64_t off,
                    const char *fmt, ...)
{
    if (!err)
        return code;
    char why[VG_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    vg_error_set(err, code, 0, 0, "byte %llu: %s", (unsigned long long)off, why);
    vg_error_where(err, path);
    return code;
}

vg_err log__fail_errno(struct vg_error *err, const char *path, const char *what)
{
    int e = errno;
    vg_error_set(err, VG_ERR_IO, 0, 0, "%s: %s", what, strerror(e));
    vg_error_where(err, path);
    errno = e;
    return VG_ERR_IO;
}

/* ---- the list of segments ---------------------------------------------------- */

void log__segs_free(struct log__segs *s)
{
    free(s->first);
    s->first = NULL;
    s->n = s->cap = 0;
}

vg_err log__segs_push(struct log__segs *s, uint64_t first)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint64_t *p = realloc(s->first, cap * sizeof *p);
        if (!p)
            return VG_ERR_NOMEM;
        s->first = p;
        s->cap = cap;
    }
    s->first[s->n++] = first;
    return VG_OK;
}

vg_err log__seg_path(char *buf, size_t n, const char *dir, uint64_t first)
{
    int w = snprintf(buf, n, "%s/" SEG_PREFIX "%020llu" SEG_SUFFIX, dir,
                     (unsigned long long)first);
    return (w < 0 || (size_t)w >= n) ? VG_ERR_TOO_LARGE : VG_OK;
}

/* The first seq named by "seg-<20 digits>.vlog"; 0 for any other name (seq
 * 0 does not exist, and a name out of range is not one we wrote). */
static uint64_t seg_name_seq(const char *name)
{
    size_t plen = strlen(SEG_PREFIX);
    if (strncmp(name, SEG_PREFIX, plen) != 0 || strcmp(name + plen + SEG_DIGITS, SEG_SUFFIX))
        return 0;
    uint64_t v = 0;
    for (const char *p = name + plen; p < name + plen + SEG_DIGITS; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

vg_err log__list(const char *dir, struct log__segs *out, struct vg_error *err)
{
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        vg_err rc = errno == ENOENT ? VG_ERR_NOT_FOUND : VG_ERR_IO;
        log__fail_errno(err, dir, "cannot open the log directory");
        if (err)
            err->code = rc;
        return rc;
    }
    vg_err rc = VG_OK;
    while (!rc) {
        errno = 0; /* readdir tells the end from an error only by errno */
        const struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                rc = log__fail_errno(err, dir, "cannot list the log directory");
            break;
        }
        uint64_t seq = seg_name_seq(e->d_name);
        if (seq && log__segs_push(out, seq))
            rc = vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->first, out->n, sizeof *out->first, cmp_u64);
    return rc;
}

/* ---- the header -------------------------------------------------------------- */

void log__header_encode(unsigned char h[LOG_HDR], uint64_t first)
{
    memcpy(h, LOG_MAGIC, 8);
    bytes_set32(h + 8, LOG_VERSION);
    bytes_set32(h + 12, 0); /* flags */
    bytes_set64(h + 16, first);
    bytes_set32(h + 24, 0); /* reserved */
    bytes_set32(h + 28, bytes_crc32(0, h, 28));
}

vg_err log__header_check(const unsigned char h[LOG_HDR], uint64_t first, const char *path,
                         struct vg_error *err)
{
    if (memcmp(h, LOG_MAGIC, 8) != 0)
        return log__fail_at(err, VG_ERR_CORRUPT, path, 0,
                            "bad magic: not a vigil log segment");
    if (bytes_le32(h + 28) != bytes_crc32(0, h, 28))
        return log__fail_at(err, VG_ERR_CORRUPT, path, 28, "segment header CRC mismatch");
    if (bytes_le32(h + 8) != LOG_VERSION)
        return log__fail_at(err, VG_ERR_VERSION, path, 8,
                            "segment format version %u (this build reads %u)",
                            bytes_le32(h + 8), LOG_VERSION);
    if (bytes_le32(h + 12) != 0)
        return log__fail_at(err, VG_ERR_VERSION, path, 12, "unknown segment flags 0x%x",
                            bytes_le32(h + 12));
    if (bytes_le64(h + 16) != first)
        return log__fail_at(err, VG_ERR_CORRUPT, path, 16,
                            "header says the segment starts at seq %llu, its name says %llu",
                            (unsigned long long)bytes_le64(h + 16),
                            (unsigned long long)first);
    return VG_OK;
}

int log__header_incomplete(const unsigned char *h, size_t n, uint64_t first)
{
    if (n > LOG_HDR)
        return 0;
    unsigned char want[LOG_HDR];
    log__header_encode(want, first);
    if (n < LOG_HDR && memcmp(h, want, n) == 0)
        return 1;
    for (size_t i = 0; i < n; i++) /* the header's page never reached the disk */
        if (h[i])
            return 0;
    return 1;
}

vg_err log__seg_read_header(int fd, const char *path, uint64_t first, struct vg_error *err)
{
    unsigned char h[LOG_HDR];
    if (log__pread_all(fd, h, LOG_HDR, 0)) {
        if (errno == EIO)
            return log__fail_at(err, VG_ERR_CORRUPT, path, 0,
                                "segment shorter than its %u-byte header", LOG_HDR);
        return log__fail_errno(err, path, "cannot read the segment header");
    }
    return log__header_check(h, first, path, err);
}

/* ---- I/O helpers ------------------------------------------------------------- */

int log__pwrite_all(int fd, const void *p, size_t n, uint64_t off, size_t *done)
{
    const unsigned char *c = p;
    size_t put = 0;
    while (put < n) {
        ssize_t w = pwrite(fd, c + put, n - put, (off_t)(off + put));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            *done = put;
            return -1;
        }
        if (w == 0) { /* should not happen for a regular file; do not spin */
            *done = put;
            errno = EIO;
            return -1;
        }
        put += (size_t)w;
    }
    *done = put;
    return 0;
}

int log__pread_all(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, c + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) { /* the file is shorter than we were told */
            errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int log__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int log__seg_create(const char *dir, uint64_t first, struct vg_error *err)
{
    char path[LOG_PATH_MAX];
    if (log__seg_path(path, sizeof path, dir, first)) {
        vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "log directory name too long");
        vg_error_where(err, dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, SEG_MODE);
    if (fd < 0) {
        log__fail_errno(err, path, "cannot create the segment");
        return -1;
    }
    unsigned char h[LOG_HDR];
    log__header_encode(h, first);
    size_t done;
    const char *what = NULL;
    if (log__pwrite_all(fd, h, LOG_HDR, 0, &done))
        what = "cannot write the segment header";
    else if (fdatasync(fd))
        what = "cannot fsync the new segment";
    else if (log__fsync_dir(dir))
        what = "cannot fsync the log directory";
    if (what) {
        log__fail_errno(err, path, what);
        close(fd);
        unlink(path); /* so that a retry can create it again */
        return -1;
    }
    return fd;
}
