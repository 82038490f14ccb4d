/*
 * The standalone replay driver: main() for a fuzz target built with the
 * normal compiler (no libFuzzer), as CTest runs it in the normal and the
 * ASan + UBSan builds.
 *
 * It runs every seed (corpus directories or files given as arguments,
 * $VG_DATA_DIR/<--shared> when that exists, and the target's in-process
 * seeds), then a deterministic mutation loop: a fixed-seed PRNG stacks bit
 * flips, byte inserts and deletes, splices of two seeds, truncations,
 * repeated chunks and dictionary tokens (--dict, libFuzzer's syntax) on a
 * seed or on an earlier mutant. Same seed, same inputs: a failure in CI
 * replays anywhere.
 *
 * Without coverage feedback it finds less than libFuzzer
 * (fuzz/run-libfuzzer.sh); its job is to keep every target building and
 * running, and to catch regressions on the paths the seeds already reach.
 *
 * The inputs run in a child process watched by the parent. On a crash, a
 * sanitizer report, an invariant violation (abort) or an input that runs
 * longer than --timeout, the parent saves the input as
 * <crash dir>/crash-<name>-<n>, shows it as a C string on stderr, prints the
 * closing line "N passed, 1 failed" and exits 1. A leak (ASan builds) fails
 * the run too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define DEFAULT_ITERS 20000
#define DEFAULT_MAX_LEN (128u * 1024)
#define MAX_SEED_FILE (4u << 20)
#define MAX_TOKENS 512
#define RING 256

struct blob {
    uint8_t *p;
    size_t len;
};

struct pool {
    struct blob *v;
    size_t n, cap;
};

static struct config {
    const char *name;
    const char *crash_dir;
    unsigned timeout;
    size_t max_len;
    uint64_t iters, seed;
    struct pool seeds, tokens;
    struct blob ring[RING];
    size_t ring_n;
} cfg;

/* What the child is running, shared with the parent that watches it
 * (MAP_SHARED): each input is copied here before it runs, so whatever kills
 * the child — a sanitizer, abort(), a signal, the alarm — the parent still
 * has the input. Sanitizers exit in ways no in-process hook sees reliably
 * (GCC's UBSan and ASan runtimes each keep their own death callbacks). */
struct shared {
    uint64_t passed, index;
    int running;  /* an input is being run */
    int done;     /* every input ran; `failed` tells about the leak check */
    int failed;
    size_t len;
    uint8_t data[];
};

static struct shared *shm;
static size_t shm_cap;

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", cfg.name, what);
    exit(2);
}

/* The input as a C string literal, so it can be pasted into a test. A hex
 * escape swallows the hex digits after it, so those are escaped too. */
static void print_c_string(FILE *f, const uint8_t *p, size_t n)
{
    int after_hex = 0;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        int hex_digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (c == '\\' || c == '"')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c >= 0x20 && c < 0x7f && !(after_hex && hex_digit))
            fputc(c, f);
        else {
            fprintf(f, "\\x%02x", c);
            after_hex = 1;
            continue;
        }
        after_hex = 0;
    }
    fputc('"', f);
}

static void save_input(const char *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/crash-%s-%llu", cfg.crash_dir, cfg.name,
             (unsigned long long)shm->index);
    FILE *f = fopen(path, "wb");
    int saved = f && fwrite(shm->data, 1, shm->len, f) == shm->len;
    if (f && fclose(f))
        saved = 0;
    fprintf(stderr, "\n== %s: %s on input %llu (%zu bytes), %s %s\n", cfg.name, why,
            (unsigned long long)shm->index, shm->len, saved ? "saved as" : "could not save",
            path);
    if (shm->len <= 1024) {
        fputs("== input: ", stderr);
        print_c_string(stderr, shm->data, shm->len);
        fputc('\n', stderr);
    }
}

static const char *describe(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(buf, n, "timeout: one input ran longer than %u s (a hang?)", cfg.timeout);
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
        snprintf(buf, n, "abort (a broken invariant or an assertion, see above)");
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "exit status %d (a sanitizer report, see above)", WEXITSTATUS(status));
    return buf;
}

/* Wait for the child; print the closing line; the exit status of the run. */
static int supervise(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid failed");
    if (shm->done && WIFEXITED(status) && WEXITSTATUS(status) == shm->failed) {
        printf("%llu passed, %d failed\n", (unsigned long long)shm->passed, shm->failed);
        return shm->failed;
    }
    char why[200];
    describe(status, why, sizeof why);
    if (shm->running)
        save_input(why);
    else
        fprintf(stderr, "\n== %s: %s after the last input\n", cfg.name, why);
    printf("%llu passed, 1 failed\n", (unsigned long long)shm->passed);
    return 1;
}

static void make_shared(size_t cap)
{
    shm_cap = cap;
    void *p = mmap(NULL, sizeof *shm + cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        die("cannot map shared memory");
    shm = p;
}

/* ---- pools of byte strings --------------------------------------------------- */

static void pool_add(struct pool *pl, const uint8_t *p, size_t n)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        struct blob *v = realloc(pl->v, cap * sizeof *v);
        if (!v)
            die("out of memory");
        pl->v = v;
        pl->cap = cap;
    }
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        die("out of memory");
    if (n)
        memcpy(c, p, n);
    pl->v[pl->n++] = (struct blob){c, n};
}

static void pool_add_cb(void *ud, const uint8_t *data, size_t size)
{
    pool_add(ud, data, size);
}

static void pool_free(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->v[i].p);
    free(pl->v);
    memset(pl, 0, sizeof *pl);
}

/* ---- seeds from files ------------------------------------------------------------ */

static int read_file(const char *path, struct blob *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_SEED_FILE) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *p = malloc(n ? n : 1);
    while (p && got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!p || got != n) {
        free(p);
        return -1;
    }
    *out = (struct blob){p, n};
    return 0;
}

static void add_seed_file(const char *path, const char *prefix)
{
    struct blob b;
    if (read_file(path, &b)) {
        fprintf(stderr, "%s: cannot read seed %s\n", cfg.name, path);
        return;
    }
    size_t pl = prefix ? strlen(prefix) : 0;
    uint8_t *p = malloc(pl + b.len + 1);
    if (!p)
        die("out of memory");
    memcpy(p, prefix ? prefix : "", pl);
    memcpy(p + pl, b.p, b.len);
    pool_add(&cfg.seeds, p, pl + b.len);
    free(p);
    free(b.p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order (so runs are reproducible);
 * returns how many were added. */
static size_t add_seed_dir(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                die("out of memory");
            names = nn;
        }
        if (!(names[n++] = strdup(e->d_name)))
            die("out of memory");
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    size_t before = cfg.seeds.n;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            add_seed_file(path, prefix);
        free(names[i]);
    }
    free(names);
    return cfg.seeds.n - before;
}

/* ---- the dictionary ------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One `name="value"` or `"value"` line: the unescaped value into out.
 * Only the escapes libFuzzer knows (\\ \" \xNN), so that every
 * dictionary works under both runners. */
static int dict_line(const char *s, uint8_t *out, size_t *n)
{
    const char *q = strchr(s, '"');
    if (!q)
        return -1;
    *n = 0;
    for (s = q + 1; *s && *s != '"'; s++) {
        int c = (unsigned char)*s;
        if (c == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
            c = hexval(s[2]) * 16 + hexval(s[3]);
            s += 3;
        } else if (c == '\\' && (s[1] == '\\' || s[1] == '"')) {
            c = (unsigned char)*++s;
        } else if (c == '\\') {
            return -1;
        }
        out[(*n)++] = (uint8_t)c;
    }
    if (*s != '"')
        return -1;
    s += 1 + strspn(s + 1, " \t\r");
    return *s == '\n' || *s == '\0' ? 0 : -1;
}

static void load_dict(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open the dictionary");
    char line[1024];
    uint8_t tok[1024];
    for (int no = 1; fgets(line, sizeof line, f) && cfg.tokens.n < MAX_TOKENS; no++) {
        size_t n;
        const char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || *s == '\0')
            continue;
        if (dict_line(s, tok, &n)) {
            fprintf(stderr, "%s:%d: not a dictionary line libFuzzer reads "
                            "(\"...\" with the escapes \\\\ \\\" \\xNN only)\n", path, no);
            exit(2);
        }
        if (n > 0)
            pool_add(&cfg.tokens, tok, n);
    }
    fclose(f);
}

/* ---- mutations -------------------------------------------------------------------- */

static uint64_t rng;

/* xorshift64*: small, fast, and the same sequence on every machine. */
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * UINT64_C(2685821657736338717);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

struct mbuf {
    uint8_t *p;
    size_t len, cap;
};

/* Insert n bytes (from src, or unspecified when src is NULL) at pos,
 * clipped to the capacity. */
static void insert(struct mbuf *m, size_t pos, const uint8_t *src, size_t n)
{
    if (n > m->cap - m->len)
        n = m->cap - m->len;
    memmove(m->p + pos + n, m->p + pos, m->len - pos);
    if (src)
        memmove(m->p + pos, src, n);
    m->len += n;
}

static void erase(struct mbuf *m, size_t pos, size_t n)
{
    memmove(m->p + pos, m->p + pos + n, m->len - pos - n);
    m->len -= n;
}

static const struct blob *any_seed(void)
{
    return &cfg.seeds.v[below(cfg.seeds.n)];
}

static void op_bytes(struct mbuf *m, unsigned op)
{
    /* Bytes that matter to one of the formats or to a length field. */
    static const uint8_t special[] = {0,    0xff, 0x7f, 0x80, 1,   '\n', '\r', '"', '\'', '<',
                                      '>',  '/',  '&',  ',',  ';', '\t', '{',  '}', '[',  ']',
                                      ':',  '\\', ' ',  '+',  '-', 'T',  'Z',  '.', '0',  '9'};
    size_t i = below(m->len);
    if (!m->len)
        return;
    switch (op) {
    case 0: m->p[i] ^= (uint8_t)(1u << below(8)); break;
    case 1: m->p[i] = (uint8_t)rnd(); break;
    case 2: m->p[i] = special[below(sizeof special)]; break;
    case 3: m->p[below(m->len < 4 ? m->len : 4)] = (uint8_t)rnd(); break; /* header/flags */
    default: { /* a small delta on a byte or on a little-endian u32 */
        int delta = (int)below(33) - 16;
        if (i + 4 <= m->len && below(2)) {
            uint32_t v = (uint32_t)m->p[i] | (uint32_t)m->p[i + 1] << 8 |
                         (uint32_t)m->p[i + 2] << 16 | (uint32_t)m->p[i + 3] << 24;
            v += (uint32_t)delta;
            for (int k = 0; k < 4; k++)
                m->p[i + (size_t)k] = (uint8_t)(v >> (8 * k));
        } else {
            m->p[i] = (uint8_t)(m->p[i] + delta);
        }
    }
    }
}

static void op_insert_random(struct mbuf *m)
{
    uint8_t tmp[8];
    size_t n = 1 + below(sizeof tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)rnd();
    insert(m, below(m->len + 1), tmp, n);
}

static void op_delete(struct mbuf *m)
{
    if (!m->len)
        return;
    size_t pos = below(m->len);
    size_t n = 1 + below(below(2) ? 4 : 64);
    erase(m, pos, n > m->len - pos ? m->len - pos : n);
}

/* The front of this input, the back of another (or of itself). */
static void op_splice(struct mbuf *m)
{
    const struct blob *b = any_seed();
    size_t keep = below(m->len + 1), from = below(b->len + 1);
    m->len = keep;
    insert(m, keep, b->p + from, b->len - from);
}

/* A whole other seed put inside this one (nesting, concatenated logs). */
static void op_embed(struct mbuf *m)
{
    const struct blob *b = any_seed();
    insert(m, below(m->len + 1), b->p, b->len);
}

/* A chunk repeated: deep nesting, long values, many events, and inputs long
 * enough to cross the readers' 4 KiB sniff and 64 KiB chunk boundaries. */
static void op_repeat(struct mbuf *m)
{
    if (!m->len)
        return;
    size_t pos = below(m->len), n = 1 + below(m->len - pos < 64 ? m->len - pos : 64);
    size_t times = below(4) ? 1 + below(8) : 1 + below(2000);
    uint8_t chunk[64];
    memcpy(chunk, m->p + pos, n);
    for (size_t t = 0; t < times && m->len < m->cap; t++)
        insert(m, pos, chunk, n);
}

static void op_token(struct mbuf *m, int overwrite)
{
    if (!cfg.tokens.n)
        return;
    const struct blob *t = &cfg.tokens.v[below(cfg.tokens.n)];
    size_t pos = below(m->len + 1);
    if (overwrite)
        erase(m, pos, t->len < m->len - pos ? t->len : m->len - pos);
    insert(m, pos, t->p, t->len);
}

static void op_copy(struct mbuf *m)
{
    if (!m->len)
        return;
    size_t from = below(m->len), n = 1 + below(m->len - from < 128 ? m->len - from : 128);
    uint8_t chunk[128];
    memcpy(chunk, m->p + from, n);
    insert(m, below(m->len + 1), chunk, n);
}

static void mutate_once(struct mbuf *m)
{
    unsigned op = (unsigned)below(16);
    switch (op) {
    case 0: case 1: case 2: case 3: case 4: op_bytes(m, op); break;
    case 5: op_insert_random(m); break;
    case 6: case 7: op_delete(m); break;
    case 8: op_splice(m); break;
    case 9: m->len = below(m->len + 1); break;
    case 10: op_repeat(m); break;
    case 11: case 12: op_token(m, 0); break;
    case 13: op_token(m, 1); break;
    case 14: op_copy(m); break;
    default: op_embed(m); break;
    }
}

/* ---- running --------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double slowest;
static uint64_t slowest_index;

static void run_one(const uint8_t *p, size_t n, uint64_t index)
{
    if (n > shm_cap)
        n = shm_cap;
    memcpy(shm->data, p, n);
    shm->len = n;
    shm->index = index;
    shm->running = 1;
    /* An exact-size copy: a target reading past its input is caught. */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        die("out of memory");
    if (n)
        memcpy(copy, p, n);
    double t0 = now();
    alarm(cfg.timeout);
    LLVMFuzzerTestOneInput(copy, n);
    alarm(0);
    double dt = now() - t0;
    if (dt > slowest) {
        slowest = dt;
        slowest_index = index;
    }
    free(copy);
    shm->running = 0;
    shm->passed++;
}

/* Remember a mutant, so later ones can build on it. */
static void keep_mutant(const struct mbuf *m)
{
    struct blob *slot = &cfg.ring[cfg.ring_n++ % RING];
    uint8_t *c = realloc(slot->p, m->len ? m->len : 1);
    if (!c)
        return;
    memcpy(c, m->p, m->len);
    *slot = (struct blob){c, m->len};
}

static void mutation_loop(void)
{
    struct mbuf m = {malloc(cfg.max_len + 1), 0, cfg.max_len};
    if (!m.p)
        die("out of memory");
    for (uint64_t it = 0; it < cfg.iters; it++) {
        const struct blob *src = cfg.ring_n && below(3) == 0
                                     ? &cfg.ring[below(cfg.ring_n < RING ? cfg.ring_n : RING)]
                                     : any_seed();
        m.len = src->len < m.cap ? src->len : m.cap;
        memcpy(m.p, src->p, m.len);
        for (size_t k = 0, n = (size_t)1 << below(4); k < n; k++)
            mutate_once(&m);
        run_one(m.p, m.len, cfg.seeds.n + it);
        keep_mutant(&m);
    }
    free(m.p);
}

/* ---- arguments --------------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        die("bad number in the environment");
    return v;
}

static uint64_t arg_u64(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s)
        die("bad number argument");
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [--name N] [--iters N] [--seed N] [--dict FILE] [--shared SUBDIR]\n"
            "          [--shared-header TEXT] [--max-len N] [--timeout SEC] [--crash-dir DIR]\n"
            "          [CORPUS_DIR|FILE]...\n"
            "Runs every seed, then N mutations ($VG_FUZZ_ITERS and $VG_FUZZ_SEED override).\n",
            cfg.name);
    exit(2);
}

static void load_shared(const char *sub, const char *header)
{
    const char *dir = getenv("VG_DATA_DIR");
    if (!sub || !dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    size_t n = add_seed_dir(path, header);
    fprintf(stderr, "%s: %zu seeds from %s%s\n", cfg.name, n, path,
            n ? "" : " (absent: not used)");
}

static void parse_args(int argc, char **argv)
{
    const char *shared = NULL, *header = NULL;
    cfg = (struct config){.name = "fuzz", .timeout = 20, .max_len = DEFAULT_MAX_LEN,
                        .iters = DEFAULT_ITERS, .seed = 1};
    const char *env_dir = getenv("VG_FUZZ_CRASH_DIR");
    cfg.crash_dir = env_dir && *env_dir ? env_dir : ".";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = a[0] == '-' && a[1] == '-';
        if (takes && !v)
            usage();
        if (!strcmp(a, "--name")) cfg.name = v;
        else if (!strcmp(a, "--iters")) cfg.iters = arg_u64(v);
        else if (!strcmp(a, "--seed")) cfg.seed = arg_u64(v);
        else if (!strcmp(a, "--dict")) load_dict(v);
        else if (!strcmp(a, "--shared")) shared = v;
        else if (!strcmp(a, "--shared-header")) header = v;
        else if (!strcmp(a, "--max-len")) cfg.max_len = (size_t)arg_u64(v);
        else if (!strcmp(a, "--timeout")) cfg.timeout = (unsigned)arg_u64(v);
        else if (!strcmp(a, "--crash-dir")) cfg.crash_dir = v;
        else if (takes) usage();
        else {
            struct stat st;
            if (stat(a, &st) == 0 && S_ISDIR(st.st_mode))
                add_seed_dir(a, NULL);
            else
                add_seed_file(a, NULL);
            continue;
        }
        i++;
    }
    load_shared(shared, header);
    cfg.iters = env_u64("VG_FUZZ_ITERS", cfg.iters);
    cfg.seed = env_u64("VG_FUZZ_SEED", cfg.seed);
    rng = cfg.seed ? cfg.seed : 1; /* xorshift never leaves 0 */
}

/* The child: every seed, then the mutations. */
static int run_all(size_t from_files)
{
    double t0 = now();
    for (size_t i = 0; i < cfg.seeds.n; i++)
        run_one(cfg.seeds.v[i].p, cfg.seeds.v[i].len, i);
    mutation_loop();
    fprintf(stderr,
            "%s: %zu seeds (%zu from files), %llu mutations (seed %llu), %.1f s; slowest input "
            "%llu: %.1f ms\n",
            cfg.name, cfg.seeds.n, from_files, (unsigned long long)cfg.iters,
            (unsigned long long)cfg.seed, now() - t0, (unsigned long long)slowest_index,
            slowest * 1e3);
    int failed = 0;
#ifdef FUZZ_ASAN
    /* Leaks are looked for now, while the verdict can still be reported
     * (LSan's own check at exit would come after the closing line). */
    failed = __lsan_do_recoverable_leak_check() != 0;
    if (failed)
        fprintf(stderr, "%s: memory leaked (report above); fuzz/run-libfuzzer.sh on the same "
                        "corpus finds the input\n", cfg.name);
#endif
    shm->failed = failed;
    shm->done = 1;
    return failed;
}

static size_t longest_seed(void)
{
    size_t n = cfg.max_len;
    for (size_t i = 0; i < cfg.seeds.n; i++)
        if (cfg.seeds.v[i].len > n)
            n = cfg.seeds.v[i].len;
    return n;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    LLVMFuzzerInitialize(&argc, &argv);
    size_t from_files = cfg.seeds.n;
    fuzz_target_seeds(pool_add_cb, &cfg.seeds);
    if (!cfg.seeds.n)
        pool_add(&cfg.seeds, (const uint8_t *)"", 0); /* mutate from nothing */
    make_shared(longest_seed());
    fflush(NULL);
    /* VG_FUZZ_NO_FORK=1 runs in this process, for a debugger. */
    const char *nofork = getenv("VG_FUZZ_NO_FORK");
    if (nofork && *nofork == '1') {
        int failed = run_all(from_files);
        printf("%llu passed, %d failed\n", (unsigned long long)shm->passed, failed);
        return failed;
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        int failed = run_all(from_files);
        fflush(NULL);
        _exit(failed); /* LSan already looked; at exit it would only repeat itself */
    }
    int rc = supervise(pid);
    pool_free(&cfg.seeds);
    pool_free(&cfg.tokens);
    for (size_t i = 0; i < RING; i++)
        free(cfg.ring[i].p);
    return rc;
}
