/*
 * Shared pieces of the vigil command's subcommands: the command table entry,
 * exit codes, and helpers for flags and located error messages. Messages go
 * to stderr as "vigil CMD: where: why".
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"
#include "vigil/model.h"
#include "vigil/reader.h"

#define VIGIL_VERSION "0.1.0"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_train(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_cep(int argc, char **argv);
int cmd_rules(int argc, char **argv);

/* Rules files for cep and rules (cmd_cep.c). Read a whole file (at most
 * VG_RULES_MAX_SOURCE bytes, NUL-terminated; free it): 0, or a message was
 * printed. */
int cli_read_rules(const char *cmd, const char *path, char **out, size_t *len);
struct vg_cep;
struct vg_cep_opts;
/* A new engine (opts may be NULL) with the rules of path loaded; errors as
 * file:line:col on stderr, then CLI_USAGE. */
int cli_load_rules(const char *cmd, const char *path, const struct vg_cep_opts *o,
                   struct vg_cep **out);

/* "vigil CMD: " + printf-style message on stderr; returns CLI_USAGE. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A located library error on stderr; returns CLI_USAGE. */
int cli_fail_err(const char *cmd, const struct vg_error *e);
/* A warning callback for readers that prints "vigil CMD: warning: …". */
void cli_warn(void *cmd_name, const struct vg_error *w);

/* Flag value parsers: 0 on success, else a message was printed. */
int cli_parse_prefixes(const char *cmd, const char *s, int ks[VG_K_MAX], size_t *nk);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, double hi,
                     double *out);
int cli_parse_u32(const char *cmd, const char *flag, const char *s, uint32_t lo, uint32_t hi,
                  uint32_t *out);
int cli_parse_log_format(const char *cmd, const char *s, enum vg_log_format *out);

/* Reader options shared by train and check (--classifier, --case-key, …). */
struct cli_log_flags {
    struct vg_reader_opts opts;
};
/* Handle one of the shared log flags (getopt_long codes below); returns 1 if
 * it was one, 0 if not, -1 on a bad value. */
enum {
    OPT_CLASSIFIER = 1000, OPT_CASE_KEY, OPT_ACTIVITY_KEY, OPT_TIME_KEY, OPT_SEP,
    OPT_LOG_FORMAT, OPT_LOCAL_BASE = 1100
};
int cli_log_flag(const char *cmd, int opt, const char *arg, struct cli_log_flags *f);
#define CLI_LOG_LONGOPTS                                                    \
    {"classifier", required_argument, 0, OPT_CLASSIFIER},                   \
    {"case-key", required_argument, 0, OPT_CASE_KEY},                       \
    {"activity-key", required_argument, 0, OPT_ACTIVITY_KEY},               \
    {"time-key", required_argument, 0, OPT_TIME_KEY},                       \
    {"separator", required_argument, 0, OPT_SEP},                           \
    {"log-format", required_argument, 0, OPT_LOG_FORMAT}
#define CLI_LOG_HELP                                                        \
    "log options (train and check):\n"                                      \
    "  --classifier KEYS     activity = values of KEYS joined by '+', e.g.\n" \
    "                        concept:name+lifecycle:transition (XES: or the\n" \
    "                        name of a <classifier> declared in the log)\n" \
    "  --case-key K          case id key/column (default: XES trace\n"       \
    "                        concept:name; CSV/JSONL: case, case_id, ...)\n" \
    "  --activity-key K      activity key/column (default concept:name / activity)\n" \
    "  --time-key K          timestamp key/column (default time:timestamp / time)\n" \
    "  --separator C         CSV separator (default: guessed from the header)\n" \
    "  --log-format F        xes|csv|jsonl (default: guessed from the content)\n"

/* Milliseconds since the epoch, now; and a monotonic clock in seconds. */
int64_t cli_now_ms(void);
double cli_monotonic(void);

#endif
