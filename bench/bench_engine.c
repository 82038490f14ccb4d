/*
 * bench_engine LOG [REPEAT] — the compliance engine's speed, in-process:
 *   1. parse LOG with the streaming reader (MB/s of decompressed input);
 *   2. train K = {1,2,3,4} on it (seconds);
 *   3. judge every event of LOG against the model, in file order, REPEAT
 *      times with a fresh checker each time (events/s, single thread);
 *   4. peak RSS.
 * Events are first copied into flat arrays so that step 3 measures the
 * engine (case lookup, judging, counting, history update), not the reader.
 * Not a test: prints figures for BENCHMARKS.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "vigil/check.h"
#include "vigil/reader.h"

struct flat {
    char *bytes;          /* case id and activity of every event, back to back */
    size_t len, cap;
    size_t *off;          /* per event: case offset, case len, activity offset, len */
    size_t n, ncap;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t keep(struct flat *f, const char *s, size_t n)
{
    if (f->len + n > f->cap) {
        f->cap = (f->len + n) * 2;
        f->bytes = realloc(f->bytes, f->cap);
        if (!f->bytes)
            abort();
    }
    memcpy(f->bytes + f->len, s, n);
    f->len += n;
    return f->len - n;
}

static void add_event(struct flat *f, const struct vg_event *ev)
{
    if (f->n == f->ncap) {
        f->ncap = f->ncap ? f->ncap * 2 : 4096;
        f->off = realloc(f->off, f->ncap * 4 * sizeof *f->off);
        if (!f->off)
            abort();
    }
    size_t *o = f->off + 4 * f->n++;
    o[0] = keep(f, ev->case_id, ev->case_len);
    o[1] = ev->case_len;
    o[2] = keep(f, ev->activity, ev->activity_len);
    o[3] = ev->activity_len;
}

static int read_log(const char *path, struct flat *f, struct vg_model *m)
{
    struct vg_reader *r;
    struct vg_error err = {0};
    struct vg_trainer *t;
    if (vg_reader_open(&r, path, NULL, &err) || vg_trainer_new(&t, m)) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return -1;
    }
    const struct vg_event *ev;
    double t0 = now();
    while (vg_reader_next(r, &ev, &err) == VG_OK && ev)
        add_event(f, ev);
    double parse = now() - t0;
    if (err.code) {
        fprintf(stderr, "%s:%ld: %s\n", path, err.line, err.msg);
        return -1;
    }
    struct vg_reader_stats st;
    vg_reader_stats(r, &st);
    vg_reader_close(&r);
    printf("parse      %zu events, %.1f MB decompressed in %.3f s: %.1f MB/s\n", f->n,
           (double)st.bytes_decoded / 1e6, parse, (double)st.bytes_decoded / 1e6 / parse);
    t0 = now();
    for (size_t i = 0; i < f->n; i++) {
        const size_t *o = f->off + 4 * i;
        vg_trainer_event(t, f->bytes + o[0], o[1], f->bytes + o[2], o[3]);
    }
    vg_trainer_finish(t);
    vg_trainer_free(&t);
    printf("train      K={1,2,3,4} in %.3f s (%.0f events/s)\n", now() - t0,
           (double)f->n / (now() - t0));
    return 0;
}

static double judge_all(const struct flat *f, struct vg_model *m, uint64_t *deviations)
{
    struct vg_checker *c;
    struct vg_verdict v;
    vg_checker_new(&c, m, NULL);
    double t0 = now();
    for (size_t i = 0; i < f->n; i++) {
        const size_t *o = f->off + 4 * i;
        vg_checker_event(c, f->bytes + o[0], o[1], f->bytes + o[2], o[3], &v);
    }
    double secs = now() - t0;
    struct vg_check_stats st;
    vg_checker_stats(c, &st);
    *deviations = st.deviations;
    vg_checker_free(&c);
    return secs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_engine LOG [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    int ks[] = {1, 2, 3, 4};
    struct vg_model *m;
    struct flat f = {0};
    if (vg_model_new(&m, ks, 4, NULL) || read_log(argv[1], &f, m))
        return 1;
    double best = 1e30, total = 0;
    uint64_t dev = 0;
    for (int i = 0; i < repeat; i++) {
        double s = judge_all(&f, m, &dev);
        total += s;
        best = s < best ? s : best;
    }
    printf("judge      %zu events × %d runs: best %.4f s = %.2f M events/s, mean %.2f M events/s"
           " (%llu deviations a run)\n",
           f.n, repeat, best, (double)f.n / best / 1e6, (double)f.n * repeat / total / 1e6,
           (unsigned long long)dev);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS   %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    vg_model_free(&m);
    free(f.bytes);
    free(f.off);
    return 0;
}
