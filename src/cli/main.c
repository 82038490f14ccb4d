/*
 * The vigil command: a table of subcommands, each in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command commands[] = {
    {"train", "train prefix automata on event logs", cmd_train},
    {"check", "judge every event of a log against a model", cmd_check},
    {"render", "draw one prefix length's automaton with its deviation counts", cmd_render},
    {"model", "inspect a model file (model info MODEL)", cmd_model},
    {"serve", "run the HTTP/JSON compliance service", cmd_serve},
    {"log", "verify, dump or export a data directory's event log", cmd_log},
    {"replay", "stream a log to a running service (example client)", cmd_replay},
    {"cep", "run complex-event rules over JSON-lines events", cmd_cep},
    {"rules", "check or explain a complex-event rules file", cmd_rules},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vigil COMMAND [ARGS]   (vigil COMMAND --help for more)\n\n"
               "vigil %s — streaming compliance checking of business-process events.\n\n"
               "commands:\n",
            VIGIL_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vigil %s\n", VIGIL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vigil: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
