/*
 * Helpers shared by the event-log tests: scratch directories, file surgery
 * for corruption fixtures, a warning collector, and writing and replaying
 * small logs.
 */
#ifndef VIGIL_TEST_WAL_FIXTURE_H
#define VIGIL_TEST_WAL_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/wal.h"

/* ---- directories and files -------------------------------------------------- */

static inline char *fx_tmpdir(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/vigil-wal-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf);
}

/* Remove dir, its files and its subdirectories one level down. */
static inline void fx_rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        if (unlink(p) && (errno == EISDIR || errno == EPERM))
            fx_rm_rf(p);
    }
    closedir(d);
    rmdir(dir);
}

static inline const char *fx_seg(char *buf, size_t n, const char *dir, unsigned long long first)
{
    snprintf(buf, n, "%s/seg-%020llu.vlog", dir, first);
    return buf;
}

static inline long long fx_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* The whole file in a malloc'd buffer; *n its size. */
static inline unsigned char *fx_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static inline int fx_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(p, 1, n, f);
    return fclose(f) || put != n ? -1 : 0;
}

static inline int fx_poke(const char *path, long long off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

static inline int fx_flip(const char *path, long long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1)
        return -1;
    c ^= 0x40;
    ssize_t w = pwrite(fd, &c, 1, (off_t)off);
    close(fd);
    return w == 1 ? 0 : -1;
}

/* ---- warnings ------------------------------------------------------------------ */

struct fx_warns {
    int n;
    char last[600];
};

static inline void fx_warn(void *ud, const struct vg_error *w)
{
    struct fx_warns *ws = ud;
    ws->n++;
    vg_error_format(w, ws->last, sizeof ws->last);
}

/* ---- writing and reading logs ---------------------------------------------------- */

/* Payload of record seq: deterministic bytes of a length that varies. */
static inline size_t fx_payload(uint64_t seq, unsigned char *buf, size_t cap)
{
    size_t n = 5 + (size_t)(seq * 7 % 41);
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(seq * 31 + i);
    return n;
}

/* Append records until seq `upto`, `batch` per flush; 0 on success. */
static inline int fx_fill(struct vg_wal *w, uint64_t upto, int batch)
{
    unsigned char p[64];
    while (vg_wal_last_seq(w) < upto) {
        for (int i = 0; i < batch && vg_wal_last_seq(w) + (uint64_t)i < upto; i++) {
            uint64_t want = vg_wal_last_seq(w) + (uint64_t)i + 1, seq = 0;
            size_t n = fx_payload(want, p, sizeof p);
            if (vg_wal_append(w, VG_REC_EVENT, (int64_t)want * 1000, p, n, &seq) ||
                seq != want)
                return -1;
        }
        if (vg_wal_flush(w, NULL))
            return -1;
    }
    return 0;
}

/* A visitor that checks the records are fx_payload's, in order. */
struct fx_seen {
    uint64_t count;
    uint64_t first, last;
    int bad;
    uint64_t stop_at; /* return 1 at this seq (0: never) */
};

static inline int fx_visit(void *ud, const struct vg_wal_record *r)
{
    struct fx_seen *s = ud;
    unsigned char p[64];
    size_t n = fx_payload(r->seq, p, sizeof p);
    if (s->count && r->seq != s->last + 1)
        s->bad++;
    if (r->len != n || memcmp(r->payload, p, n) || r->arrival_ms != (int64_t)r->seq * 1000 ||
        r->type != VG_REC_EVENT)
        s->bad++;
    if (!s->count)
        s->first = r->seq;
    s->last = r->seq;
    s->count++;
    return s->stop_at && r->seq == s->stop_at;
}

/* A fresh log in dir with records 1..n (opts may be NULL). */
static inline int fx_make(const char *dir, uint64_t n, int batch, const struct vg_wal_opts *o)
{
    struct vg_wal_opts def = {.fsync = VG_FSYNC_OFF};
    struct vg_wal *w;
    if (vg_wal_open(&w, dir, o ? o : &def, NULL))
        return -1;
    int rc = fx_fill(w, n, batch);
    vg_wal_close(&w);
    return rc;
}

#endif
