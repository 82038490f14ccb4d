/*
 * vigil render --model MODEL --prefix K -o FILE — draw one prefix length's
 * automaton with its deviation counters (PNG, SVG, DOT or JSON; see
 * src/render/render.c for what the drawing shows and the JSON format).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vigil/buf.h"
#include "vigil/render.h"

#define RENDER_OUT_MAX ((size_t)1 << 30) /* the most a drawing may take */
#define HELP_SHOWN (-1)

static const char render_help[] =
    "usage: vigil render --model MODEL --prefix K -o FILE [--format F] [--top N]\n"
    "\n"
    "Draw the prefix automaton of length K with its deviation counters (train a\n"
    "model, then save deviations into it with vigil check ... -o MODEL_OUT):\n"
    "states are filled white → yellow → red by the deviations counted in them\n"
    "(\"dev N\" in the label), edges carry their probability, transitions with\n"
    "deviations are red with \"✗ N\", transitions that were attempted but never\n"
    "trained are dashed.\n"
    "\n"
    "  -m, --model MODEL     model file (required)\n"
    "  -k, --prefix K        the prefix length to draw; the model must have it (required)\n"
    "  -o, --output FILE     where to write the drawing; - for stdout (required)\n"
    "  -f, --format F        png | svg | dot | json (default: from FILE's extension\n"
    "                        .png .svg .dot .gv .json, else png)\n"
    "  -n, --top N           only the N busiest states (training count + deviations),\n"
    "                        for a readable picture of a large model; transitions to\n"
    "                        states left out are folded into a grey \"…\"\n"
    "  -h, --help            this text\n"
    "\n"
    "json: {\"prefix\":k,\"top\":N|null,\"total_states\":S,\"total_transitions\":T,\n"
    "  \"states\":[{\"id\":i,\"state\":[name|null,…],\"count\":n,\"deviations\":d}],\n"
    "  \"transitions\":[{\"from\":i,\"to\":j|null,\"activity\":name|null,\"end\":bool,\n"
    "  \"count\":n,\"probability\":p,\"deviations\":d}]}  (⊥ and END as null)\n"
    "\nexit status: 0 success, 2 bad usage, model or output (message on stderr)\n";

struct render_args {
    const char *model;
    const char *out;
    const char *format;
    uint32_t k;
    uint32_t top;
};

/* The format named by the extension of path, or png. */
static enum vg_render_format format_from_path(const char *path)
{
    static const struct {
        const char *ext;
        enum vg_render_format f;
    } exts[] = {{".png", VG_RENDER_PNG}, {".svg", VG_RENDER_SVG}, {".dot", VG_RENDER_DOT},
                {".gv", VG_RENDER_DOT},  {".json", VG_RENDER_JSON}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i].ext) == 0)
            return exts[i].f;
    return VG_RENDER_PNG;
}

/* 0 to go on, HELP_SHOWN after --help, CLI_USAGE after a message. */
static int parse_args(int argc, char **argv, struct render_args *a)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"prefix", required_argument, 0, 'k'},
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, 'f'},
        {"top", required_argument, 0, 'n'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c, have_k = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:k:o:f:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'o': a->out = optarg; break;
        case 'f': a->format = optarg; break;
        case 'k':
            if (cli_parse_u32("render", "--prefix", optarg, 1, VG_K_MAX, &a->k))
                return CLI_USAGE;
            have_k = 1;
            break;
        case 'n':
            if (cli_parse_u32("render", "--top", optarg, 1, UINT32_MAX - 1, &a->top))
                return CLI_USAGE;
            break;
        case 'h': fputs(render_help, stdout); return HELP_SHOWN;
        default: fputs(render_help, stderr); return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_fail("render", "unexpected argument '%s' (see vigil render --help)",
                        argv[optind]);
    if (!a->model)
        return cli_fail("render", "missing --model MODEL (see vigil render --help)");
    if (!have_k)
        return cli_fail("render", "missing --prefix K (see vigil render --help)");
    if (!a->out)
        return cli_fail("render", "missing -o FILE (see vigil render --help)");
    return 0;
}

static int write_stdout(const struct vg_buf *b)
{
    if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0)
        return cli_fail("render", "-: cannot write: %s", strerror(errno));
    return 0;
}

/* Write all of b to the open temporary file and make it durable. */
static int fill_temp(int fd, const char *tmp, const struct vg_buf *b)
{
    mode_t mask = umask(0);
    umask(mask);
    /* mkstemp makes 0600; a drawing is as readable as any file we write. */
    if (fchmod(fd, 0666 & ~mask) != 0)
        return cli_fail("render", "%s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        return cli_fail("render", "%s: %s", tmp, strerror(errno));
    }
    int bad = fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    return bad ? cli_fail("render", "%s: cannot write: %s", tmp, strerror(saved)) : 0;
}

/* Straight into path: for devices, pipes and symbolic links, which a
 * rename would replace rather than write to (-o /dev/stdout, a FIFO). */
static int write_in_place(const char *path, const struct vg_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return cli_fail("render", "%s: cannot open: %s", path, strerror(errno));
    int bad = fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    return bad ? cli_fail("render", "%s: cannot write: %s", path, strerror(saved)) : 0;
}

/* A temporary file beside path, renamed over it once complete, so readers
 * never see half a picture. */
static int write_file(const char *path, const struct vg_buf *b)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return write_in_place(path, b);
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = malloc(n);
    if (!tmp)
        return cli_fail("render", "out of memory");
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = fd < 0 ? cli_fail("render", "%s: cannot create: %s", path, strerror(errno))
                    : fill_temp(fd, tmp, b);
    if (!rc && rename(tmp, path) != 0)
        rc = cli_fail("render", "%s: cannot write: %s", path, strerror(errno));
    if (rc && fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Load, draw and write; a prefix length the model lacks is vg_render's
 * NOT_FOUND, whose message lists the lengths the model has. */
static int draw(const struct render_args *a, struct vg_render_opts *o)
{
    struct vg_error err = {0};
    struct vg_model *m = NULL;
    if (vg_model_load(&m, a->model, &err))
        return cli_fail_err("render", &err);
    int rc = CLI_USAGE;
    struct vg_buf out;
    vg_buf_init(&out, RENDER_OUT_MAX);
    o->k = (int)a->k;
    struct vg_error rerr = {0}; /* not err: the load left the model path in it */
    if (vg_render(m, o, &out, &rerr))
        cli_fail_err("render", &rerr);
    else if (strcmp(a->out, "-") == 0)
        rc = write_stdout(&out) ? CLI_USAGE : CLI_OK;
    else
        rc = write_file(a->out, &out) ? CLI_USAGE : CLI_OK;
    vg_buf_free(&out);
    vg_model_free(&m);
    return rc;
}

int cmd_render(int argc, char **argv)
{
    struct render_args a = {0};
    int pr = parse_args(argc, argv, &a);
    if (pr)
        return pr == HELP_SHOWN ? CLI_OK : pr;
    struct vg_render_opts o = {.top = a.top};
    if (!a.format)
        o.format = format_from_path(a.out);
    else if (vg_render_format_parse(a.format, &o.format))
        return cli_fail("render", "--format: '%s' is not one of png, svg, dot, json", a.format);
    return draw(&a, &o);
}
