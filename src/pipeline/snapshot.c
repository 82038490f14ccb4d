/*
 * Snapshot files (see snapshot.h).
 */
#include "pipeline/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/file.h"

#define SNAP_MAGIC "VIGILSNP"
#define SNAP_VERSION 2u /* 2: + the CEP section; 1 is still read (no CEP section) */
#define SNAP_HEADER 32
#define SNAP_PREFIX "snapshot-"
#define SNAP_SUFFIX ".vsnap"
#define MAX_SNAPSHOTS 64
#define MAX_SNAPSHOT_BYTES ((size_t)16 << 30)

void snapshot__bytes_free(struct snapshot_bytes *sb)
{
    free(sb->model);
    sb->model = NULL;
    vg_buf_free(&sb->state);
    vg_buf_free(&sb->cep);
}

void snapshot__free(struct snapshot *s)
{
    vg_model_free(&s->model);
    free(s->raw);
    s->raw = NULL;
}

/* The seq in a snapshot file name, or -1 if the name is not one. */
static int name_seq(const char *name, uint64_t *seq)
{
    size_t n = strlen(name), lp = strlen(SNAP_PREFIX), ls = strlen(SNAP_SUFFIX);
    if (n != lp + 20 + ls || strncmp(name, SNAP_PREFIX, lp) != 0 ||
        strcmp(name + n - ls, SNAP_SUFFIX) != 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = lp; i < lp + 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return 0;
}

static int by_seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* Sequence numbers of the snapshots in dir, newest first. */
static size_t list_snapshots(const char *dir, uint64_t seqs[MAX_SNAPSHOTS])
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SNAPSHOTS)
        if (name_seq(e->d_name, &seqs[n]) == 0)
            n++;
    closedir(d);
    qsort(seqs, n, sizeof *seqs, by_seq_desc);
    return n;
}

static void snap_path(char *buf, size_t n, const char *dir, uint64_t seq, const char *extra)
{
    snprintf(buf, n, "%s/" SNAP_PREFIX "%020" PRIu64 SNAP_SUFFIX "%s", dir, seq, extra);
}

static vg_err parse(unsigned char *raw, size_t len, struct snapshot *s, struct vg_error *err)
{
    if (len < SNAP_HEADER + 4 || memcmp(raw, SNAP_MAGIC, 8) != 0)
        return vg_error_set(err, VG_ERR_FORMAT, 0, 0, "not a vigil snapshot");
    uint32_t version = bytes_le32(raw + 8);
    if (version != 1 && version != SNAP_VERSION)
        return vg_error_set(err, VG_ERR_VERSION, 0, 0, "snapshot version %u", bytes_le32(raw + 8));
    if (bytes_crc32(0, raw, len - 4) != bytes_le32(raw + len - 4))
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot checksum mismatch");
    s->seq = bytes_le64(raw + 16);
    s->clock = (int64_t)bytes_le64(raw + 24);
    struct bytes_rd r = {raw + SNAP_HEADER, len - SNAP_HEADER - 4, SNAP_HEADER};
    uint64_t mlen, slen;
    if (bytes_get64(&r, &mlen) || mlen > r.left)
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot truncated");
    const unsigned char *model = r.p;
    bytes_skip(&r, mlen);
    if (bytes_get64(&r, &slen) || slen > r.left || (version == 1 && slen != r.left))
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot truncated");
    s->state = r.p;
    s->state_len = slen;
    bytes_skip(&r, slen);
    uint64_t clen = 0;
    if (version >= 2 && (bytes_get64(&r, &clen) || clen != r.left))
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot truncated");
    s->cep = clen ? r.p : NULL;
    s->cep_len = clen;
    return vg_model_decode(&s->model, model, mlen, err);
}

vg_err snapshot__load_newest(const char *dir, struct snapshot *out, vg_warn_fn warn,
                             void *warn_ud, struct vg_error *err)
{
    uint64_t seqs[MAX_SNAPSHOTS];
    size_t n = list_snapshots(dir, seqs);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snap_path(path, sizeof path, dir, seqs[i], "");
        struct vg_error e = {0};
        memset(out, 0, sizeof *out);
        size_t len = 0;
        vg_err rc = file__read_all(path, MAX_SNAPSHOT_BYTES, &out->raw, &len)
                        ? (errno == ENOMEM ? VG_ERR_NOMEM : VG_ERR_IO)
                        : VG_OK;
        if (!rc)
            rc = parse(out->raw, len, out, &e);
        if (!rc)
            return VG_OK;
        snapshot__free(out);
        if (warn) {
            vg_error_where(&e, path);
            if (!e.msg[0])
                vg_error_set(&e, rc, 0, 0, "cannot read: %s", vg_strerror(rc));
            warn(warn_ud, &e);
        }
    }
    return vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0, "no snapshot");
}

static vg_err encode(const struct snapshot_bytes *sb, struct vg_buf *b)
{
    vg_err rc = vg_buf_add(b, SNAP_MAGIC, 8);
    if (!rc)
        rc = bytes_put32(b, SNAP_VERSION);
    if (!rc)
        rc = bytes_put32(b, 0);
    if (!rc)
        rc = bytes_put64(b, sb->seq);
    if (!rc)
        rc = bytes_put64(b, (uint64_t)sb->clock);
    if (!rc)
        rc = bytes_put64(b, sb->model_len);
    if (!rc)
        rc = vg_buf_add(b, sb->model, sb->model_len);
    if (!rc)
        rc = bytes_put64(b, sb->state.len);
    if (!rc)
        rc = vg_buf_add(b, sb->state.data, sb->state.len);
    if (!rc)
        rc = bytes_put64(b, sb->cep.len);
    if (!rc)
        rc = vg_buf_add(b, sb->cep.data, sb->cep.len);
    if (!rc)
        rc = bytes_put32(b, bytes_crc32(0, b->data, b->len));
    return rc;
}

vg_err snapshot__write(const char *dir, const struct snapshot_bytes *sb, struct vg_error *err)
{
    struct vg_buf b;
    vg_buf_init(&b, 0);
    char path[4096];
    snap_path(path, sizeof path, dir, sb->seq, "");
    vg_err rc = encode(sb, &b);
    if (!rc && file__replace(path, b.data, b.len))
        rc = VG_ERR_IO;
    int e = errno;
    vg_buf_free(&b);
    if (rc)
        return vg_error_set(err, rc, 0, 0, "cannot write snapshot %s: %s", path,
                            rc == VG_ERR_IO ? strerror(e) : vg_strerror(rc));
    return VG_OK;
}

void snapshot__prune(const char *dir, uint64_t newest)
{
    uint64_t seqs[MAX_SNAPSHOTS];
    size_t n = list_snapshots(dir, seqs), kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (seqs[i] > newest || kept < 2) {
            kept += seqs[i] <= newest;
            continue;
        }
        char path[4096];
        snap_path(path, sizeof path, dir, seqs[i], "");
        unlink(path);
    }
}
