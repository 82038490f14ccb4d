/*
 * Fuzz target: the CEP rule loader (vg_cep_load_text: the JSON form of
 * phenomena, patterns, aggregates, absences and their expressions) and,
 * after a successful load, the engine on a few events, a clock advance and
 * a state snapshot round trip.
 *
 * Input: the rule document's JSON text, optionally followed by a NUL byte
 * and events as JSON lines (each an object; a "time" member is used). With
 * no NUL, a fixed set of events over common field names is offered.
 *
 * Checked (besides ASan/UBSan): a failed load has a code and a message
 * and loads nothing; a successful one loads something; the encoded state
 * decodes into a second engine with the same rules and re-encodes to the
 * same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/cep.h"

static const char *const fixed_events[] = {
    "{\"a\":1,\"v\":\"a\",\"k\":\"x\",\"time\":1000}",
    "{\"a\":2,\"v\":\"b\",\"k\":\"x\",\"result\":\"failure\",\"time\":2000}",
    "{\"a\":3,\"v\":\"c\",\"k\":\"y\",\"location\":\"unknown\",\"time\":3000}",
    "{\"a\":-1,\"v\":\"a\",\"k\":\"x\",\"action\":\"login\",\"time\":4000}",
    "{\"v\":\"b\",\"k\":true,\"x\":null,\"time\":90000}",
};

static void process_line(struct vg_cep *e, const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, 0, NULL);
    struct vg_error err;
    if (json_is_object(j))
        (void)vg_cep_process_json(e, NULL, VG_TIME_NONE, j, &err);
    json_decref(j);
}

static void feed(struct vg_cep *e, const char *ev, size_t n)
{
    if (!ev) {
        for (size_t i = 0; i < sizeof fixed_events / sizeof *fixed_events; i++)
            process_line(e, fixed_events[i], strlen(fixed_events[i]));
    }
    for (size_t i = 0, start = 0; ev && i <= n; i++)
        if (i == n || ev[i] == '\n') {
            process_line(e, ev + start, i - start);
            start = i + 1;
        }
    (void)vg_cep_advance(e, vg_cep_now(e) + 3600000);
}

/* Snapshot → a second engine with the same rules → the same bytes again. */
static void round_trip(struct vg_cep *e, const char *rules, size_t n)
{
    struct vg_buf a, b;
    vg_buf_init(&a, 1u << 26);
    vg_buf_init(&b, 1u << 26);
    struct vg_cep *f = NULL;
    struct vg_error err;
    FUZZ_ASSERT(vg_cep_new(&f, NULL) == VG_OK);
    FUZZ_ASSERT(vg_cep_load_text(f, rules, n, "fuzz", &err, NULL) == VG_OK);
    if (vg_cep_encode_state(e, &a) == VG_OK) {
        FUZZ_ASSERT(vg_cep_decode_state(f, a.data, a.len, &err) == VG_OK);
        FUZZ_ASSERT(vg_cep_encode_state(f, &b) == VG_OK);
        FUZZ_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    }
    vg_cep_free(&f);
    vg_buf_free(&a);
    vg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t rl = nul ? (size_t)(nul - s) : size;
    struct vg_cep_opts o = {.max_runs = 8, .max_history = 64, .max_window = 256};
    struct vg_cep *e = NULL;
    struct vg_error err;
    memset(&err, 0, sizeof err);
    FUZZ_ASSERT(vg_cep_new(&e, &o) == VG_OK);
    vg_err rc = vg_cep_load_text(e, s, rl, "fuzz", &err, NULL);
    if (rc != VG_OK) {
        FUZZ_ASSERT(err.code == rc && err.msg[0] != '\0');
        FUZZ_ASSERT(vg_cep_count(e) == 0);
    } else {
        FUZZ_ASSERT(vg_cep_count(e) > 0);
        feed(e, nul ? nul + 1 : NULL, nul ? size - rl - 1 : 0);
        round_trip(e, s, rl);
    }
    vg_cep_free(&e);
    return 0;
}

/* The seed files in fuzz/corpus/cep_rules/ say it all. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    (void)add, (void)ud;
}
