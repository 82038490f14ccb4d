/*
 * vigil check --model MODEL LOG — replay a log as a stream and judge every
 * event. In time order (the default) the events are first collected in a
 * compact form (ids and times, 24 bytes an event) and stably sorted; in file
 * order they stream straight from the reader.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/intern.h"

static const char check_help[] =
    "usage: vigil check --model MODEL LOG [options] [log options]\n"
    "\n"
    "Replay LOG as a stream of events and judge each one against the model.\n"
    "Prints one JSON object per event (--format jsonl, the default):\n"
    "  {\"case\":…,\"activity\":…,\"deviation\":true|false,\"checks\":[{\"prefix\":k,\n"
    "   \"state\":[…],\"result\":\"ok|low|missing|unknown_state\",\"probability\":p,\n"
    "   \"expected\":[{\"activity\":…,\"probability\":…}]}]}\n"
    "(expected = the 3 likeliest next activities, on checks that flag the event;\n"
    "⊥ in a state and END are written as null.)\n"
    "\n"
    "  -m, --model MODEL         model file (required)\n"
    "  -t, --threshold T         probability below which an event is 'low' (default 0.05)\n"
    "  -p, --policy P            any | all | min-k: which checks make a deviation\n"
    "                            (default any)\n"
    "      --min-k N             for --policy min-k: at least N prefix lengths must\n"
    "                            flag the event (default 2)\n"
    "  -d, --on-deviation D      drop-missing | drop | keep: whether a deviating event\n"
    "                            joins the case history (default drop-missing)\n"
    "  -f, --format F            jsonl | summary (default jsonl)\n"
    "      --order O             time | file (default time: merged by timestamp, stable)\n"
    "      --end-cases           judge END for every case still open at the end of the\n"
    "                            log (printed as \"activity\":null,\"end\":true)\n"
    "  -o, --output MODEL_OUT    save the model with this run's deviation counters\n"
    "  -h, --help                this text\n"
    "\n" CLI_LOG_HELP
    "\nexit status: 0 success (deviations are findings, not failures),\n"
    "2 bad usage or input (message on stderr)\n";

enum { OPT_MIN_K = OPT_LOCAL_BASE, OPT_ORDER, OPT_END_CASES };

struct check_run {
    const char *log;
    const char *model_path;
    const char *out_model;
    struct vg_check_opts opts;
    struct cli_log_flags lf;
    int summary;
    int time_order;
    int end_cases;
    struct vg_checker *checker;
    struct vg_buf out;       /* pending output, flushed in large writes */
    int write_failed;
};

/* One event kept for time ordering. */
struct held {
    int64_t time;
    uint64_t ordinal;
    uint32_t case_id;
    uint32_t activity;
};

static void flush_out(struct check_run *run, int force)
{
    if (run->out.len && (force || run->out.len >= (1u << 20))) {
        if (fwrite(run->out.data, 1, run->out.len, stdout) != run->out.len)
            run->write_failed = 1;
        vg_buf_reset(&run->out);
    }
}

static int emit(struct check_run *run, const char *case_id, size_t case_len,
                const struct vg_verdict *v)
{
    if (run->summary)
        return 0;
    if (vg_verdict_json(run->checker, v, case_id, case_len, 0, 0, &run->out) ||
        vg_buf_addc(&run->out, '\n'))
        return cli_fail("check", "output too large");
    flush_out(run, 0);
    return 0;
}

static int judge_event(struct check_run *run, const char *case_id, size_t case_len,
                       const char *act, size_t act_len)
{
    struct vg_verdict v;
    if (vg_checker_event(run->checker, case_id, case_len, act, act_len, &v))
        return cli_fail("check", "out of memory");
    return emit(run, case_id, case_len, &v);
}

static int stream_file_order(struct check_run *run, struct vg_reader *r)
{
    const struct vg_event *ev;
    struct vg_error err = {0};
    vg_err rc;
    int bad = 0;
    while (!bad && (rc = vg_reader_next(r, &ev, &err)) == VG_OK && ev)
        bad = judge_event(run, ev->case_id, ev->case_len, ev->activity, ev->activity_len);
    if (bad)
        return bad;
    return rc ? cli_fail_err("check", &err) : 0;
}

static int by_time(const void *a, const void *b)
{
    const struct held *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* Collect (time, ordinal, case, activity) for every event; strings are
 * interned once, so a log costs 24 bytes an event plus its distinct names. */
static int collect(struct vg_reader *r, struct vg_intern *cases, struct vg_intern *acts,
                   struct held **out, size_t *n, int *untimed)
{
    size_t cap = 0;
    const struct vg_event *ev;
    struct vg_error err = {0};
    vg_err rc;
    *out = NULL;
    *n = 0;
    *untimed = 0;
    while ((rc = vg_reader_next(r, &ev, &err)) == VG_OK && ev) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            struct held *p = realloc(*out, cap * sizeof *p);
            if (!p)
                return cli_fail("check", "out of memory");
            *out = p;
        }
        struct held *h = &(*out)[(*n)++];
        h->time = ev->time_ms;
        h->ordinal = ev->ordinal;
        *untimed |= ev->time_ms == VG_TIME_NONE;
        if (vg_intern_put(cases, ev->case_id, ev->case_len, &h->case_id) ||
            vg_intern_put(acts, ev->activity, ev->activity_len, &h->activity))
            return cli_fail("check", "out of memory");
    }
    return rc ? cli_fail_err("check", &err) : 0;
}

static int replay_time_order(struct check_run *run, struct vg_reader *r)
{
    struct vg_intern *cases = NULL, *acts = NULL;
    struct held *ev = NULL;
    size_t n = 0;
    int untimed = 0, rc;
    if (vg_intern_new(&cases, 0) || vg_intern_new(&acts, 0))
        rc = cli_fail("check", "out of memory");
    else
        rc = collect(r, cases, acts, &ev, &n, &untimed);
    if (!rc && untimed)
        fprintf(stderr, "vigil check: warning: %s: events without a timestamp; "
                        "replaying in file order\n", run->log);
    else if (!rc && n)
        qsort(ev, n, sizeof *ev, by_time);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t clen, alen;
        const char *c = vg_intern_str(cases, ev[i].case_id, &clen);
        const char *a = vg_intern_str(acts, ev[i].activity, &alen);
        rc = judge_event(run, c, clen, a, alen);
    }
    free(ev);
    vg_intern_free(&cases);
    vg_intern_free(&acts);
    return rc;
}

struct end_ctx {
    char **ids;
    size_t *lens;
    size_t n;
};

static void end_one(void *ud, const char *case_id, size_t case_len)
{
    struct end_ctx *x = ud;
    char *copy = malloc(case_len + 1);
    if (copy) {
        memcpy(copy, case_id, case_len);
        copy[case_len] = '\0';
    }
    x->ids[x->n] = copy;
    x->lens[x->n++] = case_len;
}

/* END for every open case, in order of first appearance. The ids are copied
 * first because ending a case frees it. */
static int end_all(struct check_run *run)
{
    uint64_t open = vg_checker_open_cases(run->checker);
    struct end_ctx x = {calloc(open + 1, sizeof(char *)), calloc(open + 1, sizeof(size_t)), 0};
    int rc = (!x.ids || !x.lens) ? cli_fail("check", "out of memory") : 0;
    if (!rc)
        vg_checker_each_case(run->checker, end_one, &x);
    for (size_t i = 0; i < x.n && !rc; i++) {
        struct vg_verdict v;
        if (!x.ids[i] || vg_checker_end(run->checker, x.ids[i], x.lens[i], &v))
            rc = cli_fail("check", "out of memory");
        else
            rc = emit(run, x.ids[i], x.lens[i], &v);
    }
    for (size_t i = 0; i < x.n; i++)
        free(x.ids[i]);
    free(x.ids);
    free(x.lens);
    return rc;
}

static void print_summary(const struct check_run *run, const struct vg_model *m, double secs)
{
    struct vg_check_stats st;
    vg_checker_stats(run->checker, &st);
    int ks[VG_K_MAX];
    size_t nk = vg_model_prefixes(m, ks);
    uint64_t judged = st.events + st.ends;
    printf("events      %llu\n", (unsigned long long)st.events);
    if (st.ends)
        printf("ends        %llu\n", (unsigned long long)st.ends);
    printf("deviations  %llu (%.2f%%)\n", (unsigned long long)st.deviations,
           judged ? 100.0 * (double)st.deviations / (double)judged : 0.0);
    printf("%-14s", "result");
    for (size_t i = 0; i < nk; i++)
        printf(" %10s%-2d", "k=", ks[i]);
    printf("\n");
    for (int r = 0; r < VG_RES__COUNT; r++) {
        printf("%-14s", vg_result_name((enum vg_result)r));
        for (size_t i = 0; i < nk; i++)
            printf(" %12llu", (unsigned long long)st.results[ks[i]][r]);
        printf("\n");
    }
    printf("time        %.3f s to read and judge (%.0f events/s)\n", secs,
           secs > 0 ? (double)judged / secs : 0.0);
}

static int parse_args(int argc, char **argv, struct check_run *run)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},  {"threshold", required_argument, 0, 't'},
        {"policy", required_argument, 0, 'p'}, {"min-k", required_argument, 0, OPT_MIN_K},
        {"on-deviation", required_argument, 0, 'd'}, {"format", required_argument, 0, 'f'},
        {"order", required_argument, 0, OPT_ORDER}, {"end-cases", no_argument, 0, OPT_END_CASES},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        CLI_LOG_LONGOPTS, {0, 0, 0, 0}};
    int c;
    uint32_t u;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:p:d:f:o:h", longopts, NULL)) != -1) {
        int lr = cli_log_flag("check", c, optarg, &run->lf);
        if (lr < 0)
            return CLI_USAGE;
        if (lr > 0)
            continue;
        switch (c) {
        case 'm': run->model_path = optarg; break;
        case 't':
            if (cli_parse_double("check", "--threshold", optarg, 0.0, 1.0, &run->opts.threshold))
                return CLI_USAGE;
            break;
        case 'p':
            if (vg_policy_parse(optarg, &run->opts.policy))
                return cli_fail("check", "--policy: '%s' is not any, all or min-k", optarg);
            break;
        case OPT_MIN_K:
            if (cli_parse_u32("check", "--min-k", optarg, 1, VG_K_MAX, &u))
                return CLI_USAGE;
            run->opts.min_k = (int)u;
            break;
        case 'd':
            if (vg_on_deviation_parse(optarg, &run->opts.on_deviation))
                return cli_fail("check", "--on-deviation: '%s' is not drop-missing, drop or keep",
                                optarg);
            break;
        case 'f':
            if (strcmp(optarg, "jsonl") && strcmp(optarg, "summary"))
                return cli_fail("check", "--format: '%s' is not jsonl or summary", optarg);
            run->summary = strcmp(optarg, "summary") == 0;
            break;
        case OPT_ORDER:
            if (strcmp(optarg, "time") && strcmp(optarg, "file"))
                return cli_fail("check", "--order: '%s' is not time or file", optarg);
            run->time_order = strcmp(optarg, "time") == 0;
            break;
        case OPT_END_CASES: run->end_cases = 1; break;
        case 'o': run->out_model = optarg; break;
        case 'h': fputs(check_help, stdout); return -1;
        default: fputs(check_help, stderr); return CLI_USAGE;
        }
    }
    if (!run->model_path)
        return cli_fail("check", "missing --model MODEL (see vigil check --help)");
    if (optind != argc - 1)
        return cli_fail("check", "expected exactly one LOG (see vigil check --help)");
    run->log = argv[optind];
    return 0;
}

static int run_check(struct check_run *run, struct vg_model *m)
{
    struct vg_error err = {0};
    struct vg_reader *r = NULL;
    if (vg_checker_new(&run->checker, m, &run->opts))
        return cli_fail("check", "out of memory");
    if (vg_reader_open(&r, run->log, &run->lf.opts, &err))
        return cli_fail_err("check", &err);
    double t0 = cli_monotonic();
    int rc = run->time_order ? replay_time_order(run, r) : stream_file_order(run, r);
    vg_reader_close(&r);
    if (!rc && run->end_cases)
        rc = end_all(run);
    double secs = cli_monotonic() - t0;
    flush_out(run, 1);
    if (!rc && run->summary)
        print_summary(run, m, secs);
    if (!rc && (run->write_failed || fflush(stdout)))
        rc = cli_fail("check", "cannot write the output");
    if (!rc && run->out_model && vg_model_save(m, run->out_model, &err))
        rc = cli_fail_err("check", &err);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    struct check_run run = {.time_order = 1,
                            .lf = {.opts = {.warn = cli_warn, .warn_ud = (void *)"check"}}};
    vg_check_opts_default(&run.opts);
    int rc = parse_args(argc, argv, &run);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    struct vg_error err = {0};
    struct vg_model *m = NULL;
    if (vg_model_load(&m, run.model_path, &err))
        return cli_fail_err("check", &err);
    vg_buf_init(&run.out, 0);
    rc = run_check(&run, m);
    vg_buf_free(&run.out);
    vg_checker_free(&run.checker);
    vg_model_free(&m);
    return rc;
}
