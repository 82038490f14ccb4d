/*
 * Snapshot files of a data directory: the model (with its counters) and the
 * checker's state after record `seq`. Internal to the pipeline.
 *
 *   "VIGILSNP" | u32 version | u32 flags | u64 seq | u64 clock |
 *   u64 n | n bytes model file | u64 m | m bytes checker state |
 *   u64 c | c bytes CEP section (version 2: rules, engine state, alerts as
 *   JSON text, see pipeline/cep_stage.h; 0 = no rule stage) | u32 CRC-32
 * Version 1 files (no CEP section) are still read.
 *
 * Written to a temporary file, fsynced, renamed into place, and the
 * directory fsynced, so a snapshot is either whole or absent.
 */
#ifndef VIGIL_PIPELINE_SNAPSHOT_H
#define VIGIL_PIPELINE_SNAPSHOT_H

#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/model.h"

struct snapshot {
    uint64_t seq;
    int64_t clock;
    struct vg_model *model;
    const unsigned char *state;  /* points into raw */
    size_t state_len;
    const unsigned char *cep;    /* points into raw; NULL: none */
    size_t cep_len;
    unsigned char *raw;
};

struct snapshot_bytes {
    uint64_t seq;
    int64_t clock;
    unsigned char *model;
    size_t model_len;
    struct vg_buf state;
    struct vg_buf cep;
};

/* The newest snapshot in dir that reads back whole (a damaged newer one is
 * skipped with a warning); VG_ERR_NOT_FOUND if there is none at all. */
vg_err snapshot__load_newest(const char *dir, struct snapshot *out, vg_warn_fn warn,
                             void *warn_ud, struct vg_error *err);
void snapshot__free(struct snapshot *s);
vg_err snapshot__write(const char *dir, const struct snapshot_bytes *sb, struct vg_error *err);
/* Delete snapshots older than the two newest (the newest is at `newest`). */
void snapshot__prune(const char *dir, uint64_t newest);
void snapshot__bytes_free(struct snapshot_bytes *sb);

#endif
