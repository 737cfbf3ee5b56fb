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
    "usage: tapegrad check EXPR|--file F --wrt NAME --expect HAND [--expect-second HAND2]\n"
    "                      [--adjoint 'STEP=HAND']... [--at NAME=V,...] [--range LO:HI]\n"
    "                      [--samples N] [--seed S] [--rtol R] [--atol A] [--json]\n"
    "                      [--def 'f(x) = ...']\n"
    "\n"
    "Compares HAND, a derivative of EXPR with respect to NAME written by hand, with the\n"
    "tape's dEXPR/dNAME (the reverse sweep) at N random points: every name without an --at\n"
    "value is drawn uniformly from the range at each point. Points where either side is NaN\n"
    "or infinite are skipped and counted. They agree at a point when\n"
    "|tape - hand| <= atol + rtol*max(|tape|, |hand|), or when the difference is within what\n"
    "rounding alone can make it there (every computed value moved by an ULP, the effects\n"
    "summed, 4 ULP a value allowed): log(1 - sigmoid(z)) keeps few digits for large z, and a\n"
    "right HAND is not called wrong for that. Such points are counted \"within rounding\";\n"
    "points where rounding could make either side what it is are skipped. For a program\n"
    "(steps NAME = EXPR, see tapegrad grad --help), --adjoint checks a hand-derived delta\n"
    "dE/dSTEP of any step in the same way, and with several checks the report names the\n"
    "first wrong one in the order the reverse sweep reaches them (from the output toward the\n"
    "leaves: the one to fix first).\n"
    "\n"
    "  --wrt NAME            the name to differentiate by (default: the only name in EXPR)\n"
    "  --expect HAND         the hand-written dEXPR/dNAME, an expression in the same names\n"
    "  --expect-second HAND2 the hand-written d2EXPR/dNAME2 (compared with tg_diff twice)\n"
    "  --adjoint 'STEP=HAND' the hand-written dE/dSTEP, E the program's output, STEP one of\n"
    "                        its steps (or leaves); HAND may use leaves and steps\n"
    "                        (repeatable)\n"
    "  --at NAME=V,...       fix names at values (if every name is fixed: one point)\n"
    "  --range LO:HI         where the other names are drawn (default -3:3)\n"
    "  --samples N           number of random points (default 200)\n"
    "  --seed S              the points' seed (default 1)\n"
    "  --rtol R, --atol A    tolerances (default 1e-6 and 1e-8)\n"
    "  --json                print one object: {\"agree\": true|false, \"first_wrong\": NAME or\n"
    "                        null, \"checks\": [{\"name\", \"agree\", \"points\", \"skipped\",\n"
    "                        \"failed\", \"within_rounding\", \"worst\": {\"at\", \"tape\",\n"
    "                        \"hand\", \"fd\"}}, ...]}\n"
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
    "                 --expect-second 'sigmoid(x)*(1-sigmoid(x))*(1-2*sigmoid(x))'\n"
    "  tapegrad check 'z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2' \\\n"
    "                 --adjoint 'a=a - t' --adjoint 'z=(a - t)*a*(1 - a)'\n"
    "  tapegrad check --file docs/examples/article.tg \\\n"
    "                 --adjoint 'z1[3]=(a1[3] - t)*a1[3]*(1 - a1[3])'\n";

#define MAX_ADJOINTS 1024

typedef struct options {
    const char *expr, *wrt, *hand[2];
    const char *adjoint[MAX_ADJOINTS];
    int nadjoint, json;
    double lo, hi, rtol, atol;
    uint64_t samples, seed;
} options;

/* One comparison: HAND against the tape's d^order E / d wrt, and how it went. */
typedef struct check {
    char label[300]; /* in the text: "dE/dz", "df/dx", "d2f/dx2" */
    char name[300];  /* in the JSON: "z" (--adjoint), "d/dx", "d2/dx2" */
    const char *hand_text;
    tg_var wrt, hand;
    int order;
    tg_formula_report r;
    double *at; /* the names' values at the worst point */
} check;

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
    if (fd == 0 && !t && !h)
        return "f does not change in double precision over the steps here: no opinion";
    if (kink && !(t ^ h)) return "a step crossed a kink here, so it is one-sided: no opinion";
    if (t && !h) return "agrees with the tape: the hand formula is the one that is off";
    if (h && !t) return "agrees with the hand formula, not the tape: suspect an op's derivative "
                        "(please report it)";
    if (t && h) return "too close to both to tell them apart";
    return "agrees with neither (a kink or a domain edge nearby?)";
}

/* "x, y drawn from [-3, 3], seed 1" or "at the given point". */
static void where(char *buf, size_t size, const tg_var *draw, int ndraw, const options *o)
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
}

/* "PREFIX NAME = V, ..." and a line's end for the leaves (steps 0) or the steps (steps 1)
 * at c's worst point; nothing when there are none. */
static void print_point(const cli_wb *w, const check *c, int steps, const char *prefix)
{
    int k = 0;
    for (int i = 0; i < tg_names_count(w->names); i++)
        if (tg_names_is_step(w->names, i) == steps)
            printf("%s %s = %.17g", k++ ? "," : prefix, tg_names_name(w->names, i), c->at[i]);
    if (k) putchar('\n');
}

/* Where c disagrees most: the point, both sides, the error, the finite differences. */
static void details(const cli_wb *w, const options *o, const check *c)
{
    const tg_formula_report *r = &c->r;
    print_point(w, c, 0, "worst point:");
    print_point(w, c, 1, "  the steps there:");
    printf("  tape  %-22s = %.17g\n", c->label, r->tape);
    printf("  hand  %-22s = %.17g\n", c->hand_text, r->hand);
    printf("  error %.3g absolute, %.3g relative (allowed: %g + %g*|larger|", r->abs_err,
           r->rel_err, o->atol, o->rtol);
    double tol = o->atol + o->rtol * fmax(fabs(r->tape), fabs(r->hand));
    if (r->rounding > tol) /* named where it counts: where the expression loses digits */
        printf(" + %.3g for rounding", r->rounding);
    printf(")\n");
    printf("  central finite differences there: %.17g\n    -> %s\n", r->fd,
           second_opinion(r->fd, r->fd_kink, r->tape, r->hand, c->order));
}

/* Appends to note how many points agree only within rounding, if any. */
static void rounded(char *note, size_t size, const tg_formula_report *r)
{
    size_t n = strlen(note);
    if (r->within_rounding)
        snprintf(note + n, size - n, "; %d within rounding (the expression loses digits there)",
                 r->within_rounding);
}

/* One check alone: a line when it agrees; the line and the details when it does not. */
static void report(const cli_wb *w, const options *o, const check *c, const char *span,
                   int ndraw)
{
    const tg_formula_report *r = &c->r;
    char skipped[160] = "", count[96];
    if (r->skipped)
        snprintf(skipped, sizeof skipped, "; %d of %d points skipped (%s)", r->skipped, r->points,
                 r->no_digits == r->skipped ? "rounding leaves no digit there"
                 : r->no_digits ? "not finite there, or no digit left by rounding"
                                : "not finite there");
    rounded(skipped, sizeof skipped, r);
    if (ndraw == 0) snprintf(count, sizeof count, "the given point");
    else if (r->skipped) snprintf(count, sizeof count, "all %d points inside the domain", r->compared);
    else snprintf(count, sizeof count, "all %d points", r->compared);
    if (r->agree) {
        if (ndraw == 0)
            printf("agree: %s = %s at the given point (error %.2g absolute, %.2g relative)\n",
                   c->label, c->hand_text, r->abs_err, r->rel_err);
        else
            printf("agree: %s = %s at %s (%s; worst error %.2g absolute, %.2g relative)%s\n",
                   c->label, c->hand_text, count, span, r->abs_err, r->rel_err, skipped);
        return;
    }
    printf("DISAGREE: %s and %s differ at %d of %d point%s (%s)%s\n", c->label, c->hand_text,
           r->failed, r->compared, r->compared == 1 ? "" : "s", span, skipped);
    details(w, o, c);
}

/* Several checks: the verdict and the first wrong step, one line per check in the order the
 * reverse sweep reaches them, then the first wrong one's details. */
static void report_all(const cli_wb *w, const options *o, const check *c, int n, int first,
                       int wrong, const char *span)
{
    if (first < 0)
        printf("agree: all %d checks (%s)\n", n, span);
    else
        printf("DISAGREE: %d of %d checks (%s); the first wrong step, in the order the reverse "
               "sweep reaches them, is %s\n", wrong, n, span, c[first].name);
    for (int k = 0; k < n; k++) {
        const tg_formula_report *r = &c[k].r;
        char skipped[128] = "";
        if (r->skipped) snprintf(skipped, sizeof skipped, "; %d points skipped", r->skipped);
        rounded(skipped, sizeof skipped, r);
        if (r->agree)
            printf("  agree     %s = %s (worst error %.2g relative%s)\n", c[k].label,
                   c[k].hand_text, r->rel_err, skipped);
        else
            printf("  DISAGREE  %s and %s differ at %d of %d points%s\n", c[k].label,
                   c[k].hand_text, r->failed, r->compared, skipped);
    }
    if (first < 0) return;
    printf("the first wrong step, %s (%s), at its worst point:\n", c[first].name, c[first].label);
    details(w, o, &c[first]);
}

static void json_report(const cli_wb *w, const check *c, int n, int first)
{
    printf("{\"agree\": %s, \"first_wrong\": ", first < 0 ? "true" : "false");
    if (first < 0) fputs("null", stdout);
    else cli_json_str(stdout, c[first].name);
    fputs(", \"checks\": [", stdout);
    for (int k = 0; k < n; k++) {
        const tg_formula_report *r = &c[k].r;
        fputs(k ? ", {\"name\": " : "{\"name\": ", stdout);
        cli_json_str(stdout, c[k].name);
        printf(", \"agree\": %s, \"points\": %d, \"skipped\": %d, \"failed\": %d, "
               "\"within_rounding\": %d, \"no_digits\": %d, \"worst\": {\"at\": {",
               r->agree ? "true" : "false", r->points, r->skipped, r->failed, r->within_rounding,
               r->no_digits);
        for (int i = 0, m = 0; i < tg_names_count(w->names); i++) {
            if (!cli_wb_is_param(w, i)) continue;
            if (m++) fputs(", ", stdout);
            cli_json_str(stdout, tg_names_name(w->names, i));
            fputs(": ", stdout);
            cli_json_num(stdout, c[k].at[i]);
        }
        fputs("}, \"tape\": ", stdout);
        cli_json_num(stdout, r->tape);
        fputs(", \"hand\": ", stdout);
        cli_json_num(stdout, r->hand);
        fputs(", \"fd\": ", stdout);
        cli_json_num(stdout, r->fd);
        fputs("}}", stdout);
    }
    fputs("]}\n", stdout);
}

/* The --adjoint 'STEP=HAND' checks, after the --expect ones, into c[*n...]: 0, or 2 after
 * the error. */
static int add_adjoints(cli_wb *w, const options *o, const char *out, check *c, int *n)
{
    for (int k = 0; k < o->nadjoint; k++) {
        const char *spec = o->adjoint[k], *eq = strchr(spec, '=');
        char name[TG_NAME_MAX + 1], what[TG_NAME_MAX + 16];
        size_t len = eq ? (size_t)(eq - spec) : 0;
        while (len > 0 && spec[len - 1] == ' ') len--;
        size_t skip = strspn(spec, " ");
        if (!eq || len <= skip || len - skip > TG_NAME_MAX)
            return cli_fail(CMD, "--adjoint: '%s' is not STEP=HAND (as in 'z=(a - t)*a*(1 - a)')",
                            spec);
        memcpy(name, spec + skip, len - skip);
        name[len - skip] = '\0';
        int i = 0, count = tg_names_count(w->names);
        while (i < count && strcmp(tg_names_name(w->names, i), name) != 0) i++;
        if (i == count || !(tg_names_is_step(w->names, i) || cli_wb_is_param(w, i))) {
            char steps[512] = "";
            size_t m = 0;
            for (int j = 0; j < count && m < sizeof steps; j++)
                if (tg_names_is_step(w->names, j))
                    m += (size_t)snprintf(steps + m, sizeof steps - m, "%s%s", m ? ", " : "",
                                          tg_names_name(w->names, j));
            return cli_fail(CMD, "--adjoint: '%s' is not a step or a leaf of the expression "
                            "(its steps: %s)", name, m ? steps : "none");
        }
        check *ck = &c[(*n)++];
        snprintf(what, sizeof what, "--adjoint %s", name);
        int rc = 0;
        ck->hand_text = eq + 1;
        ck->hand = cli_wb_parse(w, what, eq + 1, &rc);
        if (rc) return rc;
        ck->wrt = tg_names_var(w->names, i);
        ck->order = 1;
        snprintf(ck->label, sizeof ck->label, "d%s/d%s", out, name);
        snprintf(ck->name, sizeof ck->name, "%s", name);
    }
    return 0;
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
        if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--wrt", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.wrt = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--expect-second", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.hand[1] = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--expect", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            o.hand[0] = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--adjoint", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            if (rc == 0 && o.nadjoint == MAX_ADJOINTS)
                rc = cli_fail(CMD, "--adjoint: at most %d", MAX_ADJOINTS);
            if (rc == 0) o.adjoint[o.nadjoint++] = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--range", &v)) != 0) {
            rc = m < 0 || parse_range(v, &o.lo, &o.hi) ? 2 : 0;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--samples", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--samples", v, 1, MAX_SAMPLES, &o.samples) ? 2 : 0;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--seed", &v)) != 0) {
            rc = m < 0 || cli_count(CMD, "--seed", v, 0, UINT64_MAX, &o.seed) ? 2 : 0;
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
    int expects = (o.hand[0] != NULL) + (o.hand[1] != NULL), nchecks = expects + o.nadjoint;
    if (rc == 0 && !o.expr) rc = cli_fail(CMD, "no expression (try 'tapegrad check --help')");
    if (rc == 0 && nchecks == 0)
        rc = cli_fail(CMD, "nothing to check: give --expect HAND (and/or --expect-second "
                      "HAND2), or --adjoint 'STEP=HAND'");
    if (rc == 0 && o.wrt && !expects)
        rc = cli_fail(CMD, "--wrt '%s' goes with --expect HAND (or --expect-second)", o.wrt);
    tg_var f = {0};
    if (rc == 0) f = cli_wb_parse(&w, NULL, o.expr, &rc);
    const char *out = rc == 0 ? cli_wb_out_name(&w, f) : "f";
    int nexpr = tg_names_count(w.names);
    if (rc == 0 && expects && !o.wrt) {
        int params = 0;
        for (int i = 0; i < nexpr; i++)
            if (cli_wb_is_param(&w, i)) params++, o.wrt = tg_names_name(w.names, i);
        if (params != 1)
            rc = cli_fail(CMD, "--wrt NAME is needed: the expression has %d names", params);
    }
    check *c = calloc((size_t)nchecks + 1, sizeof *c);
    if (rc == 0 && !c) rc = cli_fail(CMD, "out of memory");
    int n = 0;
    if (rc == 0 && expects) {
        tg_var wrt = tg_names_get(w.names, o.wrt);
        int k = 0;
        while (k < nexpr && strcmp(tg_names_name(w.names, k), o.wrt) != 0) k++;
        if (k == nexpr || !cli_wb_is_param(&w, k))
            rc = cli_fail(CMD, "--wrt: '%s' is not a name in the expression", o.wrt);
        for (int order = 1; order <= 2 && rc == 0; order++) {
            if (!o.hand[order - 1]) continue;
            check *ck = &c[n++];
            ck->hand_text = o.hand[order - 1];
            ck->hand = cli_wb_parse(&w, order == 1 ? "--expect" : "--expect-second",
                                    ck->hand_text, &rc);
            ck->wrt = wrt;
            ck->order = order;
            snprintf(ck->label, sizeof ck->label, order == 1 ? "d%s/d%s" : "d2%s/d%s2", out, o.wrt);
            snprintf(ck->name, sizeof ck->name, order == 1 ? "d/d%s" : "d2/d%s2", o.wrt);
        }
    }
    if (rc == 0) rc = add_adjoints(&w, &o, out, c, &n);
    if (rc == 0) rc = cli_wb_unused_at(&w);
    for (int i = nexpr; rc == 0 && i < tg_names_count(w.names); i++)
        if (cli_wb_is_param(&w, i))
            fprintf(stderr, "tapegrad: check: note: '%s' appears in the hand formula but not in "
                    "the expression\n", tg_names_name(w.names, i));
    /* the names without an --at value are drawn at each point */
    int names = tg_names_count(w.names), ndraw = 0;
    tg_var *draw = malloc((size_t)(names ? names : 1) * sizeof *draw);
    double *at = calloc((size_t)(names ? names : 1) * (size_t)(nchecks ? nchecks : 1), sizeof *at);
    if (rc == 0 && (!draw || !at)) rc = cli_fail(CMD, "out of memory");
    for (int i = 0; rc == 0 && i < names; i++)
        if (cli_wb_is_param(&w, i) && !cli_wb_given(&w, tg_names_name(w.names, i)))
            draw[ndraw++] = tg_names_var(w.names, i);
    if (rc == 0 && ndraw == 0 && o.samples != 200)
        fprintf(stderr, "tapegrad: check: note: every name has a value: one point, not %llu\n",
                (unsigned long long)o.samples);
    /* in the order the reverse sweep reaches them: the latest node first (stable) */
    for (int k = 1; rc == 0 && k < n; k++)
        for (int j = k; j > 0 && c[j - 1].wrt.index < c[j].wrt.index; j--) {
            check tmp = c[j];
            c[j] = c[j - 1];
            c[j - 1] = tmp;
        }
    tg_formula_opts fo = {.lo = o.lo, .hi = o.hi, .samples = (int)o.samples, .seed = o.seed,
                          .rtol = o.rtol > 0 ? o.rtol : 1e-300, .atol = o.atol > 0 ? o.atol : 1e-300};
    int first = -1, wrong = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        tg_status st = tg_check_formula(f, c[k].wrt, c[k].order, c[k].hand, ndraw, draw, &fo,
                                        &c[k].r);
        if (st != TG_OK) {
            rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
            break;
        }
        const tg_formula_report *r = &c[k].r;
        const char *all = r->points == 1 ? "the" : "all", *s = r->points == 1 ? "" : "s";
        if (r->compared == 0 && !r->no_digits)
            rc = cli_fail(CMD, "%s: no point to compare: at %s %d point%s f or a side is not "
                          "finite (choose a --range inside the domain)", c[k].label, all,
                          r->points, s);
        else if (!r->failed && r->compared == r->within_rounding) {
            char why[160];
            snprintf(why, sizeof why, "%d agree only within rounding, %d keep no digit, %d are "
                     "not finite", r->within_rounding, r->no_digits, r->skipped - r->no_digits);
            rc = cli_fail(CMD, "%s: no point to decide: at %s %d point%s rounding leaves too "
                          "few digits to tell whether they agree (%s); choose a --range where "
                          "EXPR keeps its digits", c[k].label, all, r->points, s, why);
        }
        c[k].at = at + (size_t)k * (size_t)names;
        for (int i = 0; i < names; i++) c[k].at[i] = tg_value(tg_names_var(w.names, i));
        if (!c[k].r.agree && wrong++ == 0) first = k;
    }
    char span[512];
    where(span, sizeof span, draw, ndraw, &o);
    if (rc == 0 && o.json) json_report(&w, c, n, first);
    else if (rc == 0 && n > 1) report_all(&w, &o, c, n, first, wrong, span);
    else if (rc == 0) report(&w, &o, &c[0], span, ndraw);
    if (rc == 0) rc = wrong ? 1 : 0;
    free(at);
    free(c);
    free(draw);
    cli_wb_free(&w);
    return rc;
}
