/*
 * vigil rules check FILE | vigil rules explain FILE
 *
 * check: validate a rules file (text or JSON) the way the service would
 * load it; errors as "file:line:col: message". explain: print the compiled
 * patterns (blocks after `times` expansion, flags, canonical expressions) —
 * the language's --dump mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/cep.h"
#include "vigil/rules.h"

static const char rules_help[] =
    "usage: vigil rules check FILE\n"
    "       vigil rules explain FILE\n"
    "\n"
    "check    validate complex-event rules (*.rules text or JSON, docs/rules.md);\n"
    "         errors are printed as FILE:LINE:COL: message\n"
    "explain  print the compiled patterns: blocks after `times` expansion, their\n"
    "         flags and expressions in canonical form\n"
    "\nexit status: 0 valid, 2 bad usage or invalid rules\n";

static int rules_check(const char *path)
{
    char *src;
    size_t len;
    if (cli_read_rules("rules", path, &src, &len))
        return CLI_USAGE;
    struct vg_error err = {0};
    vg_err rc = vg_rules_check_any(src, len, path, &err);
    free(src);
    if (rc) {
        char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
        fprintf(stderr, "%s\n", vg_error_format(&err, msg, sizeof msg));
        return CLI_USAGE;
    }
    printf("%s: ok\n", path);
    return CLI_OK;
}

static int rules_explain(const char *path)
{
    struct vg_cep *e = NULL;
    if (cli_load_rules("rules", path, NULL, &e))
        return CLI_USAGE;
    struct vg_buf out;
    vg_buf_init(&out, 64u << 20);
    vg_err rc = vg_cep_explain(e, NULL, &out);
    if (!rc)
        fwrite(out.data, 1, out.len, stdout);
    vg_buf_free(&out);
    vg_cep_free(&e);
    return rc ? cli_fail("rules", "explain: %s", vg_strerror(rc)) : CLI_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(rules_help, stdout);
        return CLI_OK;
    }
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return rules_check(argv[2]);
    if (argc == 3 && strcmp(argv[1], "explain") == 0)
        return rules_explain(argv[2]);
    fputs(rules_help, stderr);
    return CLI_USAGE;
}
