/*
 * Tests of the event log's writer and reader: round trips across segments,
 * seq continuity over reopen, discarded batches, fsync policies and group
 * commit from several threads, limits, write-failure rollback, the on-disk
 * byte layout. Corrupted logs are in test_corrupt.c, the payload codec in
 * test_logevent.c.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#include "vg_test.h"
#include "wal_fixture.h"

static struct vg_wal_opts small_opts(enum vg_fsync f)
{
    struct vg_wal_opts o = {.fsync = f, .segment_bytes = 512};
    return o;
}

static void test_roundtrip_segments(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = small_opts(VG_FSYNC_OFF);
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK_EQ_INT(vg_wal_last_seq(w), 0);
    CHECK(fx_fill(w, 150, 3) == 0);
    CHECK_EQ_INT(vg_wal_last_seq(w), 150);
    struct vg_wal_stats st;
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.records, 150);
    CHECK(st.segments > 5);
    CHECK(st.bytes > 150 * 25);
    /* replay on the open log */
    struct fx_seen s = {0};
    CHECK(vg_wal_replay(w, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 150);
    CHECK_EQ_INT(s.bad, 0);
    uint64_t segments = st.segments;
    vg_wal_close(&w);
    CHECK(w == NULL);

    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK_EQ_INT(vg_wal_last_seq(w), 150);
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.segments, segments);
    for (uint64_t after = 0; after <= 151; after += 11) {
        struct fx_seen t = {0};
        CHECK(vg_wal_replay(w, after, fx_visit, &t, NULL) == VG_OK);
        CHECK_EQ_INT(t.count, after >= 150 ? 0 : 150 - after);
        CHECK_EQ_INT(t.bad, 0);
        if (t.count)
            CHECK_EQ_INT(t.first, after + 1);
    }
    vg_wal_close(&w);

    struct vg_wal_verify_report rep;
    struct vg_error err = {0};
    CHECK(vg_wal_verify(dir, &rep, &err) == VG_OK);
    CHECK_EQ_INT(rep.segments, segments);
    CHECK_EQ_INT(rep.records, 150);
    CHECK_EQ_INT(rep.first_seq, 1);
    CHECK_EQ_INT(rep.last_seq, 150);
    CHECK_EQ_INT(rep.torn_tail, 0);
    struct fx_seen t = {0};
    CHECK(vg_wal_scan(dir, 100, fx_visit, &t, NULL) == VG_OK);
    CHECK_EQ_INT(t.count, 50);
    CHECK_EQ_INT(t.first, 101);
    CHECK_EQ_INT(t.bad, 0);
    fx_rm_rf(dir);
}

static void test_reopen_continues(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    for (uint64_t round = 1; round <= 4; round++) {
        struct vg_wal_opts o = small_opts(round % 2 ? VG_FSYNC_INTERVAL : VG_FSYNC_ALWAYS);
        struct vg_wal *w;
        REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
        CHECK_EQ_INT(vg_wal_last_seq(w), (round - 1) * 25);
        CHECK(fx_fill(w, round * 25, 4) == 0);
        vg_wal_close(&w);
    }
    struct fx_seen s = {0};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 100);
    CHECK_EQ_INT(s.bad, 0);
    fx_rm_rf(dir);
}

static void test_discard(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK(fx_fill(w, 3, 3) == 0);
    uint64_t seq;
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, "lost", 4, &seq) == VG_OK);
    CHECK_EQ_INT(seq, 4);
    CHECK(vg_wal_append(w, VG_REC_END, 0, "lost", 4, &seq) == VG_OK);
    CHECK_EQ_INT(seq, 5);
    CHECK_EQ_INT(vg_wal_last_seq(w), 3);
    vg_wal_discard(w);
    CHECK(fx_fill(w, 4, 1) == 0); /* gets seq 4 again */
    struct vg_wal_stats st;
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.records, 4);
    vg_wal_close(&w);
    struct fx_seen s = {0};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 4);
    CHECK_EQ_INT(s.bad, 0);
    fx_rm_rf(dir);
}

/* Close flushes what was appended but not flushed. */
static void test_close_flushes(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    unsigned char p[64];
    uint64_t seq;
    size_t n = fx_payload(1, p, sizeof p);
    CHECK(vg_wal_append(w, VG_REC_EVENT, 1000, p, n, &seq) == VG_OK);
    vg_wal_close(&w);
    struct fx_seen s = {0};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 1);
    CHECK_EQ_INT(s.bad, 0);
    fx_rm_rf(dir);
}

static void test_record_types_and_empty_payload(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    uint64_t seq;
    CHECK(vg_wal_append(w, VG_REC_END, -5, NULL, 0, &seq) == VG_OK);
    CHECK(vg_wal_append(w, (enum vg_rec_type)7, 0, "x", 1, &seq) == VG_ERR_INVALID);
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, NULL, 3, &seq) == VG_ERR_INVALID);
    CHECK(vg_wal_flush(w, NULL) == VG_OK);
    CHECK(vg_wal_flush(w, NULL) == VG_OK); /* nothing to write */
    vg_wal_close(&w);
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    CHECK_EQ_INT(vg_wal_last_seq(w), 1);
    vg_wal_close(&w);
    fx_rm_rf(dir);
}

static void test_limits(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .max_record = 100};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    static unsigned char big[101];
    uint64_t seq = 0;
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, big, 101, &seq) == VG_ERR_TOO_LARGE);
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, big, 100, &seq) == VG_OK);
    CHECK_EQ_INT(seq, 1);
    CHECK(vg_wal_flush(w, NULL) == VG_OK);
    vg_wal_close(&w);
    o.max_record = 2u << 30;
    struct vg_error err = {0};
    CHECK(vg_wal_open(&w, dir, &o, &err) == VG_ERR_INVALID);
    CHECK(w == NULL);
    o.max_record = 0;
    o.fsync = (enum vg_fsync)9;
    CHECK(vg_wal_open(&w, dir, &o, &err) == VG_ERR_INVALID);
    fx_rm_rf(dir);
}

/* max_record bounds appends, not reads: a record written under a larger
 * setting is still there after the setting was lowered. */
static void test_lowered_max_record(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .max_record = 1000};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    static unsigned char big[900];
    uint64_t seq;
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, big, sizeof big, &seq) == VG_OK);
    CHECK(vg_wal_flush(w, NULL) == VG_OK);
    vg_wal_close(&w);
    struct fx_warns ws = {0};
    o = (struct vg_wal_opts){.fsync = VG_FSYNC_OFF, .max_record = 100, .warn = fx_warn,
                             .warn_ud = &ws};
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK_EQ_INT(ws.n, 0);
    CHECK_EQ_INT(vg_wal_last_seq(w), 1);
    struct fx_seen s = {0};
    CHECK(vg_wal_replay(w, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 1);
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0, big, sizeof big, &seq) == VG_ERR_TOO_LARGE);
    vg_wal_close(&w);
    fx_rm_rf(dir);
}

/* The exact bytes of a segment with one record, computed by hand. */
static void test_byte_layout(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    uint64_t seq;
    CHECK(vg_wal_append(w, VG_REC_EVENT, 0x0102030405060708LL, "abc", 3, &seq) == VG_OK);
    CHECK(vg_wal_flush(w, NULL) == VG_OK);
    vg_wal_close(&w);
    size_t n;
    unsigned char *b = fx_read(fx_seg(seg, sizeof seg, dir, 1), &n);
    REQUIRE(b);
    unsigned char want[32 + 28] = {'V', 'I', 'G', 'I', 'L', 'L', 'O', 'G', 1, 0, 0, 0, 0, 0,
                                   0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    uLong c = crc32(0, want, 28);
    for (int i = 0; i < 4; i++)
        want[28 + i] = (unsigned char)(c >> (8 * i));
    unsigned char rec[28] = {20, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0,
                             0, 8, 7, 6, 5, 4, 3, 2, 1, 'a', 'b', 'c'};
    c = crc32(0, rec + 8, 20);
    for (int i = 0; i < 4; i++)
        rec[4 + i] = (unsigned char)(c >> (8 * i));
    memcpy(want + 32, rec, sizeof rec);
    CHECK_EQ_INT(n, sizeof want);
    CHECK(n == sizeof want && memcmp(b, want, n) == 0);
    free(b);
    fx_rm_rf(dir);
}

static void test_fsync_always(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_ALWAYS};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK(fx_fill(w, 5, 5) == 0);
    struct vg_error err = {0};
    CHECK(vg_wal_sync(w, 5, &err) == VG_OK);
    struct vg_wal_stats st;
    vg_wal_stats(w, &st);
    CHECK(st.synced_seq >= 5);
    CHECK(st.fsyncs >= 1);
    uint64_t f = st.fsyncs;
    CHECK(vg_wal_sync(w, 3, &err) == VG_OK); /* already durable: no fsync */
    CHECK(vg_wal_sync(w, 0, &err) == VG_OK);
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.fsyncs, f);
    CHECK(vg_wal_sync(w, 6, &err) == VG_ERR_INVALID); /* not written yet */
    vg_wal_close(&w);
    fx_rm_rf(dir);
}

struct sync_thread {
    struct vg_wal *w;
    pthread_mutex_t *lock;
    int n;
    int bad;
};

/* What the pipeline does: append + flush under its lock, then wait for the
 * group commit outside it. */
static void *sync_worker(void *arg)
{
    struct sync_thread *t = arg;
    for (int i = 0; i < t->n; i++) {
        pthread_mutex_lock(t->lock);
        unsigned char p[64];
        uint64_t want = vg_wal_last_seq(t->w) + 1, seq = 0;
        size_t n = fx_payload(want, p, sizeof p);
        int rc = vg_wal_append(t->w, VG_REC_EVENT, (int64_t)want * 1000, p, n, &seq) ||
                 vg_wal_flush(t->w, NULL);
        pthread_mutex_unlock(t->lock);
        if (rc || vg_wal_sync(t->w, seq, NULL)) {
            t->bad++;
            continue;
        }
        struct vg_wal_stats st;
        vg_wal_stats(t->w, &st);
        if (st.synced_seq < seq)
            t->bad++;
    }
    return NULL;
}

static void test_group_commit_threads(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_ALWAYS, .segment_bytes = 4096};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    enum { NT = 6, PER = 60 };
    struct sync_thread ts[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        ts[i] = (struct sync_thread){w, &lock, PER, 0};
        REQUIRE(pthread_create(&th[i], NULL, sync_worker, &ts[i]) == 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(ts[i].bad, 0);
    }
    struct vg_wal_stats st;
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.synced_seq, NT * PER);
    CHECK(st.fsyncs >= 1 && st.fsyncs <= NT * PER + st.segments);
    printf("group commit: %d syncs from %d threads took %llu fsyncs over %llu segments\n",
           NT * PER, NT, (unsigned long long)st.fsyncs, (unsigned long long)st.segments);
    vg_wal_close(&w);
    struct fx_seen s = {0};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, NT * PER);
    CHECK_EQ_INT(s.bad, 0);
    fx_rm_rf(dir);
}

static void test_fsync_interval_thread(void)
{
    char dir[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_INTERVAL, .fsync_interval_ms = 10};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK(fx_fill(w, 7, 7) == 0);
    struct vg_wal_stats st = {0};
    for (int i = 0; i < 500 && st.synced_seq < 7; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        vg_wal_stats(w, &st);
    }
    CHECK_EQ_INT(st.synced_seq, 7);
    /* Nothing new written: the thread does not fsync again. */
    uint64_t f = st.fsyncs;
    struct timespec ts = {0, 60 * 1000000L};
    nanosleep(&ts, NULL);
    vg_wal_stats(w, &st);
    CHECK_EQ_INT(st.fsyncs, f);
    vg_wal_close(&w); /* joins the thread */
    /* A long interval: close must not wait for it. */
    o.fsync_interval_ms = 60000;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK(fx_fill(w, 9, 1) == 0);
    vg_wal_close(&w);
    fx_rm_rf(dir);
}

static void test_replay_stop_and_missing(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = small_opts(VG_FSYNC_OFF);
    REQUIRE(fx_make(dir, 60, 2, &o) == 0);
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    struct fx_seen s = {.stop_at = 30};
    CHECK(vg_wal_replay(w, 0, fx_visit, &s, NULL) == VG_ERR_INVALID);
    CHECK_EQ_INT(s.count, 30);
    s = (struct fx_seen){.stop_at = 50};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_ERR_INVALID);
    CHECK_EQ_INT(s.count, 50);
    vg_wal_close(&w);
    /* The first segment retired: replay from 0 cannot be done. */
    REQUIRE(unlink(fx_seg(seg, sizeof seg, dir, 1)) == 0);
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    struct vg_error err = {0};
    s = (struct fx_seen){0};
    CHECK(vg_wal_replay(w, 0, fx_visit, &s, &err) == VG_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "no longer in the log") != NULL);
    s = (struct fx_seen){0};
    CHECK(vg_wal_replay(w, 55, fx_visit, &s, &err) == VG_OK);
    CHECK_EQ_INT(s.count, 5);
    vg_wal_close(&w);
    struct vg_wal_verify_report rep;
    CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    CHECK(rep.first_seq > 1);
    CHECK_EQ_INT(rep.last_seq, 60);
    fx_rm_rf(dir);
}

static void test_open_errors(void)
{
    char dir[256], p[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal *w;
    struct vg_error err = {0};
    snprintf(p, sizeof p, "%s/no/such/parent", dir);
    CHECK(vg_wal_open(&w, p, NULL, &err) == VG_ERR_IO);
    CHECK(strstr(err.where, "no/such/parent") != NULL);
    snprintf(p, sizeof p, "%s/file", dir);
    REQUIRE(fx_write(p, "x", 1) == 0);
    CHECK(vg_wal_open(&w, p, NULL, &err) == VG_ERR_IO);
    /* A missing last level is created. */
    snprintf(p, sizeof p, "%s/log", dir);
    CHECK(vg_wal_open(&w, p, NULL, &err) == VG_OK);
    vg_wal_close(&w);
    CHECK(vg_wal_verify(p, NULL, &err) == VG_OK);
    /* The read-only tools want a log. */
    snprintf(p, sizeof p, "%s/nothing", dir);
    CHECK(vg_wal_verify(p, NULL, &err) == VG_ERR_NOT_FOUND);
    REQUIRE(mkdir(p, 0700) == 0);
    CHECK(vg_wal_verify(p, NULL, &err) == VG_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "no log segments") != NULL);
    fx_rm_rf(dir);
}

/* A batch that hits RLIMIT_FSIZE half-way: the file is cut back, the seqs
 * are given out again, and the log goes on. */
static void test_write_failure_rollback(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_ALWAYS};
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    CHECK(fx_fill(w, 10, 5) == 0);
    long long before = fx_size(fx_seg(seg, sizeof seg, dir, 1));
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {(rlim_t)before + 100, old.rlim_max};
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    unsigned char p[64] = {0};
    uint64_t seq = 0;
    for (int i = 0; i < 10; i++)
        CHECK(vg_wal_append(w, VG_REC_EVENT, 0, p, sizeof p, &seq) == VG_OK);
    CHECK_EQ_INT(seq, 20);
    struct vg_error err = {0};
    vg_err rc = vg_wal_flush(w, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == VG_ERR_IO);
    CHECK(strstr(err.msg, "not logged") != NULL);
    CHECK(strstr(err.where, "seg-") != NULL);
    CHECK_EQ_INT(fx_size(seg), before);
    CHECK_EQ_INT(vg_wal_last_seq(w), 10);
    CHECK(fx_fill(w, 12, 2) == 0); /* seqs 11, 12 again */
    CHECK(vg_wal_sync(w, 12, NULL) == VG_OK);
    vg_wal_close(&w);
    struct fx_seen s = {0};
    CHECK(vg_wal_scan(dir, 0, fx_visit, &s, NULL) == VG_OK);
    CHECK_EQ_INT(s.count, 12);
    CHECK_EQ_INT(s.bad, 0);
    fx_rm_rf(dir);
}

static void test_fsync_names(void)
{
    enum vg_fsync f = VG_FSYNC_OFF;
    CHECK(vg_fsync_parse("always", &f) == 0 && f == VG_FSYNC_ALWAYS);
    CHECK(vg_fsync_parse("interval", &f) == 0 && f == VG_FSYNC_INTERVAL);
    CHECK(vg_fsync_parse("off", &f) == 0 && f == VG_FSYNC_OFF);
    CHECK(vg_fsync_parse("Always", &f) == -1);
    CHECK(vg_fsync_parse("", &f) == -1);
    CHECK(vg_fsync_parse(NULL, &f) == -1);
    CHECK_STR(vg_fsync_name(VG_FSYNC_ALWAYS), "always");
    CHECK_STR(vg_fsync_name(VG_FSYNC_INTERVAL), "interval");
    CHECK_STR(vg_fsync_name(VG_FSYNC_OFF), "off");
    CHECK_STR(vg_fsync_name((enum vg_fsync)42), "unknown");
}

VG_TEST_MAIN(TEST(test_roundtrip_segments), TEST(test_reopen_continues), TEST(test_discard),
             TEST(test_close_flushes), TEST(test_record_types_and_empty_payload),
             TEST(test_limits), TEST(test_lowered_max_record), TEST(test_byte_layout), TEST(test_fsync_always),
             TEST(test_group_commit_threads), TEST(test_fsync_interval_thread),
             TEST(test_replay_stop_and_missing), TEST(test_open_errors),
             TEST(test_write_failure_rollback), TEST(test_fsync_names))
