/*
 * The checker's internals, shared by check.c (judging) and checker_state.c
 * (encoding its state for snapshots). Not installed.
 */
#ifndef VIGIL_MODEL_CHECK_IMPL_H
#define VIGIL_MODEL_CHECK_IMPL_H

#include "model/cases.h"
#include "vigil/check.h"

struct vg_checker {
    struct vg_model *m;
    struct vg_check_opts o;
    struct cases cases;
    struct vg_check_stats st;
    int64_t clock;
    uint64_t *evicted;      /* hashes of recently evicted ids, direct-mapped */
    uint32_t nevicted;      /* power of two */
};

#endif
