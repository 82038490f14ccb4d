/*
 * Helpers shared by the subcommands (see cli.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vigil %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

int cli_fail_err(const char *cmd, const struct vg_error *e)
{
    char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
    return cli_fail(cmd, "%s", vg_error_format(e, msg, sizeof msg));
}

void cli_warn(void *cmd_name, const struct vg_error *w)
{
    char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
    fprintf(stderr, "vigil %s: warning: %s\n", (const char *)cmd_name,
            vg_error_format(w, msg, sizeof msg));
}

int cli_parse_prefixes(const char *cmd, const char *s, int ks[VG_K_MAX], size_t *nk)
{
    size_t n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long k = strtol(p, &end, 10);
        if (end == p || errno || k < 1 || k > VG_K_MAX || (*end && *end != ','))
            return cli_fail(cmd, "--prefix: '%s' is not a list of lengths within 1..%d", s,
                            VG_K_MAX);
        for (size_t i = 0; i < n; i++)
            if (ks[i] == k)
                return cli_fail(cmd, "--prefix: %ld given twice", k);
        if (n == VG_K_MAX)
            return cli_fail(cmd, "--prefix: at most %d lengths", VG_K_MAX);
        ks[n++] = (int)k;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p)
            return cli_fail(cmd, "--prefix: '%s' ends with a comma", s);
    }
    if (!n)
        return cli_fail(cmd, "--prefix: empty list");
    *nk = n;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi))
        return cli_fail(cmd, "%s: '%s' is not a number within %g..%g", flag, s, lo, hi);
    *out = v;
    return 0;
}

int cli_parse_u32(const char *cmd, const char *flag, const char *s, uint32_t lo, uint32_t hi,
                  uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || *s == '-' || v < lo || v > hi)
        return cli_fail(cmd, "%s: '%s' is not a whole number within %u..%u", flag, s, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

int cli_parse_log_format(const char *cmd, const char *s, enum vg_log_format *out)
{
    static const struct {
        const char *name;
        enum vg_log_format f;
    } names[] = {{"auto", VG_LOG_AUTO}, {"xes", VG_LOG_XES}, {"csv", VG_LOG_CSV},
                 {"jsonl", VG_LOG_JSONL}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    return cli_fail(cmd, "--log-format: '%s' is not one of auto, xes, csv, jsonl", s);
}

int cli_log_flag(const char *cmd, int opt, const char *arg, struct cli_log_flags *f)
{
    switch (opt) {
    case OPT_CLASSIFIER: f->opts.classifier = arg; return 1;
    case OPT_CASE_KEY: f->opts.case_key = arg; return 1;
    case OPT_ACTIVITY_KEY: f->opts.activity_key = arg; return 1;
    case OPT_TIME_KEY: f->opts.time_key = arg; return 1;
    case OPT_SEP:
        if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0)
            arg = "\t";
        if (strlen(arg) != 1) {
            cli_fail(cmd, "--separator: '%s' is not one character", arg);
            return -1;
        }
        f->opts.csv_sep = arg[0];
        return 1;
    case OPT_LOG_FORMAT:
        return cli_parse_log_format(cmd, arg, &f->opts.format) ? -1 : 1;
    default: return 0;
    }
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cli_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
