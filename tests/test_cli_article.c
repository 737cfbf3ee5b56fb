/* test_cli_article.c - `tapegrad article` run as a program (the binary named by $TAPEGRAD, as
 * `make test` sets it): the --json schema and number format, the human tables, the exact
 * one-line messages and exit status 2 for bad input, and --program (docs/examples/article.tg
 * byte for byte, the same steps for every activation). See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "tapegrad.h"
#include "tapegrad_article.h"

/* ---- running the command ---- */

typedef struct run {
    char out[16384]; /* stdout */
    char err[4096];  /* stderr */
    int status;      /* exit status, -1 if it did not exit normally */
} run;

static void slurp(FILE *f, char *buf, size_t size)
{
    size_t n = 0, k;
    while (n + 1 < size && (k = fread(buf + n, 1, size - 1 - n, f)) > 0) n += k;
    buf[n] = '\0';
}

/* Run "tapegrad ARGS" (args already shell-quoted). */
static run *tapegrad(const char *args)
{
    static run r;
    char errpath[] = "/tmp/tapegrad-cli-XXXXXX", cmd[1024];
    int fd = mkstemp(errpath);
    cr_assert_geq(fd, 0, "mkstemp failed");
    close(fd);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", th_tapegrad(), args, errpath);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen(%s) failed", cmd);
    slurp(p, r.out, sizeof r.out);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(errpath, "r");
    cr_assert_not_null(e);
    slurp(e, r.err, sizeof r.err);
    fclose(e);
    unlink(errpath);
    return &r;
}

/* ---- a small strict JSON reader (RFC 8259 numbers, no escapes beyond \" \\ \u) ---- */

enum { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int kind;
    double num;
    char text[64];  /* a number's text, or a string's contents */
    char key[32];   /* the member name when this value sits in an object */
    int child, next; /* first child and next sibling (-1: none) */
    int n;           /* number of children */
} jv;

static jv pool[512];
static int npool;

static void ws(const char **s)
{
    while (**s == ' ' || **s == '\n' || **s == '\t' || **s == '\r') ++*s;
}

static int jstring(const char **s, char *dst, size_t size)
{
    size_t n = 0;
    if (**s != '"') return -1;
    for (++*s; **s != '"'; ++*s) {
        if (!**s || (unsigned char)**s < 0x20) return -1;
        if (**s == '\\') {
            ++*s;
            if (**s == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!strchr("0123456789abcdefABCDEF", (*s)[k]) || !(*s)[k]) return -1;
                *s += 4;
            } else if (!strchr("\"\\/bfnrt", **s)) {
                return -1;
            }
        }
        if (n + 1 < size) dst[n++] = **s;
    }
    ++*s;
    dst[n] = '\0';
    return 0;
}

static int jnumber(const char **s, jv *v)
{
    const char *p = *s;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return -1;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    size_t len = (size_t)(p - *s);
    if (len >= sizeof v->text) return -1;
    memcpy(v->text, *s, len);
    v->text[len] = '\0';
    v->num = strtod(v->text, NULL);
    v->kind = J_NUM;
    *s = p;
    return 0;
}

static int jvalue(const char **s)
{
    if (npool == (int)(sizeof pool / sizeof pool[0])) return -1;
    int me = npool++;
    jv *v = &pool[me];
    memset(v, 0, sizeof *v);
    v->child = v->next = -1;
    ws(s);
    if (**s == '{' || **s == '[') {
        int obj = **s == '{', last = -1;
        char close = obj ? '}' : ']';
        v->kind = obj ? J_OBJ : J_ARR;
        ++*s;
        ws(s);
        if (**s == close) {
            ++*s;
            return me;
        }
        for (;;) {
            char key[32] = "";
            ws(s);
            if (obj) {
                if (jstring(s, key, sizeof key)) return -1;
                ws(s);
                if (**s != ':') return -1;
                ++*s;
            }
            int c = jvalue(s);
            if (c < 0) return -1;
            strcpy(pool[c].key, key);
            if (last < 0) pool[me].child = c;
            else pool[last].next = c;
            last = c;
            pool[me].n++;
            ws(s);
            if (**s == ',') {
                ++*s;
                continue;
            }
            if (**s != close) return -1;
            ++*s;
            return me;
        }
    }
    if (**s == '"') {
        v->kind = J_STR;
        return jstring(s, v->text, sizeof v->text) ? -1 : me;
    }
    if (strncmp(*s, "null", 4) == 0) {
        *s += 4;
        v->kind = J_NULL;
        return me;
    }
    return jnumber(s, v) ? -1 : me;
}

/* Parse all of text (one value, then only a newline): the root's index, or -1. */
static int jparse(const char *text)
{
    npool = 0;
    const char *s = text;
    int root = jvalue(&s);
    if (root < 0) return -1;
    return strcmp(s, "\n") == 0 ? root : -1;
}

static int jget(int obj, const char *key)
{
    for (int c = pool[obj].child; c >= 0; c = pool[c].next)
        if (strcmp(pool[c].key, key) == 0) return c;
    cr_assert_fail("no key \"%s\"", key);
    return -1;
}

static int jat(int arr, int i)
{
    int c = pool[arr].child;
    while (c >= 0 && i-- > 0) c = pool[c].next;
    cr_assert_geq(c, 0);
    return c;
}

static double jnum(int v)
{
    cr_assert_eq(pool[v].kind, J_NUM, "not a number (key \"%s\")", pool[v].key);
    return pool[v].num;
}

/* An object with exactly these keys, in this order. */
static void expect_keys(int obj, const char *const *keys, int n)
{
    cr_assert_eq(pool[obj].kind, J_OBJ);
    cr_expect_eq(pool[obj].n, n, "%d keys, expected %d", pool[obj].n, n);
    int c = pool[obj].child;
    for (int k = 0; k < n && c >= 0; k++, c = pool[c].next)
        cr_expect_str_eq(pool[c].key, keys[k]);
}

/* A numeric array of length n (or, with m > 0, n arrays of m numbers). */
static void expect_array(int v, int n, int m)
{
    cr_assert_eq(pool[v].kind, J_ARR, "\"%s\" is not an array", pool[v].key);
    cr_assert_eq(pool[v].n, n, "\"%s\" has %d entries, expected %d", pool[v].key, pool[v].n, n);
    for (int i = 0; i < n; i++) {
        if (m > 0) expect_array(jat(v, i), m, 0);
        else jnum(jat(v, i));
    }
}

static void expect_grads(int g)
{
    static const char *const keys[] = {"w1", "w2", "delta3", "delta2"};
    expect_keys(g, keys, 4);
    expect_array(jget(g, "w1"), 2, 3);
    expect_array(jget(g, "w2"), 3, 0);
    jnum(jget(g, "delta3"));
    expect_array(jget(g, "delta2"), 3, 0);
}

/* Significant digits of a JSON number's text. */
static int sig_digits(const char *t)
{
    int n = 0, lead = 1;
    for (; *t && *t != 'e' && *t != 'E'; t++) {
        if (*t < '0' || *t > '9') continue;
        if (lead && *t == '0') continue;
        lead = 0;
        n++;
    }
    return n;
}

/* ---- --json ---- */

static const char *const top_keys[] = {"activation", "slope", "x",       "t",       "w1",
                                       "w2",         "E",     "tape",    "formula", "max_abs_diff"};

Test(cli_article, json_is_one_object_with_the_schema)
{
    run *r = tapegrad("article --json");
    cr_assert_eq(r->status, 0, "exit %d, stderr: %s", r->status, r->err);
    cr_expect_str_empty(r->err);
    int root = jparse(r->out);
    cr_assert_geq(root, 0, "not one JSON object:\n%s", r->out);
    expect_keys(root, top_keys, 10);
    cr_expect_str_eq(pool[jget(root, "activation")].text, "sigmoid");
    cr_expect_eq(pool[jget(root, "activation")].kind, J_STR);
    cr_expect_eq(jnum(jget(root, "slope")), 0.01);
    expect_array(jget(root, "x"), 2, 0);
    jnum(jget(root, "t"));
    expect_array(jget(root, "w1"), 2, 3);
    expect_array(jget(root, "w2"), 3, 0);
    jnum(jget(root, "E"));
    expect_grads(jget(root, "tape"));
    expect_grads(jget(root, "formula"));
    double m = jnum(jget(root, "max_abs_diff"));
    cr_expect(m >= 0 && m <= 1e-15, "max_abs_diff %g", m);
}

Test(cli_article, json_numbers_have_17_significant_digits)
{
    run *r = tapegrad("article --json --activation tanh");
    cr_assert_eq(r->status, 0);
    int root = jparse(r->out);
    cr_assert_geq(root, 0);
    int numbers = 0, full = 0;
    for (int i = 0; i < npool; i++) {
        if (pool[i].kind != J_NUM) continue;
        char again[64];
        snprintf(again, sizeof again, "%.17g", pool[i].num);
        /* printed as %.17g prints it (so it reads back to the same double) */
        cr_expect_str_eq(pool[i].text, again);
        cr_expect_leq(sig_digits(pool[i].text), 17, "%s", pool[i].text);
        numbers++;
        full += sig_digits(pool[i].text) == 17;
    }
    cr_expect_eq(numbers, 1 + 2 + 1 + 6 + 3 + 1 + 2 * 13 + 1); /* slope x t w1 w2 E grads max */
    /* %.17g drops trailing zeros (slope 0.01, max_abs_diff 0, and the computed values whose
     * 17th digit is 0, about one in ten); the rest show all 17 */
    cr_expect_geq(full, numbers * 3 / 4, "only %d of %d numbers have 17 digits", full, numbers);
    cr_expect_geq(sig_digits(pool[jget(root, "E")].text), 16);
}

/* The point in the JSON is the documented default seed's, and E is the article's error there
 * (recomputed here from the printed weights). */
Test(cli_article, json_point_is_the_default_seed_and_E_follows)
{
    run *r = tapegrad("article --json");
    cr_assert_eq(r->status, 0);
    int root = jparse(r->out);
    cr_assert_geq(root, 0);
    tg_article_point p;
    tg_article_point_seed(&p, TG_ARTICLE_SEED);
    int x = jget(root, "x"), w1 = jget(root, "w1"), w2 = jget(root, "w2");
    for (int i = 0; i < 2; i++) cr_expect_eq(jnum(jat(x, i)), p.x[i]);
    cr_expect_eq(jnum(jget(root, "t")), p.t);
    double z3 = 0;
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < 2; i++) cr_expect_eq(jnum(jat(jat(w1, i), j)), p.w1[i][j]);
        cr_expect_eq(jnum(jat(w2, j)), p.w2[j]);
        double z = p.w1[0][j] * p.x[0] + p.w1[1][j] * p.x[1];
        z3 += p.w2[j] / (1 + exp(-z));
    }
    double a3 = 1 / (1 + exp(-z3));
    cr_expect_float_eq(jnum(jget(root, "E")), 0.5 * (a3 - p.t) * (a3 - p.t), 1e-15);
    /* the tape's and the formula's gradients agree entry by entry */
    int tape = jget(root, "tape"), formula = jget(root, "formula");
    for (int j = 0; j < 3; j++) {
        cr_expect_float_eq(jnum(jat(jget(tape, "w2"), j)), jnum(jat(jget(formula, "w2"), j)),
                           1e-15);
        cr_expect_float_eq(jnum(jat(jget(tape, "delta2"), j)),
                           jnum(jat(jget(formula, "delta2"), j)), 1e-15);
    }
}

Test(cli_article, at_sets_values_by_name_and_the_seed_the_rest)
{
    run *r = tapegrad("article --json --activation leaky_relu --slope 0.2 --seed 5 "
                      "--at 'x1=0.5, x2=-0.25,t=0.125' --at 'w11[1]=0.375,w31[2]=-0.75'");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    int root = jparse(r->out);
    cr_assert_geq(root, 0);
    cr_expect_str_eq(pool[jget(root, "activation")].text, "leaky_relu");
    cr_expect_eq(jnum(jget(root, "slope")), 0.2);
    tg_article_point p;
    tg_article_point_seed(&p, 5);
    int w1 = jget(root, "w1"), w2 = jget(root, "w2");
    cr_expect_eq(jnum(jat(jget(root, "x"), 0)), 0.5);
    cr_expect_eq(jnum(jat(jget(root, "x"), 1)), -0.25);
    cr_expect_eq(jnum(jget(root, "t")), 0.125);
    cr_expect_eq(jnum(jat(jat(w1, 0), 0)), 0.375);
    cr_expect_eq(jnum(jat(w2, 2)), -0.75);
    cr_expect_eq(jnum(jat(jat(w1, 1), 2)), p.w1[1][2]); /* unset: from seed 5 */
    cr_expect_eq(jnum(jat(w2, 0)), p.w2[0]);
    cr_expect_leq(jnum(jget(root, "max_abs_diff")), 1e-15);
}

Test(cli_article, steps_lower_E_and_add_the_descent)
{
    run *r = tapegrad("article --json --steps 5 --lr 0.5");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    int root = jparse(r->out);
    cr_assert_geq(root, 0, "%s", r->out);
    int es = jget(root, "E_steps");
    expect_array(es, 6, 0);
    cr_expect_eq(jnum(jat(es, 0)), jnum(jget(root, "E")));
    for (int k = 1; k < 6; k++) cr_expect_lt(jnum(jat(es, k)), jnum(jat(es, k - 1)));
    cr_expect_eq(pool[jget(root, "flips")].n, 0);
    int fin = jget(root, "final");
    cr_expect_eq(jnum(jget(fin, "E")), jnum(jat(es, 5)));
    cr_expect_leq(jnum(jget(fin, "max_abs_diff")), 1e-15);
}

Test(cli_article, relu_steps_report_the_kink_crossing)
{
    /* a1[3] = w11[2]*relu(w11[1]*x1) = 0.05 > t = 0; a step with lr 2 takes w11[1] below 0 */
    run *r = tapegrad("article --activation relu --steps 1 --lr 2 --at "
                      "'x1=1,x2=0,t=0,w11[1]=0.05,w12[1]=-1,w13[1]=-1,w21[1]=0,w22[1]=0,"
                      "w23[1]=0,w11[2]=1,w21[2]=0,w31[2]=0'");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_expect(strstr(r->out, "replay: relu 'a1[2]': branch changed") != NULL, "%s", r->out);
}

/* ---- the human tables ---- */

Test(cli_article, human_output_lists_every_weight_and_delta)
{
    run *r = tapegrad("article");
    cr_assert_eq(r->status, 0);
    cr_expect_str_empty(r->err);
    static const char *const rows[] = {"w11[1] ", "w12[1] ", "w13[1] ", "w21[1] ", "w22[1] ",
                                       "w23[1] ", "w11[2] ", "w21[2] ", "w31[2] ", "z1[3] ",
                                       "z1[2] ",  "z2[2] ",  "z3[2] "};
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char line[32];
        snprintf(line, sizeof line, "\n%s", rows[k]);
        cr_expect(strstr(r->out, line) != NULL, "no row for %s", rows[k]);
    }
    cr_expect(strstr(r->out, "dE/dw (tape)") && strstr(r->out, "dE/dw (formula)"));
    const char *tag = "max |tape - formula| over the 9 weights and 4 deltas: ";
    const char *m = strstr(r->out, tag);
    cr_assert_not_null(m, "%s", r->out);
    cr_expect_leq(strtod(m + strlen(tag), NULL), 1e-15);
}

Test(cli_article, help_exits_0)
{
    run *r = tapegrad("article --help");
    cr_expect_eq(r->status, 0);
    cr_expect(strncmp(r->out, "usage: tapegrad article", 23) == 0, "%s", r->out);
    r = tapegrad("--help");
    cr_expect_eq(r->status, 0);
    cr_expect(strstr(r->out, "article") != NULL);
}

/* ---- bad input: exit 2, nothing on stdout, one exact line on stderr ---- */

static void expect_bad(const char *args, const char *message)
{
    run *r = tapegrad(args);
    cr_expect_eq(r->status, 2, "tapegrad %s: exit %d", args, r->status);
    cr_expect_str_empty(r->out, "tapegrad %s printed on stdout: %s", args, r->out);
    char want[1024];
    snprintf(want, sizeof want, "%s\n", message);
    cr_expect_str_eq(r->err, want, "tapegrad %s", args);
}

Test(cli_article, unknown_activation_lists_the_valid_ones)
{
    expect_bad("article --activation softmax",
               "tapegrad: article: unknown activation 'softmax' (valid: sigmoid, tanh, relu, "
               "leaky_relu)");
}

Test(cli_article, malformed_at_names_the_item)
{
    expect_bad("article --at 'x1=0.5,w11[1]'",
               "tapegrad: article: --at: malformed item 'w11[1]' (expected NAME=VALUE)");
    expect_bad("article --at '=3'",
               "tapegrad: article: --at: malformed item '=3' (expected NAME=VALUE)");
    expect_bad("article --at 'x1=1,,t=0'",
               "tapegrad: article: --at: empty item in 'x1=1,,t=0' (expected NAME=VALUE,...)");
    expect_bad("article --at 'x1=1,x1=2'", "tapegrad: article: --at: 'x1' is given twice");
}

Test(cli_article, unknown_weight_name_is_named_with_the_valid_ones)
{
    expect_bad("article --at 'w14[1]=1'",
               "tapegrad: article: --at: unknown name 'w14[1]' (valid: x1, x2, t, w11[1], w12[1], "
               "w13[1], w21[1], w22[1], w23[1], w11[2], w21[2], w31[2])");
}

Test(cli_article, bad_numbers_are_named)
{
    expect_bad("article --at 'x1=1O'", "tapegrad: article: --at: x1: '1O' is not a finite number");
    expect_bad("article --at 'w21[2]=1e999'",
               "tapegrad: article: --at: w21[2]: '1e999' is not a finite number");
    expect_bad("article --lr fast", "tapegrad: article: --lr: 'fast' is not a finite number");
    expect_bad("article --slope=nan", "tapegrad: article: --slope: 'nan' is not a finite number");
    expect_bad("article --steps 2.5",
               "tapegrad: article: --steps: '2.5' is not an integer from 0 to 1000000");
    expect_bad("article --seed -1",
               "tapegrad: article: --seed: '-1' is not an integer from 0 to 18446744073709551615");
}

Test(cli_article, bad_usage_exits_2)
{
    expect_bad("article --steps", "tapegrad: article: --steps needs a value");
    expect_bad("article --frobnicate",
               "tapegrad: article: unknown option '--frobnicate' (see 'tapegrad article --help')");
    expect_bad("frobnicate", "tapegrad: unknown command 'frobnicate' (commands: article, grad, "
                               "check, plot, hess, train, compare, dot, codegen)");
    expect_bad("", "tapegrad: no command given (try 'tapegrad --help')");
}

/* ---- --program ---- */

/* The whole of a file, malloc'd (NULL if it cannot be read). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[16384];
    slurp(f, buf, sizeof buf);
    fclose(f);
    return strdup(buf);
}

/* s with every "from" replaced by "to", malloc'd. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t n = 0, lf = strlen(from), lt = strlen(to);
    for (const char *p = s; (p = strstr(p, from)); p += lf) n++;
    char *out = malloc(strlen(s) + n * lt + 1), *o = out;
    for (const char *p; (p = strstr(s, from)); s = p + lf) {
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, lt);
        o += lt;
    }
    strcpy(o, s);
    return out;
}

Test(cli_article, program_is_docs_examples_article_tg_byte_for_byte)
{
    run *r = tapegrad("article --program");
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    cr_expect_str_empty(r->err);
    char *file = read_file("docs/examples/article.tg");
    cr_assert_not_null(file, "no docs/examples/article.tg (run from the repository root)");
    cr_expect_str_eq(r->out, file, "docs/examples/article.tg is not what 'tapegrad article "
                     "--program' prints (regenerate it with that command)");
    free(file);
}

/* Every activation gets the same program: sigmoid's, with its calls "sigmoid(z)" made
 * "NAME(z)" (or "NAME(z, S)" for leaky_relu's slope) and the comment naming it. */
Test(cli_article, program_has_the_same_steps_for_every_activation)
{
    run *r = tapegrad("article --program");
    cr_assert_eq(r->status, 0);
    char *sigmoid = strdup(r->out);
    for (int i = 0; tg_article_activation_name(i); i++) {
        const char *act = tg_article_activation_name(i);
        char args[128], from[32], to[64], note[64];
        int leaky = strcmp(act, "leaky_relu") == 0;
        snprintf(args, sizeof args, "article --program --activation %s --slope 0.125", act);
        r = tapegrad(args);
        cr_assert_eq(r->status, 0, "%s: %s", args, r->err);
        snprintf(note, sizeof note, "g = %s%s.", act, leaky ? " with slope 0.125" : "");
        char *want = replace_all(sigmoid, "g = sigmoid.", note);
        const char *steps[] = {"z1[2]", "z2[2]", "z3[2]", "z1[3]"};
        for (int k = 0; k < 4; k++) {
            snprintf(from, sizeof from, "sigmoid(%s)", steps[k]);
            snprintf(to, sizeof to, leaky ? "%s(%s, 0.125)" : "%s(%s)", act, steps[k]);
            char *next = replace_all(want, from, to);
            free(want);
            want = next;
        }
        cr_expect_str_eq(r->out, want, "%s", args);
        free(want);
    }
    free(sigmoid);
}

Test(cli_article, program_writes_the_slope_in_its_shortest_exact_form)
{
    run *r = tapegrad("article --program --activation leaky_relu --slope 0.1");
    cr_assert_eq(r->status, 0);
    cr_expect(strstr(r->out, "a1[3] = leaky_relu(z1[3], 0.1)\n") != NULL, "%s", r->out);
    r = tapegrad("article --program --activation leaky_relu --slope 0.30000000000000004");
    cr_assert_eq(r->status, 0);
    cr_expect(strstr(r->out, "leaky_relu(z2[2], 0.30000000000000004)\n") != NULL, "%s", r->out);
}

Test(cli_article, program_refuses_the_options_of_the_tables)
{
    static const char *const others[] = {"--json", "--dot", "--explain 'w11[1]'", "-o g.dot",
                                         "--at x1=1", "--seed 3", "--lr 0.1", "--steps 2"};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
        char args[128], msg[256], name[16];
        snprintf(args, sizeof args, "article --program %s", others[k]);
        sscanf(others[k], "%15s", name);
        snprintf(msg, sizeof msg, "tapegrad: article: --program prints the network as a "
                 "program and takes only --activation and --slope (not %s)", name);
        expect_bad(args, msg);
    }
    expect_bad("article --program --activation softmax",
               "tapegrad: article: unknown activation 'softmax' (valid: sigmoid, tanh, relu, "
               "leaky_relu)");
}
