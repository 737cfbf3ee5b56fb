/* record_bench.c - recording speed of a user's op against the built-in it copies.
 * The ops below are written here, outside the library, with the public op contract only
 * (tapegrad_op.h), and registered in a registry as a user would; their builders call
 * tg_apply1/tg_apply2. The same chain of n scalar nodes is recorded through them and through
 * the built-in builders (tg_add, tg_mul, tg_sigmoid), repetitions interleaved, tape reset in
 * between (so no repetition allocates). Prints ns per recorded node, median [min-max], and
 * checks that both tapes hold the same values and gradients.
 *   record_bench [n] [reps]         defaults 1000000 and 15
 * See LICENSE. */
#include "bench.h"

#include "tapegrad_op.h"

/* ---- a user's ops: the same math as ops/add.c, ops/mul.c and ops/sigmoid.c ---- */

static double uadd_eval(const double *x, double *d)
{
    if (d) d[0] = d[1] = 1.0;
    return x[0] + x[1];
}

static double umul_eval(const double *x, double *d)
{
    if (d) d[0] = x[1], d[1] = x[0];
    return x[0] * x[1];
}

static double usigmoid_eval(const double *x, double *d)
{
    const double e = exp(-x[0]), q = 1.0 + e, y = 1.0 / q;
    if (fabs(x[0]) > 0x1.6232bdd7abcd2p+9) {
        if (d) d[0] = 0.0;
        return x[0] < 0 ? 0.0 : 1.0;
    }
    if (d) d[0] = y * (e / q);
    return y;
}

static const tg_op_def uadd = {.name = "uadd", .arity = 2, .eval = uadd_eval,
                               .partials = TG_PARTIALS_CONST, .dconst = {1.0, 1.0}};
static const tg_op_def umul = {.name = "umul", .arity = 2, .eval = umul_eval,
                               .partials = TG_PARTIALS_SWAP};
static const tg_op_def usigmoid = {.name = "usigmoid", .arity = 1, .eval = usigmoid_eval};

static tg_var u_add(tg_var a, tg_var b) { return tg_apply2(&uadd, a, b); }
static tg_var u_mul(tg_var a, tg_var b) { return tg_apply2(&umul, a, b); }
static tg_var u_sigmoid(tg_var x) { return tg_apply1(&usigmoid, x); }

/* ---- the chain: v <- sigmoid(v * w_k + b), w_k a parameter every 16 steps ---- */

typedef struct ops {
    tg_var (*add)(tg_var, tg_var), (*mul)(tg_var, tg_var), (*sigmoid)(tg_var);
} ops;

static const ops builtin = {tg_add, tg_mul, tg_sigmoid};
static const ops user = {u_add, u_mul, u_sigmoid};

/* Records the chain of about n op nodes; returns the output. */
static NOINLINE tg_var record(tg_tape *t, const ops *o, size_t n)
{
    tg_var v = tg_param(t, 0.3), w = tg_param(t, 0.9), b = tg_const(t, 0.1);
    for (size_t k = 0; k < n / 3; k++) {
        if (k % 16 == 15) w = tg_param(t, 0.9 + 1e-3 * (double)(k % 7));
        v = o->sigmoid(o->add(o->mul(v, w), b));
    }
    return v;
}

static double time_one(tg_tape *t, const ops *o, size_t n, tg_var *out)
{
    tg_tape_reset(t);
    double t0 = bench_now_ns();
    *out = record(t, o, n);
    double dt = bench_now_ns() - t0;
    return dt / (double)tg_tape_size(t);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    if (n < 3 || reps < 1 || reps > BENCH_MAX_REPS) {
        fprintf(stderr, "usage: record_bench [n >= 3] [reps 1..%d]\n", BENCH_MAX_REPS);
        return 2;
    }
    tg_registry *reg = tg_registry_new();
    if (!reg || tg_op_register(reg, &uadd) || tg_op_register(reg, &umul) ||
        tg_op_register(reg, &usigmoid)) {
        fprintf(stderr, "record_bench: registering the user's ops failed\n");
        return 1;
    }
    tg_tape *tb = tg_tape_new(), *tu = tg_tape_new();
    tg_var yb, yu;
    double sb[BENCH_MAX_REPS], su[BENCH_MAX_REPS];
    time_one(tb, &builtin, n, &yb); /* warm-up: the tapes grow to size here */
    time_one(tu, &user, n, &yu);
    size_t allocs = bench_allocs;
    for (int r = 0; r < reps; r++) {
        sb[r] = time_one(tb, &builtin, n, &yb);
        su[r] = time_one(tu, &user, n, &yu);
    }
    allocs = bench_allocs - allocs;
    if (tg_tape_error(tb) || tg_tape_error(tu) || tg_backward(yb) || tg_backward(yu)) {
        fprintf(stderr, "record_bench: %s\n", tg_tape_error(tg_tape_error(tb) ? tb : tu));
        return 1;
    }
    /* the first parameter's gradient through the whole chain, and the output, agree */
    tg_var pb = {tb, 0, yb.epoch}, pu = {tu, 0, yu.epoch};
    double dv = bench_rel_diff(tg_value(yb), tg_value(yu));
    double dg = bench_rel_diff(tg_gradient(pb), tg_gradient(pu));
    printf("record_bench: %zu nodes per tape, %d interleaved repetitions, %zu allocations "
           "while timed\n", tg_tape_size(tb), reps, allocs);
    printf("  built-in builders  %6.2f ns/node  [%.2f-%.2f]\n", bench_median(sb, reps),
           bench_min(sb, reps), bench_max(sb, reps));
    printf("  user's ops         %6.2f ns/node  [%.2f-%.2f]\n", bench_median(su, reps),
           bench_min(su, reps), bench_max(su, reps));
    double ratio[BENCH_MAX_REPS];
    for (int r = 0; r < reps; r++) ratio[r] = su[r] / sb[r];
    printf("  user / built-in    %6.3f        [%.3f-%.3f] (per repetition)\n",
           bench_median(ratio, reps), bench_min(ratio, reps), bench_max(ratio, reps));
    printf("  same value and gradient: %s (rel. diff %.1e, %.1e)\n",
           dv == 0 && dg == 0 ? "yes" : "NO", dv, dg);
    tg_tape_free(tb);
    tg_tape_free(tu);
    tg_registry_free(reg);
    return dv == 0 && dg == 0 ? 0 : 1;
}
