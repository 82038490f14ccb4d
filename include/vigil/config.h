/*
 * vigil — the service configuration: one table of options that the config
 * file (`key = value`, '#' comments), the command-line flags (`--key value`,
 * with '_' written '-'), `vigil serve --help` and docs/config.md all come
 * from.
 *
 * Values: numbers, sizes with an optional unit (B, KB/KiB, MB/MiB, GB/GiB;
 * KB = 1000, KiB = 1024), durations with a unit (ms, s, m, h, d), words from
 * a fixed list, paths, and host:port. A bad value or an unknown key is
 * refused with where it was: "FILE:LINE: why" for the file, "--flag: why"
 * for flags.
 *
 * Ownership: vg_config owns its strings; vg_config_free releases them.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/check.h"
#include "vigil/error.h"
#include "vigil/wal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_config {
    char *listen;               /* host:port, default 127.0.0.1:8080 */
    char *model;                /* model file */
    char *train;                /* log to train on at start when no model is given */
    char *prefix;               /* prefix lengths for train, default "1,2,3,4" */
    char *data_dir;             /* default ./vigil-data */
    char *rules;                /* CEP rules file loaded at start, or NULL */
    double threshold;
    enum vg_policy policy;
    uint32_t min_k;
    enum vg_on_deviation on_deviation;
    enum vg_fsync fsync;
    uint64_t fsync_interval_ms;
    uint64_t snapshot_every;    /* records */
    uint64_t segment_bytes;
    char *auth_token_file;      /* bearer token required when set */
    char *tls_cert;             /* PEM files; TLS when both are set */
    char *tls_key;
    uint64_t max_body;          /* bytes; default 4 MiB */
    uint64_t max_batch;         /* events in one request; default 100,000 */
    uint64_t max_json_depth;    /* default 64 */
    uint64_t threads;           /* 0 = one per core */
    uint64_t max_connections;
    uint64_t connection_timeout_ms; /* idle or slow connections are closed */
    uint64_t max_cases;         /* open cases; LRU eviction past it */
    uint64_t case_idle_timeout_ms;  /* 0 = never */
    int request_log;            /* 1 = write DATA_DIR/requests.log */
    uint64_t request_log_max_bytes; /* rotate past this */
    uint64_t request_log_keep;  /* rotated files kept */
};

/* Every option, for help texts and docs. */
struct vg_config_option {
    const char *key;       /* as in the file; the flag is --key with '_' → '-' */
    const char *type;      /* "path", "size", "duration", "number", "word", … */
    const char *dflt;      /* the default as text */
    const char *help;
};
const struct vg_config_option *vg_config_options(size_t *n);

void vg_config_defaults(struct vg_config *c);
void vg_config_free(struct vg_config *c);
/* Set one option from text; err gets "why" (the caller adds where). */
vg_err vg_config_set(struct vg_config *c, const char *key, const char *value,
                     struct vg_error *err);
/* Read a config file over the current values; err: FILE:LINE: why. */
vg_err vg_config_load(struct vg_config *c, const char *path, struct vg_error *err);
/* Checks across options (e.g. tls_cert without tls_key). */
vg_err vg_config_validate(const struct vg_config *c, struct vg_error *err);

/* Value parsers, shared with the CLI. 0 on success. */
int vg_parse_size(const char *s, uint64_t *out);
int vg_parse_duration_ms(const char *s, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
