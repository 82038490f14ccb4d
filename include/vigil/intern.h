/*
 * vigil — string interning: a string gets a dense integer id (0, 1, 2, …) the
 * first time it is seen; the same bytes always give the same id.
 *
 * Used for activity names (a model state is an array of ids, never a joined
 * string) and for case ids. The table owns copies of its strings; pointers
 * returned by vg_intern_str stay valid until the table is freed. Strings are
 * byte strings of explicit length and may hold any bytes, NUL included.
 */
#ifndef VIGIL_INTERN_H
#define VIGIL_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VG_INTERN_NONE UINT32_MAX

struct vg_intern;

/* max_count: the most distinct strings the table accepts (0 = 2^31). */
vg_err vg_intern_new(struct vg_intern **out, uint32_t max_count);
void vg_intern_free(struct vg_intern **t);

/* Find or add; *id receives the id. VG_ERR_TOO_LARGE past max_count. */
vg_err vg_intern_put(struct vg_intern *t, const char *s, size_t len, uint32_t *id);
/* Find only: the id, or VG_INTERN_NONE. */
uint32_t vg_intern_find(const struct vg_intern *t, const char *s, size_t len);
/* The string of an id (NUL-terminated copy) or NULL if out of range. */
const char *vg_intern_str(const struct vg_intern *t, uint32_t id, size_t *len);
uint32_t vg_intern_count(const struct vg_intern *t);

/* The 64-bit hash used by every table in vigil (FNV-1a folded through a
 * final mix); exposed so other tables hash the same way. */
uint64_t vg_hash_bytes(const void *p, size_t n);
static inline uint64_t vg_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#ifdef __cplusplus
}
#endif
#endif
