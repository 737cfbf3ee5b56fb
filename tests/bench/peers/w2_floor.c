/* w2_floor.c - issue 6, a bound (not a benchmark of tapegrad): W2, the chained Rosenbrock,
 * on tapegrad's scalar-tape layout -- 24-byte records {op, in0, in1, value} and 16 B of
 * partials per node, the reverse loop with the carry of sweep.c -- but with builders that
 * test only capacity and write the partials of mul/add/sub inline (no call through eval,
 * no handle checks). What the layout itself costs; docs/benchmarks.md compares it with
 * tg_peers' tg-scalar. Not built by make:
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L tests/bench/peers/w2_floor.c -o w2_floor
 *   ./w2_floor [n]          (CPU time, best of 5 passes after a first)
 * See LICENSE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef struct { const void *op; uint32_t in[2]; double v; } node;
typedef struct { node *nd; double *part; uint32_t n, cap; double *adj; } tape;
static inline uint32_t leaf(tape *t, double v) { uint32_t i = t->n++; t->nd[i] = (node){0, {1u << 31, 0}, v}; return i; }
static inline uint32_t mul(tape *t, uint32_t a, uint32_t b) {
    uint32_t i = t->n++; double x = t->nd[a].v, y = t->nd[b].v;
    t->nd[i] = (node){(void *)1, {a | 1u << 31, b}, x * y}; t->part[2*i] = y; t->part[2*i+1] = x; return i; }
static inline uint32_t add(tape *t, uint32_t a, uint32_t b, double s) {
    uint32_t i = t->n++;
    t->nd[i] = (node){(void *)2, {a | 1u << 31, b}, t->nd[a].v + s * t->nd[b].v}; t->part[2*i] = 1; t->part[2*i+1] = s; return i; }
static double now(void) { struct timespec ts; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); return ts.tv_sec * 1e9 + ts.tv_nsec; }
int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], 0, 10) : 1000000;
    double *x = malloc(n * 8), *g = malloc(n * 8); uint32_t *v = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = -2 + 4.0 * rand() / RAND_MAX;
    tape t = {0}; t.cap = 10 * n; t.nd = malloc(t.cap * sizeof(node)); t.part = malloc(t.cap * 16); t.adj = malloc(t.cap * 8);
    double best[3] = {1e30, 1e30, 1e30}; double f = 0;
    for (int r = 0; r < 6; r++) {
        double t0 = now(); t.n = 0;
        for (size_t i = 0; i < n; i++) v[i] = leaf(&t, x[i]);
        uint32_t c100 = leaf(&t, 100), one = leaf(&t, 1), F = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            uint32_t d = add(&t, v[i+1], mul(&t, v[i], v[i]), -1), e = add(&t, one, v[i], -1);
            uint32_t term = add(&t, mul(&t, c100, mul(&t, d, d)), mul(&t, e, e), 1);
            F = i ? add(&t, F, term, 1) : term;
        }
        double t1 = now();
        uint32_t N = F + 1; memset(t.adj, 0, N * 8); t.adj[F] = 1; double carry = 0;
        for (uint32_t i = N; i-- > 0;) {
            const node *nd = &t.nd[i]; double gy = t.adj[i] + carry; carry = 0; t.adj[i] = gy;
            if (gy == 0 || !nd->op) continue;
            uint32_t a = nd->in[0] & 0x7fffffff, b = nd->in[1]; const double *p = &t.part[2*i];
            if (b == i - 1) carry += gy * p[1]; else t.adj[b] += gy * p[1];
            if (a == i - 1) carry += gy * p[0]; else t.adj[a] += gy * p[0];
        }
        for (size_t i = 0; i < n; i++) g[i] = t.adj[v[i]];
        double t2 = now(); f = t.nd[F].v;
        if (r) { if (t2 - t0 < best[0]) best[0] = t2 - t0, best[1] = t1 - t0, best[2] = t2 - t1; }
    }
    double ops = t.n - n - 2;
    printf("n %zu f %.10g g0 %.10g: best of 5 total %.2f ms = %.2f ns/op (record %.2f, backward %.2f ns/op)\n",
           n, f, g[0], best[0] / 1e6, best[0] / ops, best[1] / ops, best[2] / ops);
}
