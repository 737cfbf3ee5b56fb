/* check.c - `tapegrad check EXPR --wrt NAME --expect HAND`: a hand-written derivative against
 * the tape's, at random points or a given one (tg_check_formula). Exit 0 with a one-line
 * verdict when they agree; exit 1 with the worst point, both numbers, the error and central
 * finite differences as a second opinion when they do not. See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "check"
#define MAX_SAMPLES 100000000u

static const char usage[] =
    "usage: tapegrad check EXPR --wrt NAME --expect HAND [--expect-second HAND2]\n"
    "                      [--at NAME=V,...] [--range LO:HI] [--samples N] [--seed S]\n"
    "                      [--rtol R] [--atol A] [--def 'f(x) = ...']\n"
    "\n"
    "Compares HAND, a derivative of EXPR with respect to NAME written by hand, with the\n"
    "tape's dEXPR/dNAME (the reverse sweep) at N random points: every name without an --at\n"
    "value is drawn uniformly from the range at each point. Points where either side is NaN\n"
    "or infinite are skipped and counted. They agree at a point when\n"
    "|tape - hand| <= atol + rtol*max(|tape|, |hand|).\n"
    "\n"
    "  --wrt NAME            the name to differentiate by (default: the only name in EXPR)\n"
    "  --expect HAND         the hand-written dEXPR/dNAME, an expression in the same names\n"
    "  --expect-second HAND2 the hand-written d2EXPR/dNAME2 (compared with tg_diff twice)\n"
    "  --at NAME=V,...       fix names at values (if every name is fixed: one point)\n"
    "  --range LO:HI         where the other names are drawn (default -3:3)\n"
    "  --samples N           number of random points (default 200)\n"
    "  --seed S              the points' seed (default 1)\n"
    "  --rtol R, --atol A    tolerances (default 1e-6 and 1e-8)\n"
    "  --def 'f(x) = E'      define a function (repeatable; see tapegrad grad --help)\n"
    "  --file F              read EXPR from the file F ('-': standard input)\n"
    "  --                    every later argument is EXPR, even one that starts with --\n"
    "\n"
    "exit status: 0 they agree at every compared point, 1 they disagree somewhere (the worst\n"
    "point is shown with central finite differences as a second opinion), 2 bad input\n"
    "\n"
    "examples:\n"
    "  tapegrad check 'log(1 + exp(x))' --wrt x --expect 'sigmoid(x)'\n"
    "  tapegrad check 'tanh(w*x)' --wrt w --expect 'x*(1 - tanh(w*x)^2)' --range -2:2\n"
    "  tapegrad check 'x*sigmoid(x)' --wrt x --expect 'sigmoid(x)*(1 + x*(1 - sigmoid(x)))'\n"
    "  tapegrad check 'sigmoid(x)' --wrt x --expect 'sigmoid(x)*(1-sigmoid(x))' \\\n"
    "                 --expect-second 'sigmoid(x)*(1-sigmoid(x))*(1-2*sigmoid(x))'\n";

typedef struct options {
    const char *expr, *wrt, *hand[2];
    double lo, hi, rtol, atol;
    uint64_t samples, seed;
} options;

static int parse_range(const char *s, double *lo, double *hi)
{
    const char *colon = strchr(s + (s[0] == '-' || s[0] == '+'), ':');
    if (!colon) return cli_fail(CMD, "--range: '%s' is not LO:HI (as in -3:3)", s), -1;
    char buf[128];
    size_t n = (size_t)(colon - s);
    if (n >= sizeof buf) return cli_fail(CMD, "--range: '%s' is too long", s), -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (cli_number(CMD, "--range LO", buf, lo) || cli_number(CMD, "--range HI", colon + 1, hi))
        return -1;
    if (!(*lo < *hi)) return cli_fail(CMD, "--range: LO must be below HI (got %s)", s), -1;
    return 0;
}

/* What a finite-difference estimate says about the two sides. */
static const char *second_opinion(double fd, int kink, double tape, double hand, int order)
{
    double rt = order == 1 ? 1e-5 : 1e-3, at = order == 1 ? 1e-7 : 1e-5;
    int t = fabs(fd - tape) <= at + rt * fmax(fabs(fd), fabs(tape));
    int h = fabs(fd - hand) <= at + rt * fmax(fabs(fd), fabs(hand));
    if (!isfinite(fd)) return "not finite here (the steps leave the domain): no opinion";
    if (kink && !(t ^ h)) return "a step crossed a kink here, so it is one-sided: no opinion";
    if (t && !h) return "agrees with the tape: the hand formula is the one that is off";
    if (h && !t) return "agrees with the hand formula, not the tape: suspect an op's derivative "
                        "(please report it)";
    if (t && h) return "too close to both to tell them apart";
    return "agrees with neither (a kink or a domain edge nearby?)";
}

/* "x, y drawn from [-3, 3]" or "at the given point". */
static void where(char *buf, size_t size, const cli_wb *w, const tg_var *draw, int ndraw,
                  const options *o)
{
    size_t len = 0;
    buf[0] = '\0';
    if (ndraw == 0) {
        snprintf(buf, size, "at the given point");
        return;
    }
    for (int k = 0; k < ndraw && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "", tg_label_of(draw[k]));
    if (len < size)
        snprintf(buf + len, size - len, " drawn from [%g, %g], seed %llu", o->lo, o->hi,
                 (unsigned long long)o->seed);
    (void)w;
}

static int report(const cli_wb *w, const options *o, int order, tg_var f,
                  const tg_formula_report *r, const tg_var *draw, int ndraw)
{
    char d[80], span[512];
    (void)f;
    if (order == 1) snprintf(d, sizeof d, "df/d%s", o->wrt);
    else snprintf(d, sizeof d, "d2f/d%s2", o->wrt);
    where(span, sizeof span, w, draw, ndraw, o);
    if (r->compared == 0)
        return cli_fail(CMD, "%s: no point to compare: at %s %d point%s f or a side is not "
                        "finite (choose a --range inside the domain)", d,
                        r->points == 1 ? "the" : "all", r->points, r->points == 1 ? "" : "s");
    char skipped[96] = "", count[96];
    if (r->skipped)
        snprintf(skipped, sizeof skipped, "; %d of %d points skipped (not finite there)",
                 r->skipped, r->points);
    if (ndraw == 0) snprintf(count, sizeof count, "the given point");
    else if (r->skipped) snprintf(count, sizeof count, "all %d points inside the domain", r->compared);
    else snprintf(count, sizeof count, "all %d points", r->compared);
    if (r->agree) {
        if (ndraw == 0)
            printf("agree: %s = %s at the given point (error %.2g absolute, %.2g relative)\n", d,
                   o->hand[order - 1], r->abs_err, r->rel_err);
        else
            printf("agree: %s = %s at %s (%s; worst error %.2g absolute, %.2g relative)%s\n", d,
                   o->hand[order - 1], count, span, r->abs_err, r->rel_err, skipped);
        return 0;
    }
    printf("DISAGREE: %s and %s differ at %d of %d point%s (%s)%s\n", d, o->hand[order - 1],
           r->failed, r->compared, r->compared == 1 ? "" : "s", span, skipped);
    fputs("worst point:", stdout);
    for (int i = 0; i < tg_names_count(w->names); i++)
        printf("%s %s = %.17g", i ? "," : "", tg_names_name(w->names, i),
               tg_value(tg_names_var(w->names, i)));
    putchar('\n');
    printf("  tape  %-22s = %.17g\n", d, r->tape);
    printf("  hand  %-22s = %.17g\n", o->hand[order - 1], r->hand);
    printf("  error %.3g absolute, %.3g relative (allowed: %g + %g*|larger|)\n", r->abs_err,
           r->rel_err, o->atol, o->rtol);
    printf("  central finite differences there: %.17g\n    -> %s\n", r->fd,
           second_opinion(r->fd, r->fd_kink, r->tape, r->hand, order));
    return 1;
}

int cli_check(int argc, char **argv)
{
    options o = {.lo = -3, .hi = 3, .rtol = 1e-6, .atol = 1e-8, .samples = 200, .seed = 1};
    cli_wb w;
    const char *v;
    int rc = 0, m;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (w.rest) { /* after "--", expressions only */
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &o.expr);
            continue;
        }
        if ((m = cli_option(CMD, argc, argv, &i, "--wrt", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.wrt = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--expect-second", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.hand[1] = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--expect", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.hand[0] = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--range", &v)) != 0) {
            rc = m < 0 || parse_range(v, &o.lo, &o.hi) ? 2 : 0;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--samples", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--samples", v, MAX_SAMPLES, &o.samples) ? 2 : 0;
            if (rc == 0 && o.samples == 0) rc = cli_fail(CMD, "--samples: at least 1");
        } else if ((m = cli_option(CMD, argc, argv, &i, "--seed", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--seed", v, UINT64_MAX, &o.seed) ? 2 : 0;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--rtol", &v)) != 0) {
            rc = m < 0 || cli_number(CMD, "--rtol", v, &o.rtol) ? 2 : 0;
            if (rc == 0 && o.rtol < 0) rc = cli_fail(CMD, "--rtol: must not be negative");
        } else if ((m = cli_option(CMD, argc, argv, &i, "--atol", &v)) != 0) {
            rc = m < 0 || cli_number(CMD, "--atol", v, &o.atol) ? 2 : 0;
            if (rc == 0 && o.atol < 0) rc = cli_fail(CMD, "--atol: must not be negative");
        } else {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &o.expr);
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0 && !o.expr) rc = cli_fail(CMD, "no expression (try 'tapegrad check --help')");
    if (rc == 0 && !o.hand[0] && !o.hand[1])
        rc = cli_fail(CMD, "nothing to check: give --expect HAND (and/or --expect-second HAND2)");
    tg_var f = {0}, hand[2] = {{0}, {0}}, wrt = {0};
    if (rc == 0) f = cli_wb_parse(&w, NULL, o.expr, &rc);
    int nexpr = tg_names_count(w.names);
    if (rc == 0 && !o.wrt) {
        int params = 0;
        for (int i = 0; i < nexpr; i++)
            if (cli_wb_is_param(&w, i)) params++, o.wrt = tg_names_name(w.names, i);
        if (params != 1)
            rc = cli_fail(CMD, "--wrt NAME is needed: the expression has %d names", params);
    }
    if (rc == 0) {
        wrt = tg_names_get(w.names, o.wrt);
        int k = 0;
        while (k < nexpr && strcmp(tg_names_name(w.names, k), o.wrt) != 0) k++;
        if (k == nexpr || !cli_wb_is_param(&w, k))
            rc = cli_fail(CMD, "--wrt: '%s' is not a name in the expression", o.wrt);
    }
    for (int k = 0; k < 2 && rc == 0; k++)
        if (o.hand[k])
            hand[k] = cli_wb_parse(&w, k ? "--expect-second" : "--expect", o.hand[k], &rc);
    if (rc == 0) rc = cli_wb_unused_at(&w);
    for (int i = nexpr; rc == 0 && i < tg_names_count(w.names); i++)
        if (cli_wb_is_param(&w, i))
            fprintf(stderr, "tapegrad: check: note: '%s' appears in the hand formula but not in "
                    "the expression\n", tg_names_name(w.names, i));
    /* the names without an --at value are drawn at each point */
    int n = tg_names_count(w.names), ndraw = 0;
    tg_var *draw = malloc((size_t)(n ? n : 1) * sizeof *draw);
    if (rc == 0 && !draw) rc = cli_fail(CMD, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++)
        if (cli_wb_is_param(&w, i) && !cli_wb_given(&w, tg_names_name(w.names, i)))
            draw[ndraw++] = tg_names_var(w.names, i);
    if (rc == 0 && ndraw == 0 && o.samples != 200)
        fprintf(stderr, "tapegrad: check: note: every name has a value: one point, not %llu\n",
                (unsigned long long)o.samples);
    tg_formula_opts fo = {.lo = o.lo, .hi = o.hi, .samples = (int)o.samples, .seed = o.seed,
                          .rtol = o.rtol > 0 ? o.rtol : 1e-300, .atol = o.atol > 0 ? o.atol : 1e-300};
    int worst = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (!o.hand[k]) continue;
        tg_formula_report r;
        if (tg_check_formula(f, wrt, k + 1, hand[k], ndraw, draw, &fo, &r) != TG_OK) {
            rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
            break;
        }
        int res = report(&w, &o, k + 1, f, &r, draw, ndraw);
        if (res > worst) worst = res;
    }
    if (rc == 0) rc = worst;
    free(draw);
    cli_wb_free(&w);
    return rc;
}
