/* plot.c - `tapegrad plot EXPR...`: expressions and their first and second derivatives on a
 * grid. Everything is recorded once (the derivatives by tg_diff) and the tape is replayed at
 * each grid point (tg_set + tg_replay): no re-parsing. Writes CSV or JSON; SVG and PNG
 * through gnuplot when it is installed (else the CSV and the gnuplot script, and how to
 * install it). See LICENSE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "plot"
#define MAX_EXPRS 16
#define MAX_POINTS 100000000u

static const char usage[] =
    "usage: tapegrad plot EXPR... [--var NAME] [--range LO:HI] [--order 0|1|2] [--points N]\n"
    "                     [--at NAME=V,...] [--def 'f(x) = ...'] [-o FILE.csv|.svg|.png]\n"
    "                     [--json]\n"
    "\n"
    "Evaluates each EXPR and its derivatives d/dNAME and d2/dNAME2 on N evenly spaced points\n"
    "of the range. The expressions and their derivatives (tg_diff) are recorded on one tape\n"
    "once and replayed at every point.\n"
    "\n"
    "  --var NAME        the variable on the x axis (default: x, or the only name)\n"
    "  --range LO:HI     the interval (default -5:5; both ends included)\n"
    "  --order K         derivatives up to K: 0, 1 or 2 (default 2)\n"
    "  --points N        grid points (default 201)\n"
    "  --at NAME=V,...   values of the other names\n"
    "  --def 'f(x) = E'  define a function (repeatable; see tapegrad grad --help)\n"
    "  --file F          read an EXPR from the file F ('-': standard input)\n"
    "  --                every later argument is an EXPR, even one that starts with --\n"
    "  -o FILE           FILE.csv: the table; FILE.svg or FILE.png: a plot drawn by gnuplot\n"
    "                    (FILE.csv and the script FILE.gp are written beside it); without\n"
    "                    -o the CSV goes to standard output\n"
    "  --json            print the grid as JSON instead of CSV: per expression an object\n"
    "                    {\"expr\": E, \"var\": NAME, \"x\": [...], \"f\": [...], \"df\": [...],\n"
    "                    \"d2f\": [...]} in one array (df and d2f as --order asks; not with -o)\n"
    "\n"
    "CSV columns: x,f,df,d2f for one expression; x,f1,df1,d2f1,f2,df2,... for several (the\n"
    "first named after the variable: b,f,df,d2f with --var b).\n"
    "\n"
    "examples:\n"
    "  tapegrad plot 'x*sigmoid(x)' -o swish.svg\n"
    "  tapegrad plot 'relu(x)' 'silu(x)' 'gelu(x)' --order 1 -o compare.png\n"
    "  tapegrad plot 'x*sigmoid(beta*x)' --at beta=1.702 --range -4:4 -o f.csv\n"
    "  tapegrad plot 'tanh(x)' --range -1:1 --points 5 --order 1 --json\n";

/* A column's name: the CSV header's (numbered when there are several expressions) and the
 * JSON key, by order of derivative. */
static const char *const column[] = {"f", "df", "d2f"};

typedef struct options {
    const char *expr[MAX_EXPRS];
    int nexpr, order, json;
    const char *var, *out;
    double lo, hi;
    uint64_t points;
} options;

static int parse_range(const char *s, double *lo, double *hi)
{
    const char *colon = strchr(s + (s[0] == '-' || s[0] == '+'), ':');
    char buf[128];
    if (!colon || (size_t)(colon - s) >= sizeof buf)
        return cli_fail(CMD, "--range: '%s' is not LO:HI (as in -5:5)", s), -1;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    if (cli_number(CMD, "--range LO", buf, lo) || cli_number(CMD, "--range HI", colon + 1, hi))
        return -1;
    if (!(*lo < *hi)) return cli_fail(CMD, "--range: LO must be below HI (got %s)", s), -1;
    return 0;
}

/* s as a gnuplot double-quoted string (\\ and \" escaped; noenhanced keeps ^ and _). */
static void gp_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_script(const options *o, const char *gp, const char *csv, int png)
{
    FILE *f = fopen(gp, "w");
    if (!f) return cli_fail(CMD, "cannot write %s", gp);
    if (png)
        fputs("set terminal pngcairo size 900,560 noenhanced font 'Sans,11' background rgb 'white'\n", f);
    else
        fputs("set terminal svg size 900,560 dynamic noenhanced font 'Sans,12' background rgb 'white'\n", f);
    fputs("set output ", f);
    gp_str(f, o->out);
    fputs("\nset datafile separator ','\nset title ", f);
    char title[512];
    size_t len = 0;
    for (int k = 0; k < o->nexpr && len < sizeof title; k++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", k ? ",  " : "", o->expr[k]);
    gp_str(f, title);
    fputs("\nset xlabel ", f);
    gp_str(f, o->var);
    fprintf(f, "\nset xrange [%.17g:%.17g]", o->lo, o->hi);
    fputs("\nset key top left box opaque\nset grid\nset xzeroaxis linetype -1 linewidth 1\n"
          "set yzeroaxis linetype -1 linewidth 1\nset samples 1000\nplot ", f);
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                         "#8c564b", "#e377c2", "#17becf"};
    int col = 2;
    for (int k = 0; k < o->nexpr; k++) {
        for (int d = 0; d <= o->order; d++, col++) {
            char t[300];
            if (o->nexpr == 1 && d == 0) snprintf(t, sizeof t, "f(%s) = %s", o->var, o->expr[0]);
            else if (o->nexpr == 1) snprintf(t, sizeof t, "%s(%s)", d == 1 ? "f'" : "f''", o->var);
            else if (d == 0) snprintf(t, sizeof t, "%s", o->expr[k]);
            else snprintf(t, sizeof t, "d%s/d%s%s %s", d == 2 ? "2" : "", o->var, d == 2 ? "2" : "",
                          o->expr[k]);
            fprintf(f, "%s", col > 2 ? ", \\\n     " : "");
            gp_str(f, csv);
            fprintf(f, " skip 1 using 1:%d with lines linewidth %s dashtype %d linecolor rgb '%s' "
                    "title ", col, d == 0 ? "2.5" : "1.8", d + 1,
                    colors[(o->nexpr == 1 ? d : k) % 8]);
            gp_str(f, t);
        }
    }
    fputc('\n', f);
    if (fclose(f) != 0) return cli_fail(CMD, "cannot write %s", gp);
    return 0;
}

/* Grid point i: both ends exact and the grid symmetric, x_i = (lo*(n-1-i) + hi*i)/(n-1). */
static double grid_x(const options *o, uint64_t i)
{
    uint64_t n = o->points;
    return n == 1 ? o->lo : (o->lo * (double)(n - 1 - i) + o->hi * (double)i) / (double)(n - 1);
}

/* The tape at x = xi (tg_set + tg_replay). 0, or 2 after cli_fail. */
static int replay_at(cli_wb *w, tg_var x, double xi)
{
    tg_set(x, xi);
    return tg_replay(w->tape) == TG_OK ? 0 : cli_fail(CMD, "%s", tg_tape_error(w->tape));
}

/* The grid as CSV to f: a row per point, one replay each. cols: per expression its
 * order + 1 columns. */
static int write_csv(cli_wb *w, const options *o, const tg_var *cols, tg_var x, FILE *f)
{
    int nc = o->nexpr * (o->order + 1);
    fputs(o->var, f);
    for (int k = 0; k < o->nexpr; k++)
        for (int d = 0; d <= o->order; d++)
            if (o->nexpr == 1) fprintf(f, ",%s", column[d]);
            else fprintf(f, ",%s%d", column[d], k + 1);
    fputc('\n', f);
    for (uint64_t i = 0; i < o->points; i++) {
        double xi = grid_x(o, i);
        if (replay_at(w, x, xi)) return 2;
        fprintf(f, "%.15g", xi);
        for (int c = 0; c < nc; c++) fprintf(f, ",%.15g", tg_value(cols[c]));
        fputc('\n', f);
    }
    return 0;
}

/* The grid as JSON to standard output: an array with an object per expression. Each of its
 * arrays is one pass over the grid, so nothing is held in memory however many points. (A
 * replay cannot fail midway: the tape's error was checked when the columns were recorded and
 * anomaly mode is off.) */
static int write_json(cli_wb *w, const options *o, const tg_var *cols, tg_var x)
{
    fputc('[', stdout);
    for (int k = 0; k < o->nexpr; k++) {
        fputs(k ? ",\n {\"expr\": " : "{\"expr\": ", stdout);
        /* EXPR "-" was read from standard input: show what was read */
        cli_json_str(stdout, strcmp(o->expr[k], "-") == 0 && w->input ? w->input : o->expr[k]);
        fputs(", \"var\": ", stdout);
        cli_json_str(stdout, o->var);
        fputs(", \"x\": [", stdout);
        for (uint64_t i = 0; i < o->points; i++)
            fputs(i ? ", " : "", stdout), cli_json_num(stdout, grid_x(o, i));
        for (int d = 0; d <= o->order; d++) {
            printf("], \"%s\": [", column[d]);
            for (uint64_t i = 0; i < o->points; i++) {
                if (replay_at(w, x, grid_x(o, i))) return 2;
                fputs(i ? ", " : "", stdout);
                cli_json_num(stdout, tg_value(cols[k * (o->order + 1) + d]));
            }
        }
        fputs("]}", stdout);
    }
    fputs("]\n", stdout);
    return 0;
}

/* Record the derivatives, then write the grid as CSV to f or as JSON. */
static int tabulate(cli_wb *w, const options *o, const tg_var *fx, tg_var x, FILE *f)
{
    tg_var cols[MAX_EXPRS * 3];
    int nc = 0;
    for (int k = 0; k < o->nexpr; k++) {
        cols[nc++] = fx[k];
        if (o->order >= 1) cols[nc++] = tg_diff(fx[k], x);
        if (o->order >= 2) cols[nc] = tg_diff(cols[nc - 1], x), nc++;
    }
    if (tg_tape_error(w->tape)) return cli_fail(CMD, "%s", tg_tape_error(w->tape));
    return o->json ? write_json(w, o, cols, x) : write_csv(w, o, cols, x, f);
}

int cli_plot(int argc, char **argv)
{
    options o = {.order = 2, .lo = -5, .hi = 5, .points = 201};
    cli_wb w;
    const char *v;
    int rc = 0, m;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (!w.rest && strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (!w.rest && (m = cli_option(CMD, argc, argv, &i, "--var", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.var = v;
        } else if (!w.rest && (m = cli_option(CMD, argc, argv, &i, "--range", &v)) != 0) {
            rc = m < 0 || parse_range(v, &o.lo, &o.hi) ? 2 : 0;
        } else if (!w.rest && (m = cli_option(CMD, argc, argv, &i, "--order", &v)) != 0) {
            uint64_t k = 0;
            rc = m < 0 || cli_count(CMD, "--order", v, 0, 2, &k) ? 2 : 0;
            o.order = (int)k;
        } else if (!w.rest && (m = cli_option(CMD, argc, argv, &i, "--points", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--points", v, 2, MAX_POINTS, &o.points) ? 2 : 0;
        } else if (!w.rest && ((m = cli_option(CMD, argc, argv, &i, "-o", &v)) != 0 ||
                               (m = cli_option(CMD, argc, argv, &i, "--output", &v)) != 0)) {
            rc = m < 0 ? 2 : 0;
            o.out = v;
        } else if ((rc = cli_wb_arg(&w, argc, argv, &i, usage, NULL)) == CLI_EXPR) {
            if (o.nexpr == MAX_EXPRS) {
                rc = cli_fail(CMD, "at most %d expressions in one plot", MAX_EXPRS);
            } else {
                rc = 0;
                o.expr[o.nexpr++] = w.expr;
            }
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0) rc = cli_json_or_file(CMD, o.json, o.out);
    if (rc == 0 && o.nexpr == 0) rc = cli_fail(CMD, "no expression (try 'tapegrad plot --help')");
    int png = o.out && cli_ends_with(o.out, ".png"), svg = o.out && cli_ends_with(o.out, ".svg");
    static const char *const exts[] = {".csv", ".svg", ".png", NULL};
    if (rc == 0 && o.out) rc = cli_output_path(CMD, "-o", o.out, exts);
    tg_var fx[MAX_EXPRS], x = {0};
    for (int k = 0; k < o.nexpr && rc == 0; k++) {
        char what[32];
        snprintf(what, sizeof what, "expression %d", k + 1);
        fx[k] = cli_wb_parse(&w, o.nexpr > 1 ? what : NULL, o.expr[k], &rc);
    }
    if (rc == 0 && !o.var) {
        int params = 0;
        for (int i = 0; i < tg_names_count(w.names); i++) {
            if (!cli_wb_is_param(&w, i) || cli_wb_given(&w, tg_names_name(w.names, i))) continue;
            if (strcmp(tg_names_name(w.names, i), "x") == 0) params = 1 << 20;
            if (params < (1 << 20)) o.var = tg_names_name(w.names, i);
            params++;
        }
        if (params >= (1 << 20)) o.var = "x";
        else if (params != 1)
            rc = cli_fail(CMD, params ? "--var NAME is needed: the expression has several names"
                                      : "no variable: the expression has no name without a value");
    }
    if (rc == 0) {
        x = tg_names_get(w.names, o.var);
        int k = 0;
        while (k < tg_names_count(w.names) && strcmp(tg_names_name(w.names, k), o.var) != 0) k++;
        if (x.index == TG_NONE || !cli_wb_is_param(&w, k))
            rc = cli_fail(CMD, "--var: '%s' is not a name in the expression%s", o.var,
                          o.nexpr > 1 ? "s" : "");
        else if (cli_wb_given(&w, o.var))
            rc = cli_fail(CMD, "--at gives '%s' a value, but it is the variable on the x axis",
                          o.var);
    }
    if (rc == 0) rc = cli_wb_bound(&w, o.var);
    char *csv = NULL, *gp = NULL;
    FILE *f = stdout;
    if (rc == 0 && o.out) {
        csv = png || svg ? cli_replace_ext(o.out, ".csv") : NULL;
        gp = png || svg ? cli_replace_ext(o.out, ".gp") : NULL;
        if ((png || svg) && (!csv || !gp)) rc = cli_fail(CMD, "out of memory");
        if (rc == 0 && !(f = fopen(csv ? csv : o.out, "w")))
            rc = cli_fail(CMD, "cannot write %s", csv ? csv : o.out), f = stdout;
    }
    if (rc == 0) rc = tabulate(&w, &o, fx, x, f);
    if (f != stdout && fclose(f) != 0 && rc == 0) rc = cli_fail(CMD, "cannot write %s", csv ? csv : o.out);
    if (rc == 0 && o.out && !csv)
        printf("wrote %s: %llu points of %s in [%g, %g]\n", o.out, (unsigned long long)o.points,
               o.var, o.lo, o.hi);
    if (rc == 0 && csv) {
        rc = write_script(&o, gp, csv, png);
        const char *args[] = {"gnuplot", gp, NULL};
        int st = rc == 0 ? cli_run_program(args) : 0;
        if (rc == 0 && st == -1)
            fprintf(stderr, "tapegrad: plot: gnuplot is not installed, so %s was not drawn; "
                    "wrote %s and %s (install gnuplot, e.g. 'apt-get install gnuplot-nox', then "
                    "run 'gnuplot %s')\n", o.out, csv, gp, gp);
        else if (rc == 0 && st != 0)
            rc = cli_fail(CMD, "gnuplot failed (status %d) drawing %s from %s", st, o.out, gp);
        else if (rc == 0)
            printf("wrote %s (gnuplot), with the data in %s and the script in %s\n", o.out, csv, gp);
    }
    free(csv);
    free(gp);
    cli_wb_free(&w);
    return rc;
}
