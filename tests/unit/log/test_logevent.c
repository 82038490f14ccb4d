/*
 * The event payload codec: round trips (absent vs empty fields, END without
 * activity, no time, bytes that are not UTF-8), strict decoding of every
 * truncation and of random garbage, and encode's argument checks.
 */
#include "vg_test.h"
#include "vigil/event.h"
#include "vigil/wal.h"

static int same_str(const char *a, size_t an, const char *b, size_t bn)
{
    if (!a || !b)
        return a == b && an == 0 && bn == 0;
    return an == bn && memcmp(a, b, an) == 0;
}

static int same_event(const struct vg_logevent *a, const struct vg_logevent *b)
{
    return same_str(a->case_id ? a->case_id : "", a->case_len, b->case_id, b->case_len) &&
           same_str(a->activity, a->activity_len, b->activity, b->activity_len) &&
           same_str(a->process, a->process_len, b->process, b->process_len) &&
           same_str(a->attrs, a->attrs_len, b->attrs, b->attrs_len) && a->time_ms == b->time_ms;
}

static void roundtrip(const struct vg_logevent *ev)
{
    struct vg_buf b;
    vg_buf_init(&b, 1 << 20);
    REQUIRE(vg_logevent_encode(ev, &b) == VG_OK);
    struct vg_logevent back;
    CHECK(vg_logevent_decode((const unsigned char *)b.data, b.len, &back) == VG_OK);
    CHECK(same_event(ev, &back));
    /* every shorter prefix and one byte more are refused */
    for (size_t n = 0; n < b.len; n++)
        CHECK(vg_logevent_decode((const unsigned char *)b.data, n, &back) == VG_ERR_CORRUPT);
    vg_buf_addc(&b, 0);
    CHECK(vg_logevent_decode((const unsigned char *)b.data, b.len, &back) == VG_ERR_CORRUPT);
    CHECK(back.case_id == NULL);
    vg_buf_free(&b);
}

static void test_roundtrips(void)
{
    struct vg_logevent full = {"case-1", 6, "Register order", 14, 1700000000123LL,
                               "orders", 6, "{\"amount\":12.5,\"who\":\"ana\"}", 27};
    roundtrip(&full);
    struct vg_logevent end = {"case-1", 6, NULL, 0, VG_TIME_NONE, NULL, 0, NULL, 0};
    roundtrip(&end);
    struct vg_logevent empties = {"", 0, "", 0, 0, "", 0, "", 0};
    roundtrip(&empties);
    struct vg_logevent nocase = {NULL, 0, "a", 1, -1, NULL, 0, "{}", 2};
    roundtrip(&nocase);
    static const char odd[] = "a\0b\xff\xfe";
    struct vg_logevent bytes = {odd, 5, odd, 5, INT64_MAX, odd, 5, NULL, 0};
    roundtrip(&bytes);
    /* absent and empty differ */
    struct vg_buf a, b;
    vg_buf_init(&a, 0);
    vg_buf_init(&b, 0);
    struct vg_logevent e1 = {"c", 1, NULL, 0, 0, NULL, 0, NULL, 0};
    struct vg_logevent e2 = {"c", 1, "", 0, 0, NULL, 0, NULL, 0};
    CHECK(vg_logevent_encode(&e1, &a) == VG_OK);
    CHECK(vg_logevent_encode(&e2, &b) == VG_OK);
    CHECK(a.len != b.len);
    struct vg_logevent back;
    CHECK(vg_logevent_decode((const unsigned char *)a.data, a.len, &back) == VG_OK);
    CHECK(back.activity == NULL);
    CHECK(vg_logevent_decode((const unsigned char *)b.data, b.len, &back) == VG_OK);
    CHECK(back.activity != NULL && back.activity_len == 0);
    vg_buf_free(&a);
    vg_buf_free(&b);
}

static void test_exact_bytes(void)
{
    struct vg_logevent ev = {"c1", 2, "a", 1, 258, NULL, 0, "{}", 2};
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(vg_logevent_encode(&ev, &b) == VG_OK);
    static const unsigned char want[] = {5, 2, 0, 0, 0, 'c', '1', 1, 0, 0, 0, 'a',
                                         2, 1, 0, 0, 0, 0, 0, 0,   2, 0, 0, 0, '{', '}'};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(b.len == sizeof want && memcmp(b.data, want, b.len) == 0);
    vg_buf_free(&b);
}

static void test_garbage(void)
{
    struct vg_logevent ev;
    CHECK(vg_logevent_decode(NULL, 0, &ev) == VG_ERR_CORRUPT);
    static const unsigned char unknown_flag[] = {8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(vg_logevent_decode(unknown_flag, sizeof unknown_flag, &ev) == VG_ERR_CORRUPT);
    static const unsigned char minimal[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(vg_logevent_decode(minimal, sizeof minimal, &ev) == VG_OK);
    CHECK_EQ_INT(ev.case_len, 0);
    CHECK_EQ_INT(ev.time_ms, 0);
    static const unsigned char huge_len[] = {0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(vg_logevent_decode(huge_len, sizeof huge_len, &ev) == VG_ERR_CORRUPT);
    /* Mutated encodings: never a crash, and what decodes re-encodes to the
     * same bytes (the format has one encoding per event). */
    struct vg_logevent full = {"case-1", 6, "act", 3, 77, "p", 1, "{\"k\":1}", 7};
    struct vg_buf base, again;
    vg_buf_init(&base, 0);
    vg_buf_init(&again, 0);
    REQUIRE(vg_logevent_encode(&full, &base) == VG_OK);
    unsigned char buf[128];
    srand(1);
    int decoded = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n = base.len;
        memcpy(buf, base.data, n);
        for (int m = rand() % 3; m >= 0; m--) {
            size_t at = (size_t)rand() % n;
            buf[at] = (unsigned char)(rand() % 3 == 0 ? (unsigned)rand() : buf[at] ^ (1u << (rand() % 8)));
        }
        if (rand() % 4 == 0)
            n = (size_t)rand() % (n + 1);
        if (vg_logevent_decode(buf, n, &ev) != VG_OK)
            continue;
        decoded++;
        vg_buf_reset(&again);
        CHECK(vg_logevent_encode(&ev, &again) == VG_OK);
        CHECK(again.len == n && memcmp(again.data, buf, n) == 0);
    }
    vg_buf_free(&base);
    CHECK(decoded > 0);
    vg_buf_free(&again);
}

static void test_encode_errors(void)
{
    struct vg_buf b;
    vg_buf_init(&b, 16);
    vg_buf_adds(&b, "keep");
    struct vg_logevent bad = {NULL, 3, "a", 1, 0, NULL, 0, NULL, 0};
    CHECK(vg_logevent_encode(&bad, &b) == VG_ERR_INVALID);
    struct vg_logevent big = {"case-id-long", 12, "activity", 8, 0, NULL, 0, NULL, 0};
    CHECK(vg_logevent_encode(&big, &b) == VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.len, 4); /* left as it was */
    CHECK_STR(b.data, "keep");
    vg_buf_free(&b);
}

VG_TEST_MAIN(TEST(test_roundtrips), TEST(test_exact_bytes), TEST(test_garbage),
             TEST(test_encode_errors))
