/* grad.c - `tapegrad grad EXPR`: the value of an expression and its gradient with respect to
 * every name in it, from one reverse sweep; --explain NAME lists the chain rule's paths.
 * Parses, calls the library, prints. See LICENSE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "grad"

static const char usage[] =
    "usage: tapegrad grad EXPR|--file F [--at NAME=V,...] [--def 'f(x) = ...'] [--json]\n"
    "                     [--order 1|2] [--explain NAME [--max-paths N]]\n"
    "\n"
    "Records EXPR on a tape and prints its value f and, from one reverse sweep, df/dNAME for\n"
    "every name in it, in the order the names first appear; for a program, then dE/dSTEP\n"
    "for every step (E the output's name).\n"
    "\n"
    "  EXPR               an expression: + - * / ^ (right-associative; -x^2 is -(x^2)),\n"
    "                     numbers (2, 1.5e-3), names (x, beta, w11[2]), parentheses and\n"
    "                     calls of ops (sigmoid, tanh, relu, exp, log, ...; see\n"
    "                     docs/ops.md) or of --def functions; pi and e are constants;\n"
    "                     or a program: steps NAME = EXPR separated by ';' or line ends,\n"
    "                     '#' comments, the last statement the output, as in\n"
    "                     'z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2'\n"
    "  --at NAME=V,...    the names' values (every name needs one; may be repeated)\n"
    "  --def 'f(x) = E'   define a function for EXPR, e.g. 'swish(x) = x*sigmoid(x)';\n"
    "                     several parameters are fine, and later --defs may call earlier\n"
    "                     ones (repeatable)\n"
    "  --file F           read EXPR from the file F ('-': standard input)\n"
    "  --                 every later argument is EXPR, even one that starts with --\n"
    "  --json             print one object {\"value\": f, \"grad\": {\"x\": df/dx, ...}}\n"
    "                     with 17 significant digits; a program's steps add \"nodes\":\n"
    "                     {\"z\": dE/dz, ...}\n"
    "  --order 2          also d2f/dNAME2 for every name (tg_diff twice); --json adds\n"
    "                     \"second\": {\"x\": d2f/dx2, ...}\n"
    "  --explain NAME     then show the chain rule: every path from f down to NAME, each\n"
    "                     edge's local partial, each path's product, and their sum\n"
    "  --max-paths N      refuse to list more than N paths (default 64)\n"
    "\n"
    "examples:\n"
    "  tapegrad grad 'x*sigmoid(x)' --at x=1\n"
    "  tapegrad grad 'log(1 + exp(w*x + b))' --at w=0.5,x=2,b=-1 --json\n"
    "  tapegrad grad 'swish(x)' --def 'swish(x) = x*sigmoid(x)' --at x=1 --explain x\n"
    "  tapegrad grad 'z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2' --at w=0.5,x=2,b=-1,t=1\n"
    "  tapegrad grad --file docs/examples/article.tg --at 'x1=1,x2=0.5,t=1'\n";

/* ', "KEY": {"NAME": v, ...}' over the parameters (steps 0: the gradient, or val[i] when
 * val is given) or the steps other than f (steps 1: their adjoints; nothing when none). */
static void json_map(const cli_wb *w, tg_var f, const char *key, int steps, const double *val)
{
    int k = 0;
    for (int i = 0; i < tg_names_count(w->names); i++) {
        if (steps ? !cli_wb_is_inner_step(w, i, f) : !cli_wb_is_param(w, i)) continue;
        printf(k++ ? ", " : ", \"%s\": {", key);
        cli_json_str(stdout, tg_names_name(w->names, i));
        fputs(": ", stdout);
        cli_json_num(stdout, val ? val[i] : tg_gradient(tg_names_var(w->names, i)));
    }
    if (k) putchar('}');
    else if (!steps) printf(", \"%s\": {}", key);
}

int cli_grad(int argc, char **argv)
{
    cli_wb w;
    const char *text = NULL, *explain = NULL, *v;
    int json = 0, rc = 0, m;
    uint64_t max_paths = 64, order = 1;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (w.rest) { /* after "--", expressions only */
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--explain", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            explain = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--order", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--order", v, 1, 2, &order) ? 2 : 0;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--max-paths", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--max-paths", v, 1, 1000000, &max_paths) ? 2 : 0;
        } else {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0 && !text) rc = cli_fail(CMD, "no expression (try 'tapegrad grad --help')");
    tg_var f = {0};
    if (rc == 0) f = cli_wb_parse(&w, NULL, text, &rc);
    if (rc == 0) rc = cli_wb_bound(&w, NULL);
    tg_var wrt = {0};
    if (rc == 0 && explain) {
        wrt = tg_names_get(w.names, explain);
        if (wrt.index == TG_NONE)
            rc = cli_fail(CMD, "--explain: '%s' is not a name in the expression", explain);
    }
    if (rc == 0 && tg_backward(f) != TG_OK) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    /* second derivatives along each name: d/dx of the derivative node (tg_diff twice) */
    int names = rc == 0 ? tg_names_count(w.names) : 0;
    double *second = order == 2 ? calloc((size_t)names + 1, sizeof *second) : NULL;
    if (rc == 0 && order == 2 && !second) rc = cli_fail(CMD, "out of memory");
    for (int i = 0; i < names && second && rc == 0; i++) {
        if (!cli_wb_is_param(&w, i)) continue;
        tg_var x = tg_names_var(w.names, i);
        second[i] = tg_value(tg_diff(tg_diff(f, x), x));
        if (tg_tape_error(w.tape)) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    }
    const char *out = rc == 0 ? cli_wb_out_name(&w, f) : "f";
    if (rc == 0 && json) {
        fputs("{\"value\": ", stdout);
        cli_json_num(stdout, tg_value(f));
        json_map(&w, f, "grad", 0, NULL);
        json_map(&w, f, "nodes", 1, NULL);
        if (second) json_map(&w, f, "second", 0, second);
        fputs("}\n", stdout);
    } else if (rc == 0) {
        printf("%s = %.15g\n", out, tg_value(f));
        for (int i = 0; i < names; i++)
            if (cli_wb_is_param(&w, i))
                printf("d%s/d%s = %.15g\n", out, tg_names_name(w.names, i),
                       tg_gradient(tg_names_var(w.names, i)));
        for (int i = 0; i < names; i++)
            if (cli_wb_is_inner_step(&w, i, f))
                printf("d%s/d%s = %.15g\n", out, tg_names_name(w.names, i),
                       tg_gradient(tg_names_var(w.names, i)));
        for (int i = 0; second && i < names; i++)
            if (cli_wb_is_param(&w, i))
                printf("d2%s/d%s2 = %.15g\n", out, tg_names_name(w.names, i), second[i]);
    }
    if (rc == 0 && explain) {
        tg_explain_opts eo = {.max_paths = (int)max_paths, .out_name = out};
        if (!json) putchar('\n');
        int st = tg_explain(json ? stderr : stdout, f, wrt, &eo);
        if (st != TG_OK && st != TG_ERR_ARG) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    }
    free(second);
    cli_wb_free(&w);
    return rc;
}
