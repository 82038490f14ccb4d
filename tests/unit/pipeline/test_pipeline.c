/*
 * The pipeline: framing of verdicts, ends of cases, case info, and — with a
 * data directory — locking, snapshots and recovery: a pipeline reopened
 * after a crash (a child that _exit()s without closing) reaches exactly the
 * state of an uninterrupted run.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vg_test.h"
#include "vigil/event.h"
#include "vigil/pipeline.h"

static struct vg_model *model(void)
{
    int ks[] = {1, 2};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 2, NULL))
        return NULL;
    const char *tr[] = {"abcd", "abd", "acd", "abcd"};
    for (size_t i = 0; i < 4; i++) {
        uint32_t ids[8];
        size_t n = strlen(tr[i]);
        for (size_t j = 0; j < n; j++)
            ids[j] = vg_model_activity_put(m, &tr[i][j], 1);
        vg_model_train_trace(m, ids, n);
    }
    return m;
}

static struct vg_logevent event(const char *c, const char *a)
{
    return (struct vg_logevent){.case_id = c, .case_len = strlen(c), .activity = a,
                                .activity_len = strlen(a), .time_ms = VG_TIME_NONE};
}

static void test_framing(void)
{
    struct vg_pipeline_opts o = {0};
    vg_check_opts_default(&o.check);
    struct vg_pipeline *p = NULL;
    struct vg_error err = {0};
    REQUIRE(vg_pipeline_open(&p, model(), &o, &err) == VG_OK);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    struct vg_logevent one = event("c1", "a");
    REQUIRE(vg_pipeline_submit(p, &one, 1, 1000, VG_FRAME_SINGLE, &b, &err) == VG_OK);
    const char *want1 = "{\"seq\":1,\"case\":\"c1\",\"activity\":\"a\",\"new_case\":true,"
                        "\"deviation\":false,";
    CHECK(strncmp(b.data, want1, strlen(want1)) == 0);
    vg_buf_reset(&b);
    struct vg_logevent two[2] = {event("c1", "b"), event("c2", "x")};
    REQUIRE(vg_pipeline_submit(p, two, 2, 1001, VG_FRAME_ARRAY, &b, &err) == VG_OK);
    CHECK(b.data[0] == '[' && b.data[b.len - 1] == ']');
    CHECK(strstr(b.data, "},{\"seq\":3,") != NULL);
    CHECK(strstr(b.data, "\"case\":\"c2\",\"activity\":\"x\",\"new_case\":true,\"deviation\":true") != NULL);
    vg_buf_reset(&b);
    REQUIRE(vg_pipeline_submit(p, two, 2, 1002, VG_FRAME_NDJSON, &b, &err) == VG_OK);
    /* NDJSON: every object ends with a newline, the last one too. */
    CHECK(strstr(b.data, "}\n{\"seq\":5,") != NULL);
    CHECK(b.data[b.len - 2] == '}' && b.data[b.len - 1] == '\n');
    vg_buf_reset(&b);
    /* c1 saw a, b, b: the second b is missing after (a, b), so dropped. */
    REQUIRE(vg_pipeline_case_json(p, "c1", 2, &b) == VG_OK);
    CHECK_STR(b.data, "{\"case\":\"c1\",\"events\":3,\"last_seen\":1002,\"history\":[\"a\",\"b\"]}");
    vg_buf_reset(&b);
    CHECK(vg_pipeline_end(p, "nope", 4, 1003, &b, &err) == VG_ERR_NOT_FOUND);
    REQUIRE(vg_pipeline_end(p, "c1", 2, 1003, &b, &err) == VG_OK);
    const char *want6 = "{\"seq\":6,\"case\":\"c1\",\"activity\":null,\"end\":true";
    CHECK(strncmp(b.data, want6, strlen(want6)) == 0);
    vg_buf_reset(&b);
    CHECK(vg_pipeline_case_json(p, "c1", 2, &b) == VG_ERR_NOT_FOUND);
    /* Images are laid out outside the lock, from DOT taken under it. */
    vg_buf_reset(&b);
    struct vg_render_opts ro = {.k = 2, .format = VG_RENDER_PNG};
    REQUIRE(vg_pipeline_render(p, &ro, &b, &err) == VG_OK);
    CHECK(b.len > 100 && memcmp(b.data, "\x89PNG\r\n\x1a\n", 8) == 0);
    ro.k = 3;
    CHECK(vg_pipeline_render(p, &ro, &b, &err) == VG_ERR_NOT_FOUND);
    struct vg_pipeline_stats st;
    vg_pipeline_stats(p, &st);
    CHECK_EQ_INT(st.last_seq, 6);
    CHECK_EQ_INT(st.check.events, 5);
    CHECK_EQ_INT(st.check.ends, 1);
    CHECK_EQ_INT(st.open_cases, 1);
    vg_buf_free(&b);
    vg_pipeline_close(&p);
    CHECK(p == NULL);
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/vigil-pipe-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* A deterministic stream of events over 40 cases, with deviations, ends
 * and evictions (max_cases 30). */
static void feed(struct vg_pipeline *p, int from, int to)
{
    static const char *acts = "abcdx";
    struct vg_buf b;
    vg_buf_init(&b, 0);
    struct vg_error err = {0};
    unsigned x = 12345;
    for (int i = 0; i < to; i++) {
        x = x * 1103515245u + 12345u;
        char cid[16], act[2] = {acts[(x >> 16) % 5], 0};
        snprintf(cid, sizeof cid, "case-%u", (x >> 8) % 40);
        if (i < from)
            continue;
        vg_buf_reset(&b);
        if ((x >> 20) % 13 == 0)
            vg_pipeline_end(p, cid, strlen(cid), 5000 + i, &b, &err);
        else {
            struct vg_logevent ev = event(cid, act);
            vg_pipeline_submit(p, &ev, 1, 5000 + i, VG_FRAME_SINGLE, &b, &err);
        }
    }
    vg_buf_free(&b);
}

static void state_json(struct vg_pipeline *p, struct vg_buf *out)
{
    struct vg_render_opts ro = {.k = 2, .format = VG_RENDER_JSON};
    struct vg_pipeline_stats st;
    struct vg_error err;
    vg_pipeline_render(p, &ro, out, &err);
    vg_pipeline_stats(p, &st);
    vg_buf_printf(out, "|%llu %llu %llu %llu %llu %llu", (unsigned long long)st.last_seq,
                  (unsigned long long)st.check.events, (unsigned long long)st.check.deviations,
                  (unsigned long long)st.check.evicted_lru, (unsigned long long)st.check.ends,
                  (unsigned long long)st.open_cases);
    for (int i = 0; i < 40; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "case-%d", i);
        vg_pipeline_case_json(p, cid, strlen(cid), out);
    }
}

static struct vg_pipeline_opts durable_opts(const char *dir)
{
    struct vg_pipeline_opts o = {.data_dir = dir, .snapshot_every = 37};
    vg_check_opts_default(&o.check);
    o.check.max_cases = 30;
    o.wal.segment_bytes = 4096;
    return o;
}

static void test_recovery(void)
{
    char *ref_dir = tmpdir(), *dir = tmpdir();
    REQUIRE(ref_dir && dir);
    struct vg_error err = {0};
    /* The reference: one uninterrupted run. */
    struct vg_pipeline_opts o = durable_opts(ref_dir);
    struct vg_pipeline *p = NULL;
    REQUIRE(vg_pipeline_open(&p, model(), &o, &err) == VG_OK);
    feed(p, 0, 500);
    struct vg_buf want, got;
    vg_buf_init(&want, 0);
    vg_buf_init(&got, 0);
    state_json(p, &want);
    vg_pipeline_close(&p);

    /* A child runs the first 300 events and dies without closing. */
    o = durable_opts(dir);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct vg_pipeline *c = NULL;
        if (vg_pipeline_open(&c, model(), &o, NULL))
            _exit(3);
        feed(c, 0, 300);
        _exit(0);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Reopen without a model: the snapshot's is used; the log is replayed. */
    REQUIRE(vg_pipeline_open(&p, NULL, &o, &err) == VG_OK);
    struct vg_pipeline_stats st;
    vg_pipeline_stats(p, &st);
    CHECK(st.replayed > 0 && st.replayed < 300);
    feed(p, 300, 500);
    state_json(p, &got);
    CHECK_STR(got.data, want.data);
    vg_pipeline_close(&p);

    /* A clean close leaves a snapshot at the last seq: nothing to replay. */
    REQUIRE(vg_pipeline_open(&p, NULL, &o, &err) == VG_OK);
    vg_pipeline_stats(p, &st);
    CHECK_EQ_INT(st.replayed, 0);
    vg_buf_reset(&got);
    state_json(p, &got);
    CHECK_STR(got.data, want.data);

    /* The data directory is locked while open. */
    struct vg_pipeline *second = NULL;
    CHECK(vg_pipeline_open(&second, model(), &o, &err) == VG_ERR_IO);
    CHECK(strstr(err.msg, "in use by another vigil process") != NULL);
    vg_pipeline_close(&p);

    /* No model and no snapshot: a clear error. */
    char *empty = tmpdir();
    o = durable_opts(empty);
    CHECK(vg_pipeline_open(&p, NULL, &o, &err) == VG_ERR_INVALID);
    CHECK(strstr(err.msg, "no snapshot") != NULL);
    rm_rf(empty);
    free(empty);
    vg_buf_free(&want);
    vg_buf_free(&got);
    rm_rf(ref_dir);
    rm_rf(dir);
    free(ref_dir);
    free(dir);
}

VG_TEST_MAIN(TEST(test_framing), TEST(test_recovery))
