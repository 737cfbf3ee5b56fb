/* helpers.h - shared by the Criterion suites: a seeded RNG (no global state), a counting and
 * failure-injecting allocator for tg_tape_new_with, tolerance checks, and the registry walker's
 * interface (defined in test_gradcheck.c, also run by test_registry.c on user ops).
 * See LICENSE. */
#ifndef TAPEGRAD_TEST_HELPERS_H
#define TAPEGRAD_TEST_HELPERS_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef TG_THREADS_STANDALONE /* the TSan build of test_threads.c runs without Criterion */
#include <criterion/criterion.h>
#endif

#include "tapegrad.h"
#include "tapegrad_article.h"
#include "tapegrad_expr.h"
#include "tapegrad_op.h"

/* ---- random numbers: splitmix64, state passed explicitly ---- */

typedef struct th_rng {
    uint64_t s;
} th_rng;

static inline th_rng th_rng_new(uint64_t seed)
{
    th_rng r = {seed ^ 0x9e3779b97f4a7c15ull};
    return r;
}

static inline uint64_t th_next(th_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double th_uniform(th_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(th_next(r) >> 11) * 0x1.0p-53);
}

/* A seed from a name (FNV-1a), so each op gets its own reproducible stream. */
static inline uint64_t th_seed(const char *name, uint64_t salt)
{
    uint64_t h = 1469598103934665603ull ^ salt;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h;
}

/* ---- tolerances ---- */

/* |a - b| <= atol + rtol*max(|a|, |b|); NaN never agrees unless both are NaN. */
static inline int th_close(double a, double b, double rtol, double atol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= atol + rtol * fmax(fabs(a), fabs(b));
}

/* ---- compiled against interpreted (tg_compile) ---- */

#ifndef TG_THREADS_STANDALONE
/* Skip the test when this machine has no C compiler, saying so. */
static inline void th_need_cc(void)
{
    tg_tape *t = tg_tape_new();
    tg_compile_opts o = {.cache_dir = ""};
    tg_compiled *c = tg_compile(tg_param(t, 1.0), &o);
    char why[400] = "";
    if (!c) snprintf(why, sizeof why, "%s", tg_tape_error(t));
    tg_compiled_free(c);
    tg_tape_free(t);
    if (!c && strstr(why, "no C compiler")) cr_skip_test("skipped: %s", why);
    cr_assert_str_empty(why, "tg_compile of a leaf failed: %s", why);
}

/* The same bits, or both NaN. */
static inline int th_same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Tapes a (run compiled) and b (interpreted) hold the same recording: every node up to out
 * has the same values and gradients, element by element, and the replay notes agree. */
static inline void th_expect_same_tensors(tg_tape *a, tg_tape *b, tg_var out, const char *what)
{
    for (uint32_t i = 0; i <= out.index; i++) {
        tg_var va = {a, i, out.epoch}, vb = {b, i, out.epoch};
        size_t n = tg_numel(vb);
        const double *xa = tg_data(va), *xb = tg_data(vb);
        const double *ga = tg_gradient_data(va), *gb = tg_gradient_data(vb);
        cr_assert_eq(!ga, !gb, "%s: node %u reached in one sweep only", what, i);
        for (size_t k = 0; k < n; k++) {
            cr_assert(xa && xb && th_same(xa[k], xb[k]), "%s: node %u element %zu: value "
                      "%.17g compiled, %.17g interpreted", what, i, k, xa ? xa[k] : NAN,
                      xb ? xb[k] : NAN);
            cr_assert(!ga || th_same(ga[k], gb[k]), "%s: node %u element %zu: gradient "
                      "%.17g compiled, %.17g interpreted", what, i, k, ga[k], gb[k]);
        }
    }
    const char *na = tg_replay_note(a), *nb = tg_replay_note(b);
    cr_expect(na == nb || (na && nb && !strcmp(na, nb)), "%s: replay notes '%s' and '%s'", what,
              na ? na : "(none)", nb ? nb : "(none)");
}
#endif

/* ---- an op's domain ---- */

/* Whether op records at operands x: 1 unless its check kernel refuses them (clamp: lo > hi).
 * Tests drawing random operands take a refused point as outside the op's domain, as they
 * take a point where the value is not finite. */
static inline int th_op_admits(const tg_op_def *op, const double *x)
{
    char msg[200];
    return !op->check || op->check(x, msg, sizeof msg) == TG_OK;
}

/* ---- a counting allocator for tg_tape_new_with ----
 * Every block carries a header holding its size, so a free or realloc whose osize does not
 * match the block is counted (bad_osize). fail_at = k refuses the k-th allocating call
 * (nsize > 0); with fail_after also set, every allocating call from the k-th on fails. */

typedef struct th_alloc {
    size_t calls;       /* every call, frees included */
    size_t alloc_calls; /* calls with nsize > 0 */
    size_t fail_at;     /* 1-based index of the allocating call to refuse; 0: never */
    int fail_after;     /* refuse every allocating call from fail_at on */
    size_t failures;    /* calls refused */
    size_t allocated;   /* bytes handed out (a realloc counts its new size) */
    size_t freed;       /* bytes returned (a realloc counts its old size) */
    long long live;     /* allocated - freed */
    size_t bad_osize;   /* frees/reallocs whose osize was not the block's size */
} th_alloc;

#define TH_HDR 16

static inline void *th_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    th_alloc *a = ud;
    char *h = ptr ? (char *)ptr - TH_HDR : NULL;
    size_t old = 0;
    a->calls++;
    if (h) {
        memcpy(&old, h, sizeof old);
        if (old != osize) a->bad_osize++;
    }
    if (nsize == 0) {
        if (h) {
            a->freed += old;
            a->live -= (long long)old;
            free(h);
        }
        return NULL;
    }
    a->alloc_calls++;
    if (a->fail_at &&
        (a->alloc_calls == a->fail_at || (a->fail_after && a->alloc_calls > a->fail_at))) {
        a->failures++;
        return NULL;
    }
    char *q = realloc(h, nsize + TH_HDR);
    if (!q) return NULL;
    if (h) {
        a->freed += old;
        a->live -= (long long)old;
    }
    memcpy(q, &nsize, sizeof nsize);
    a->allocated += nsize;
    a->live += (long long)nsize;
    return q + TH_HDR;
}

/* ---- the registry walker (test_gradcheck.c) ---- */

typedef struct th_walk_stats {
    int points;      /* in-domain points visited (the op's value was finite there) */
    int compared;    /* points where reverse mode was compared with finite differences */
    int kinks;       /* points skipped: a +-h perturbation crossed a kink */
    int undefined;   /* points skipped: finite differences not finite (domain edge) */
    int redrawn;     /* draws outside the domain (value NaN/Inf), drawn again */
    int d2_compared; /* second derivatives compared with finite differences */
    int d2_skipped;  /* second derivatives skipped (kink or domain edge within the step) */
    int failures;    /* checks that disagreed */
} th_walk_stats;

typedef struct th_walk_opts {
    int npoints;   /* random points per op and per mode (direct, composite) */
    uint64_t salt; /* mixed into each op's seed */
    int quiet;     /* count failures without asserting (to test the walker itself) */
} th_walk_opts;

/* Check op at one point x[0..arity-1]: directly (composite = 0) or applied to inner functions
 * of the parameters (composite = 1). Returns 0 when the op's value is not finite there or its
 * operands are refused (th_op_admits): the point is outside the domain and nothing is
 * counted; else 1. */
int th_walk_point(const tg_op_def *op, const double *x, int composite, const th_walk_opts *o,
                  th_walk_stats *st);
/* Check op at o->npoints random points in each mode, asserting (unless quiet) that every
 * check agrees and that at least 80% of the points were compared. */
void th_walk_op(const tg_op_def *op, const th_walk_opts *o, th_walk_stats *st);
/* Walk every op of r (NULL: the built-ins). per_op, if not NULL, receives
 * tg_registry_count(r) entries in tg_registry_at order. Returns the number of ops walked. */
int th_walk_registry(const tg_registry *r, const th_walk_opts *o, th_walk_stats *per_op);

#ifndef TG_THREADS_STANDALONE
/* The tape holds the sticky error want with exactly the message msg. */
static inline void th_expect_error(tg_tape *t, tg_status want, const char *msg)
{
    cr_expect_eq(tg_tape_status(t), want, "status %d (%s), expected %d (%s)", tg_tape_status(t),
                 tg_status_str(tg_tape_status(t)), want, tg_status_str(want));
    const char *got = tg_tape_error(t);
    cr_assert_not_null(got, "no message; expected \"%s\"", msg);
    cr_expect_str_eq(got, msg);
}
#endif

#endif
