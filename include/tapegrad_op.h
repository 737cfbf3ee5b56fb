/* tapegrad_op.h - the interface for op authors: the op descriptor, the registry, tg_apply.
 * Used by ops/ and by anyone adding a custom op. See LICENSE. */
#ifndef TAPEGRAD_OP_H
#define TAPEGRAD_OP_H

#include <float.h>
#include <math.h>

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MAX_ARITY 4
#define TG_MAX_RANK 4
#define TG_MAX_ATTR 4

/* tg_op_def.partials: how the sweeps have a scalar op's partials (see there). */
enum { TG_PARTIALS_KEPT, TG_PARTIALS_CONST, TG_PARTIALS_SWAP };

/* One operand or result as a tensor kernel sees it: row-major, contiguous data and a shape.
 * A scalar is rank 0 with n = 1. */
typedef struct tg_view {
    double *x;
    int rank;
    int shape[TG_MAX_RANK];
    size_t n;
} tg_view;

/* What a tensor kernel is given. Kernels never touch the tape. */
typedef struct tg_op_ctx {
    int n;                           /* number of operands */
    tg_view in[TG_MAX_ARITY];        /* the operands' values */
    tg_view out;                     /* infer sets rank and shape; forward writes out.x */
    const int *attr;                 /* the op's integer attributes (axis, keepdims, ...) */
    int nattr;
    double *gin[TG_MAX_ARITY];       /* vjp: ADD dL/din[i] here; NULL when not wanted */
    const double *gy;                /* vjp: dL/dout, out.n values */
    const double *din[TG_MAX_ARITY]; /* jvp: the operands' tangents; NULL means zero */
    double *dy;                      /* jvp: write the output's tangent, out.n values */
    char *msg;                       /* infer: on error, write "<problem> (<details>)" */
    size_t msgsize;
} tg_op_ctx;

/* An op is data. A scalar op has one kernel giving its value and, on request, its local
 * partial derivatives; the library's sweeps do the rest: the partials are kept beside the
 * tape while it is recorded or replayed, reverse mode adds gy * dydx[i] into input i's
 * adjoint, forward mode sums dydx[i] * dx[i], the gradient checker and the chain-rule
 * explainer read them. One derivative per op, written beside its value, so reverse and
 * forward mode cannot disagree about it.
 *
 *   eval(x, dydx)   returns y = f(x) for the op's arity inputs x; when dydx is not NULL also
 *                   writes dydx[i] = dy/dx[i] at x for every input i
 */
typedef struct tg_gemm tg_gemm; /* one product step of a tensor op: below */

typedef struct tg_op_def {
    const char *name;   /* the math word, unique in a registry: "mul", "sigmoid" */
    int arity;          /* 1..TG_MAX_ARITY */
    const char *math;   /* one line for docs and --help: "y = a*b; dy/da = b, dy/db = a" */

    double (*eval)(const double *x, double *dydx); /* NULL for tensor-only ops */

    /* Tensor kernels, for ops that are not elementwise (matmul, sum, softmax, ...). An op
     * with eval and no infer is elementwise: on tensor operands the library runs eval on
     * every element, broadcasting the operands NumPy-style, and reduces gradients over the
     * stretched dimensions. An op with infer works on tensors only through these.
     *   infer    check the operands' shapes (and values, where they must be valid: labels)
     *            and attributes and set out.rank/out.shape; on error return TG_ERR_SHAPE or
     *            TG_ERR_ARG with msg filled. Runs when the node is recorded.
     *   forward  write out.x from in[].x
     *   vjp      ADD into every non-NULL gin[i] the product of gy with dout/din[i]
     *   jvp      write dy from the non-NULL din[i] (NULL: unsupported in forward mode) */
    tg_status (*infer)(tg_op_ctx *c);
    void (*forward)(tg_op_ctx *c);
    void (*vjp)(tg_op_ctx *c);
    void (*jvp)(tg_op_ctx *c);

    /* Kinked ops only (relu, abs, ...), else NULL: the quantity whose sign picks the piece
     * (relu: x[0]); 0 is the kink. tg_replay reports a sign change, the gradient check calls
     * a point whose +-h perturbation changes it non-differentiable. Negative, zero and
     * positive are three pieces: an op of three (clamp: below, inside, above its bounds) may
     * name them -1, 0 and 1, so that every change of piece is a change of sign. */
    double (*branch)(const double *x);
    /* Tensor ops that pick one input element per output element (max: the arg-max), else
     * NULL: write which one (an index, or any number that identifies the choice) for every
     * output element. tg_replay reports a changed choice as it reports a kink, and the
     * gradient check calls a point whose perturbation changes one (a tie) non-differentiable. */
    void (*choose)(const tg_op_ctx *c, double *choice);

    /* The reverse rule recorded as new nodes built from other ops: the contribution
     * gy * dy/dx[i] to input i's adjoint, given the inputs x, the op's output node y and the
     * output adjoint gy (all nodes on one tape). Used by tg_diff for derivatives that can be
     * differentiated again. NULL: tg_diff reports TG_ERR_UNSUPPORTED for this op. For an
     * elementwise op tg_diff may pass gy = the constant 1 to have the partial alone, then
     * multiply by the adjoint with mul0 (so a zero adjoint passes nothing on, at any order):
     * the rule must be gy times a partial, as every built-in's is. */
    tg_var (*vjp_graph)(const tg_var *x, tg_var y, tg_var gy, int i);

    /* (The fields below came later; they are last so that an op written with positional
     * initialisers keeps its meaning.)
     * Optional: eval over a row of len tensor elements in one call (TG_EVAL_ROW below makes
     * it from eval). Operand j's k-th element is x[j][k * step[j]] (step 0: one value
     * stretched over the row); writes y[k] and, when part is not NULL, the partials
     * part[k * arity + j]. It must give exactly what eval gives, element by element (the
     * registry test checks, bit for bit). NULL: the library calls eval per element. */
    void (*eval_row)(size_t len, const double *const *x, const size_t *step, double *y,
                     double *part);
    /* How a scalar node's partials are had in the sweeps. TG_PARTIALS_KEPT (0, the default):
     * eval writes them when the node is recorded or replayed and the tape keeps them beside
     * it. For ops whose partials follow from what the tape holds anyway, nothing is kept
     * (16 bytes per node neither written nor read back): TG_PARTIALS_CONST, the constants
     * dconst[i] (add: 1, 1; sub: 1, -1); TG_PARTIALS_SWAP, a product of two operands,
     * dy/dx0 = x1 and dy/dx1 = x0 (mul). eval must still write the same values when asked
     * (the registry test checks it, bit for bit). */
    int partials;
    double dconst[TG_MAX_ARITY];
    /* Optional, elementwise ops only (no infer), else NULL: operands whose values are a
     * caller's mistake rather than a point of the function (clamp: lo > hi). Given one
     * element's operands x, returns TG_OK, or TG_ERR_ARG with msg (size bytes) filled with
     * "<problem> (<details>)". tg_apply refuses such a node as infer refuses a shape, naming
     * the element of a tensor. Values set later (tg_set, then tg_replay) are not refused:
     * eval answers for them (clamp: NaN), and anomaly mode reports that. */
    tg_status (*check)(const double *x, char *msg, size_t size);
    /* Optional: eval's body as C text, for the tape compiler (tg_compile, tg_emit_c): the
     * braces of double f(const double *x, double *d), using only <math.h>, literals, the
     * numerical kernels below (tg_flush_subnormal ... tg_exp_neg_square: the generated code
     * gets a copy of each one it calls), and other built-in ops as tg_op_NAME.eval(...).
     * TG_EVAL below defines eval and this text from one body, so the two cannot differ.
     * NULL: compiled code calls eval through the descriptor (a table handed to it when it is
     * loaded); the standalone emitter refuses. */
    const char *code;
    /* Optional, for the fused loops of the tape compiler's raw entry for tensors
     * (tg_compiled_raw_tensors): a tensor op that moves or sums elements and does nothing
     * else says so. Given a node's context (shapes and attributes; no values or gradients),
     * it returns
     *   TG_FUSE_WINDOW, with *base and stride[0 .. out.rank-1] set, when output element
     *     (o_0, o_1, ...) is a copy of input 0's element base + sum_d o_d * stride[d], and
     *     vjp adds gy into those elements (slice, reshape);
     *   TG_FUSE_SUM when the output is one value, the sum of all of input 0's elements added
     *     in row-major order to +0, and vjp adds gy to every element (sum without an axis);
     *   TG_FUSE_NONE for anything else (slice's pad form, a sum along an axis).
     * The registry test checks every claim against forward and vjp, bit for bit. NULL:
     * TG_FUSE_NONE always. */
    int (*fuse)(const tg_op_ctx *c, size_t *base, size_t *stride);
    /* Optional, for a product op (matmul): a step that is one cblas_dgemm per matrix of a
     * batch says which (tg_gemm below). Given a node's context (shapes and attributes) and a
     * step, -1 for the forward or j for the vjp into operand j, it fills *g and returns 1, or
     * returns 0 when that step is something else. The op's kernels should run those steps
     * with tg_gemm_run on the same description, so that the calls the tape compiler writes
     * out (tg_compile) are the library's; the registry test checks every claim against the
     * kernels, bit for bit. NULL: no step is. */
    int (*gemm)(const tg_op_ctx *c, int step, tg_gemm *g);
} tg_op_def;

enum { TG_FUSE_NONE, TG_FUSE_WINDOW, TG_FUSE_SUM };

/* One product step of a tensor op: for q = 0 .. batch-1,
 *   cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, A + q*sa, ta ? m : k, B + q*sb,
 *               tb ? k : n, beta, Y + q*sy, n)
 * that is Y_q = op(A_q) op(B_q) + beta Y_q, with op transposing where ta / tb say, and
 * A, B, Y each one of the context's arrays, named by role. */
enum { TG_GEMM_X0, TG_GEMM_X1, TG_GEMM_OUT, TG_GEMM_GY, TG_GEMM_G0, TG_GEMM_G1 };
struct tg_gemm {
    int batch, ta, tb, m, n, k;
    int a, b, y;       /* TG_GEMM_X0 / X1: operand 0's / 1's values, OUT: the output's, GY:
                        * its gradient, G0 / G1: operand 0's / 1's gradient (vjp) */
    size_t sa, sb, sy; /* each array's step from one matrix of the batch to the next */
    double beta;       /* 0: Y is written; 1: added to */
};

/* Runs g on c's arrays (cblas_dgemm, as above). */
TG_API void tg_gemm_run(tg_op_ctx *c, const tg_gemm *g);

/* TG_EVAL(NAME, { BODY }) defines static double NAME_eval(const double *x, double *d) with
 * BODY, and static const char NAME_code[], the same BODY as text with its macros expanded
 * (INV_SQRT_2 becomes its digits): set .eval = NAME_eval, .code = NAME_code. One source for
 * the value and partials the library computes and the ones compiled code computes. BODY
 * must not contain preprocessor directives or comments it needs (comments are dropped). */
#define TG_EVAL(NAME, ...)                                                                    \
    static double NAME##_eval(const double *x, double *d) __VA_ARGS__                         \
    static const char NAME##_code[] = TG_EVAL_TEXT_(__VA_ARGS__);
#define TG_EVAL_TEXT_(...) #__VA_ARGS__

/* Defines NAME_row, an eval_row for an op of the given arity from its NAME_eval in the same
 * file: one call per row of a tensor instead of one call through the descriptor per
 * element, with NAME_eval inlined into the loop. */
#define TG_EVAL_ROW(NAME, ARITY)                                                              \
    static void NAME##_row(size_t len, const double *const *x, const size_t *step, double *y, \
                           double *part)                                                      \
    {                                                                                         \
        double v[ARITY];                                                                      \
        for (size_t k = 0; k < len; k++) {                                                    \
            for (int j = 0; j < (ARITY); j++) v[j] = x[j][k * step[j]];                       \
            y[k] = NAME##_eval(v, part ? part + k * (ARITY) : NULL);                          \
        }                                                                                     \
    }

/* The integer attributes node y was recorded with (at most TG_MAX_ATTR, copied to attr);
 * returns how many, or -1 for a bad handle. */
TG_API int tg_attr(tg_var y, int *attr);

/* For builders. Set the tape's sticky error (the first one wins; TG_OK counts as TG_ERR_ARG)
 * with a printf-style message, "<op>: <problem> (<details>)", and return an error handle:
 * for a builder that refuses an argument no operand shows (cross_entropy's NULL labels). */
TG_API tg_var tg_tape_fail(tg_tape *t, tg_status s, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* For builders that need an operand before recording (cross_entropy sizes its label vector
 * by the logits' rows): operand k (1-based) of op as a view (its values borrowed until the
 * next record). TG_OK; or the tape's error status, passed on or set as tg_apply would set
 * it ("<op>: operand k is stale (...)"). */
TG_API tg_status tg_operand(tg_var v, const char *op, int k, tg_view *view);

/* ---- shapes for infer kernels and reverse rules ----
 * Negative axes count from the end, as in NumPy; tg_axis is the one place that says so. */

/* a' = a + rank for -rank <= a < 0, a for 0 <= a < rank; -1 (out of range) otherwise. */
TG_API int tg_axis(int rank, int axis);

/* A tensor around one axis as [outer, len, inner], row-major: element (o, k, i) is at
 * (o * len + k) * inner + i. */
typedef struct tg_span {
    int axis;
    size_t outer, len, inner;
} tg_span;

/* outer = prod shape[<axis], len = shape[axis], inner = prod shape[>axis], axis normalised by
 * tg_axis; an axis out of range gives axis -1 and all of x as len (outer = inner = 1). */
TG_API tg_span tg_view_span(const tg_view *x, int axis);

/* Ready-made infers (use them as .infer, or call them from one). On error they return
 * TG_ERR_ARG (attributes) or TG_ERR_SHAPE (shapes) with the operands' shapes in the message:
 * "(x is [3,4])", or "(x1 is [4,1], x2 is [4])" for several operands. */

/* shape(y) = shape(x), rank(x) >= 1, no attributes: ops that run along the last axis of one
 * operand. */
TG_API tg_status tg_infer_last_axis(tg_op_ctx *c);
/* shape(y) = shape(x) for ops that run along one axis of one operand (softmax, log_softmax):
 * no attributes, the last axis (as tg_infer_last_axis, rank >= 1); or {axis}, as tg_axis
 * takes it (tg_view_span(x, axis) gives the runs). */
TG_API tg_status tg_infer_along_axis(tg_op_ctx *c);
/* y a scalar, shape(x_j) = shape(x_1) for every operand (no broadcasting), no attributes:
 * losses over elementwise pairs (mse, bce_with_logits). */
TG_API tg_status tg_infer_same_shape_to_scalar(tg_op_ctx *c);
/* shape(y) = shape(x) without the axis (keepdims 0) or with it as 1 (keepdims 1), attributes
 * {axis, keepdims} with axis as tg_axis takes it: reductions along an axis (max; sum). */
TG_API tg_status tg_infer_reduce_axis(tg_op_ctx *c);

/* "[2,3]" ("[]" for a scalar): v's shape for messages, written into buf. Returns buf. */
TG_API const char *tg_view_shape(const tg_view *v, char *buf, size_t size);

/* Record one application of op to in[0..n-1] (n must equal op->arity). All inputs must be
 * live handles of one tape. Returns the new node, or an error handle with the error set on
 * the tape (or passed on from an input that is already an error handle). */
TG_API tg_var tg_apply(const tg_op_def *op, int n, const tg_var *in);
/* The same with nattr (<= TG_MAX_ATTR) integer attributes for the op's kernels. */
TG_API tg_var tg_apply_attr(const tg_op_def *op, int n, const tg_var *in, int nattr,
                            const int *attr);

/* ---- the inline recording path: tg_apply1 and tg_apply2 ----
 * Every scalar op's builder, a built-in's and a user's alike, records through tg_apply1 /
 * tg_apply2. In the common case -- live scalar operands of one tape that has room and is
 * neither in error nor in anomaly mode, and a plain scalar op (an eval kernel, no infer, no
 * branch rule, no check, a partials form that fits its arity) -- the node is written right
 * here, in the builder, its value and partials from op->eval. When op is a constant
 * descriptor the compiler can see (the op's own file; a user's `static const tg_op_def`),
 * these checks fold away and eval is inlined, so a user's op records exactly as fast as a
 * built-in one (see tests/bench/record_bench.c). Everything else -- tensors, kinked ops,
 * checked ops, arity above 2, a full tape, a bad descriptor or handle -- goes to tg_apply,
 * which records it or reports why not.
 *
 * For that, the first members of every tape are this head, and its fields and the node
 * record below are part of the ABI: changing them changes the library's SONAME. Only the
 * inline path below touches them; nothing else of the tape is visible. */

/* One recorded node (24 bytes):
 *   in[0]  bit 31 TG_ACTIVE: depends on a parameter; bit 30 TG_TENSOR: a tensor node;
 *          bits 0-29: the first input's index (or, TG_NARY, where its input list starts)
 *   in[1]  bits 30-31: the kind (TG_LEAF, TG_UNARY, TG_BINARY, TG_NARY); bits 0-29: the
 *          second input's index (TG_BINARY)
 *   v      a scalar's value (a tensor node: which tensor entry holds its shape and data) */
typedef struct tg_node {
    const tg_op_def *op;
    uint32_t in[2];
    double v;
} tg_node;

#define TG_ACTIVE 0x80000000u
#define TG_TENSOR 0x40000000u
#define TG_INDEX 0x3fffffffu
#define TG_KIND_SHIFT 30
enum { TG_LEAF, TG_UNARY, TG_BINARY, TG_NARY };

/* The head of a tape: nodes[0..n-1] recorded; an active node i with kept partials (form
 * TG_PARTIALS_KEPT, arity <= 2) has them at part[2i], part[2i+1]. The inline path may
 * record while n < room (the capacity of both arrays, or 0 while the tape is in error or in
 * anomaly mode). epoch tells live handles from stale ones. */
typedef struct tg_tape_head {
    tg_node *nodes;
    double *part;
    uint32_t n, room, epoch;
} tg_tape_head;

/* The inline path must be inlined for op->eval to be. GCC (-O2) inlines it unforced; forced
 * (always_inline), GCC 12 inlined it before splitting the handles into scalars, which cost
 * every builder two more saved registers: 4 instructions a node (see docs/benchmarks.md).
 * Clang inlines it only when forced, and pays nothing for that. */
#ifdef __clang__
#define TG_INLINE static inline __attribute__((always_inline))
#else
#define TG_INLINE static inline
#endif

/* The general halves of tg_apply1 / tg_apply2: tg_apply with the operands passed by value, as
 * the builder received them. */
TG_API tg_var tg_apply1_general(const tg_op_def *op, tg_var a);
TG_API tg_var tg_apply2_general(const tg_op_def *op, tg_var a, tg_var b);

/* Write node n of h (room checked by the caller): the one place a node record is written. */
TG_INLINE tg_var tg_node_put(tg_tape_head *h, const tg_op_def *op, uint32_t in0,
                             uint32_t in1, double v)
{
    const uint32_t i = h->n, epoch = h->epoch; /* read before the stores, which may alias */
    tg_node *nd = &h->nodes[i];
    nd->op = op;
    nd->in[0] = in0;
    nd->in[1] = in1;
    nd->v = v;
    h->n = i + 1;
    tg_var r = {(tg_tape *)(void *)h, i, epoch};
    return r;
}

/* Whether op may take the inline path with n operands. Not a validation: a descriptor that
 * fails here goes to tg_apply, which records it or says what is wrong with it. */
TG_INLINE int tg_op_inline_ok(const tg_op_def *op, int n)
{
    return op && op->arity == n && op->eval && !op->infer && !op->branch && !op->check &&
           (op->partials == TG_PARTIALS_KEPT || op->partials == TG_PARTIALS_CONST ||
            (op->partials == TG_PARTIALS_SWAP && n == 2));
}

/* Evaluate op at x and record it with inputs in0, in1 (kind bits included) and activity act. */
TG_INLINE tg_var tg_node_eval(tg_tape_head *h, const tg_op_def *op, const double *x,
                              uint32_t in0, uint32_t in1, uint32_t act)
{
    /* an inactive node is never swept, so it needs no partials */
    double *d = act && op->partials == TG_PARTIALS_KEPT ? &h->part[2 * (size_t)h->n] : NULL;
    return tg_node_put(h, op, in0 | act, in1, op->eval(x, d));
}

/* tg_apply(op, 1, &a), recorded inline in the common case. */
TG_INLINE tg_var tg_apply1(const tg_op_def *op, tg_var a)
{
    tg_tape_head *h = (tg_tape_head *)(void *)a.tape;
    if (tg_op_inline_ok(op, 1) && h) {
        const uint32_t n = h->n;
        if (n >= h->room || a.epoch != h->epoch || a.index >= n) return tg_apply1_general(op, a);
        const tg_node *na = &h->nodes[a.index];
        if (!(na->in[0] & TG_TENSOR))
            return tg_node_eval(h, op, &na->v, a.index, (uint32_t)TG_UNARY << TG_KIND_SHIFT,
                                na->in[0] & TG_ACTIVE);
    }
    return tg_apply1_general(op, a);
}

/* tg_apply(op, 2, {a, b}), recorded inline in the common case. */
TG_INLINE tg_var tg_apply2(const tg_op_def *op, tg_var a, tg_var b)
{
    tg_tape_head *h = (tg_tape_head *)(void *)a.tape;
    if (tg_op_inline_ok(op, 2) && h && b.tape == a.tape) {
        const uint32_t n = h->n, e = h->epoch; /* one test for both epochs */
        if (n >= h->room || ((a.epoch ^ e) | (b.epoch ^ e)) || a.index >= n || b.index >= n)
            return tg_apply2_general(op, a, b);
        const tg_node *na = &h->nodes[a.index], *nb = &h->nodes[b.index];
        const uint32_t f = na->in[0] | nb->in[0];
        if (!(f & TG_TENSOR)) {
            const double x[2] = {na->v, nb->v};
            return tg_node_eval(h, op, x, a.index, b.index | (uint32_t)TG_BINARY << TG_KIND_SHIFT,
                                f & TG_ACTIVE);
        }
    }
    return tg_apply2_general(op, a, b);
}

/* A constant on v's tape (for rules such as tanh' = 1 - y^2). */
static inline tg_var tg_const_like(tg_var v, double c) { return tg_const(v.tape, c); }

/* ---- numerical kernels for op authors (src/special.c) ----
 * The built-in elementwise ops answer within a few ULP of the exact value where that is a
 * normal double, and exactly 0 where it lies below the normal range (a subnormal carries fewer
 * than 53 bits, down to none) or +-inf beyond the largest double (docs/ops.md, "Accuracy"). */

/* A kernel that generated code needs too is written once, as a macro TG_K_NAME(K) that hands
 * K its signature and its body: TG_KERNEL_DEFINE defines it here, src/special.c keeps it as
 * text, and the tape compiler (tg_compile, tg_emit_c) writes the kernels that an op's code
 * calls into the source it generates. */
#define TG_KERNEL_DEFINE(SIG, ...) SIG __VA_ARGS__

/* v, or a zero of v's sign where |v| is below the smallest normal double. */
#define TG_K_FLUSH_SUBNORMAL(K)                                                               \
    K(static inline double tg_flush_subnormal(double v),                                      \
      { return v > -0x1p-1022 && v < 0x1p-1022 ? v * 0.0 : v; })
TG_K_FLUSH_SUBNORMAL(TG_KERNEL_DEFINE)

/* v/(1 + e)^n for 0 <= e <= 1 and n = 1..3, with 1 + e kept exactly (rounded once, it would
 * cost n/2 ULP of the result): (1 + e)^n = (hi + lo)^n with hi + lo = 1 + e exactly and
 * hi^n = p + plo by fma, so 1/(1 + e)^n = (1 - plo/p - n lo/hi)/p to second order in 2^-53.
 * Inline, for the ops' kernels. */
#define TG_K_DIV_ONE_PLUS(K)                                                                  \
    K(static inline double tg_div_one_plus(double v, double e, int n), {                      \
        double hi = 1.0 + e, lo = e - (hi - 1.0), p = hi, plo = 0.0;                          \
        for (int k = 1; k < n; k++) {                                                         \
            double q = p * hi;                                                                \
            plo = fma(p, hi, -q) + plo * hi;                                                  \
            p = q;                                                                            \
        }                                                                                     \
        double r = v / p;                                                                     \
        return fma(-r, plo / p + n * (lo / hi), r);                                           \
    })
TG_K_DIV_ONE_PLUS(TG_KERNEL_DEFINE)

/* 2^s times the n-th derivative (n = 1, 2, 3) of the logistic sigmoid s(x) = 1/(1 + e^-x):
 * s' = e/(1 + e)^2 and s'' = sign(x) e expm1(-|x|)/(1 + e)^3 with e = e^-|x|, within a few
 * ULP at every x (not y(1 - y), which is 0 from x = 37 on); s''' = s'(1 - 6 s') plainly.
 * tanh's n-th derivative is 2^(n+1) s^(n)(2x). 0 where the result is below the normal range. */
TG_API double tg_sigmoid_deriv(double x, int n, int s);

/* p*Phi(x) + q*phi(x), Phi and phi the standard normal CDF and density, within a few ULP for
 * exact p and q (when the two terms do not cancel) and with no intermediate underflow: the
 * density's exponent is formed exactly and scaled, so x*phi(x) is right where phi(x) alone is
 * below the normal range. 0 where the result is below it. */
TG_API double tg_normal_mix(double x, double p, double q);

/* p e^(-x^2) within a few ULP for exact p, with no intermediate underflow (erf's derivatives:
 * e^(-x^2) of a rounded x^2 would be 100 ULP off at x = 26). 0 where it is below the normal
 * range. */
TG_API double tg_exp_neg_square(double x, double p);

/* ---- registry: names to descriptors ---- */

/* A registry maps op names to descriptors. A new one holds every built-in op; users add their
 * own. Registration is not thread-safe: register before sharing a registry between threads
 * (lookups are read-only and safe). tg_registry_find with r == NULL searches the built-ins. */
typedef struct tg_registry tg_registry;

/* A registry holding the built-in ops. NULL if out of memory. */
TG_API tg_registry *tg_registry_new(void);
/* The same with all of its memory from fn(ud, ...), as tg_tape_new_with (tg_registry_new uses
 * realloc/free). NULL if fn is NULL or out of memory. */
TG_API tg_registry *tg_registry_new_with(tg_alloc_fn fn, void *ud);
TG_API void tg_registry_free(tg_registry *r);
/* Add op (not copied: it must outlive the registry). TG_ERR_ARG if r or op is NULL, op has no
 * name, neither eval nor infer+forward+vjp, arity outside 1..TG_MAX_ARITY, partials not one
 * of the three forms (TG_PARTIALS_SWAP needs arity 2), a check kernel with infer, or its name
 * is taken; TG_ERR_NOMEM.
 * A refused op leaves the registry as it was; tg_registry_error says why. */
TG_API tg_status tg_op_register(tg_registry *r, const tg_op_def *op);
/* Why the last tg_op_register on r refused its op, e.g. "tg_op_register: op 'foo' has arity
 * 7, outside 1..4"; NULL when it succeeded (or none was made). Owned by r, valid until the
 * next tg_op_register on it. "registry is NULL" for r NULL. */
TG_API const char *tg_registry_error(const tg_registry *r);
/* The op called name, or NULL. */
TG_API const tg_op_def *tg_registry_find(const tg_registry *r, const char *name);
/* Number of ops, and the i-th in name order (for walking every op). */
TG_API int tg_registry_count(const tg_registry *r);
TG_API const tg_op_def *tg_registry_at(const tg_registry *r, int i);

/* The built-in descriptors, for op authors composing rules (sigmoid's rule records a mul). */
extern TG_API const tg_op_def tg_op_add, tg_op_sub, tg_op_mul, tg_op_mul0, tg_op_div, tg_op_pow,
    tg_op_neg, tg_op_exp, tg_op_log, tg_op_sqrt, tg_op_sin, tg_op_cos, tg_op_tanh, tg_op_sigmoid,
    tg_op_relu, tg_op_leaky_relu, tg_op_softplus, tg_op_abs, tg_op_silu, tg_op_gelu, tg_op_normcdf,
    tg_op_normpdf, tg_op_step, tg_op_where, tg_op_sum, tg_op_transpose, tg_op_matmul, tg_op_reshape,
    tg_op_slice, tg_op_max, tg_op_softmax, tg_op_log_softmax, tg_op_cross_entropy, tg_op_mse,
    tg_op_bce_with_logits, tg_op_log1p, tg_op_expm1, tg_op_tan, tg_op_atan, tg_op_erf, tg_op_sign,
    tg_op_minimum, tg_op_maximum, tg_op_clamp, tg_op_lt, tg_op_le, tg_op_gt, tg_op_ge,
    tg_op_logsumexp, tg_op_one_hot, tg_op_sigmoid_d1, tg_op_tanh_d1, tg_op_tanh_d2, tg_op_silu_d1,
    tg_op_silu_d2, tg_op_gelu_d1, tg_op_gelu_d2, tg_op_normpdf_d1, tg_op_normpdf_d2, tg_op_pow_da,
    tg_op_pow_db, tg_op_pow_dab, tg_op_atan_d1, tg_op_atan_d2, tg_op_erf_d1, tg_op_erf_d2;

#ifdef __cplusplus
}
#endif
#endif
