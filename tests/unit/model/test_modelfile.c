/*
 * The model file: round trip (counts, counters, names, metadata), atomic
 * save, and refusal of damaged or foreign files with a clear error.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_test.h"
#include "vigil/check.h"
#include "vigil/model.h"

static struct vg_model *sample(void)
{
    int ks[] = {1, 2, 4};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 3, NULL))
        return NULL;
    const char *tr[] = {"aed", "acbd", "acbd", "abdd", "abcd", "abcd"};
    for (size_t i = 0; i < 6; i++) {
        uint32_t ids[8];
        for (size_t j = 0; tr[i][j]; j++)
            ids[j] = vg_model_activity_put(m, &tr[i][j], 1);
        vg_model_train_trace(m, ids, strlen(tr[i]));
    }
    /* Odd names survive too. */
    const char odd[] = "na\"me,\n with \0 nul";
    uint32_t ids[2] = {vg_model_activity_put(m, odd, sizeof odd - 1),
                       vg_model_activity_put(m, "\xC3\xA9t\xC3\xA9", 5)};
    vg_model_train_trace(m, ids, 2);
    vg_model_set_source(m, "unit test", 1288211479495);
    /* Deviation counters, including deviation-only states and transitions. */
    struct vg_checker *c = NULL;
    vg_checker_new(&c, m, NULL);
    struct vg_verdict v;
    vg_checker_event(c, "x", 1, "a", 1, &v);
    vg_checker_event(c, "x", 1, "zz", 2, &v);
    vg_checker_event(c, "x", 1, "d", 1, &v);
    vg_checker_free(&c);
    return m;
}

static void same_model(const struct vg_model *a, const struct vg_model *b)
{
    int ka[VG_K_MAX], kb[VG_K_MAX];
    size_t na = vg_model_prefixes(a, ka), nb = vg_model_prefixes(b, kb);
    REQUIRE(na == nb && memcmp(ka, kb, na * sizeof *ka) == 0);
    REQUIRE(vg_intern_count(vg_model_activities(a)) == vg_intern_count(vg_model_activities(b)));
    for (uint32_t id = 0; id < vg_intern_count(vg_model_activities(a)); id++) {
        size_t la, lb;
        const char *sa = vg_intern_str(vg_model_activities(a), id, &la);
        const char *sb = vg_intern_str(vg_model_activities(b), id, &lb);
        CHECK(la == lb && memcmp(sa, sb, la) == 0);
    }
    for (size_t i = 0; i < na; i++) {
        int k = ka[i];
        REQUIRE(vg_model_nstates(a, k) == vg_model_nstates(b, k));
        REQUIRE(vg_model_ntrans(a, k) == vg_model_ntrans(b, k));
        for (uint32_t s = 0; s < vg_model_nstates(a, k); s++) {
            struct vg_state_info x, y;
            vg_model_state(a, k, s, &x);
            vg_model_state(b, k, s, &y);
            CHECK(memcmp(x.syms, y.syms, (size_t)k * 4) == 0);
            CHECK(x.count == y.count && x.deviations == y.deviations && x.ntrans == y.ntrans);
        }
        for (uint32_t t = 0; t < vg_model_ntrans(a, k); t++) {
            struct vg_trans_info x, y;
            vg_model_trans(a, k, t, &x);
            vg_model_trans(b, k, t, &y);
            CHECK(x.state == y.state && x.activity == y.activity && x.count == y.count);
            CHECK(x.deviations == y.deviations && x.probability == y.probability);
        }
    }
    struct vg_model_meta ma, mb;
    vg_model_meta(a, &ma);
    vg_model_meta(b, &mb);
    CHECK(ma.traces == mb.traces && ma.events == mb.events && ma.created_ms == mb.created_ms);
    CHECK_STR(ma.source, mb.source);
}

static void test_round_trip_memory(void)
{
    struct vg_model *m = sample(), *back = NULL;
    REQUIRE(m);
    unsigned char *data;
    size_t len;
    REQUIRE(vg_model_encode(m, &data, &len) == VG_OK);
    CHECK(memcmp(data, "VIGILMDL", 8) == 0);
    struct vg_error err = {0};
    REQUIRE(vg_model_decode(&back, data, len, &err) == VG_OK);
    same_model(m, back);
    /* Encoding again gives the very same bytes. */
    unsigned char *again;
    size_t len2;
    REQUIRE(vg_model_encode(back, &again, &len2) == VG_OK);
    CHECK(len == len2 && memcmp(data, again, len) == 0);
    free(again);
    free(data);
    vg_model_free(&back);
    vg_model_free(&m);
}

static void test_round_trip_file(void)
{
    struct vg_model *m = sample(), *back = NULL;
    REQUIRE(m);
    char path[] = "/tmp/vigil-model-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    struct vg_error err = {0};
    REQUIRE(vg_model_save(m, path, &err) == VG_OK);
    REQUIRE(vg_model_load(&back, path, &err) == VG_OK);
    same_model(m, back);
    /* The loaded model judges as the original: a checker works on it. */
    struct vg_checker *c = NULL;
    struct vg_verdict v;
    REQUIRE(vg_checker_new(&c, back, NULL) == VG_OK);
    REQUIRE(vg_checker_event(c, "y", 1, "a", 1, &v) == VG_OK);
    CHECK(!v.deviation);
    vg_checker_free(&c);
    vg_model_free(&back);
    vg_model_free(&m);
    unlink(path);
}

static vg_err decode(const unsigned char *d, size_t n, struct vg_error *err)
{
    struct vg_model *m = NULL;
    memset(err, 0, sizeof *err);
    vg_err rc = vg_model_decode(&m, d, n, err);
    vg_model_free(&m);
    return rc;
}

static void test_corruption(void)
{
    struct vg_model *m = sample();
    REQUIRE(m);
    unsigned char *data;
    size_t len;
    REQUIRE(vg_model_encode(m, &data, &len) == VG_OK);
    vg_model_free(&m);
    struct vg_error err;
    /* Every single-byte flip is refused (CRC, or the header checks). */
    for (size_t i = 0; i < len; i++) {
        data[i] ^= 0x5A;
        vg_err rc = decode(data, len, &err);
        CHECK(rc != VG_OK);
        CHECK(err.msg[0] != '\0');
        data[i] ^= 0x5A;
    }
    /* Every truncation is refused. */
    for (size_t n = 0; n < len; n++)
        CHECK(decode(data, n, &err) != VG_OK);
    CHECK(decode(data, len, &err) == VG_OK);
    /* Foreign data: bad magic. */
    const unsigned char png[] = "\x89PNG\r\n\x1a\nxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    CHECK(decode(png, sizeof png, &err) == VG_ERR_FORMAT);
    CHECK(strstr(err.msg, "not a vigil model") != NULL);
    /* A newer version. */
    data[8] = 99;
    CHECK(decode(data, len, &err) == VG_ERR_VERSION);
    CHECK(strstr(err.msg, "version 99") != NULL);
    data[8] = 1;
    /* Extended file. */
    unsigned char *big = malloc(len + 1);
    REQUIRE(big);
    memcpy(big, data, len);
    big[len] = 0;
    CHECK(decode(big, len + 1, &err) == VG_ERR_CORRUPT);
    free(big);
    free(data);
}

static void test_load_errors(void)
{
    struct vg_model *m = NULL;
    struct vg_error err = {0};
    CHECK(vg_model_load(&m, "/nonexistent/model.vgm", &err) == VG_ERR_IO);
    CHECK_STR(err.where, "/nonexistent/model.vgm");
    CHECK(vg_model_load(&m, "/tmp", &err) != VG_OK);
    char path[] = "/tmp/vigil-empty-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    CHECK(vg_model_load(&m, path, &err) == VG_ERR_FORMAT);
    unlink(path);
    CHECK(m == NULL);
    /* Saving into a directory that does not exist fails cleanly. */
    struct vg_model *s = sample();
    CHECK(vg_model_save(s, "/nonexistent/dir/model.vgm", &err) == VG_ERR_IO);
    vg_model_free(&s);
}

VG_TEST_MAIN(TEST(test_round_trip_memory), TEST(test_round_trip_file), TEST(test_corruption),
             TEST(test_load_errors))
