/*
 * Little-endian integers into a vg_buf and out of a bounds-checked cursor:
 * the one encoding every vigil file format (model, snapshot, event log)
 * uses. Internal.
 */
#ifndef VIGIL_CORE_BYTES_H
#define VIGIL_CORE_BYTES_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "vigil/buf.h"

static inline vg_err bytes_put32(struct vg_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return vg_buf_add(b, p, 4);
}

static inline vg_err bytes_put64(struct vg_buf *b, uint64_t v)
{
    vg_err rc = bytes_put32(b, (uint32_t)v);
    return rc ? rc : bytes_put32(b, (uint32_t)(v >> 32));
}

/* A u32 length, then the bytes. */
static inline vg_err bytes_put_str(struct vg_buf *b, const void *s, size_t n)
{
    if (n > UINT32_MAX)
        return VG_ERR_TOO_LARGE;
    vg_err rc = bytes_put32(b, (uint32_t)n);
    return rc ? rc : vg_buf_add(b, s, n);
}

static inline uint32_t bytes_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t bytes_le64(const unsigned char *p)
{
    return (uint64_t)bytes_le32(p + 4) << 32 | bytes_le32(p);
}

static inline void bytes_set32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void bytes_set64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* CRC-32 (zlib's) of any length; crc starts at 0. */
static inline uint32_t bytes_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    uLong c = crc;
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

/* Reading: every get fails (returns -1, leaving the cursor) when fewer bytes
 * are left than it needs. `off` counts from the start of the whole input,
 * for messages. */
struct bytes_rd {
    const unsigned char *p;
    size_t left;
    size_t off;
};

static inline int bytes_skip(struct bytes_rd *r, size_t n)
{
    if (r->left < n)
        return -1;
    r->p += n;
    r->left -= n;
    r->off += n;
    return 0;
}

static inline int bytes_get32(struct bytes_rd *r, uint32_t *v)
{
    if (r->left < 4)
        return -1;
    *v = bytes_le32(r->p);
    return bytes_skip(r, 4);
}

static inline int bytes_get64(struct bytes_rd *r, uint64_t *v)
{
    if (r->left < 8)
        return -1;
    *v = bytes_le64(r->p);
    return bytes_skip(r, 8);
}

/* A u32 length and that many bytes; *s points into the input. */
static inline int bytes_get_str(struct bytes_rd *r, const unsigned char **s, uint32_t *n)
{
    if (r->left < 4 || r->left - 4 < bytes_le32(r->p))
        return -1;
    *n = bytes_le32(r->p);
    *s = r->p + 4;
    return bytes_skip(r, 4 + (size_t)*n);
}

#endif
