/*
 * vigil model info MODEL — what a model file holds.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/event.h"

static const char model_help[] =
    "usage: vigil model info MODEL\n"
    "\n"
    "Print what a model file holds: prefix lengths, activities, states,\n"
    "transitions and deviation counters per prefix length, the training log(s),\n"
    "when it was trained, its size on disk and in memory.\n"
    "\nexit status: 0 success, 2 bad usage or a file that is not a valid model\n";

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    return n;
}

static void print_info(const char *path, const struct vg_model *m)
{
    struct vg_model_meta meta;
    struct vg_model_sizes sz;
    vg_model_meta(m, &meta);
    vg_model_sizes(m, &sz);
    char when[40] = "unknown";
    if (meta.created_ms)
        vg_time_format(meta.created_ms, when, sizeof when);
    int ks[VG_K_MAX];
    size_t nk = vg_model_prefixes(m, ks);
    printf("model       %s\n", path);
    printf("format      version %u\n", VG_MODEL_VERSION);
    printf("trained on  %s\n", meta.source[0] ? meta.source : "(unknown)");
    printf("trained at  %s\n", when);
    printf("traces      %llu\n", (unsigned long long)meta.traces);
    printf("events      %llu\n", (unsigned long long)meta.events);
    printf("activities  %u\n", sz.activities);
    printf("prefixes   ");
    for (size_t i = 0; i < nk; i++)
        printf(" %d", ks[i]);
    printf("\n");
    for (size_t i = 0; i < nk; i++)
        printf("k=%-2d        %u states, %u transitions, %llu deviations counted\n", ks[i],
               sz.states[ks[i]], sz.transitions[ks[i]], (unsigned long long)sz.deviations[ks[i]]);
    printf("file size   %ld bytes\n", file_size(path));
    printf("memory      %zu bytes\n", sz.memory_bytes);
}

int cmd_model(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(model_help, stdout);
        return CLI_OK;
    }
    if (argc != 3 || strcmp(argv[1], "info") != 0) {
        fputs(model_help, stderr);
        return CLI_USAGE;
    }
    struct vg_error err = {0};
    struct vg_model *m = NULL;
    if (vg_model_load(&m, argv[2], &err))
        return cli_fail_err("model", &err);
    print_info(argv[2], m);
    vg_model_free(&m);
    return CLI_OK;
}
