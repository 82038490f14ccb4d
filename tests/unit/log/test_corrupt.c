/*
 * Corrupted event logs: what open repairs (a torn tail, an incomplete header
 * of the newest segment) and what it refuses with the file and byte offset
 * (damage before valid data, bad magic, bad header CRC, seq gaps), and that
 * vg_wal_verify finds the same without changing anything.
 */
#include <zlib.h>

#include "vg_test.h"
#include "wal_fixture.h"

#define HDR 32

/* Offset of record k (1-based) in a segment image; the end when k is past
 * the last. */
static long long rec_off(const unsigned char *b, size_t n, int k)
{
    size_t off = HDR;
    for (int i = 1; i < k && off + 4 <= n; i++) {
        uint32_t len = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 |
                       (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
        off += 8 + len;
    }
    return (long long)off;
}

/* Put a little-endian u32 / u64 at off, then fix the record's CRC. */
static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void fix_crc(unsigned char *rec)
{
    uint32_t len = (uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 |
                   (uint32_t)rec[3] << 24;
    put_le(rec + 4, crc32(0, rec + 8, len), 4);
}

static vg_err open_err(const char *dir, struct fx_warns *ws, struct vg_error *err,
                       uint64_t *last)
{
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .warn = fx_warn, .warn_ud = ws};
    struct vg_wal *w = NULL;
    memset(err, 0, sizeof *err);
    vg_err rc = vg_wal_open(&w, dir, &o, err);
    if (w)
        *last = vg_wal_last_seq(w);
    vg_wal_close(&w);
    return rc;
}

static int scan_count(const char *dir, uint64_t *count)
{
    struct fx_seen s = {0};
    vg_err rc = vg_wal_scan(dir, 0, fx_visit, &s, NULL);
    *count = s.count;
    return rc || s.bad ? -1 : 0;
}

/* Cut the last record at every byte: open keeps records 1..4 and says so. */
static void test_torn_tail_every_offset(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 1, NULL) == 0);
    size_t n;
    unsigned char *img = fx_read(fx_seg(seg, sizeof seg, dir, 1), &n);
    REQUIRE(img);
    long long s4 = rec_off(img, n, 5);
    REQUIRE(s4 < (long long)n);
    for (long long cut = s4; cut < (long long)n; cut++) {
        REQUIRE(fx_write(seg, img, (size_t)cut) == 0);
        struct vg_wal_verify_report rep;
        CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
        CHECK_EQ_INT(rep.records, 4);
        CHECK_EQ_INT(rep.torn_tail, cut > s4);
        CHECK_EQ_INT(fx_size(seg), cut); /* verify changes nothing */
        struct fx_warns ws = {0};
        struct vg_error err;
        uint64_t last = 0;
        CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
        CHECK_EQ_INT(last, 4);
        CHECK_EQ_INT(ws.n, cut > s4);
        CHECK_EQ_INT(fx_size(seg), s4);
        if (cut > s4) {
            char want[200];
            snprintf(want, sizeof want,
                     "torn tail of %lld bytes at offset %lld truncated (records after seq 4 "
                     "were incomplete)",
                     cut - s4, s4);
            CHECK(strstr(ws.last, want) != NULL);
            CHECK(strstr(ws.last, "seg-00000000000000000001.vlog: ") != NULL);
        }
    }
    /* and the log goes on from there */
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    CHECK(fx_fill(w, 6, 2) == 0);
    vg_wal_close(&w);
    uint64_t count;
    CHECK(scan_count(dir, &count) == 0);
    CHECK_EQ_INT(count, 6);
    free(img);
    fx_rm_rf(dir);
}

static void test_bad_crc_last_vs_middle(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 1, NULL) == 0);
    fx_seg(seg, sizeof seg, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    /* last record: a torn tail */
    long long r5 = rec_off(img, n, 5);
    REQUIRE(fx_flip(seg, r5 + 30) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 4);
    CHECK_EQ_INT(ws.n, 1);
    CHECK_EQ_INT(fx_size(seg), r5);
    /* a middle record: corruption, located, and nothing is changed */
    REQUIRE(fx_write(seg, img, n) == 0);
    long long r2 = rec_off(img, n, 2);
    REQUIRE(fx_flip(seg, r2 + 27) == 0);
    ws.n = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_EQ_INT(ws.n, 0);
    CHECK_EQ_INT(fx_size(seg), (long long)n);
    char want[64];
    snprintf(want, sizeof want, "byte %lld: record CRC mismatch after seq 1", r2);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(strstr(err.msg, "valid record (seq 3)") != NULL);
    CHECK_STR(err.where, seg);
    struct vg_error verr = {0};
    CHECK(vg_wal_verify(dir, NULL, &verr) == VG_ERR_CORRUPT);
    CHECK_STR(verr.msg, err.msg);
    char line[600];
    vg_error_format(&verr, line, sizeof line);
    CHECK(strncmp(line, seg, strlen(seg)) == 0 && strstr(line, ": byte ") != NULL);
    /* a bad CRC in the last two records with nothing valid after: torn */
    REQUIRE(fx_write(seg, img, n) == 0);
    REQUIRE(fx_flip(seg, rec_off(img, n, 4) + 26) == 0);
    REQUIRE(fx_flip(seg, r5 + 26) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 3);
    free(img);
    fx_rm_rf(dir);
}

/* Zeros or stale bytes after the last record (a crash after the file grew
 * but before its data reached the disk): torn. */
static void test_zero_and_garbage_tail(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 5, NULL) == 0);
    fx_seg(seg, sizeof seg, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    unsigned char *more = calloc(1, n + 8192);
    REQUIRE(more);
    memcpy(more, img, n);
    REQUIRE(fx_write(seg, more, n + 8192) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 5);
    CHECK(strstr(ws.last, "torn tail of 8192 bytes") != NULL);
    srand(7);
    for (size_t i = n; i < n + 8192; i++)
        more[i] = (unsigned char)rand();
    REQUIRE(fx_write(seg, more, n + 8192) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 5);
    CHECK_EQ_INT(fx_size(seg), (long long)n);
    free(more);
    free(img);
    fx_rm_rf(dir);
}

/* A length field no record can have: never trusted for an allocation; at
 * the end a torn tail, before valid records corruption. */
static void test_absurd_length(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 1, NULL) == 0);
    fx_seg(seg, sizeof seg, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    static const uint32_t lens[] = {0xFFFFFFF0u, 0x7FFFFFFFu, 900u << 20, 0, 16};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char le[4];
        put_le(le, lens[i], 4);
        REQUIRE(fx_write(seg, img, n) == 0);
        REQUIRE(fx_poke(seg, rec_off(img, n, 3), le, 4) == 0);
        struct vg_error err = {0};
        CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
        struct fx_warns ws = {0};
        uint64_t last = 0;
        CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
        char want[64];
        snprintf(want, sizeof want, "byte %lld: ", rec_off(img, n, 3));
        CHECK(strstr(err.msg, want) == err.msg);
        /* the same in the last record */
        REQUIRE(fx_write(seg, img, n) == 0);
        REQUIRE(fx_poke(seg, rec_off(img, n, 5), le, 4) == 0);
        CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
        CHECK_EQ_INT(last, 4);
    }
    free(img);
    fx_rm_rf(dir);
}

static void test_bad_headers(void)
{
    char dir[256], seg1[300], seg2[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .segment_bytes = 300};
    REQUIRE(fx_make(dir, 30, 3, &o) == 0);
    fx_seg(seg1, sizeof seg1, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg1, &n);
    REQUIRE(img);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last;
    /* bad magic, in the first segment: open reads every header */
    REQUIRE(fx_poke(seg1, 0, "VIGILLAG", 8) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_STR(err.msg, "byte 0: bad magic: not a vigil log segment");
    CHECK_STR(err.where, seg1);
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    CHECK_STR(err.msg, "byte 0: bad magic: not a vigil log segment");
    /* bad header CRC */
    REQUIRE(fx_write(seg1, img, n) == 0);
    REQUIRE(fx_flip(seg1, 20) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_STR(err.msg, "byte 28: segment header CRC mismatch");
    /* a version we do not know, with a good CRC */
    REQUIRE(fx_write(seg1, img, n) == 0);
    unsigned char h[HDR];
    memcpy(h, img, HDR);
    put_le(h + 8, 2, 4);
    put_le(h + 28, crc32(0, h, 28), 4);
    REQUIRE(fx_poke(seg1, 0, h, HDR) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_VERSION);
    CHECK(strstr(err.msg, "byte 8: segment format version 2") != NULL);
    /* a header that disagrees with the file name */
    memcpy(h, img, HDR);
    put_le(h + 16, 7, 8);
    put_le(h + 28, crc32(0, h, 28), 4);
    REQUIRE(fx_poke(seg1, 0, h, HDR) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "byte 16: header says the segment starts at seq 7") != NULL);
    REQUIRE(fx_write(seg1, img, n) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 30);
    /* bad magic in the newest segment: a full header is not a torn one */
    struct vg_wal_verify_report rep;
    REQUIRE(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    REQUIRE(rep.segments >= 3);
    DIR *d = opendir(dir);
    REQUIRE(d);
    unsigned long long newest = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long v = strtoull(e->d_name + 4, NULL, 10);
        if (!strncmp(e->d_name, "seg-", 4) && v > newest)
            newest = v;
    }
    closedir(d);
    fx_seg(seg2, sizeof seg2, dir, newest);
    REQUIRE(fx_poke(seg2, 0, "XIGILLOG", 8) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_STR(err.where, seg2);
    free(img);
    fx_rm_rf(dir);
}

/* Three segments; the middle one goes missing, or is renamed. */
static void test_seq_gap_between_segments(void)
{
    char dir[256], seg[300], to[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .segment_bytes = 300};
    REQUIRE(fx_make(dir, 40, 4, &o) == 0);
    struct vg_wal_verify_report rep;
    REQUIRE(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    REQUIRE(rep.segments >= 3);
    /* find the second segment's first seq: the one after segment 1's last */
    size_t n;
    unsigned char *img = fx_read(fx_seg(seg, sizeof seg, dir, 1), &n);
    REQUIRE(img);
    int k = 1;
    while (rec_off(img, n, k) < (long long)n)
        k++;
    unsigned long long second = (unsigned long long)k; /* records 1..k-1 in segment 1 */
    free(img);
    fx_seg(seg, sizeof seg, dir, second);
    REQUIRE(fx_size(seg) > HDR);
    snprintf(to, sizeof to, "%s/moved.bak", dir);
    REQUIRE(rename(seg, to) == 0);
    /* open finds it from the end of the segment before the gap; verify from
     * the start of the one after it */
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last;
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    char want[120];
    snprintf(want, sizeof want, "byte %lld: the segment does not end with seq ",
             fx_size(fx_seg(to, sizeof to, dir, 1)));
    CHECK(strstr(err.msg, want) == err.msg);
    CHECK(strstr(err.msg, "a segment is missing") != NULL);
    CHECK_STR(err.where, to);
    snprintf(to, sizeof to, "%s/moved.bak", dir);
    CHECK(vg_wal_verify(dir, &rep, &err) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "byte 16: segment starts at seq") != NULL);
    CHECK(strstr(err.msg, "but the one before ended at seq") != NULL);
    REQUIRE(rename(to, seg) == 0);
    CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    CHECK_EQ_INT(rep.records, 40);
    /* the second segment renamed (header to match) one seq later */
    img = fx_read(seg, &n);
    REQUIRE(img);
    put_le(img + 16, second + 1, 8);
    put_le(img + 28, crc32(0, img, 28), 4);
    REQUIRE(fx_write(fx_seg(to, sizeof to, dir, second + 1), img, n) == 0);
    REQUIRE(unlink(seg) == 0);
    free(img);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "the segment does not end with seq") != NULL);
    CHECK(vg_wal_verify(dir, &rep, &err) == VG_ERR_CORRUPT);
    CHECK_STR(err.where, to);
    fx_rm_rf(dir);
}

static void test_foreign_files_ignored(void)
{
    char dir[256], p[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 10, 3, NULL) == 0);
    static const char *const names[] = {"README", "seg-1.vlog", "seg-00000000000000000001.vlog.tmp",
                                        "seg-0000000000000000000x.vlog", ".seg-00000000000000000002.vlog",
                                        "seg-00000000000000000000.vlog",
                                        "seg-99999999999999999999.vlog"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        REQUIRE(fx_write(p, "junk", 4) == 0);
    }
    snprintf(p, sizeof p, "%s/subdir", dir);
    REQUIRE(mkdir(p, 0700) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 10);
    CHECK_EQ_INT(ws.n, 0);
    struct vg_wal_verify_report rep;
    CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    CHECK_EQ_INT(rep.segments, 1);
    fx_rm_rf(dir);
}

/* A segment with its header only is an empty segment. */
static void test_header_only_segments(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    vg_wal_close(&w);
    CHECK_EQ_INT(fx_size(fx_seg(seg, sizeof seg, dir, 1)), HDR);
    struct vg_wal_verify_report rep;
    CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
    CHECK_EQ_INT(rep.segments, 1);
    CHECK_EQ_INT(rep.records, 0);
    CHECK_EQ_INT(rep.first_seq, 0);
    CHECK_EQ_INT(rep.last_seq, 0);
    CHECK_EQ_INT(rep.bytes, HDR);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last = 9;
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 0);
    /* a header-only newest segment after full ones: the log ends before it */
    REQUIRE(fx_make(dir, 5, 5, NULL) == 0);
    unsigned char h[HDR];
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    memcpy(h, img, HDR);
    put_le(h + 16, 6, 8);
    put_le(h + 28, crc32(0, h, 28), 4);
    REQUIRE(fx_write(fx_seg(seg, sizeof seg, dir, 6), h, HDR) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 5);
    REQUIRE(vg_wal_open(&w, dir, NULL, NULL) == VG_OK);
    CHECK(fx_fill(w, 7, 1) == 0);
    vg_wal_close(&w);
    CHECK_EQ_INT(fx_size(seg) > HDR, 1); /* 6 and 7 went into seg 6 */
    uint64_t count;
    CHECK(scan_count(dir, &count) == 0);
    CHECK_EQ_INT(count, 7);
    free(img);
    fx_rm_rf(dir);
}

/* The newest segment is empty or has a partial header (a crash while it was
 * being created): open writes the header again, verify calls it torn. A
 * short file before the newest is corruption. */
static void test_incomplete_newest_header(void)
{
    char dir[256], seg1[300], seg6[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 5, NULL) == 0);
    fx_seg(seg1, sizeof seg1, dir, 1);
    fx_seg(seg6, sizeof seg6, dir, 6);
    unsigned char h[HDR];
    size_t n;
    unsigned char *img = fx_read(seg1, &n);
    REQUIRE(img);
    memcpy(h, img, HDR);
    put_le(h + 16, 6, 8);
    put_le(h + 28, crc32(0, h, 28), 4);
    static const size_t cuts[] = {0, 1, 8, 20, 31};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        REQUIRE(fx_write(seg6, h, cuts[i]) == 0);
        struct vg_wal_verify_report rep;
        CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
        CHECK_EQ_INT(rep.torn_tail, 1);
        CHECK_EQ_INT(rep.records, 5);
        struct fx_warns ws = {0};
        struct vg_error err;
        uint64_t last = 0;
        CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
        CHECK_EQ_INT(last, 5);
        CHECK_EQ_INT(ws.n, 1);
        CHECK(strstr(ws.last, "incomplete segment header") != NULL);
        CHECK_EQ_INT(fx_size(seg6), HDR);
        CHECK(vg_wal_verify(dir, &rep, NULL) == VG_OK);
        CHECK_EQ_INT(rep.torn_tail, 0);
    }
    /* all zeros, full length */
    memset(h, 0, sizeof h);
    REQUIRE(fx_write(seg6, h, HDR) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(ws.n, 1);
    /* a zeroed header with records after it was never incomplete */
    REQUIRE(fx_make(dir, 7, 1, NULL) == 0);
    long long size6 = fx_size(seg6);
    REQUIRE(size6 > HDR);
    REQUIRE(fx_poke(seg6, 0, h, HDR) == 0);
    ws.n = 0;
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_STR(err.msg, "byte 0: bad magic: not a vigil log segment");
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    CHECK_EQ_INT(fx_size(seg6), size6);
    CHECK_EQ_INT(ws.n, 0);
    /* a partial header that is not ours */
    REQUIRE(fx_write(seg6, "NOTVIGIL", 8) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "shorter than its 32-byte header") != NULL);
    /* an empty file that is not the newest */
    REQUIRE(fx_write(seg6, h, 0) == 0);
    char seg9[300];
    REQUIRE(fx_write(fx_seg(seg9, sizeof seg9, dir, 9), h, 0) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK_STR(err.where, seg6);
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    CHECK_STR(err.where, seg6);
    free(img);
    fx_rm_rf(dir);
}

/* Records with a good CRC that cannot be: a seq out of order, an unknown
 * type. Never a torn tail, even at the end. */
static void test_good_crc_bad_content(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    REQUIRE(fx_make(dir, 5, 1, NULL) == 0);
    fx_seg(seg, sizeof seg, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    unsigned char *copy = malloc(n);
    REQUIRE(copy);
    long long r5 = rec_off(img, n, 5);
    memcpy(copy, img, n);
    put_le(copy + r5 + 9, 9, 8);
    fix_crc(copy + r5);
    REQUIRE(fx_write(seg, copy, n) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last;
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    char want[80];
    snprintf(want, sizeof want, "byte %lld: record has seq 9 where 5 was expected", r5);
    CHECK_STR(err.msg, want);
    memcpy(copy, img, n);
    copy[r5 + 8] = 9; /* 1..3 are event, end, rules */
    fix_crc(copy + r5);
    REQUIRE(fx_write(seg, copy, n) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "unknown record type 9") != NULL);
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    free(copy);
    free(img);
    fx_rm_rf(dir);
}

/* Damage in a segment before the newest: a cut-off end is found on open
 * (the segment must end with the record before the next one's first);
 * damage inside it is found by replay and verify, which read it all, and
 * is never a "torn tail". */
static void test_damage_in_older_segment(void)
{
    char dir[256], seg[300];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .segment_bytes = 300};
    REQUIRE(fx_make(dir, 30, 3, &o) == 0);
    fx_seg(seg, sizeof seg, dir, 1);
    size_t n;
    unsigned char *img = fx_read(seg, &n);
    REQUIRE(img);
    REQUIRE(truncate(seg, (off_t)n - 3) == 0);
    struct fx_warns ws = {0};
    struct vg_error err;
    uint64_t last;
    CHECK(open_err(dir, &ws, &err, &last) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "the segment does not end with seq") != NULL);
    CHECK_EQ_INT(ws.n, 0);
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, "runs past the end of the segment") != NULL);
    CHECK_STR(err.where, seg);
    CHECK_EQ_INT(fx_size(seg), (long long)n - 3);
    /* a flipped byte in its second record */
    REQUIRE(fx_write(seg, img, n) == 0);
    REQUIRE(fx_flip(seg, rec_off(img, n, 2) + 20) == 0);
    CHECK(open_err(dir, &ws, &err, &last) == VG_OK);
    CHECK_EQ_INT(last, 30);
    struct vg_wal *w;
    REQUIRE(vg_wal_open(&w, dir, &o, NULL) == VG_OK);
    struct fx_seen s = {0};
    CHECK(vg_wal_replay(w, 0, fx_visit, &s, &err) == VG_ERR_CORRUPT);
    CHECK_EQ_INT(s.count, 1);
    char want[64];
    snprintf(want, sizeof want, "byte %lld: record CRC mismatch after seq 1", rec_off(img, n, 2));
    CHECK(strstr(err.msg, want) == err.msg);
    s = (struct fx_seen){0};
    CHECK(vg_wal_replay(w, 20, fx_visit, &s, &err) == VG_OK); /* does not read segment 1 */
    CHECK_EQ_INT(s.count, 10);
    vg_wal_close(&w);
    CHECK(vg_wal_verify(dir, NULL, &err) == VG_ERR_CORRUPT);
    CHECK(strstr(err.msg, want) == err.msg);
    free(img);
    fx_rm_rf(dir);
}

VG_TEST_MAIN(TEST(test_torn_tail_every_offset), TEST(test_bad_crc_last_vs_middle),
             TEST(test_zero_and_garbage_tail), TEST(test_absurd_length), TEST(test_bad_headers),
             TEST(test_seq_gap_between_segments), TEST(test_foreign_files_ignored),
             TEST(test_header_only_segments), TEST(test_incomplete_newest_header),
             TEST(test_good_crc_bad_content), TEST(test_damage_in_older_segment))
