/* test_accuracy.c - every elementwise op's value, first and second derivative against the
 * 50-digit reference tests/data/accuracy.tsv (written by tests/accuracy/gen_reference.py), in
 * units in the last place, through every route a derivative takes: the value and the kept
 * partials (tg_backward), forward mode (tg_jvp), the recorded rules (tg_diff once and twice),
 * tg_hessian, and the same points as one tensor (row kernels; tg_diff and tg_hvp on it).
 * The bounds are docs/ops.md's accuracy table, which this test reads and enforces; it fails
 * too when the table's measured figures (or PyTorch's, from tests/data/accuracy_torch.tsv)
 * are not what it measures. TAPEGRAD_ACCURACY_TABLE=FILE writes the table it measured to FILE
 * (tests/accuracy/update_ops_md.sh puts it into docs/ops.md). See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <float.h>
#include <stdio.h>

#include "helpers.h"

#define REFERENCE "tests/data/accuracy.tsv"
#define TORCH "tests/data/accuracy_torch.tsv"
#define DOC "docs/ops.md"
#define BEGIN "<!-- accuracy table: begin -->"
#define END "<!-- accuracy table: end -->"
#define MAX_FORMS 64

/* ---- the reference ---- */

enum { K_NORMAL, K_ZERO, K_INF };

typedef struct ref_row {
    double x;
    double exact[3], rest[3]; /* f, f', f'': the nearest double h, the rest in ulp(h) */
    int kind[3];
} ref_row;

/* One op form: an op with one operand varying and the other (if any) a constant. */
typedef struct form {
    char op[32], label[48];
    int wrt, has_other;
    double other;
    int n, cap;
    ref_row *rows;
} form;

typedef struct reference {
    int n;
    form f[MAX_FORMS];
} reference;

/* "0.1+0.4u": the double h nearest the exact value, then the rest in units of ulp(h) =
 * 2^(ilogb(h) - 52) (none: 0). */
static void parse_exact(const char *s, double *v, double *rest, int *kind)
{
    char *end;
    *v = strtod(s, &end);
    *rest = *end ? strtod(end, NULL) : 0.0;
    *kind = isinf(*v) ? K_INF : *v == 0 ? K_ZERO : K_NORMAL;
}

/* "sigmoid", "pow(x, 2.5)", "pow(2, x)": how the table names a form (op as read). */
static void form_label(form *f, const char *op)
{
    if (!f->has_other)
        snprintf(f->label, sizeof f->label, "%s", op);
    else if (f->wrt == 0)
        snprintf(f->label, sizeof f->label, "%s(x, %g)", op, f->other);
    else
        snprintf(f->label, sizeof f->label, "%s(%g, x)", op, f->other);
}

static void read_reference(reference *r)
{
    FILE *fp = fopen(REFERENCE, "r");
    cr_assert_not_null(fp, "cannot open %s (run the tests from the source tree's root)",
                       REFERENCE);
    char line[512];
    memset(r, 0, sizeof *r);
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || strncmp(line, "op\t", 3) == 0) continue;
        char *save = NULL, *col[7];
        int k = 0;
        for (char *tok = strtok_r(line, "\t\n", &save); tok && k < 7;
             tok = strtok_r(NULL, "\t\n", &save))
            col[k++] = tok;
        cr_assert_eq(k, 7, "%s: a row of %d columns", REFERENCE, k);
        int wrt = atoi(col[1]), has_other = strcmp(col[2], "-") != 0;
        double other = has_other ? strtod(col[2], NULL) : 0.0;
        form *f = r->n ? &r->f[r->n - 1] : NULL;
        if (!f || strcmp(f->op, col[0]) || f->wrt != wrt || f->has_other != has_other ||
            f->other != other) {
            cr_assert_lt(r->n, MAX_FORMS, "%s: more than %d op forms", REFERENCE, MAX_FORMS);
            f = &r->f[r->n++];
            snprintf(f->op, sizeof f->op, "%s", col[0]);
            f->wrt = wrt, f->has_other = has_other, f->other = other;
            form_label(f, col[0]);
        }
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 256;
            f->rows = realloc(f->rows, (size_t)f->cap * sizeof *f->rows);
            cr_assert_not_null(f->rows);
        }
        ref_row *row = &f->rows[f->n++];
        row->x = strtod(col[3], NULL);
        for (int o = 0; o < 3; o++)
            parse_exact(col[4 + o], &row->exact[o], &row->rest[o], &row->kind[o]);
    }
    fclose(fp);
}

static void free_reference(reference *r)
{
    for (int i = 0; i < r->n; i++) free(r->f[i].rows);
}

/* ---- errors in ULPs ---- */

/* |got - exact| in units of the exact value's last place, exact = hi + rest ulp(hi), in
 * double arithmetic alone (got - hi is exact when they are close), so it measures the same
 * under valgrind, whose long double is a double. Where the exact value is not a normal double
 * (0 below the normal range, +-inf beyond the largest) the answer must be exactly that: 0
 * error, else infinite. The rest's 3 decimals resolve 1/1000 ULP: less is taken as 0. */
static double ulp_error(double got, double hi, double rest, int kind)
{
    if (kind != K_NORMAL) return got == hi ? 0.0 : INFINITY;
    if (!isfinite(got)) return INFINITY;
    int ex;
    double ulp = ldexp(1.0, ilogb(hi) - 52), e = fabs((got - hi) / ulp - rest);
    if (fabs(frexp(hi, &ex)) == 0.5 && (rest < 0) == (hi > 0))
        e *= 2; /* hi is a power of two, the exact value below it in magnitude: half the ulp */
    return e < 1e-3 ? 0.0 : e;
}

/* The routes to each order. */
enum {
    R_VALUE, R_TENSOR_VALUE,                                   /* f */
    R_BACKWARD, R_JVP, R_DIFF, R_TENSOR_BACKWARD, R_TENSOR_JVP, R_TENSOR_DIFF, /* f' */
    R_DIFF2, R_HESSIAN, R_TENSOR_DIFF2, R_TENSOR_HVP,          /* f'' */
    NROUTES
};
static const char *const route_name[NROUTES] = {
    "value", "tensor value", "tg_backward", "tg_jvp", "tg_diff", "tensor tg_backward",
    "tensor tg_jvp", "tensor tg_diff", "tg_diff twice", "tg_hessian", "tensor tg_diff twice",
    "tensor tg_hvp"};
static const int route_order[NROUTES] = {0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2};

typedef struct measure {
    double worst[3];        /* the largest error of each order, over every route */
    double at[3];           /* where */
    int route[3];           /* and by which route */
    double route_worst[NROUTES];
    double normal[3];       /* the largest error where the exact value is a normal double */
    int wrong[3];           /* points where it is not and the answer is not exactly 0 or inf */
} measure;

static void note(measure *m, int route, const ref_row *row, double got)
{
    int o = route_order[route];
    double e = ulp_error(got, row->exact[o], row->rest[o], row->kind[o]);
    if (e > m->route_worst[route] || isnan(e)) m->route_worst[route] = e;
    if (row->kind[o] == K_NORMAL && e > m->normal[o]) m->normal[o] = e;
    if (row->kind[o] != K_NORMAL && e != 0) m->wrong[o]++;
    if (e > m->worst[o] || (isinf(e) && !isinf(m->worst[o]))) {
        m->worst[o] = e;
        m->at[o] = row->x;
        m->route[o] = route;
    }
}

/* ---- measuring one form ---- */

static tg_var apply_form(const form *f, tg_var x, tg_var c)
{
    const tg_op_def *op = tg_registry_find(NULL, f->op);
    cr_assert_not_null(op, "%s: the reference names op '%s', which is not registered",
                       REFERENCE, f->op);
    cr_assert_eq(op->arity, f->has_other ? 2 : 1, "%s: %d operands in the reference",
                 f->op, f->has_other ? 2 : 1);
    tg_var in[2] = {x, c};
    if (f->wrt == 1) in[0] = c, in[1] = x;
    return tg_apply(op, op->arity, in);
}

static void measure_scalars(const form *f, measure *m, tg_tape *t)
{
    for (int i = 0; i < f->n; i++) {
        const ref_row *row = &f->rows[i];
        tg_tape_reset(t);
        tg_var p = tg_param(t, row->x), c = tg_const(t, f->other);
        tg_var y = apply_form(f, p, c);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s at %.17g: %s", f->label, row->x,
                     tg_tape_error(t));
        note(m, R_VALUE, row, tg_value(y));
        cr_assert_eq(tg_backward(y), TG_OK, "%s: %s", f->label, tg_tape_error(t));
        note(m, R_BACKWARD, row, tg_gradient(p));
        double one = 1.0;
        cr_assert_eq(tg_jvp(t, 1, &p, &one), TG_OK, "%s: %s", f->label, tg_tape_error(t));
        note(m, R_JVP, row, tg_tangent(y));
        tg_var d1 = tg_diff(y, p), d2 = tg_diff(d1, p);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s at %.17g: %s", f->label, row->x,
                     tg_tape_error(t));
        note(m, R_DIFF, row, tg_value(d1));
        note(m, R_DIFF2, row, tg_value(d2));
        double h;
        cr_assert_eq(tg_hessian(y, 1, &p, &h), TG_OK, "%s: %s", f->label, tg_tape_error(t));
        note(m, R_HESSIAN, row, h);
    }
}

static void measure_tensor(const form *f, measure *m, tg_tape *t)
{
    int n = f->n;
    double *x = malloc((size_t)n * sizeof *x), *ones = malloc((size_t)n * sizeof *ones);
    double *hv = malloc((size_t)n * sizeof *hv);
    cr_assert(x && ones && hv);
    for (int i = 0; i < n; i++) x[i] = f->rows[i].x, ones[i] = 1.0;
    tg_tape_reset(t);
    tg_var p = tg_tensor_param(t, 1, &n, x), c = tg_const(t, f->other);
    tg_var y = apply_form(f, p, c), s = tg_sum(y);
    cr_assert_eq(tg_backward(s), TG_OK, "%s (tensor): %s", f->label, tg_tape_error(t));
    const double *v = tg_data(y), *g = tg_gradient_data(p);
    for (int i = 0; i < n; i++) {
        note(m, R_TENSOR_VALUE, &f->rows[i], v[i]);
        note(m, R_TENSOR_BACKWARD, &f->rows[i], g[i]);
    }
    cr_assert_eq(tg_jvp(t, 1, &p, ones), TG_OK, "%s (tensor): %s", f->label, tg_tape_error(t));
    const double *dy = tg_tangent_data(y);
    for (int i = 0; i < n; i++) note(m, R_TENSOR_JVP, &f->rows[i], dy[i]);
    tg_var d1 = tg_diff(s, p), d2 = tg_diff(tg_sum(d1), p);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s (tensor): %s", f->label, tg_tape_error(t));
    const double *v1 = tg_data(d1);
    for (int i = 0; i < n; i++) note(m, R_TENSOR_DIFF, &f->rows[i], v1[i]);
    const double *v2 = tg_data(d2);
    for (int i = 0; i < n; i++) note(m, R_TENSOR_DIFF2, &f->rows[i], v2[i]);
    cr_assert_eq(tg_hvp(s, 1, &p, ones, (size_t)n, hv), TG_OK, "%s (tensor): %s", f->label,
                 tg_tape_error(t));
    for (int i = 0; i < n; i++) note(m, R_TENSOR_HVP, &f->rows[i], hv[i]);
    free(x), free(ones), free(hv);
}

/* ---- the table in docs/ops.md ---- */

/* An error as the table shows it: 0, 0.4, 12, 3.1e+12; "wrong" for 0 or inf where the exact
 * value is not 0 or inf (or the reverse). */
static void show(double e, char *buf, size_t size)
{
    if (isinf(e) || isnan(e))
        snprintf(buf, size, "wrong");
    else if (e == 0)
        snprintf(buf, size, "0");
    else if (e < 10)
        snprintf(buf, size, "%.1f", e);
    else if (e < 1e4)
        snprintf(buf, size, "%.0f", e);
    else
        snprintf(buf, size, "%.1e", e);
}

/* A figure read back from the table: "wrong" is infinite, "—" (none) or anything else that
 * is not a number NaN. */
static double read_figure(const char *s)
{
    while (*s == ' ') s++;
    if (strncmp(s, "wrong", 5) == 0) return INFINITY;
    char *end;
    double v = strtod(s, &end);
    return end == s ? NAN : v;
}

/* A bound read back from the table: a number, "–" for none (third order of a derivative op:
 * infinite), anything else NaN (no bound yet: the test fails until one is chosen). */
static double read_bound(char **s)
{
    while (**s == ' ' || **s == '/') (*s)++;
    if (strncmp(*s, "–", strlen("–")) == 0) {
        *s += strlen("–");
        return INFINITY;
    }
    char *end;
    double v = strtod(*s, &end);
    if (end == *s) {
        while (**s && **s != '/') (*s)++;
        return NAN;
    }
    *s = end;
    return v;
}

static void show_bound(double b, char *buf, size_t size)
{
    if (isinf(b))
        snprintf(buf, size, "–");
    else if (isnan(b))
        snprintf(buf, size, "?");
    else
        snprintf(buf, size, "%g", b);
}

/* Two figures agree when they are within 0.1 ULP (or 5%: the table shows two digits) of each
 * other. */
static int same_figure(double doc, double got)
{
    if (isnan(doc) || isnan(got)) return 0;
    if (isinf(doc) || isinf(got)) return isinf(doc) && isinf(got);
    return fabs(doc - got) <= fmax(0.1, 0.05 * got);
}

typedef struct doc_row {
    char label[48];
    double fig[3], bound[3], torch[3];
} doc_row;

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    cr_assert_not_null(s);
    size_t got = fread(s, 1, (size_t)len, fp);
    s[got] = '\0';
    fclose(fp);
    return s;
}

/* The rows of the accuracy table: "| label | points | f | f' | f'' | bf / bf' / bf'' | torch
 * f | torch f' | torch f'' |". Returns how many. */
static int read_doc(doc_row *rows, int max)
{
    char *doc = slurp(DOC);
    cr_assert_not_null(doc, "cannot open %s", DOC);
    char *b = strstr(doc, BEGIN), *e = b ? strstr(b, END) : NULL;
    int n = 0;
    if (!b || !e) {
        free(doc);
        return -1;
    }
    *e = '\0';
    for (char *line = strchr(b, '\n'); line && n < max; line = strchr(line + 1, '\n')) {
        char *l = line + 1;
        if (strncmp(l, "| ", 2) != 0 || strncmp(l, "| op ", 5) == 0 || strncmp(l, "| ---", 5) == 0)
            continue;
        char *end = strchr(l, '\n');
        char buf[512];
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, l, len);
        buf[len] = '\0';
        char *cell[10], *save = NULL;
        int k = 0;
        for (char *tok = strtok_r(buf, "|", &save); tok && k < 10; tok = strtok_r(NULL, "|", &save))
            cell[k++] = tok;
        if (k < 9) continue;
        doc_row *r = &rows[n++];
        char *lab = cell[0];
        while (*lab == ' ') lab++;
        size_t ll = strlen(lab);
        while (ll && lab[ll - 1] == ' ') lab[--ll] = '\0';
        snprintf(r->label, sizeof r->label, "%s", lab);
        for (int o = 0; o < 3; o++) r->fig[o] = read_figure(cell[2 + o]);
        char *bs = cell[5];
        for (int o = 0; o < 3; o++) r->bound[o] = read_bound(&bs);
        for (int o = 0; o < 3; o++) r->torch[o] = read_figure(cell[6 + o]);
    }
    free(doc);
    return n;
}

/* PyTorch's figures (tests/accuracy/torch_reference.py): "label<TAB>order<TAB>max ulp". */
static int read_torch(const char *label, double *fig)
{
    char *s = slurp(TORCH);
    int found = 0;
    for (int o = 0; o < 3; o++) fig[o] = NAN;
    if (!s) return 0;
    for (char *line = s; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (*line == '#') continue;
        char lab[48];
        int order;
        char val[32];
        if (sscanf(line, "%47[^\t]\t%d\t%31s", lab, &order, val) == 3 && strcmp(lab, label) == 0 &&
            order >= 0 && order < 3) {
            fig[order] = read_figure(val);
            found++;
        }
    }
    free(s);
    return found == 3;
}

/* ---- the test ---- */

Test(accuracy, every_elementwise_op_to_its_bound_against_the_reference, .timeout = 300)
{
    static reference ref;
    static measure m[MAX_FORMS];
    static doc_row doc[MAX_FORMS];
    read_reference(&ref);
    cr_assert_gt(ref.n, 0, "%s holds no rows", REFERENCE);
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t);
    for (int i = 0; i < ref.n; i++) {
        memset(&m[i], 0, sizeof m[i]);
        measure_scalars(&ref.f[i], &m[i], t);
        measure_tensor(&ref.f[i], &m[i], t);
    }
    tg_tape_free(t);

    /* the table as measured, for the log and for TAPEGRAD_ACCURACY_TABLE */
    char table[MAX_FORMS * 256];
    size_t len = (size_t)snprintf(table, sizeof table,
                                  "| op | points | f | f′ | f″ | bound f / f′ / f″ | PyTorch f | "
                                  "PyTorch f′ | PyTorch f″ |\n| --- | ---: | ---: | ---: | ---: "
                                  "| :---: | ---: | ---: | ---: |\n");
    int ndoc = read_doc(doc, MAX_FORMS);
    for (int i = 0; i < ref.n; i++) {
        const form *f = &ref.f[i];
        const doc_row *d = NULL;
        for (int k = 0; k < ndoc; k++)
            if (strcmp(doc[k].label, f->label) == 0) d = &doc[k];
        double torch[3];
        int have_torch = read_torch(f->label, torch);
        char fig[3][24], tf[3][24], b[3][16], bound[64] = "? / ? / ?";
        for (int o = 0; o < 3; o++) {
            show(m[i].worst[o], fig[o], sizeof fig[o]);
            if (have_torch)
                show(torch[o], tf[o], sizeof tf[o]);
            else
                snprintf(tf[o], sizeof tf[o], "—");
            show_bound(d ? d->bound[o] : NAN, b[o], sizeof b[o]);
        }
        snprintf(bound, sizeof bound, "%s / %s / %s", b[0], b[1], b[2]);
        len += (size_t)snprintf(table + len, sizeof table - len,
                                "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", f->label,
                                f->n, fig[0], fig[1], fig[2], bound, tf[0], tf[1], tf[2]);
        for (int o = 0; o < 3; o++)
            cr_log_info("%-20s f%-2s max %8.3g ULP at x = %.17g (%s); %.3g where the exact "
                        "value is normal, %d answers not 0 or inf where it is", f->label,
                        o == 0 ? "" : o == 1 ? "'" : "''", m[i].worst[o], m[i].at[o],
                        route_name[m[i].route[o]], m[i].normal[o], m[i].wrong[o]);
        if (!d) {
            cr_expect(0, "%s: no row for %s in %s's accuracy table", f->label, f->label, DOC);
            continue;
        }
        for (int o = 0; o < 3; o++) {
            cr_expect(!isnan(d->bound[o]), "%s: %s states no bound for f%s", f->label, DOC,
                      o == 0 ? "" : o == 1 ? "'" : "''");
            cr_expect(isnan(d->bound[o]) || m[i].worst[o] <= d->bound[o], "%s: f%s is off by "
                      "%.3g ULP at x = %.17g (%s), above its bound %g", f->label,
                      o == 0 ? "" : o == 1 ? "'" : "''", m[i].worst[o], m[i].at[o],
                      route_name[m[i].route[o]], d->bound[o]);
            cr_expect(same_figure(d->fig[o], m[i].worst[o]), "%s: %s says f%s is off by %g ULP, "
                      "measured %.3g (TAPEGRAD_ACCURACY_TABLE=FILE writes the table)", f->label,
                      DOC, o == 0 ? "" : o == 1 ? "'" : "''", d->fig[o], m[i].worst[o]);
            if (have_torch)
                cr_expect(same_figure(d->torch[o], torch[o]), "%s: %s quotes PyTorch's f%s as "
                          "%g ULP, %s says %g", f->label, DOC, o == 0 ? "" : o == 1 ? "'" : "''",
                          d->torch[o], TORCH, torch[o]);
            else
                cr_expect(isnan(d->torch[o]), "%s: %s quotes a PyTorch figure, %s has none",
                          f->label, DOC, TORCH);
        }
    }
    cr_expect_eq(ndoc, ref.n, "%s's accuracy table has %d rows, the reference %d forms", DOC,
                 ndoc, ref.n);
    const char *out = getenv("TAPEGRAD_ACCURACY_TABLE");
    if (out) {
        FILE *fp = fopen(out, "w");
        cr_assert_not_null(fp, "cannot write %s", out);
        fputs(table, fp);
        fclose(fp);
    }
    free_reference(&ref);
}

/* docs/ops.md's points where PyTorch loses digits: tapegrad's answers there are what it
 * answers (as `grad --order 2` takes them: tg_diff once and twice), to the last bit. */
Test(accuracy, the_points_docs_ops_md_quotes_are_what_tapegrad_answers)
{
    char *doc = slurp(DOC);
    cr_assert_not_null(doc, "cannot open %s", DOC);
    char *b = strstr(doc, "<!-- accuracy points: begin -->");
    char *e = b ? strstr(b, "<!-- accuracy points: end -->") : NULL;
    cr_assert(b && e, "%s has no accuracy points table", DOC);
    *e = '\0';
    int checked = 0;
    tg_tape *t = tg_tape_new();
    for (char *l = strchr(b, '\n'); l; l = strchr(l + 1, '\n')) {
        char name[32], quote[40];
        int len = 0;
        if (sscanf(l + 1, "| %31[a-z_]%n", name, &len) != 1) continue;
        const char *p = l + 1 + len;
        int order = 0; /* the primes after the name; the header row has none and no '(' */
        for (; strncmp(p, "′", strlen("′")) == 0 || strncmp(p, "″", strlen("″")) == 0;
             p += strlen("′"))
            order += strncmp(p, "″", strlen("″")) == 0 ? 2 : 1;
        if (*p != '(') continue;
        double x = strtod(p + 1, NULL);
        const char *cell = strchr(strchr(p, '|') + 1, '|'); /* past the exact value */
        cr_assert(cell && sscanf(cell, "| %39s", quote) == 1, "%s: a row without tapegrad's "
                  "answer", name);
        const tg_op_def *op = tg_registry_find(NULL, name);
        cr_assert_not_null(op, "%s quotes op '%s', which is not registered", DOC, name);
        tg_tape_reset(t);
        tg_var v = tg_param(t, x), y = tg_apply(op, 1, &v);
        for (int k = 0; k < order; k++) y = tg_diff(y, v);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s: %s", name, tg_tape_error(t));
        double want = strtod(quote, NULL), got = tg_value(y);
        cr_expect(memcmp(&want, &got, sizeof got) == 0, "%s quotes %s order %d at %.17g as %s; "
                  "tapegrad answers %.17g", DOC, name, order, x, quote, got);
        checked++;
    }
    cr_expect_geq(checked, 10, "only %d points read from %s", checked, DOC);
    tg_tape_free(t);
    free(doc);
}

/* ---- singular points ---- */

/* Up to max numbers of a table cell ("0, -inf, 1"): how many. */
static int read_numbers(const char *cell, double *v, int max)
{
    int n = 0;
    for (const char *p = cell; *p && n < max;) {
        while (*p == ' ' || *p == ',') p++;
        char *end;
        double x = strtod(p, &end);
        if (end == p) break;
        v[n++] = x;
        p = end;
    }
    return n;
}

/* The same answer: NaN for NaN, the same infinity, and zeros of either sign alike. */
static int same_answer(double got, double want)
{
    if (isnan(want)) return isnan(got);
    return got == want;
}

/* docs/ops.md's singular points: every number there is what every route answers. */
Test(accuracy, singular_points_answer_the_documented_choice_by_every_route)
{
    char *doc = slurp(DOC);
    cr_assert_not_null(doc, "cannot open %s", DOC);
    char *b = strstr(doc, "<!-- singular points: begin -->");
    char *e = b ? strstr(b, "<!-- singular points: end -->") : NULL;
    cr_assert(b && e, "%s has no singular points table", DOC);
    *e = '\0';
    int rows = 0;
    tg_tape *t = tg_tape_new();
    for (char *l = strchr(b, '\n'); l; l = strchr(l + 1, '\n')) {
        char line[512], *cell[8], *save = NULL;
        size_t len = strcspn(l + 1, "\n");
        if (strncmp(l + 1, "| ", 2) || len >= sizeof line) continue;
        memcpy(line, l + 1, len);
        line[len] = '\0';
        int k = 0;
        for (char *tok = strtok_r(line, "|", &save); tok && k < 8; tok = strtok_r(NULL, "|", &save))
            cell[k++] = tok;
        char name[32];
        if (k < 5 || sscanf(cell[0], " %31s", name) != 1) continue;
        const tg_op_def *op = tg_registry_find(NULL, name);
        if (!op) continue; /* the header */
        int n = op->arity;
        double at[2], f, grad[2], hess[4];
        cr_assert(read_numbers(cell[1], at, 2) == n && read_numbers(cell[2], &f, 1) == 1 &&
                  read_numbers(cell[3], grad, 2) == n && read_numbers(cell[4], hess, 4) == n * n,
                  "%s: the row for %s does not give %d operands, f, %d partials and %d second "
                  "derivatives", DOC, name, n, n, n * n);
        char where[96];
        snprintf(where, sizeof where, "%s(%g%s%g)", name, at[0], n > 1 ? ", " : "",
                 n > 1 ? at[1] : 0.0);
        tg_tape_reset(t);
        tg_var p[2], d[2];
        for (int j = 0; j < n; j++) p[j] = tg_param(t, at[j]);
        tg_var y = tg_apply(op, n, p);
        cr_expect(same_answer(tg_value(y), f), "%s = %.17g, %s says %g", where, tg_value(y), DOC,
                  f);
        cr_assert_eq(tg_backward(y), TG_OK, "%s: %s", where, tg_tape_error(t));
        for (int j = 0; j < n; j++)
            cr_expect(same_answer(tg_gradient(p[j]), grad[j]), "%s: tg_backward's d/dx%d is "
                      "%.17g, %s says %g", where, j + 1, tg_gradient(p[j]), DOC, grad[j]);
        for (int j = 0; j < n; j++) {
            double dir[2] = {j == 0, j == 1};
            cr_assert_eq(tg_jvp(t, n, p, dir), TG_OK, "%s: %s", where, tg_tape_error(t));
            cr_expect(same_answer(tg_tangent(y), grad[j]), "%s: tg_jvp's d/dx%d is %.17g, %s "
                      "says %g", where, j + 1, tg_tangent(y), DOC, grad[j]);
        }
        for (int j = 0; j < n; j++) {
            d[j] = tg_diff(y, p[j]);
            cr_expect(same_answer(tg_value(d[j]), grad[j]), "%s: tg_diff's d/dx%d is %.17g, %s "
                      "says %g", where, j + 1, tg_value(d[j]), DOC, grad[j]);
        }
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                double got = tg_value(tg_diff(d[j], p[i]));
                cr_expect(same_answer(got, hess[j * n + i]), "%s: tg_diff twice, d2/dx%d dx%d, "
                          "is %.17g, %s says %g", where, j + 1, i + 1, got, DOC, hess[j * n + i]);
            }
        double h[4];
        cr_assert_eq(tg_hessian(y, n, p, h), TG_OK, "%s: %s", where, tg_tape_error(t));
        for (int q = 0; q < n * n; q++)
            cr_expect(same_answer(h[q], hess[q]), "%s: tg_hessian[%d][%d] is %.17g, %s says %g",
                      where, q / n, q % n, h[q], DOC, hess[q]);
        rows++;
    }
    cr_expect_geq(rows, 10, "only %d singular points read from %s", rows, DOC);
    tg_tape_free(t);
    free(doc);
}

/* Every elementwise op of one operand is in the reference (an op added without its line in
 * tests/accuracy/gen_reference.py fails here), and so are the binary ones that have tails
 * (the rest are exact or select: add, sub, mul0, where, minimum, maximum, clamp and the
 * comparisons). */
Test(accuracy, every_elementwise_op_with_tails_is_in_the_reference)
{
    static reference ref;
    read_reference(&ref);
    static const char *const exact[] = {"add", "sub",     "mul0", "where", "minimum",
                                        "maximum", "clamp", "lt",   "le",    "gt", "ge"};
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->eval || op->infer) continue;
        int skip = 0;
        for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++)
            skip |= !strcmp(op->name, exact[k]);
        if (skip) continue;
        int found = 0;
        for (int f = 0; f < ref.n; f++) found |= !strcmp(ref.f[f].op, op->name);
        cr_expect(found, "op '%s' has no rows in %s: add its line to tests/accuracy/"
                  "gen_reference.py's OPS", op->name, REFERENCE);
    }
    free_reference(&ref);
}

/* sigmoid's cut-off is a test on x, not on the result: |x| > 708.3964185322641, the largest
 * double below 1022 ln 2. There y(-x) and y'(+-x) must still be normal, and one double
 * further they must be exactly 0 (and y(x) exactly 1); nowhere between may either answer a
 * subnormal, whatever the libm's last bit. NaN stays NaN, the infinities answer the limits. */
Test(accuracy, sigmoid_cuts_off_exactly_where_it_leaves_the_normal_range)
{
    const double xa = 0x1.6232bdd7abcd2p+9, xb = nextafter(xa, INFINITY);
    cr_assert_lt(xa, 1022 * log(2.0) + 1e-12);
    double d, y;
    for (int s = -1; s <= 1; s += 2) {
        y = tg_op_sigmoid.eval((double[]){s * xa}, &d);
        cr_expect(isnormal(d), "sigmoid'(%.17g) = %g is not a normal double", s * xa, d);
        cr_expect(s > 0 ? y == 1.0 : isnormal(y), "sigmoid(%.17g) = %g", s * xa, y);
        y = tg_op_sigmoid.eval((double[]){s * xb}, &d);
        cr_expect(d == 0.0 && !signbit(d), "sigmoid'(%.17g) = %g, not 0", s * xb, d);
        cr_expect(y == (s > 0 ? 1.0 : 0.0), "sigmoid(%.17g) = %g", s * xb, y);
        y = tg_op_sigmoid.eval((double[]){s * INFINITY}, &d);
        cr_expect(d == 0.0 && y == (s > 0 ? 1.0 : 0.0), "sigmoid(%g) = %g, sigmoid' %g",
                  s * INFINITY, y, d);
    }
    for (int k = 0; k <= 20000; k++) { /* the tails, 1e-3 apart, and past them */
        const double x = -720 + 1e-3 * k * 1.000001;
        y = tg_op_sigmoid.eval((double[]){x}, &d);
        cr_assert(y == 0.0 || isnormal(y), "sigmoid(%.17g) = %g is subnormal", x, y);
        cr_assert(d == 0.0 || isnormal(d), "sigmoid'(%.17g) = %g is subnormal", x, d);
        y = tg_op_sigmoid.eval((double[]){-x}, &d);
        cr_assert(d == 0.0 || isnormal(d), "sigmoid'(%.17g) = %g is subnormal", -x, d);
    }
    y = tg_op_sigmoid.eval((double[]){NAN}, &d);
    cr_expect(isnan(y) && isnan(d), "sigmoid(NaN) = %g, sigmoid' %g", y, d);
}
