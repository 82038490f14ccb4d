/*
 * Fuzz target: vg_time_parse, the one date parser every reader uses, and
 * vg_time_format, its inverse.
 *
 * Input: the text to parse, as is (no header). The text is copied into a
 * buffer of exactly its length, without a NUL, since the parser takes a
 * length and must not read past it.
 *
 * Checked: a parsed time lies within what four-digit years and a ±23:59
 * offset allow; surrounding white space changes nothing; formatting it and
 * parsing the result gives it back; formatting never writes past the buffer
 * and always terminates it. The input's first 8 bytes are also formatted as
 * an arbitrary int64, down to INT64_MIN (VG_TIME_NONE).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/event.h"

#define MS_PER_DAY INT64_C(86400000)
/* 0000-01-01T00:00:00 at +23:59, 9999-12-31T23:59:60.999 at -23:59. */
#define MIN_MS (INT64_C(-62167219200000) - MS_PER_DAY)
#define MAX_MS (INT64_C(253402300800000) + MS_PER_DAY)

/* Format into buffers of a few sizes, each exactly that large. */
static size_t format_checked(int64_t ms, char out[64])
{
    static const size_t sizes[] = {1, 2, 24, 25, 64};
    size_t full = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *buf = malloc(sizes[i]);
        FUZZ_ASSERT(buf != NULL);
        size_t len = vg_time_format(ms, buf, sizes[i]);
        FUZZ_ASSERT(len < sizes[i] && strlen(buf) == len);
        if (sizes[i] == 64) {
            memcpy(out, buf, len + 1);
            full = len;
        }
        free(buf);
    }
    FUZZ_ASSERT(vg_time_format(ms, NULL, 10) == 0);
    return full;
}

/* Times of four-digit years format as "YYYY-MM-DDTHH:MM:SS.mmmZ" and parse
 * back to themselves. */
static void check_format_round_trip(int64_t ms)
{
    char text[64];
    size_t len = format_checked(ms, text);
    if (ms == VG_TIME_NONE) {
        FUZZ_ASSERT(len == 0);
        return;
    }
    if (len != 24 || text[0] < '0' || text[0] > '9')
        return;
    int64_t back = 0;
    FUZZ_ASSERT(vg_time_parse(text, len, &back) == 0);
    FUZZ_ASSERT(back == ms);
}

static void check_padded(const uint8_t *data, size_t size, int64_t want)
{
    char *p = malloc(size + 4);
    FUZZ_ASSERT(p != NULL);
    memcpy(p, " \t", 2);
    memcpy(p + 2, data, size);
    memcpy(p + 2 + size, "\r\n", 2);
    int64_t got = 0;
    FUZZ_ASSERT(vg_time_parse(p, size + 4, &got) == 0 && got == want);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    int64_t ms = 0;
    int rc = vg_time_parse(s, size, &ms);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_ASSERT(ms >= MIN_MS && ms <= MAX_MS);
        check_format_round_trip(ms);
        check_padded(data, size, ms);
    }
    free(s);
    FUZZ_ASSERT(vg_time_parse(NULL, size, &ms) == -1);
    if (size >= 8) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | data[i];
        check_format_round_trip((int64_t)v);
    }
    return 0;
}

/* The seed files in fuzz/corpus/time/ say it all. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    (void)add, (void)ud;
}
