/* data.c - data sets for training: seeded generators (spirals, moons, XOR, a noisy curve), a
 * CSV reader that says where a bad cell is, the seeded train/test split and standardisation.
 * Reads files only when asked (tg_data_csv); prints nothing: a failure's message is left in
 * the tg_dataset being filled. See LICENSE. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad_nn.h"

#define PI 3.141592653589793

/* ---- random numbers ---- */

uint64_t tg_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tg_rng_uniform(uint64_t *s) { return (double)(tg_rng_next(s) >> 11) * 0x1.0p-53; }

double tg_rng_normal(uint64_t *s)
{
    double u = tg_rng_uniform(s), v = tg_rng_uniform(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * PI * v);
}

/* ---- generated sets ---- */

/* An empty set of n rows for the generator who; the message in ds when it fails. */
static tg_status alloc(tg_dataset *ds, const char *who, int n, int d, int classes)
{
    memset(ds, 0, sizeof *ds);
    if (n < 4) {
        snprintf(ds->error, sizeof ds->error, "%s: n = %d is too small (at least 4 points)",
                 who, n);
        return TG_ERR_ARG;
    }
    ds->X = malloc((size_t)n * d * sizeof *ds->X);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    if (!ds->X || !ds->y) {
        tg_data_free(ds);
        snprintf(ds->error, sizeof ds->error, "%s: out of memory", who);
        return TG_ERR_NOMEM;
    }
    ds->n = n;
    ds->d = d;
    ds->classes = classes;
    if (classes) snprintf(ds->task, sizeof ds->task, "classification into %d classes", classes);
    else snprintf(ds->task, sizeof ds->task, "regression");
    return TG_OK;
}

/* The spirals of docs/examples/mlp.c: radius 3 (at radius 1 tanh units see too small a range
 * and SGD sits on a plateau near 60%). */
tg_status tg_data_spirals(tg_dataset *ds, int n, uint64_t seed)
{
    tg_status st = alloc(ds, "tg_data_spirals", n, 2, 2);
    if (st) return st;
    int half = n / 2;
    for (int k = 0; k < n; k++) {
        int c = k < half ? 0 : 1, i = c ? k - half : k, m = c ? n - half : half;
        double t = 0.05 + 0.95 * i / (m > 1 ? m - 1 : 1);
        double a = 3.0 * PI * t + c * PI;
        ds->X[2 * k] = 3.0 * t * cos(a) + 0.05 * tg_rng_normal(&seed);
        ds->X[2 * k + 1] = 3.0 * t * sin(a) + 0.05 * tg_rng_normal(&seed);
        ds->y[k] = c;
    }
    return TG_OK;
}

tg_status tg_data_moons(tg_dataset *ds, int n, uint64_t seed)
{
    tg_status st = alloc(ds, "tg_data_moons", n, 2, 2);
    if (st) return st;
    int half = n / 2;
    for (int k = 0; k < n; k++) {
        int c = k < half ? 0 : 1;
        double a = PI * tg_rng_uniform(&seed);
        double x = c ? 1.0 - cos(a) : cos(a), y = c ? 0.5 - sin(a) : sin(a);
        ds->X[2 * k] = x + 0.1 * tg_rng_normal(&seed);
        ds->X[2 * k + 1] = y + 0.1 * tg_rng_normal(&seed);
        ds->y[k] = c;
    }
    return TG_OK;
}

tg_status tg_data_xor(tg_dataset *ds, int n, uint64_t seed)
{
    tg_status st = alloc(ds, "tg_data_xor", n, 2, 2);
    if (st) return st;
    for (int k = 0; k < n; k++) {
        double a = 2.0 * tg_rng_uniform(&seed) - 1.0, b = 2.0 * tg_rng_uniform(&seed) - 1.0;
        ds->X[2 * k] = a;
        ds->X[2 * k + 1] = b;
        ds->y[k] = (a > 0) != (b > 0);
    }
    return TG_OK;
}

tg_status tg_data_curve(tg_dataset *ds, int n, uint64_t seed)
{
    tg_status st = alloc(ds, "tg_data_curve", n, 1, 0);
    if (st) return st;
    for (int k = 0; k < n; k++) {
        double x = 6.0 * tg_rng_uniform(&seed) - 3.0;
        ds->X[k] = x;
        ds->y[k] = sin(x) + 0.3 * x + 0.1 * tg_rng_normal(&seed);
    }
    return TG_OK;
}

const char *tg_data_error(const tg_dataset *ds)
{
    if (!ds) return "data set is NULL";
    return ds->error[0] ? ds->error : NULL;
}

const char *tg_data_task(const tg_dataset *ds)
{
    return ds && ds->task[0] ? ds->task : NULL;
}

void tg_data_free(tg_dataset *ds)
{
    if (!ds) return;
    free(ds->X);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

/* ---- CSV ---- */

/* A growable array of doubles. */
typedef struct vec {
    double *v;
    size_t n, cap;
} vec;

static int push(vec *a, double x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        double *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* One line, without its newline, malloc'd into *buf. -1 at end of file, -2 out of memory. */
static long getline_(char **buf, size_t *cap, FILE *f)
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 2 > *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            char *b = realloc(*buf, nc);
            if (!b) return -2;
            *buf = b;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return -1;
    if (!*buf) {
        *buf = malloc(1);
        if (!*buf) return -2;
        *cap = 1;
    }
    if (n > 0 && (*buf)[n - 1] == '\r') n--;
    (*buf)[n] = '\0';
    return (long)n;
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

/* Parse one cell [s, e), *e being ',' or the line's end: 0 and *v, 1 not a number, 2 NaN.
 * strtod reads in place, whatever the cell's length: no number's text contains a ',', so it
 * stops at e at the latest. */
static int cell(const char *s, const char *e, double *v)
{
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (s == e) return 1;
    char *end;
    double x = strtod(s, &end);
    if (end != e) return 1;
    if (isnan(x)) return 2;
    if (isinf(x)) return 1;
    *v = x;
    return 0;
}

/* y with the fewest digits that read back as y ("0.1", not "0.10000000000000001"), an
 * integer in full ("2000000000", not "2e+09"). */
static const char *shortest(char *buf, size_t size, double y)
{
    if (y == floor(y) && fabs(y) < 1e17) {
        snprintf(buf, size, "%.0f", y);
        return buf;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, y);
        if (strtod(buf, NULL) == y) break;
    }
    return buf;
}

/* Classes or regression from the labels, and the reason in ds->task. real_line: the first
 * line whose label is not an integer (real_y), or 0; the largest label maxy is on max_line. */
static void choose_task(tg_dataset *ds, int real_line, double real_y, double miny, double maxy,
                        int max_line)
{
    char a[32], b[32], c[32];
    if (real_line) {
        ds->classes = 0;
        snprintf(ds->task, sizeof ds->task, "regression: the label on line %d, %s, is not an "
                 "integer", real_line, shortest(a, sizeof a, real_y));
    } else if (maxy + 1 > TG_DATA_MAX_CLASSES) {
        ds->classes = 0;
        snprintf(ds->task, sizeof ds->task, "regression: every label is an integer, but the "
                 "largest, %s on line %d, would make %s classes (at most %d)",
                 shortest(a, sizeof a, maxy), max_line, shortest(b, sizeof b, maxy + 1),
                 TG_DATA_MAX_CLASSES);
    } else {
        /* every label 0 is still two classes; a negative one stays a classification, so the
         * trainer can say which row is out of range */
        ds->classes = maxy < 1 ? 2 : (int)maxy + 1;
        snprintf(ds->task, sizeof ds->task, "classification into %d classes: every label is "
                 "an integer, from %s to %s", ds->classes, shortest(a, sizeof a, miny),
                 shortest(c, sizeof c, maxy));
    }
}

tg_status tg_data_csv_stream(tg_dataset *ds, FILE *f, const char *name)
{
    memset(ds, 0, sizeof *ds);
    vec all = {0};
    char *line = NULL;
    size_t cap = 0;
    int cols = 0, first_line = 0, lineno = 0, real_line = 0, max_line = 0;
    double real_y = 0, miny = 0, maxy = 0;
    tg_status st = TG_OK;
    long len;
    while ((len = getline_(&line, &cap, f)) != -1) {
        if (len == -2) {
            st = TG_ERR_NOMEM;
            snprintf(ds->error, sizeof ds->error, "%s: out of memory", name);
            goto done;
        }
        lineno++;
        if (blank(line)) continue;
        int col = 0, numeric = 0, may_head = cols == 0 && first_line == 0;
        const char *bad = NULL, *bad_end = NULL;
        size_t start = all.n;
        for (const char *p = line;; col++) {
            const char *e = p;
            while (*e && *e != ',') e++;
            double v = 0;
            int r = cell(p, e, &v);
            if (r == 2) {
                snprintf(ds->error, sizeof ds->error, "%s:%d:%d: NaN in the data", name, lineno,
                         (int)(p - line) + 1);
                st = TG_ERR_ARG;
                goto done;
            }
            if (r == 1 && !bad) {
                bad = p;
                bad_end = e;
            }
            if (r == 0) {
                numeric++;
                if (push(&all, v)) {
                    snprintf(ds->error, sizeof ds->error, "%s: out of memory", name);
                    st = TG_ERR_NOMEM;
                    goto done;
                }
            }
            if (!*e) break;
            p = e + 1;
        }
        /* a first line with no number in it is a header; any other non-number is an error */
        int header = bad && may_head && numeric == 0;
        if (bad && !header) {
            int w = (int)(bad_end - bad);
            snprintf(ds->error, sizeof ds->error, "%s:%d:%d: '%.*s' is not a number", name,
                     lineno, (int)(bad - line) + 1, w > 40 ? 40 : w, bad);
            st = TG_ERR_ARG;
            goto done;
        }
        col++;
        if (header) {
            all.n = start;
            first_line = lineno;
            continue;
        }
        if (col < 2) {
            snprintf(ds->error, sizeof ds->error,
                     "%s:%d: only one column (need features and a label)", name, lineno);
            st = TG_ERR_ARG;
            goto done;
        }
        if (cols == 0) {
            cols = col;
            first_line = lineno;
        } else if (col != cols) {
            snprintf(ds->error, sizeof ds->error, "%s:%d: %d columns, expected %d (as on line %d)",
                     name, lineno, col, cols, first_line);
            st = TG_ERR_ARG;
            goto done;
        }
        double y = all.v[all.n - 1]; /* the label */
        if (y != floor(y) && !real_line) {
            real_line = lineno;
            real_y = y;
        }
        if (!max_line || y < miny) miny = y;
        if (!max_line || y > maxy) {
            maxy = y;
            max_line = lineno;
        }
    }
    if (ferror(f)) {
        snprintf(ds->error, sizeof ds->error, "%s: read error", name);
        st = TG_ERR_ARG;
        goto done;
    }
    if (cols == 0) {
        snprintf(ds->error, sizeof ds->error, "%s: no data rows", name);
        st = TG_ERR_ARG;
        goto done;
    }
    {
        int n = (int)(all.n / (size_t)cols), d = cols - 1;
        ds->X = malloc((size_t)n * d * sizeof *ds->X);
        ds->y = malloc((size_t)n * sizeof *ds->y);
        if (!ds->X || !ds->y) {
            tg_data_free(ds);
            snprintf(ds->error, sizeof ds->error, "%s: out of memory", name);
            st = TG_ERR_NOMEM;
            goto done;
        }
        for (int i = 0; i < n; i++) {
            memcpy(ds->X + (size_t)i * d, all.v + (size_t)i * cols, (size_t)d * sizeof(double));
            ds->y[i] = all.v[(size_t)i * cols + d];
        }
        ds->n = n;
        ds->d = d;
        choose_task(ds, real_line, real_y, miny, maxy, max_line);
    }
done:
    free(line);
    free(all.v);
    return st;
}

tg_status tg_data_csv(tg_dataset *ds, const char *path)
{
    memset(ds, 0, sizeof *ds);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(ds->error, sizeof ds->error, "%s: cannot open (%s)", path, strerror(errno));
        return TG_ERR_ARG;
    }
    tg_status st = tg_data_csv_stream(ds, f, path);
    fclose(f);
    return st;
}

/* ---- split, standardise ---- */

/* A failed split: both parts empty, both holding the message. */
static tg_status split_fail(tg_dataset *train, tg_dataset *test, tg_status st, const char *why)
{
    tg_data_free(train);
    tg_data_free(test);
    snprintf(train->error, sizeof train->error, "tg_data_split: %s", why);
    snprintf(test->error, sizeof test->error, "tg_data_split: %s", why);
    return st;
}

tg_status tg_data_split(const tg_dataset *ds, double test_frac, uint64_t seed, tg_dataset *train,
                        tg_dataset *test)
{
    if (!train || !test) { /* the message goes to the half that was given, if one was */
        tg_dataset *half = train ? train : test;
        if (half) {
            memset(half, 0, sizeof *half);
            snprintf(half->error, sizeof half->error, "tg_data_split: %s is NULL",
                     train ? "test" : "train");
        }
        return TG_ERR_ARG;
    }
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    char why[96] = "";
    if (!ds) snprintf(why, sizeof why, "the data set is NULL");
    else if (ds->n < 2) snprintf(why, sizeof why, "n = %d is too small (at least 2 rows)", ds->n);
    else if (!(test_frac > 0 && test_frac < 1))
        snprintf(why, sizeof why, "test_frac is %g (must be above 0 and below 1)", test_frac);
    if (why[0]) return split_fail(train, test, TG_ERR_ARG, why);
    int n = ds->n, d = ds->d, nt = (int)lround(test_frac * n);
    if (nt < 1) nt = 1;
    if (nt > n - 1) nt = n - 1;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return split_fail(train, test, TG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(tg_rng_uniform(&seed) * (i + 1)), k = order[i];
        order[i] = order[j];
        order[j] = k;
    }
    tg_dataset *part[2] = {train, test};
    int count[2] = {n - nt, nt}, from = 0;
    for (int p = 0; p < 2; p++) {
        tg_dataset *o = part[p];
        o->X = malloc((size_t)count[p] * d * sizeof *o->X);
        o->y = malloc((size_t)count[p] * sizeof *o->y);
        if (!o->X || !o->y) {
            free(order);
            return split_fail(train, test, TG_ERR_NOMEM, "out of memory");
        }
        o->n = count[p];
        o->d = d;
        o->classes = ds->classes;
        memcpy(o->task, ds->task, sizeof o->task);
        for (int i = 0; i < count[p]; i++) {
            int r = order[from + i];
            memcpy(o->X + (size_t)i * d, ds->X + (size_t)r * d, (size_t)d * sizeof(double));
            o->y[i] = ds->y[r];
        }
        from += count[p];
    }
    free(order);
    return TG_OK;
}

void tg_data_standardize(tg_dataset *train, tg_dataset *test)
{
    if (!train || train->n < 1) return; /* no statistics to take: nothing changes */
    int d = train->d;
    for (int j = 0; j < d; j++) {
        double mean = 0, var = 0;
        for (int i = 0; i < train->n; i++) mean += train->X[(size_t)i * d + j];
        mean /= train->n;
        for (int i = 0; i < train->n; i++) {
            double u = train->X[(size_t)i * d + j] - mean;
            var += u * u;
        }
        double sd = sqrt(var / train->n), s = sd > 1e-12 ? 1.0 / sd : 1.0;
        tg_dataset *sets[2] = {train, test};
        for (int k = 0; k < 2; k++)
            if (sets[k] && sets[k]->d == d)
                for (int i = 0; i < sets[k]->n; i++) {
                    double *x = &sets[k]->X[(size_t)i * d + j];
                    *x = (*x - mean) * s;
                }
    }
}
