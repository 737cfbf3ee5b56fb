/* article.c - `tapegrad article`: the backpropagation article's 2-3-1 network, built by the
 * library (src/article.c), with dE/dw from the reverse sweep beside the article's delta
 * formulas; optional gradient-descent steps on the one recorded tape; or, with --program, the
 * network as a program of named steps. Parses, calls, prints: every number shown and the
 * program's text come from the library. See LICENSE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tapegrad.h"
#include "tapegrad_article.h"

#define CMD "article"
#define MAX_STEPS 1000000u
#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage[] =
    "usage: tapegrad article [--activation NAME] [--slope S] [--at NAME=V,...] [--seed N]\n"
    "                        [--lr ETA] [--steps K] [--json]\n"
    "       tapegrad article --program [--activation NAME] [--slope S]\n"
    "\n"
    "Builds the 2-3-1 network of the classic backpropagation article on a tape,\n"
    "  z_j[2] = w1j[1]*x1 + w2j[1]*x2, a_j[2] = g(z_j[2]), z1[3] = sum_j wj1[2]*a_j[2],\n"
    "  a1[3] = g(z1[3]), E = 1/2 (a1[3] - t)^2,\n"
    "and prints dE/dw for the nine weights from the reverse sweep beside the article's\n"
    "formulas dE/dwj1[2] = a_j[2]*delta1[3], dE/dwij[1] = x_i*deltaj[2], then the deltas\n"
    "delta1[3] = (a1[3]-t)*g'(z1[3]), deltaj[2] = delta1[3]*wj1[2]*g'(z_j[2]) beside the\n"
    "sweep's dE/dz at the z nodes.\n"
    "\n"
    "  --activation NAME  g: sigmoid (default), tanh, relu or leaky_relu\n"
    "  --slope S          leaky_relu's slope for z < 0 (default 0.01)\n"
    "  --at NAME=V,...    set inputs, target or weights by the article's names: x1, x2, t,\n"
    "                     w11[1] w12[1] w13[1] w21[1] w22[1] w23[1] w11[2] w21[2] w31[2];\n"
    "                     the rest are drawn from the seed (may be given more than once)\n"
    "  --seed N           seed for the values not set (default " STR(TG_ARTICLE_SEED) "):\n"
    "                     x and w uniform in [-1, 1), t in [0, 1)\n"
    "  --lr ETA           learning rate of the steps (default 0.5)\n"
    "  --steps K          K gradient-descent steps w <- w - ETA*dE/dw (default 0), E after\n"
    "                     each; the tape is recorded once and replayed\n"
    "  --json             print one JSON object instead of the tables\n"
    "  --explain NAME     then show the chain rule for dE/dNAME, NAME any node of the\n"
    "                     network (w11[1], z2[2], a1[3], ...): every path from E down to it\n"
    "                     through the article's named nodes, each factor's value, each\n"
    "                     path's product and their sum (tapegrad article --explain 'w11[1]')\n"
    "  --dot              print the network's graph as Graphviz DOT instead of the tables:\n"
    "                     every node with its value and dE/dnode (with --json: as JSON, as\n"
    "                     tapegrad dot --json prints it)\n"
    "  -o FILE            with --dot: write FILE.dot, or draw FILE.svg / FILE.png with\n"
    "                     Graphviz's dot when it is installed\n"
    "  --program          print the network as a program of named steps (z1[2], a1[2], ...,\n"
    "                     z1[3], a1[3], E) for grad, check and the other commands; with the\n"
    "                     default activation it is docs/examples/article.tg\n"
    "\n"
    "examples:\n"
    "  tapegrad article\n"
    "  tapegrad article --activation tanh --at x1=0.5,x2=-1,t=0.2 --steps 10\n"
    "  tapegrad article --explain 'w11[1]'\n"
    "  tapegrad article --dot -o article.svg\n"
    "  tapegrad article --program --activation tanh > article-tanh.tg\n";

/* --at values, applied over the seeded point once all options are read. */
typedef struct overrides {
    double v[TG_ARTICLE_NLEAVES];
    int set[TG_ARTICLE_NLEAVES];
} overrides;

static void name_list(char *buf, size_t size, const char *(*name)(int))
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; name(i) && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", name(i));
}

static int bind(void *ud, const char *name, double value)
{
    overrides *o = ud;
    for (int i = 0; tg_article_leaf_name(i); i++) {
        if (strcmp(name, tg_article_leaf_name(i)) != 0) continue;
        if (o->set[i]) return cli_fail(CMD, "--at: '%s' is given twice", name);
        o->v[i] = value;
        o->set[i] = 1;
        return 0;
    }
    char list[256];
    name_list(list, sizeof list, tg_article_leaf_name);
    return cli_fail(CMD, "--at: unknown name '%s' (valid: %s)", name, list);
}

/* ---- human output ---- */

static void print_row(const char *name, double value, double tape, double formula, double diff,
                      const char *rule)
{
    printf("%-7s %+13.6g  %-+20.12e  %-+20.12e  %+12.1e  %s\n", name, value, tape, formula, diff,
           rule);
}

static void print_tables(const tg_article *net, const tg_article_report *r, const char *act,
                         double slope, uint64_t seed, int seeded)
{
    tg_article_point p;
    tg_article_point_get(net, &p);
    printf("The backpropagation article's 2-3-1 network, g = %s", act);
    if (strcmp(act, "leaky_relu") == 0) printf(" (slope %g)", slope);
    if (seeded) printf(", unset values from seed %llu", (unsigned long long)seed);
    printf("\n  x1 = %.6g   x2 = %.6g   t = %.6g   E = 1/2 (a1[3] - t)^2 = %.12e\n\n", p.x[0],
           p.x[1], p.t, r->E);

    printf("%-7s %13s  %-20s  %-20s  %12s  %s\n", "weight", "value", "dE/dw (tape)",
           "dE/dw (formula)", "tape-formula", "formula");
    char rule[96];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            snprintf(rule, sizeof rule, "x%d*delta%d[2]", i + 1, j + 1);
            print_row(tg_label_of(net->w1[i][j]), p.w1[i][j], r->tape.w1[i][j],
                      r->formula.w1[i][j], r->diff.w1[i][j], rule);
        }
    }
    for (int j = 0; j < 3; j++) {
        snprintf(rule, sizeof rule, "a%d[2]*delta1[3]", j + 1);
        print_row(tg_label_of(net->w2[j]), p.w2[j], r->tape.w2[j], r->formula.w2[j],
                  r->diff.w2[j], rule);
    }

    printf("\n%-7s %13s  %-20s  %-20s  %12s  %s\n", "node", "value", "dE/dz (tape)",
           "delta (formula)", "tape-formula", "formula");
    print_row(tg_label_of(net->z3), tg_value(net->z3), r->tape.delta3, r->formula.delta3,
              r->diff.delta3, "delta1[3] = (a1[3]-t)*g'(z1[3])");
    for (int j = 0; j < 3; j++) {
        snprintf(rule, sizeof rule, "delta%d[2] = delta1[3]*w%d1[2]*g'(z%d[2])", j + 1, j + 1,
                 j + 1);
        print_row(tg_label_of(net->z2[j]), tg_value(net->z2[j]), r->tape.delta2[j],
                  r->formula.delta2[j], r->diff.delta2[j], rule);
    }
    printf("\nmax |tape - formula| over the 9 weights and 4 deltas: %.3g\n", r->max_abs_diff);
}

/* ---- JSON output ---- */

static void jnum(double v)
{
    if (v != v || v - v != 0) /* NaN or Inf: JSON has no such numbers */
        fputs("null", stdout);
    else
        printf("%.17g", v);
}

static void jvec(const double *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", stdout);
        jnum(v[i]);
    }
    putchar(']');
}

/* A 2x3 matrix given row-major as m[0..5]. */
static void jmat(const double *m)
{
    putchar('[');
    jvec(m, 3);
    fputs(", ", stdout);
    jvec(m + 3, 3);
    putchar(']');
}

static void jgrads(const tg_article_grads *g)
{
    fputs("{\"w1\": ", stdout);
    jmat(&g->w1[0][0]);
    fputs(", \"w2\": ", stdout);
    jvec(g->w2, 3);
    fputs(", \"delta3\": ", stdout);
    jnum(g->delta3);
    fputs(", \"delta2\": ", stdout);
    jvec(g->delta2, 3);
    putchar('}');
}

static void jstr(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}

static void print_json(const tg_article_point *p, const tg_article_report *r, const char *act,
                       double slope)
{
    fputs("{\"activation\": ", stdout);
    jstr(act);
    fputs(", \"slope\": ", stdout);
    jnum(slope);
    fputs(", \"x\": ", stdout);
    jvec(p->x, 2);
    fputs(", \"t\": ", stdout);
    jnum(p->t);
    fputs(", \"w1\": ", stdout);
    jmat(&p->w1[0][0]);
    fputs(", \"w2\": ", stdout);
    jvec(p->w2, 3);
    fputs(", \"E\": ", stdout);
    jnum(r->E);
    fputs(", \"tape\": ", stdout);
    jgrads(&r->tape);
    fputs(", \"formula\": ", stdout);
    jgrads(&r->formula);
    fputs(", \"max_abs_diff\": ", stdout);
    jnum(r->max_abs_diff);
}

/* ---- gradient descent on the recorded tape ---- */

typedef struct descent {
    double *E;      /* E before the first step and after each: steps + 1 values */
    uint64_t *flip; /* steps whose replay crossed a kink, nflips of them */
    char **note;    /* tg_replay_note of each */
    size_t nflips;
} descent;

static void descent_free(descent *d)
{
    for (size_t k = 0; k < d->nflips; k++) free(d->note[k]);
    free(d->E);
    free(d->flip);
    free(d->note);
}

/* steps steps of w <- w - lr*dE/dw. 0, or 2 after cli_fail. */
static int descend(tg_article *net, double lr, uint64_t steps, descent *d)
{
    d->E = malloc((size_t)(steps + 1) * sizeof *d->E);
    d->flip = malloc((size_t)(steps ? steps : 1) * sizeof *d->flip);
    d->note = malloc((size_t)(steps ? steps : 1) * sizeof *d->note);
    if (!d->E || !d->flip || !d->note) return cli_fail(CMD, "out of memory for %llu steps",
                                                       (unsigned long long)steps);
    d->E[0] = tg_value(net->E);
    for (uint64_t k = 1; k <= steps; k++) {
        if (tg_article_step(net, lr) != TG_OK)
            return cli_fail(CMD, "step %llu: %s", (unsigned long long)k,
                            tg_tape_error(net->tape));
        const char *note = tg_replay_note(net->tape);
        if (note) {
            size_t n = strlen(note) + 1;
            char *copy = malloc(n);
            if (!copy) return cli_fail(CMD, "out of memory");
            memcpy(copy, note, n);
            d->flip[d->nflips] = k;
            d->note[d->nflips++] = copy;
        }
        d->E[k] = tg_value(net->E);
    }
    return 0;
}

static void print_descent(const descent *d, double lr, uint64_t steps,
                          const tg_article_report *final)
{
    printf("\ngradient descent, lr = %g: w <- w - lr*dE/dw for all nine weights, every dE/dw "
           "taken\nat the old weights (one recorded tape: tg_set + tg_replay + tg_backward)\n",
           lr);
    printf("%6s  %s\n", "step", "E");
    size_t f = 0;
    for (uint64_t k = 0; k <= steps; k++) {
        printf("%6llu  %.12e", (unsigned long long)k, d->E[k]);
        for (; f < d->nflips && d->flip[f] == k; f++) printf("   replay: %s", d->note[f]);
        putchar('\n');
    }
    printf("after %llu steps: E = %.12e, max |tape - formula| = %.3g\n",
           (unsigned long long)steps, final->E, final->max_abs_diff);
}

static void json_descent(const tg_article *net, const descent *d, double lr, uint64_t steps,
                         const tg_article_report *final)
{
    tg_article_point p;
    tg_article_point_get(net, &p);
    fputs(", \"lr\": ", stdout);
    jnum(lr);
    fputs(", \"E_steps\": ", stdout);
    jvec(d->E, (int)(steps + 1));
    fputs(", \"flips\": [", stdout);
    for (size_t f = 0; f < d->nflips; f++) {
        printf("%s{\"step\": %llu, \"note\": ", f ? ", " : "", (unsigned long long)d->flip[f]);
        jstr(d->note[f]);
        putchar('}');
    }
    fputs("], \"final\": {\"w1\": ", stdout);
    jmat(&p.w1[0][0]);
    fputs(", \"w2\": ", stdout);
    jvec(p.w2, 3);
    fputs(", \"E\": ", stdout);
    jnum(final->E);
    fputs(", \"max_abs_diff\": ", stdout);
    jnum(final->max_abs_diff);
    putchar('}');
}

/* ---- the command ---- */

typedef struct options {
    const char *activation;
    double slope, lr;
    uint64_t seed, steps;
    int json, help, dot, program;
    const char *explain, *out;
    const char *other; /* the last option given that --program does not take */
    overrides at;
} options;

/* 0, or 2 after cli_fail. */
static int parse(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            o->help = 1;
        } else if (strcmp(argv[i], "--program") == 0) {
            o->program = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
            o->other = "--json";
        } else if (strcmp(argv[i], "--dot") == 0) {
            o->dot = 1;
            o->other = "--dot";
        } else if ((m = cli_option(CMD, argc, argv, &i, "--explain", &v)) != 0) {
            if (m < 0) return 2;
            o->explain = v;
            o->other = "--explain";
        } else if ((m = cli_option(CMD, argc, argv, &i, "-o", &v)) != 0) {
            if (m < 0) return 2;
            o->out = v;
            o->other = "-o";
        } else if ((m = cli_option(CMD, argc, argv, &i, "--activation", &v)) != 0) {
            if (m < 0) return 2;
            o->activation = v;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--slope", &v)) != 0) {
            if (m < 0 || cli_number(CMD, "--slope", v, &o->slope)) return 2;
        } else if ((m = cli_option(CMD, argc, argv, &i, "--at", &v)) != 0) {
            if (m < 0 || cli_at_each(CMD, v, bind, &o->at)) return 2;
            o->other = "--at";
        } else if ((m = cli_option(CMD, argc, argv, &i, "--seed", &v)) != 0) {
            if (m < 0 || cli_count(CMD, "--seed", v, 0, UINT64_MAX, &o->seed)) return 2;
            o->other = "--seed";
        } else if ((m = cli_option(CMD, argc, argv, &i, "--lr", &v)) != 0) {
            if (m < 0 || cli_number(CMD, "--lr", v, &o->lr)) return 2;
            o->other = "--lr";
        } else if ((m = cli_option(CMD, argc, argv, &i, "--steps", &v)) != 0) {
            if (m < 0 || cli_count(CMD, "--steps", v, 0, MAX_STEPS, &o->steps)) return 2;
            o->other = "--steps";
        } else {
            return cli_fail(CMD, "unknown option '%s' (see 'tapegrad article --help')",
                            argv[i]);
        }
    }
    return 0;
}

int cli_article(int argc, char **argv)
{
    options o = {.activation = "sigmoid", .slope = 0.01, .lr = 0.5, .seed = TG_ARTICLE_SEED};
    if (parse(argc, argv, &o)) return 2;
    if (o.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (o.program && o.other)
        return cli_fail(CMD, "--program prints the network as a program and takes only "
                        "--activation and --slope (not %s)", o.other);
    if (o.out && !o.dot) return cli_fail(CMD, "-o goes with --dot (the graph's file)");
    if (o.out && cli_output_path(CMD, "-o", o.out, cli_graph_exts)) return 2;
    const struct tg_op_def *g = tg_article_activation(o.activation);
    if (!g) {
        char list[128];
        name_list(list, sizeof list, tg_article_activation_name);
        return cli_fail(CMD, "unknown activation '%s' (valid: %s)", o.activation, list);
    }
    if (o.program) {
        if (tg_article_program(stdout, g, o.slope) != TG_OK || fflush(stdout) != 0)
            return cli_fail(CMD, "--program: cannot write the program to standard output");
        return 0;
    }

    tg_article_point p;
    int seeded = 0;
    tg_article_point_seed(&p, o.seed);
    for (int i = 0; i < TG_ARTICLE_NLEAVES; i++) {
        if (o.at.set[i]) tg_article_point_set(&p, tg_article_leaf_name(i), o.at.v[i]);
        else seeded = 1;
    }

    tg_tape *tape = tg_tape_new();
    if (!tape) return cli_fail(CMD, "out of memory");
    tg_article net;
    tg_article_report rep, final;
    descent d = {0};
    int rc = 0;
    if (tg_article_build(&net, tape, g, o.slope, &p) != TG_OK ||
        tg_article_evaluate(&net, &rep) != TG_OK) {
        rc = cli_fail(CMD, "%s", tg_tape_error(tape));
    } else if (o.explain && tg_tape_find(tape, o.explain).index == TG_NONE) {
        char list[256];
        name_list(list, sizeof list, tg_article_leaf_name);
        rc = cli_fail(CMD, "--explain: no node is called '%s' (the leaves are %s; the others "
                      "z1[2] .. z3[2], a1[2] .. a3[2], z1[3], a1[3], E)", o.explain, list);
    } else if (o.dot) {
        rc = cli_write_graph(CMD, tape, o.out, o.json);
        o.json = 0, o.steps = 0, o.explain = NULL;
    } else {
        if (!o.json) print_tables(&net, &rep, o.activation, o.slope, o.seed, seeded);
        if (o.explain) {
            tg_explain_opts eo = {.named = 1};
            if (!o.json) putchar('\n');
            int st = tg_explain(o.json ? stderr : stdout, net.E, tg_tape_find(tape, o.explain),
                                &eo);
            if (st != TG_OK && st != TG_ERR_ARG) rc = cli_fail(CMD, "%s", tg_tape_error(tape));
        }
        if (rc == 0 && o.steps > 0 && (rc = descend(&net, o.lr, o.steps, &d)) == 0 &&
            tg_article_evaluate(&net, &final) != TG_OK)
            rc = cli_fail(CMD, "%s", tg_tape_error(tape));
    }
    if (rc == 0 && o.json) {
        /* the top level describes the starting point p; a descent adds keys after it */
        print_json(&p, &rep, o.activation, o.slope);
        if (o.steps > 0) json_descent(&net, &d, o.lr, o.steps, &final);
        fputs("}\n", stdout);
    } else if (rc == 0 && o.steps > 0) {
        print_descent(&d, o.lr, o.steps, &final);
    }
    descent_free(&d);
    tg_tape_free(tape);
    return rc;
}
