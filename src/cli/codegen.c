/* codegen.c - `tapegrad codegen EXPR`: a standalone C function computing the expression and
 * its gradient, from the library's emitter (tg_emit_c). Parses, calls the library, prints.
 * See LICENSE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "codegen"

static const char usage[] =
    "usage: tapegrad codegen EXPR|--file F [--name F] [--wrt NAMES] [-o FILE.c]\n"
    "                        [--def 'f(x) = ...']\n"
    "\n"
    "Prints a C function that computes EXPR (or a program's output) and its gradient, with\n"
    "no dependency on tapegrad (only <math.h>): the tape's forward values and reverse sweep\n"
    "as straight-line code, one line per node, named after the program's steps, each op's\n"
    "value and partials written as the library computes them.\n"
    "\n"
    "    double F(const double *in, double *grad)\n"
    "\n"
    "in[] holds every name of EXPR in the order they first appear (the order tapegrad grad\n"
    "lists them); grad[] receives d/dNAME for the --wrt names, in that same order; the\n"
    "return value is EXPR. The function's header comment lists them all. Numbers (and pi,\n"
    "e) are folded in.\n"
    "\n"
    "  EXPR               an expression or a program, as for tapegrad grad\n"
    "  --name F           the function's name, a C identifier (default: f)\n"
    "  --wrt NAMES        the names grad[] holds, comma-separated (default: every name)\n"
    "  -o FILE.c          write the function to FILE.c instead of standard output\n"
    "  --def 'f(x) = E'   define a function for EXPR (repeatable)\n"
    "  --file F           read EXPR from the file F ('-': standard input)\n"
    "  --                 every later argument is EXPR, even one that starts with --\n"
    "\n"
    "examples:\n"
    "  tapegrad codegen 'x*sigmoid(b*x)' --name swish_b --wrt b\n"
    "  tapegrad codegen --file docs/examples/article.tg --name article -o article.c\n";

/* Whether name is one of the comma-separated list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
    }
    return 0;
}

/* Every entry of the --wrt list is a parameter of the expression: 0, or 2 after the error. */
static int check_wrt(const cli_wb *w, const char *list)
{
    char name[128];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), p);
        tg_var v = tg_names_get(w->names, name);
        int known = 0;
        for (int i = 0; i < tg_names_count(w->names) && !known; i++)
            known = cli_wb_is_param(w, i) && tg_names_var(w->names, i).index == v.index &&
                    v.index != TG_NONE;
        if (!known) return cli_fail(CMD, "--wrt: '%s' is not a name in the expression", name);
        p += n + (p[n] == ',');
    }
    return 0;
}

static int is_ident(const char *s)
{
    if (!*s || strchr("0123456789", *s)) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
           strlen(s);
}

int cli_codegen(int argc, char **argv)
{
    cli_wb w;
    const char *text = NULL, *name = "f", *wrt = NULL, *out = NULL, *v;
    int rc = 0, m;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (w.rest) {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
        } else if ((m = cli_option(CMD, argc, argv, &i, "--name", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            name = v;
            if (rc == 0 && !is_ident(v))
                rc = cli_fail(CMD, "--name: '%s' is not a C identifier", v);
        } else if ((m = cli_option(CMD, argc, argv, &i, "--wrt", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            wrt = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "-o", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            out = v;
        } else {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0 && !text) rc = cli_fail(CMD, "no expression (try 'tapegrad codegen --help')");
    static const char *const exts[] = {".c", NULL};
    if (rc == 0 && out) rc = cli_output_path(CMD, "-o", out, exts); /* before any work */
    FILE *f = stdout;
    if (rc == 0 && out && !(f = fopen(out, "w")))
        rc = cli_fail(CMD, "-o: cannot write %s: %s", out, strerror(errno));
    tg_var y = {0};
    if (rc == 0) y = cli_wb_parse(&w, NULL, text, &rc);
    if (rc == 0 && wrt) rc = check_wrt(&w, wrt);
    int names = rc == 0 ? tg_names_count(w.names) : 0, nin = 0, nwrt = 0;
    tg_var *in = calloc((size_t)names + 1, sizeof *in), *d = calloc((size_t)names + 1, sizeof *d);
    if (rc == 0 && (!in || !d)) rc = cli_fail(CMD, "out of memory");
    for (int i = 0; rc == 0 && i < names; i++) {
        if (!cli_wb_is_param(&w, i)) continue;
        in[nin++] = tg_names_var(w.names, i);
        if (!wrt || listed(wrt, tg_names_name(w.names, i))) d[nwrt++] = in[nin - 1];
    }
    if (rc == 0) {
        char comment[160];
        if (strlen(text) < 120 && !strchr(text, '\n'))
            snprintf(comment, sizeof comment, "%s", text);
        else
            snprintf(comment, sizeof comment, "from a program of %d names", names);
        if (w.nfiles)
            snprintf(comment, sizeof comment, "from %.140s",
                     strcmp(w.files[0].path, "-") ? w.files[0].path : "standard input");
        tg_emit_opts o = {.name = name, .comment = comment, .n_in = nin, .in = in,
                          .n_wrt = nwrt, .wrt = d};
        if (tg_emit_c(y, &o, f) != TG_OK) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    }
    if (f && f != stdout && fclose(f) != 0 && rc == 0) rc = cli_fail(CMD, "cannot write %s", out);
    if (rc != 0 && f && f != stdout) remove(out);
    free(in);
    free(d);
    cli_wb_free(&w);
    return rc;
}
