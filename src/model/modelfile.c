/*
 * The model file: a compact, versioned, checksummed binary form of a model.
 *
 * Layout (all integers little-endian):
 *   header   "VIGILMDL" | u32 version | u32 flags (0) | u64 payload length
 *   payload  u32 nk | u32 k × nk
 *            u64 traces | u64 events | i64 created_ms | u32 n | n bytes source
 *            u32 nacts | (u32 len | len bytes) × nacts        — ids in order
 *            per k in K: u32 k | u32 nstates | u32 ntrans
 *                        (u32 sym × k | u64 count | u64 dev) × nstates
 *                        (u32 activity | u32 state | u64 count | u64 dev) × ntrans
 *   trailer  u32 CRC-32 (zlib) of header and payload
 *
 * Decoding trusts nothing: every length is bounds-checked against what is
 * left, every id against its table, duplicates and count mismatches are
 * refused as corruption, so a damaged or foreign file gives a clear error
 * and never a half-built model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/file.h"
#include "model/model_impl.h"
#include "vigil/buf.h"

#define HEADER_LEN 24
#define TRAILER_LEN 4
#define MAX_MODEL_FILE (4ull << 30)

/* ---- encoding ---------------------------------------------------------- */

static vg_err encode_meta(const struct vg_model *m, struct vg_buf *b)
{
    vg_err rc = bytes_put32(b, (uint32_t)m->nk);
    for (size_t i = 0; i < m->nk && !rc; i++)
        rc = bytes_put32(b, (uint32_t)m->ks[i]);
    if (!rc)
        rc = bytes_put64(b, m->meta.traces);
    if (!rc)
        rc = bytes_put64(b, m->meta.events);
    if (!rc)
        rc = bytes_put64(b, (uint64_t)m->meta.created_ms);
    if (!rc)
        rc = bytes_put_str(b, m->meta.source, strnlen(m->meta.source, sizeof m->meta.source));
    uint32_t nacts = vg_intern_count(m->acts);
    if (!rc)
        rc = bytes_put32(b, nacts);
    for (uint32_t id = 0; id < nacts && !rc; id++) {
        size_t len;
        const char *s = vg_intern_str(m->acts, id, &len);
        rc = bytes_put_str(b, s, len);
    }
    return rc;
}

static vg_err encode_auto(const struct kauto *a, struct vg_buf *b)
{
    vg_err rc = bytes_put32(b, (uint32_t)a->k);
    if (!rc)
        rc = bytes_put32(b, a->nstates);
    if (!rc)
        rc = bytes_put32(b, a->ntrans);
    for (uint32_t s = 0; s < a->nstates && !rc; s++) {
        for (int j = 0; j < a->k && !rc; j++)
            rc = bytes_put32(b, a->syms[(size_t)s * (size_t)a->k + (size_t)j]);
        if (!rc)
            rc = bytes_put64(b, a->states[s].count);
        if (!rc)
            rc = bytes_put64(b, a->states[s].dev);
    }
    for (uint32_t t = 0; t < a->ntrans && !rc; t++) {
        const struct ktrans *tr = &a->trans[t];
        rc = bytes_put64(b, tr->key); /* state in the high half: u32 act, u32 state */
        if (!rc)
            rc = bytes_put64(b, tr->count);
        if (!rc)
            rc = bytes_put64(b, tr->dev);
    }
    return rc;
}

vg_err vg_model_encode(const struct vg_model *m, unsigned char **data, size_t *len)
{
    struct vg_buf b;
    vg_buf_init(&b, 0);
    vg_err rc = vg_buf_add(&b, VG_MODEL_MAGIC, 8);
    if (!rc)
        rc = bytes_put32(&b, VG_MODEL_VERSION);
    if (!rc)
        rc = bytes_put32(&b, 0);
    if (!rc)
        rc = bytes_put64(&b, 0); /* payload length, patched below */
    if (!rc)
        rc = encode_meta(m, &b);
    for (size_t i = 0; i < m->nk && !rc; i++)
        rc = encode_auto(m->autos[m->ks[i]], &b);
    if (rc) {
        vg_buf_free(&b);
        return rc;
    }
    bytes_set64((unsigned char *)b.data + 16, b.len - HEADER_LEN);
    uint32_t crc = bytes_crc32(0, b.data, b.len);
    rc = bytes_put32(&b, crc);
    if (rc) {
        vg_buf_free(&b);
        return rc;
    }
    *data = (unsigned char *)b.data;
    *len = b.len;
    return VG_OK;
}

/* ---- decoding ---------------------------------------------------------- */

struct cursor {
    struct bytes_rd r;
    struct vg_error *err;
};

static int truncated(struct cursor *c, const char *what)
{
    vg_error_set(c->err, VG_ERR_CORRUPT, 0, 0, "truncated at byte %zu (reading %s)", c->r.off,
                 what);
    return -1;
}

static int get32(struct cursor *c, uint32_t *v, const char *what)
{
    return bytes_get32(&c->r, v) ? truncated(c, what) : 0;
}

static int get64(struct cursor *c, uint64_t *v, const char *what)
{
    return bytes_get64(&c->r, v) ? truncated(c, what) : 0;
}

static int get_bytes(struct cursor *c, const unsigned char **s, uint32_t *n, const char *what)
{
    return bytes_get_str(&c->r, s, n) ? truncated(c, what) : 0;
}

static int corrupt(struct cursor *c, const char *what)
{
    vg_error_set(c->err, VG_ERR_CORRUPT, 0, 0, "%s (near byte %zu)", what, c->r.off);
    return -1;
}

static int check_header(const unsigned char *data, size_t len, struct vg_error *err)
{
    if (len < 8 || memcmp(data, VG_MODEL_MAGIC, 8) != 0) {
        vg_error_set(err, VG_ERR_FORMAT, 0, 0, "not a vigil model file (bad magic)");
        return -1;
    }
    if (len < HEADER_LEN + TRAILER_LEN) {
        vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "truncated model file (%zu bytes)", len);
        return -1;
    }
    uint32_t version = bytes_le32(data + 8);
    if (version != VG_MODEL_VERSION) {
        vg_error_set(err, VG_ERR_VERSION, 0, 0,
                     "model file version %u; this vigil reads version %u", version,
                     VG_MODEL_VERSION);
        return -1;
    }
    uint64_t payload = bytes_le64(data + 16);
    if (payload != len - HEADER_LEN - TRAILER_LEN) {
        vg_error_set(err, VG_ERR_CORRUPT, 0, 0,
                     "model file is %zu bytes but its header says %llu (truncated or extended)",
                     len, (unsigned long long)(payload + HEADER_LEN + TRAILER_LEN));
        return -1;
    }
    uint32_t crc = bytes_crc32(0, data, len - TRAILER_LEN);
    uint32_t want = bytes_le32(data + len - TRAILER_LEN);
    if (crc != want) {
        vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "checksum mismatch: the model file is damaged");
        return -1;
    }
    return 0;
}

static int decode_prefixes(struct cursor *c, int ks[VG_K_MAX], size_t *nk)
{
    uint32_t n, k;
    if (get32(c, &n, "prefix count"))
        return -1;
    if (n == 0 || n > VG_K_MAX)
        return corrupt(c, "bad number of prefix lengths");
    for (uint32_t i = 0; i < n; i++) {
        if (get32(c, &k, "prefix length"))
            return -1;
        if (k < 1 || k > VG_K_MAX || (i && (int)k <= ks[i - 1]))
            return corrupt(c, "bad prefix length");
        ks[i] = (int)k;
    }
    *nk = n;
    return 0;
}

static int decode_meta(struct cursor *c, struct vg_model *m)
{
    uint64_t created;
    const unsigned char *src;
    uint32_t n, nacts;
    if (get64(c, &m->meta.traces, "meta") || get64(c, &m->meta.events, "meta") ||
        get64(c, &created, "meta") || get_bytes(c, &src, &n, "source"))
        return -1;
    m->meta.created_ms = (int64_t)created;
    if (n >= sizeof m->meta.source)
        return corrupt(c, "source name too long");
    memcpy(m->meta.source, src, n);
    m->meta.source[n] = '\0';
    if (get32(c, &nacts, "activity count"))
        return -1;
    if (nacts >= VG_ACT_OTHER || nacts > c->r.left / 4)
        return corrupt(c, "bad activity count");
    if (nacts > m->limits.max_activities)
        m->limits.max_activities = nacts;
    if (vg_intern_new(&m->acts, m->limits.max_activities))
        return corrupt(c, "out of memory");
    for (uint32_t i = 0; i < nacts; i++) {
        uint32_t id;
        if (get_bytes(c, &src, &n, "activity name"))
            return -1;
        if (vg_intern_put(m->acts, (const char *)src, n, &id) || id != i)
            return corrupt(c, "duplicate activity name");
    }
    return 0;
}

static int valid_sym(uint32_t s, uint32_t nacts, int in_state)
{
    if (s < nacts || s == VG_ACT_OTHER)
        return 1;
    return in_state ? s == VG_ACT_START : s == VG_ACT_END;
}

static int decode_states(struct cursor *c, struct vg_model *m, struct kauto *a, uint32_t n)
{
    uint32_t nacts = vg_intern_count(m->acts);
    uint32_t syms[VG_K_MAX];
    for (uint32_t s = 0; s < n; s++) {
        for (int j = 0; j < a->k; j++) {
            if (get32(c, &syms[j], "state"))
                return -1;
            if (!valid_sym(syms[j], nacts, 1))
                return corrupt(c, "state names an unknown activity");
        }
        uint64_t h = state_hash(syms, a->k);
        if (model__state_find(a, syms, h) != NONE32)
            return corrupt(c, "duplicate state");
        if (model__state_add(m, a, syms, h, 0) != s)
            return corrupt(c, "out of memory");
        if (get64(c, &a->states[s].count, "state") || get64(c, &a->states[s].dev, "state"))
            return -1;
    }
    return 0;
}

static int decode_trans(struct cursor *c, struct vg_model *m, struct kauto *a, uint32_t n)
{
    uint32_t nacts = vg_intern_count(m->acts);
    for (uint32_t t = 0; t < n; t++) {
        uint64_t key, count, dev;
        if (get64(c, &key, "transition") || get64(c, &count, "transition") ||
            get64(c, &dev, "transition"))
            return -1;
        uint32_t state = (uint32_t)(key >> 32), act = (uint32_t)key;
        if (state >= a->nstates || !valid_sym(act, nacts, 0))
            return corrupt(c, "transition names an unknown state or activity");
        if (model__trans_find(a, state, act))
            return corrupt(c, "duplicate transition");
        struct ktrans *tr = model__trans_add(m, a, state, act, 0);
        if (!tr)
            return corrupt(c, "out of memory");
        tr->count = count;
        tr->dev = dev;
    }
    return 0;
}

/* Each state's count must be the sum of its transitions' training counts. */
static int check_counts(struct cursor *c, const struct kauto *a)
{
    for (uint32_t s = 0; s < a->nstates; s++) {
        uint64_t sum = 0;
        for (uint32_t t = a->states[s].head; t != NONE32; t = a->trans[t].next)
            sum += a->trans[t].count;
        if (sum != a->states[s].count)
            return corrupt(c, "state and transition counts disagree");
    }
    return 0;
}

static int decode_auto(struct cursor *c, struct vg_model *m, int k)
{
    uint32_t kk, ns, nt;
    if (get32(c, &kk, "automaton") || get32(c, &ns, "automaton") || get32(c, &nt, "automaton"))
        return -1;
    if ((int)kk != k)
        return corrupt(c, "automata out of order");
    /* Each state takes at least 16 + 4k bytes and each transition 24: a
     * count larger than the rest of the file could hold is corruption. */
    if (ns > c->r.left / (16 + 4 * (size_t)k) || nt > c->r.left / 24)
        return corrupt(c, "bad state or transition count");
    struct kauto *a = m->autos[k];
    if (ns > m->limits.max_states)
        m->limits.max_states = ns;
    if (nt > m->limits.max_transitions)
        m->limits.max_transitions = nt;
    if (decode_states(c, m, a, ns) || decode_trans(c, m, a, nt))
        return -1;
    return check_counts(c, a);
}

vg_err vg_model_decode(struct vg_model **out, const unsigned char *data, size_t len,
                       struct vg_error *err)
{
    *out = NULL;
    struct vg_error local = {0};
    if (!err)
        err = &local;
    if (check_header(data, len, err))
        return err->code;
    struct cursor c = {{data + HEADER_LEN, len - HEADER_LEN - TRAILER_LEN, HEADER_LEN}, err};
    int ks[VG_K_MAX];
    size_t nk;
    struct vg_model *m = NULL;
    if (decode_prefixes(&c, ks, &nk))
        return c.err->code;
    if (model__alloc(&m, ks, nk, NULL, 0))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    int bad = decode_meta(&c, m);
    for (size_t i = 0; i < nk && !bad; i++)
        bad = decode_auto(&c, m, ks[i]);
    if (!bad && c.r.left)
        bad = corrupt(&c, "trailing bytes after the last automaton");
    if (bad) {
        vg_model_free(&m);
        return c.err->code;
    }
    *out = m;
    return VG_OK;
}

/* ---- files --------------------------------------------------------------- */

vg_err vg_model_save(const struct vg_model *m, const char *path, struct vg_error *err)
{
    vg_error_where(err, path);
    unsigned char *data;
    size_t len;
    if (vg_model_encode(m, &data, &len))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory encoding the model");
    int bad = file__replace(path, data, len);
    int e = errno;
    free(data);
    if (bad)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot write the model: %s", strerror(e));
    return VG_OK;
}

static vg_err read_file(const char *path, unsigned char **data, size_t *len, struct vg_error *err)
{
    if (file__read_all(path, MAX_MODEL_FILE, data, len) == 0)
        return VG_OK;
    if (errno == EINVAL || errno == EFBIG)
        return vg_error_set(err, VG_ERR_FORMAT, 0, 0, "not a regular file of a model's size");
    if (errno == ENOMEM)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot open: %s", strerror(errno));
}

vg_err vg_model_load(struct vg_model **out, const char *path, struct vg_error *err)
{
    *out = NULL;
    vg_error_where(err, path);
    unsigned char *data = NULL;
    size_t len = 0;
    vg_err rc = read_file(path, &data, &len, err);
    if (rc)
        return rc;
    rc = vg_model_decode(out, data, len, err);
    free(data);
    return rc;
}
