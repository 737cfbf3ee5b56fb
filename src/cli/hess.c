/* hess.c - `tapegrad hess EXPR`: the Hessian of an expression over its names, from
 * tg_hessian (the gradient recorded as nodes, then one forward sweep per name). Parses,
 * calls the library, prints. See LICENSE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "hess"

static const char usage[] =
    "usage: tapegrad hess EXPR [--at NAME=V,...] [--def 'f(x) = ...'] [--json]\n"
    "\n"
    "Records EXPR on a tape and prints its value, its gradient and its Hessian over the names\n"
    "in the order they first appear: H[i][j] = d2f/dNAME_i dNAME_j, from the gradient\n"
    "recorded as nodes and one forward-mode sweep per name (see docs/higher-order.md).\n"
    "\n"
    "  --at NAME=V,...    the names' values (every name needs one; may be repeated)\n"
    "  --def 'f(x) = E'   define a function for EXPR (repeatable; see tapegrad grad --help)\n"
    "  --file F           read EXPR from the file F ('-': standard input)\n"
    "  --                 every later argument is EXPR, even one that starts with --\n"
    "  --json             print one object {\"vars\": [\"x\", ...], \"value\": f,\n"
    "                     \"grad\": {\"x\": df/dx, ...}, \"hess\": [[...], ...]}\n"
    "\n"
    "examples:\n"
    "  tapegrad hess '(1-a)^2 + 100*(b - a^2)^2' --at a=-1.2,b=1\n"
    "  tapegrad hess 'x*sigmoid(y)' --at x=2,y=0.5 --json\n";

int cli_hess(int argc, char **argv)
{
    cli_wb w;
    const char *text = NULL;
    int json = 0, rc = 0;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (w.rest) { /* after "--", expressions only */
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0 && !text) rc = cli_fail(CMD, "no expression (try 'tapegrad hess --help')");
    tg_var f = {0};
    if (rc == 0) f = cli_wb_parse(&w, NULL, text, &rc);
    if (rc == 0) rc = cli_wb_bound(&w, NULL);
    int n = 0, names = rc == 0 ? tg_names_count(w.names) : 0;
    tg_var *x = calloc((size_t)names + 1, sizeof *x);
    const char **name = calloc((size_t)names + 1, sizeof *name);
    double *g = calloc((size_t)names + 1, sizeof *g), *h = calloc((size_t)names * names + 1, sizeof *h);
    if (rc == 0 && (!x || !name || !g || !h)) rc = cli_fail(CMD, "out of memory");
    for (int i = 0; i < names && rc == 0; i++)
        if (cli_wb_is_param(&w, i)) name[n] = tg_names_name(w.names, i), x[n++] = tg_names_var(w.names, i);
    if (rc == 0 && n == 0) rc = cli_fail(CMD, "'%s' has no names to differentiate by", text);
    if (rc == 0 && tg_backward(f) == TG_OK)
        for (int k = 0; k < n; k++) g[k] = tg_gradient(x[k]);
    if (rc == 0 && tg_hessian(f, n, x, h) != TG_OK) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    if (rc == 0 && json) {
        fputs("{\"vars\": [", stdout);
        for (int i = 0; i < n; i++) fputs(i ? ", " : "", stdout), cli_json_str(stdout, name[i]);
        fputs("], \"value\": ", stdout);
        cli_json_num(stdout, tg_value(f));
        fputs(", \"grad\": {", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? ", " : "", stdout);
            cli_json_str(stdout, name[i]);
            fputs(": ", stdout);
            cli_json_num(stdout, g[i]);
        }
        fputs("}, \"hess\": [", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? ", [" : "[", stdout);
            for (int j = 0; j < n; j++) fputs(j ? ", " : "", stdout), cli_json_num(stdout, h[i * n + j]);
            fputs("]", stdout);
        }
        fputs("]}\n", stdout);
    } else if (rc == 0) {
        const char *out = cli_wb_out_name(&w, f);
        printf("%s = %.15g\n", out, tg_value(f));
        for (int i = 0; i < n; i++) printf("d%s/d%s = %.15g\n", out, name[i], g[i]);
        printf("\nHessian (row i, column j: d2%s/dNAME_i dNAME_j):\n%12s", out, "");
        for (int j = 0; j < n; j++) printf(" %20s", name[j]);
        putchar('\n');
        for (int i = 0; i < n; i++) {
            printf("%12s", name[i]);
            for (int j = 0; j < n; j++) printf(" %20.12g", h[i * n + j]);
            putchar('\n');
        }
    }
    free(x);
    free(name);
    free(g);
    free(h);
    cli_wb_free(&w);
    return rc;
}
