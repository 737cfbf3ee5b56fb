/* bench.h - what the tensor benchmarks share: a monotonic clock, medians with min-max, a
 * seeded generator, a counting allocator hook for tg_tape_new_with, and process-wide
 * allocation counting: this header DEFINES malloc, calloc, realloc, free, aligned_alloc and
 * posix_memalign, forwarding to glibc's __libc_* entry points, as article_bench.c does.
 * Include it in exactly one .c file of a program.
 * The definitions are marked visibility("default"): the Makefile compiles with
 * -fvisibility=hidden, which would keep them out of the executable's dynamic symbol table,
 * and then calls made inside shared libraries (libc, libm, libopenblas) would bypass them
 * unseen, while calls from the statically linked libtapegrad and from this file would still
 * be counted. See LICENSE. */
#ifndef TAPEGRAD_BENCH_H
#define TAPEGRAD_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

/* ---- process-wide allocation counting ---- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static size_t bench_allocs; /* calls that may obtain memory: malloc, calloc, realloc, memalign */
static size_t bench_frees;

#define BENCH_EXPORT __attribute__((visibility("default")))

BENCH_EXPORT void *malloc(size_t size)
{
    bench_allocs++;
    return __libc_malloc(size);
}
BENCH_EXPORT void *calloc(size_t n, size_t size)
{
    bench_allocs++;
    return __libc_calloc(n, size);
}
BENCH_EXPORT void *realloc(void *p, size_t size)
{
    bench_allocs++;
    return __libc_realloc(p, size);
}
BENCH_EXPORT void free(void *p)
{
    if (p) bench_frees++;
    __libc_free(p);
}
BENCH_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    bench_allocs++;
    return __libc_memalign(align, size);
}
BENCH_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    bench_allocs++;
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* 1 when the definitions above are the ones the whole process uses (a zero count proves
 * nothing otherwise): a malloc, realloc and calloc through volatile pointers must each be
 * counted, and so must the malloc that libc's strdup makes inside the shared libc. */
static inline int bench_interposer_live(void)
{
    size_t a = bench_allocs, f = bench_frees;
    void *(*volatile mallocp)(size_t) = malloc;
    void *(*volatile callocp)(size_t, size_t) = calloc;
    void *(*volatile reallocp)(void *, size_t) = realloc;
    void (*volatile freep)(void *) = free;
    freep(reallocp(mallocp(16), 32));
    freep(callocp(2, 8));
    freep(strdup("inside libc"));
    return bench_allocs == a + 4 && bench_frees == f + 3;
}

/* ---- the tapes' allocator hook (tg_tape_new_with): counts calls and the bytes held ---- */

typedef struct bench_hook {
    size_t allocs, frees; /* calls with nsize > 0, and frees */
    size_t live;          /* bytes the tape holds (capacity, not use) */
} bench_hook;

static inline void *bench_hook_fn(void *ud, void *p, size_t osize, size_t nsize)
{
    bench_hook *h = ud;
    if (nsize == 0) {
        if (p) {
            h->frees++;
            h->live -= osize;
        }
        free(p);
        return NULL;
    }
    void *q = realloc(p, nsize);
    if (q) {
        h->allocs++;
        h->live = h->live - osize + nsize;
    }
    return q;
}

/* ---- clock and statistics ---- */

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define BENCH_MAX_REPS 63

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_median(const double *v, int n)
{
    double s[BENCH_MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, bench_cmp);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static inline double bench_min(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static inline double bench_max(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static inline double bench_rel_diff(double a, double b)
{
    double m = fmax(fabs(a), fabs(b));
    return m == 0 ? 0 : fabs(a - b) / m;
}

/* The largest relative difference between two arrays, element by element, against the
 * larger magnitude of the whole reference array (so entries that cancel to ~0 are judged on
 * the array's scale); *at receives the element. */
static inline double bench_max_rel(const double *a, const double *b, size_t n, size_t *at)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    if (at) *at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / (scale > 0 ? scale : 1.0);
        if (!(d <= worst)) { /* NaN counts as worst */
            worst = isnan(d) ? INFINITY : d;
            if (at) *at = i;
        }
    }
    return worst;
}

/* ---- random numbers: splitmix64, state passed explicitly ---- */

static inline double bench_uniform(uint64_t *s, double lo, double hi)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53;
}

#endif
