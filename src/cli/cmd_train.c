/*
 * vigil train LOG... -o MODEL — learn prefix automata from event logs.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/check.h"

static const char train_help[] =
    "usage: vigil train LOG... -o MODEL [--prefix 1,2,3,4] [log options]\n"
    "\n"
    "Train probabilistic prefix automata on one or more event logs (XES, CSV or\n"
    "JSON Lines, each plain or gzip'd) and save them to MODEL. Events of one\n"
    "case id are one trace, in file order, even when other cases come between\n"
    "them or the id repeats across XES traces (with a warning); every trace\n"
    "ends with END at the end of the input.\n"
    "\n"
    "  -o, --output MODEL    model file to write (required)\n"
    "  -k, --prefix LIST     prefix lengths, each 1..16 (default 1,2,3,4)\n"
    "  -q, --quiet           no summary on stderr\n"
    "  -h, --help            this text\n"
    "\n" CLI_LOG_HELP
    "\nexit status: 0 success, 2 bad usage or input (message on stderr)\n";

static int train_log(const char *path, struct vg_trainer *t, const struct vg_reader_opts *o,
                     uint64_t *events)
{
    struct vg_error err = {0};
    struct vg_reader *r;
    if (vg_reader_open(&r, path, o, &err))
        return cli_fail_err("train", &err);
    const struct vg_event *ev;
    vg_err rc;
    while ((rc = vg_reader_next(r, &ev, &err)) == VG_OK && ev) {
        rc = vg_trainer_event(t, ev->case_id, ev->case_len, ev->activity, ev->activity_len);
        if (rc) {
            vg_error_set(&err, rc, ev->line, 0, "cannot train on this event: %s",
                         vg_strerror(rc));
            vg_error_where(&err, path);
            break;
        }
        (*events)++;
    }
    vg_reader_close(&r);
    return rc ? cli_fail_err("train", &err) : 0;
}

static int save_model(struct vg_model *m, const char *out, int argc, char **argv, int first)
{
    char source[1024] = "";
    size_t used = 0;
    for (int i = first; i < argc && used < sizeof source - 1; i++) {
        int n = snprintf(source + used, sizeof source - used, "%s%s", used ? " " : "", argv[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    vg_model_set_source(m, source, cli_now_ms());
    struct vg_error err = {0};
    if (vg_model_save(m, out, &err))
        return cli_fail_err("train", &err);
    return 0;
}

static void print_summary(const struct vg_model *m, uint64_t events, double secs)
{
    struct vg_model_sizes sz;
    struct vg_model_meta meta;
    vg_model_sizes(m, &sz);
    vg_model_meta(m, &meta);
    fprintf(stderr, "vigil train: %llu events, %llu traces, %u activities in %.3f s\n",
            (unsigned long long)events, (unsigned long long)meta.traces, sz.activities, secs);
    int ks[VG_K_MAX];
    size_t nk = vg_model_prefixes(m, ks);
    for (size_t i = 0; i < nk; i++)
        fprintf(stderr, "vigil train: k=%d: %u states, %u transitions\n", ks[i],
                sz.states[ks[i]], sz.transitions[ks[i]]);
}

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"prefix", required_argument, 0, 'k'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        CLI_LOG_LONGOPTS,                      {0, 0, 0, 0}};
    const char *out = NULL;
    int ks[VG_K_MAX] = {1, 2, 3, 4}, quiet = 0, c;
    size_t nk = 4;
    struct cli_log_flags lf = {.opts = {.warn = cli_warn, .warn_ud = (void *)"train"}};
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:k:qh", longopts, NULL)) != -1) {
        int lr = cli_log_flag("train", c, optarg, &lf);
        if (lr < 0)
            return CLI_USAGE;
        if (lr > 0)
            continue;
        switch (c) {
        case 'o': out = optarg; break;
        case 'k':
            if (cli_parse_prefixes("train", optarg, ks, &nk))
                return CLI_USAGE;
            break;
        case 'q': quiet = 1; break;
        case 'h': fputs(train_help, stdout); return CLI_OK;
        default: fputs(train_help, stderr); return CLI_USAGE;
        }
    }
    if (!out)
        return cli_fail("train", "missing -o MODEL (see vigil train --help)");
    if (optind >= argc)
        return cli_fail("train", "no LOG given (see vigil train --help)");

    struct vg_model *m = NULL;
    struct vg_trainer *t = NULL;
    if (vg_model_new(&m, ks, nk, NULL) || vg_trainer_new(&t, m)) {
        vg_model_free(&m);
        return cli_fail("train", "out of memory");
    }
    double t0 = cli_monotonic();
    uint64_t events = 0;
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++)
        rc = train_log(argv[i], t, &lf.opts, &events);
    if (!rc && vg_trainer_finish(t))
        rc = cli_fail("train", "out of memory");
    if (!rc && events == 0)
        rc = cli_fail("train", "no events in %s", argc - optind > 1 ? "the logs" : argv[optind]);
    if (!rc)
        rc = save_model(m, out, argc, argv, optind);
    if (!rc && !quiet)
        print_summary(m, events, cli_monotonic() - t0);
    vg_trainer_free(&t);
    vg_model_free(&m);
    return rc;
}
