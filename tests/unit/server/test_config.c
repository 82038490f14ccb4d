/*
 * Unit tests for the service configuration (src/server/config.c): defaults
 * come from the option table, a good file sets every kind of value, bad
 * values and unknown keys are refused with FILE:LINE: why, and sizes and
 * durations parse with their units. (tests/cli/serve.sh checks that
 * docs/config.md holds the option table.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_impl.h"
#include "vg_test.h"

static char tmpdir[64];

static void remove_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *write_file(const char *name, const char *text)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/vg-config-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
        atexit(remove_tmp);
    }
    static char path[8][256];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static void test_defaults(void)
{
    struct vg_config c;
    vg_config_defaults(&c);
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK_STR(c.data_dir, "./vigil-data");
    CHECK_STR(c.prefix, "1,2,3,4");
    CHECK(c.model == NULL && c.train == NULL && c.auth_token_file == NULL);
    CHECK_NEAR(c.threshold, 0.05, 1e-12);
    CHECK_EQ_INT(c.policy, VG_POLICY_ANY);
    CHECK_EQ_INT(c.min_k, 2);
    CHECK_EQ_INT(c.on_deviation, VG_ONDEV_DROP_MISSING);
    CHECK_EQ_INT(c.fsync, VG_FSYNC_INTERVAL);
    CHECK_EQ_INT(c.fsync_interval_ms, 100);
    CHECK_EQ_INT(c.max_body, 4u << 20);
    CHECK_EQ_INT(c.max_batch, 100000);
    CHECK_EQ_INT(c.max_json_depth, 64);
    CHECK_EQ_INT(c.threads, 0);
    CHECK_EQ_INT(c.connection_timeout_ms, 30000);
    CHECK_EQ_INT(c.request_log, 1);
    CHECK_EQ_INT(c.request_log_keep, 5);
    struct vg_error err = {0};
    CHECK_EQ_INT(vg_config_validate(&c, &err), VG_OK);
    vg_config_free(&c);
    CHECK(c.listen == NULL && c.data_dir == NULL);
}

/* Every documented default must be accepted by its own setter. */
static void test_table_defaults_parse(void)
{
    size_t n;
    const struct vg_config_option *o = vg_config_options(&n);
    REQUIRE(n >= 20);
    struct vg_config c;
    vg_config_defaults(&c);
    for (size_t i = 0; i < n; i++) {
        CHECK(o[i].key && o[i].type && o[i].dflt && o[i].help && o[i].help[0]);
        struct vg_error err = {0};
        if (o[i].dflt[0] && vg_config_set(&c, o[i].key, o[i].dflt, &err)) {
            fprintf(stderr, "default of %s: %s\n", o[i].key, err.msg);
            CHECK(0);
        }
    }
    vg_config_free(&c);
}

static void test_good_file(void)
{
    const char *p = write_file("good.conf",
                               "# a comment\n"
                               "\n"
                               "listen = 0.0.0.0:9090\n"
                               "  model=/tmp/m.vgm   \n"
                               "data_dir = \" /tmp/with space \"\n"
                               "threshold = 0.1\n"
                               "policy = min-k\n"
                               "min_k = 3\n"
                               "on_deviation = keep\n"
                               "fsync = always\n"
                               "fsync_interval = 2s\n"
                               "max_body = 10MiB\n"
                               "max_batch = 500\n"
                               "connection_timeout = 1m\n"
                               "case_idle_timeout = 1d\n"
                               "request_log = off\n"
                               "request_log_max_bytes = 1MB\n"
                               "segment_bytes = 1GiB\n"
                               "prefix = 2,4\n"
                               "\t# indented comment\n");
    struct vg_config c;
    vg_config_defaults(&c);
    struct vg_error err = {0};
    REQUIRE(vg_config_load(&c, p, &err) == VG_OK);
    CHECK_STR(c.listen, "0.0.0.0:9090");
    CHECK_STR(c.model, "/tmp/m.vgm");
    CHECK_STR(c.data_dir, " /tmp/with space ");
    CHECK_NEAR(c.threshold, 0.1, 1e-12);
    CHECK_EQ_INT(c.policy, VG_POLICY_MIN_K);
    CHECK_EQ_INT(c.min_k, 3);
    CHECK_EQ_INT(c.on_deviation, VG_ONDEV_KEEP);
    CHECK_EQ_INT(c.fsync, VG_FSYNC_ALWAYS);
    CHECK_EQ_INT(c.fsync_interval_ms, 2000);
    CHECK_EQ_INT(c.max_body, 10u << 20);
    CHECK_EQ_INT(c.max_batch, 500);
    CHECK_EQ_INT(c.connection_timeout_ms, 60000);
    CHECK_EQ_INT(c.case_idle_timeout_ms, 86400000);
    CHECK_EQ_INT(c.request_log, 0);
    CHECK_EQ_INT(c.request_log_max_bytes, 1000000);
    CHECK_EQ_INT(c.segment_bytes, 1ull << 30);
    CHECK_STR(c.prefix, "2,4");
    vg_config_free(&c);
}

struct bad_case {
    const char *text;
    long line;
    const char *msg; /* a part of the message */
};

static void test_bad_files(void)
{
    static const struct bad_case cases[] = {
        {"listen = 1.2.3.4:80\nfrobnicate = 1\n", 2, "unknown key 'frobnicate'"},
        {"data-dir = x\n", 1, "did you mean data_dir?"},
        {"# c\nlisten 127.0.0.1:80\n", 2, "expected 'key = value'"},
        {"= 3\n", 1, "expected 'key = value'"},
        {"listen = nohost\n", 1, "listen: 'nohost' is not host:port"},
        {"listen = 1.2.3.4:99999\n", 1, "is not host:port"},
        {"listen = [::1:80\n", 1, "is not host:port"},
        {"threshold = 2\n", 1, "threshold: '2' is not a number within 0..1"},
        {"threshold = abc\n", 1, "not a number"},
        {"policy = most\n", 1, "'most' is not one of any, all, min-k"},
        {"on_deviation = ignore\n", 1, "not one of drop-missing, drop, keep"},
        {"fsync = sometimes\n", 1, "not one of interval, always, off"},
        {"min_k = 0\n", 1, "min_k: '0' is not a whole number within 1..16"},
        {"min_k = -1\n", 1, "not a whole number"},
        {"max_batch = 1e3\n", 1, "not a whole number"},
        {"max_body = 4 parsecs\n", 1, "max_body: '4 parsecs' is not a size"},
        {"max_body = 10\n", 1, "out of range"},
        {"max_body = 99999999999999999999999\n", 1, "is not a size"},
        {"fsync_interval = 100\n", 1, "is not a duration"},
        {"fsync_interval = 0\n", 1, "out of range"},
        {"connection_timeout = 5 fortnights\n", 1, "is not a duration"},
        {"request_log = maybe\n", 1, "'maybe' is not true or false"},
        {"prefix = 1,1\n", 1, "given twice"},
        {"prefix = 0,17\n", 1, "not a list of prefix lengths"},
        {"prefix = 1,\n", 1, "not a list of prefix lengths"},
        {"data_dir = \"unterminated\n", 1, "unterminated quoted value"},
        {"listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", 2, "listen is already set on line 1"},
        {"max_json_depth = 100000\n", 1, "max_json_depth"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = write_file("bad.conf", cases[i].text);
        struct vg_config c;
        vg_config_defaults(&c);
        struct vg_error err = {0};
        vg_err rc = vg_config_load(&c, p, &err);
        char msg[600];
        vg_error_format(&err, msg, sizeof msg);
        if (rc == VG_OK || err.line != cases[i].line || !strstr(err.msg, cases[i].msg) ||
            strncmp(msg, p, strlen(p)) != 0) {
            fprintf(stderr, "case %zu: rc %d, got '%s'\n", i, rc, msg);
            CHECK(0);
        }
        char want[300];
        snprintf(want, sizeof want, "%s:%ld: ", p, cases[i].line);
        CHECK(strncmp(msg, want, strlen(want)) == 0);
        vg_config_free(&c);
    }
}

static void test_missing_file_and_long_line(void)
{
    struct vg_config c;
    vg_config_defaults(&c);
    struct vg_error err = {0};
    CHECK_EQ_INT(vg_config_load(&c, "/nonexistent/vigil.conf", &err), VG_ERR_IO);
    CHECK(strstr(err.msg, "cannot open") != NULL);
    char *big = malloc(10000);
    REQUIRE(big);
    memset(big, 'x', 9998);
    memcpy(big, "model = ", 8);
    big[9998] = '\n';
    big[9999] = '\0';
    const char *p = write_file("long.conf", big);
    free(big);
    CHECK_EQ_INT(vg_config_load(&c, p, &err), VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(err.line, 1);
    vg_config_free(&c);
}

static void test_set_and_validate(void)
{
    struct vg_config c;
    vg_config_defaults(&c);
    struct vg_error err = {0};
    CHECK_EQ_INT(vg_config_set(&c, "nope", "1", &err), VG_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "unknown key 'nope'") != NULL);
    CHECK_EQ_INT(vg_config_set(&c, "tls_cert", "/x.pem", &err), VG_OK);
    CHECK_EQ_INT(vg_config_validate(&c, &err), VG_ERR_INVALID);
    CHECK(strstr(err.msg, "tls_cert and tls_key") != NULL);
    CHECK_EQ_INT(vg_config_set(&c, "tls_key", "/k.pem", &err), VG_OK);
    CHECK_EQ_INT(vg_config_validate(&c, &err), VG_OK);
    CHECK_EQ_INT(vg_config_set(&c, "model", "m.vgm", &err), VG_OK);
    CHECK_EQ_INT(vg_config_set(&c, "train", "log.xes", &err), VG_OK);
    CHECK_EQ_INT(vg_config_validate(&c, &err), VG_ERR_INVALID);
    CHECK(strstr(err.msg, "model and train") != NULL);
    /* "" unsets a path */
    CHECK_EQ_INT(vg_config_set(&c, "model", "", &err), VG_OK);
    CHECK(c.model == NULL);
    CHECK_EQ_INT(vg_config_validate(&c, &err), VG_OK);
    CHECK_EQ_INT(vg_config_set(&c, "listen", "[::1]:0", &err), VG_OK);
    CHECK_EQ_INT(vg_config_set(&c, "listen", "localhost:8080", &err), VG_OK);
    CHECK_EQ_INT(vg_config_set(&c, "request_log", "YES", &err), VG_OK);
    CHECK_EQ_INT(c.request_log, 1);

    struct vg_config d;
    REQUIRE(server__config_copy(&d, &c) == VG_OK);
    CHECK_STR(d.listen, "localhost:8080");
    CHECK(d.listen != c.listen);
    vg_config_free(&d);
    vg_config_free(&c);
}

static void test_sizes_and_durations(void)
{
    static const struct {
        const char *s;
        uint64_t v;
    } sizes[] = {{"0", 0},           {"12", 12},          {"12B", 12},
                 {"1KB", 1000},      {"1KiB", 1024},      {"4 MiB", 4u << 20},
                 {"4mib", 4u << 20}, {"2GB", 2000000000}, {"1TiB", 1ull << 40}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v = 1;
        CHECK_EQ_INT(vg_parse_size(sizes[i].s, &v), 0);
        CHECK_EQ_INT(v, sizes[i].v);
    }
    static const char *const bad_sizes[] = {"", "-1", "1.5MiB", "MiB", "4 XB", "1KiBB",
                                            "18446744073709551616", "17179869184GiB"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        uint64_t v;
        CHECK_EQ_INT(vg_parse_size(bad_sizes[i], &v), -1);
    }
    static const struct {
        const char *s;
        uint64_t v;
    } durs[] = {{"0", 0},        {"5ms", 5},        {"5s", 5000},
                {"2m", 120000},  {"1h", 3600000},   {"1d", 86400000}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        uint64_t v = 1;
        CHECK_EQ_INT(vg_parse_duration_ms(durs[i].s, &v), 0);
        CHECK_EQ_INT(v, durs[i].v);
    }
    static const char *const bad_durs[] = {"", "5", "5x", "s", "-1s", "1.5s"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        uint64_t v;
        CHECK_EQ_INT(vg_parse_duration_ms(bad_durs[i], &v), -1);
    }
}

static void test_split_listen(void)
{
    char host[64], port[8];
    CHECK_EQ_INT(server__split_listen("127.0.0.1:0", host, sizeof host, port, sizeof port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(port, "0");
    CHECK_EQ_INT(server__split_listen("[::1]:8080", host, sizeof host, port, sizeof port), 0);
    CHECK_STR(host, "::1");
    CHECK_STR(port, "8080");
    CHECK_EQ_INT(server__split_listen(":80", host, sizeof host, port, sizeof port), -1);
    CHECK_EQ_INT(server__split_listen("a b:80", host, sizeof host, port, sizeof port), -1);
    CHECK_EQ_INT(server__split_listen("host:", host, sizeof host, port, sizeof port), -1);
    CHECK_EQ_INT(server__split_listen("host:80x", host, sizeof host, port, sizeof port), -1);
}

VG_TEST_MAIN(TEST(test_defaults), TEST(test_table_defaults_parse),
             TEST(test_good_file), TEST(test_bad_files), TEST(test_missing_file_and_long_line),
             TEST(test_set_and_validate), TEST(test_sizes_and_durations),
             TEST(test_split_listen))
