/* tapegrad.h - reverse-mode automatic differentiation on a tape: the core every program includes.
 * Record a computation with the builders below, then tg_backward() gives dE/dv for every node.
 * The other headers each include this one; include them yourself for what they add:
 *   tapegrad_op.h       writing an op: the descriptor, the kernels' views, the registry
 *   tapegrad_expr.h     the expression language (tg_parse), tg_check_formula, tg_explain, tg_dot
 *   tapegrad_nn.h       training: layers, an MLP, losses, optimizers, batches, data sets
 *   tapegrad_article.h  the backpropagation article's 2-3-1 network and its hand deltas
 * See LICENSE. */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TG_BUILDING) && defined(__GNUC__)
#define TG_API __attribute__((visibility("default")))
#else
#define TG_API
#endif

/* ---- version ---- */

/* The version of this header. The Makefile reads the three numbers from here (the shared
 * library's file name and soname); nothing else states them. */
#define TG_VERSION_MAJOR 0
#define TG_VERSION_MINOR 2
#define TG_VERSION_PATCH 0
#define TG_VERSION_STR_(a, b, c) #a "." #b "." #c
#define TG_VERSION_XSTR_(a, b, c) TG_VERSION_STR_(a, b, c)
#define TG_VERSION_STRING TG_VERSION_XSTR_(TG_VERSION_MAJOR, TG_VERSION_MINOR, TG_VERSION_PATCH)

/* The version of the library running this program ("0.2.0"), which may differ from the header's
 * TG_VERSION_STRING it was compiled with when a shared library is swapped underneath.
 * A static string, never NULL. */
TG_API const char *tg_version(void);

/* ---- status codes ---- */

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_NOMEM,       /* the allocator returned NULL */
    TG_ERR_ARG,         /* a bad argument: NULL, wrong arity, not a leaf, ... */
    TG_ERR_SHAPE,       /* operand shapes do not fit the op */
    TG_ERR_TAPE,        /* operands recorded on two different tapes */
    TG_ERR_STALE,       /* a handle from before tg_tape_reset */
    TG_ERR_UNKNOWN_OP,  /* no op of that name in the registry */
    TG_ERR_UNSUPPORTED, /* the op lacks the kernel this sweep needs */
    TG_ERR_DOMAIN,      /* NaN or Inf produced while tg_tape_check_nan is on */
    TG_ERR_PARSE,       /* the expression language could not read its input */
    TG_ERR_COMPILE      /* tg_compile: no C compiler, or it failed */
} tg_status;

/* Every function that can fail returns a tg_status; the message is on the tape
 * (tg_tape_error). A verdict (a check that found a disagreement, a replay that crossed a kink)
 * is not a failure: it is in the call's report or note, and the call returns TG_OK. */

/* A short fixed English phrase for a status ("out of memory", ...). Never NULL. */
TG_API const char *tg_status_str(tg_status status);

/* ---- the tape ---- */

typedef struct tg_tape tg_tape;

/* A node handle: a small value, cheap to copy. It stays valid while the tape grows and
 * becomes stale (detected, TG_ERR_STALE) after tg_tape_reset. A builder that fails returns
 * an error handle (index TG_NONE); passing it to later builders returns it again. */
typedef struct tg_var {
    tg_tape *tape;
    uint32_t index;
    uint32_t epoch;
} tg_var;

#define TG_NONE UINT32_MAX

/* The one allocator hook (the shape of lua_Alloc): nsize == 0 frees ptr and returns NULL;
 * otherwise behaves like realloc(ptr, nsize) (ptr may be NULL). osize is ptr's size or 0. */
typedef void *(*tg_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* New empty tape using realloc/free. NULL only if that first allocation fails. */
TG_API tg_tape *tg_tape_new(void);
/* New empty tape whose every allocation goes through fn(ud, ...). */
TG_API tg_tape *tg_tape_new_with(tg_alloc_fn fn, void *ud);
/* Free the tape and all it owns. Its handles must not be used afterwards (NULL is fine). */
TG_API void tg_tape_free(tg_tape *t);
/* Forget every node, label and error but keep the memory: re-recording the same graph (labels
 * included) after a reset allocates nothing. Handles from before the reset become stale. */
TG_API void tg_tape_reset(tg_tape *t);
/* The sticky error's message, or NULL when there is none. Borrowed until the next reset. */
TG_API const char *tg_tape_error(const tg_tape *t);
/* The sticky error's status (TG_OK when there is none). */
TG_API tg_status tg_tape_status(const tg_tape *t);
/* Number of nodes recorded since the last reset. */
TG_API size_t tg_tape_size(const tg_tape *t);
/* Bytes the tape's records take: 24 per node plus side tables for ops with more than two
 * operands and for kinked ops (labels excluded). */
TG_API size_t tg_tape_bytes(const tg_tape *t);
/* Bytes of sweep workspace in use: the partials kept for the recorded nodes (16 per node),
 * and the adjoints and tangents of the last sweeps (8 per node each). */
TG_API size_t tg_tape_workspace_bytes(const tg_tape *t);
/* Anomaly mode: when on, the first op whose result is NaN or +-Inf from finite inputs
 * (log(0), sqrt(-1), exp(1000)) sets TG_ERR_DOMAIN naming the op, its node and its inputs.
 * Applies to recording and to tg_replay. Off by default. */
TG_API void tg_tape_check_nan(tg_tape *t, int on);

/* ---- leaves ---- */

/* A parameter: a leaf the sweeps differentiate with respect to. */
TG_API tg_var tg_param(tg_tape *t, double v);
/* A constant: a leaf that is never differentiated (inputs, targets). Nodes that depend on
 * no parameter are inactive: the reverse sweep never visits them. */
TG_API tg_var tg_const(tg_tape *t, double v);
/* Change a leaf's value (parameter or constant), for tg_replay. Sets TG_ERR_ARG on the
 * tape if v is not a leaf. Sweep only after tg_replay: until then the tape mixes the old
 * point's values and partials with the new leaf. */
TG_API void tg_set(tg_var leaf, double v);

/* ---- builders: one line of math each (ops/NAME.c has the partials and kink rules) ---- */

TG_API tg_var tg_add(tg_var a, tg_var b);        /* a + b */
TG_API tg_var tg_sub(tg_var a, tg_var b);        /* a - b */
TG_API tg_var tg_mul(tg_var a, tg_var b);        /* a * b */
TG_API tg_var tg_div(tg_var a, tg_var b);        /* a / b */
TG_API tg_var tg_pow(tg_var a, tg_var b);        /* a ^ b (real: a > 0, or integer b) */
TG_API tg_var tg_pow_da(tg_var a, tg_var b);     /* b a^(b-1), d(a^b)/da */
TG_API tg_var tg_pow_db(tg_var a, tg_var b);     /* a^b ln a, d(a^b)/db */
TG_API tg_var tg_pow_dab(tg_var a, tg_var b);    /* a^(b-1)(1 + b ln a), d2(a^b)/da db */
TG_API tg_var tg_neg(tg_var x);                  /* -x */
TG_API tg_var tg_exp(tg_var x);                  /* e^x */
TG_API tg_var tg_expm1(tg_var x);                /* e^x - 1, exact for tiny x; expm1' = e^x */
TG_API tg_var tg_log(tg_var x);                  /* ln x */
TG_API tg_var tg_log1p(tg_var x);                /* ln(1 + x), exact for tiny x; log1p' = 1/(1 + x) */
TG_API tg_var tg_sqrt(tg_var x);                 /* sqrt(x) */
TG_API tg_var tg_sin(tg_var x);                  /* sin x */
TG_API tg_var tg_cos(tg_var x);                  /* cos x */
TG_API tg_var tg_tan(tg_var x);                  /* tan x; tan' = 1 + tan^2 x */
TG_API tg_var tg_atan(tg_var x);                 /* arctan x; atan' = 1/(1 + x^2) */
TG_API tg_var tg_tanh(tg_var x);                 /* tanh x */
TG_API tg_var tg_sigmoid(tg_var x);              /* 1 / (1 + e^-x) */
TG_API tg_var tg_relu(tg_var x);                 /* max(x, 0); relu'(0) = 0 */
TG_API tg_var tg_leaky_relu(tg_var x, double slope); /* x > 0 ? x : slope*x; derivative at 0 is slope */
TG_API tg_var tg_softplus(tg_var x);             /* ln(1 + e^x), stable for large |x| */
TG_API tg_var tg_abs(tg_var x);                  /* |x|; abs'(0) = 0 */
TG_API tg_var tg_silu(tg_var x);                 /* x * sigmoid(x) (swish) */
TG_API tg_var tg_gelu(tg_var x);                 /* x * Phi(x), Phi the normal CDF (exact, via erfc) */
TG_API tg_var tg_normcdf(tg_var x);              /* Phi(x) = erfc(-x/sqrt 2)/2; Phi' = e^(-x^2/2)/sqrt(2 pi) */
TG_API tg_var tg_normpdf(tg_var x);              /* phi(x) = e^(-x^2/2)/sqrt(2 pi); phi' = -x*phi(x) */
TG_API tg_var tg_erf(tg_var x);                  /* erf x; erf' = 2/sqrt(pi) e^(-x^2) */
TG_API tg_var tg_sigmoid_d1(tg_var x);           /* sigmoid'(x) = e/(1+e)^2, e = e^-|x| */
TG_API tg_var tg_tanh_d1(tg_var x);              /* tanh'(x) = sech^2 x */
TG_API tg_var tg_tanh_d2(tg_var x);              /* tanh''(x) = -2 tanh(x) sech^2 x */
TG_API tg_var tg_silu_d1(tg_var x);              /* silu'(x) = s(1 + x(1-s)), s = sigmoid(x) */
TG_API tg_var tg_silu_d2(tg_var x);              /* silu''(x) = s'(x)(2 - x tanh(x/2)) */
TG_API tg_var tg_gelu_d1(tg_var x);              /* gelu'(x) = Phi(x) + x phi(x) */
TG_API tg_var tg_gelu_d2(tg_var x);              /* gelu''(x) = (2 - x^2) phi(x) */
TG_API tg_var tg_normpdf_d1(tg_var x);           /* phi'(x) = -x phi(x) */
TG_API tg_var tg_normpdf_d2(tg_var x);           /* phi''(x) = (x^2 - 1) phi(x) */
TG_API tg_var tg_atan_d1(tg_var x);              /* atan'(x) = 1/(1 + x^2) */
TG_API tg_var tg_atan_d2(tg_var x);              /* atan''(x) = -2x/(1 + x^2)^2 */
TG_API tg_var tg_erf_d1(tg_var x);               /* erf'(x) = 2/sqrt(pi) e^(-x^2) */
TG_API tg_var tg_erf_d2(tg_var x);               /* erf''(x) = -2x erf'(x) */
TG_API tg_var tg_step(tg_var x);                 /* x > 0 ? 1 : 0 (Heaviside); step' = 0 */
TG_API tg_var tg_sign(tg_var x);                 /* -1, 0, 1 as x < 0, x = 0, x > 0; sign' = 0 */
TG_API tg_var tg_where(tg_var c, tg_var a, tg_var b); /* c != 0 ? a : b; the other side gets no gradient */
TG_API tg_var tg_lt(tg_var a, tg_var b);         /* a < b ? 1 : 0; derivative 0 (a jump at a = b) */
TG_API tg_var tg_le(tg_var a, tg_var b);         /* a <= b ? 1 : 0; derivative 0 */
TG_API tg_var tg_gt(tg_var a, tg_var b);         /* a > b ? 1 : 0; derivative 0 */
TG_API tg_var tg_ge(tg_var a, tg_var b);         /* a >= b ? 1 : 0; derivative 0 */
TG_API tg_var tg_maximum(tg_var a, tg_var b);    /* max(a, b); a tie gives each half the gradient */
TG_API tg_var tg_minimum(tg_var a, tg_var b);    /* min(a, b); a tie gives each half the gradient */
TG_API tg_var tg_clamp(tg_var x, double lo, double hi); /* min(max(x, lo), hi); lo > hi refused */
TG_API tg_var tg_mul0(tg_var a, tg_var b);       /* a * b, but 0 if a or b is 0 (0*Inf = 0*NaN = 0) */

/* ---- tensors ----
 * A tensor is a node of rank 1..4 (row-major, contiguous) on the same tape as scalars; every
 * builder above works on tensors elementwise, broadcasting NumPy-style (shapes aligned from
 * the right, size-1 dimensions stretch), and a scalar times a tensor broadcasts. */

/* A tensor parameter / constant of rank ndim (1..4) with the given shape; numel values are
 * copied from data. Errors: rank out of range, a dimension < 1, NULL shape or data, more
 * than 2^31-1 elements. */
TG_API tg_var tg_tensor_param(tg_tape *t, int ndim, const int *shape, const double *data);
TG_API tg_var tg_tensor_const(tg_tape *t, int ndim, const int *shape, const double *data);
/* The same without a copy: the tape reads the caller's array in place, so data must stay
 * valid until the tape is reset or freed. It is read by recording, tg_replay and the sweeps
 * (tg_backward and tg_jvp read operand values), so new values go in by writing them into
 * the array and then replaying; change it only between a sweep and the next replay, never
 * between a replay and its sweeps (tg_tensor_set and tg_set refuse such a leaf). tg_check
 * perturbs a borrowed param's elements one at a time and restores them, hence data is not
 * const there. Saves the copy per step of a training loop: the batch borrowed from the data
 * set, the weights from the optimizer's arrays. */
TG_API tg_var tg_tensor_param_ref(tg_tape *t, int ndim, const int *shape, double *data);
TG_API tg_var tg_tensor_const_ref(tg_tape *t, int ndim, const int *shape, const double *data);
/* A constant tensor of that shape with every element v (ndim 0: a scalar constant). */
TG_API tg_var tg_tensor_fill(tg_tape *t, int ndim, const int *shape, double v);
/* A constant tensor holding the ints data[0 .. numel-1] (class labels, indices) as doubles
 * (ndim 0..4). Errors as tg_tensor_const's. */
TG_API tg_var tg_tensor_const_ints(tg_tape *t, int ndim, const int *shape, const int *data);
/* The constant vector [0, 1, ..., n-1]. */
TG_API tg_var tg_tensor_arange(tg_tape *t, int n);
/* The rank of v (0 for a scalar) and its dimensions in shape[0..rank-1] (shape may be
 * NULL); -1 for a bad handle. */
TG_API int tg_shape(tg_var v, int shape[4]);
/* The number of elements of v (1 for a scalar; 0 for a bad handle). */
TG_API size_t tg_numel(tg_var v);
/* v's values (one for a scalar), row-major. Borrowed until the next record or reset on the
 * tape. NULL for a bad handle. */
TG_API const double *tg_data(tg_var v);
/* d(out)/dv for every element of v from the last backward, NULL where the sweep did not
 * reach v (or v is a constant). Borrowed as tg_data. */
TG_API const double *tg_gradient_data(tg_var v);
/* Replace a leaf's values (numel of them), for tg_replay. */
TG_API void tg_tensor_set(tg_var leaf, const double *data);
/* The reverse sweep from a tensor out, seeded with seed (numel(out) values): a vector-
 * Jacobian product. tg_backward(out) is the same with seed 1 for a one-element out. */
TG_API tg_status tg_backward_seed(tg_var out, const double *seed);
/* Tangents of v's elements from the last tg_jvp, NULL where nothing moved. */
TG_API const double *tg_tangent_data(tg_var v);

/* Tensor ops (ops/NAME.c). */
TG_API tg_var tg_matmul(tg_var a, tg_var b);  /* a b: [m,k]x[k,n], or batched [B,m,k]x[k,n] etc. */
TG_API tg_var tg_transpose(tg_var x);         /* x^T: the last two axes swapped */
TG_API tg_var tg_reshape(tg_var x, int ndim, const int *shape); /* same elements, new shape (ndim 0..4) */
TG_API tg_var tg_sum(tg_var x);               /* sum of all elements: a scalar */
TG_API tg_var tg_sum_axis(tg_var x, int axis, int keepdims); /* sum along one axis (< 0 counts from the end) */
TG_API tg_var tg_mean(tg_var x);              /* sum(x) / numel(x) */
TG_API tg_var tg_mean_axis(tg_var x, int axis, int keepdims); /* sum_axis / shape[axis] */
TG_API tg_var tg_slice(tg_var x, int axis, int start, int stop); /* x[start:stop] along axis (< 0 counts from the end) */
TG_API tg_var tg_max_axis(tg_var x, int axis, int keepdims); /* max along one axis; gradient to the first arg-max */
TG_API tg_var tg_logsumexp(tg_var x, int axis, int keepdims); /* ln sum e^x along one axis, as max + log1p(...); gradient softmax */
TG_API tg_var tg_softmax(tg_var x);           /* e^(x - max) / sum e^(x - max) along the last axis */
TG_API tg_var tg_softmax_axis(tg_var x, int axis); /* the same along any axis (< 0 counts from the end) */
TG_API tg_var tg_log_softmax(tg_var x);       /* x - max - ln sum e^(x - max) along the last axis */
TG_API tg_var tg_log_softmax_axis(tg_var x, int axis); /* the same along any axis (< 0 counts from the end) */
TG_API tg_var tg_cross_entropy(tg_var logits, const int *labels); /* mean_n -log softmax(z_n)[labels[n]]; z [N,C] or [C] */
/* The same with the labels as a node: a vector [N] of class indices held as doubles (checked
 * when recorded). Made with tg_tensor_const it can be changed by tg_tensor_set and the step
 * replayed, which tg_cross_entropy's copied int labels cannot; a label that is then not a
 * class makes the loss and its row's gradient NaN. */
TG_API tg_var tg_cross_entropy_var(tg_var logits, tg_var labels);
/* The constant [n, classes] with row k all 0 but a 1 in column labels[k] (labels copied).
 * Errors (TG_ERR_ARG): n < 1, classes < 1, labels NULL, a label outside 0..classes-1 (the
 * message names the first, "tg_one_hot: labels[3] = 7 is not a class (0..4)"). The op
 * one_hot applied to a labels node (tg_apply_attr, attribute {classes}) follows new labels
 * through tg_replay. */
TG_API tg_var tg_one_hot(tg_tape *t, int n, const int *labels, int classes);
TG_API tg_var tg_mse(tg_var pred, tg_var target); /* mean (pred - target)^2 (shapes equal) */
TG_API tg_var tg_bce_with_logits(tg_var logits, tg_var target); /* mean max(x,0) - x t + ln(1 + e^-|x|) (shapes equal) */

/* ---- values, labels ----
 * Reading never breaks a tape. The getters (tg_value, tg_gradient, tg_tangent, tg_data,
 * tg_gradient_data, tg_tangent_data, tg_shape, tg_numel, tg_attr) answer any live handle of
 * the tape without touching its error: where there is no number to give they give their
 * "none" (NaN, 0, NULL). A handle that is no live node -- stale (from before tg_tape_reset),
 * an error handle, an index the tape does not hold -- is a bug in the caller, as it is for a
 * builder: the getter sets the sticky error (a tape already in error keeps its first
 * message) and answers its "none" (NaN, 0, NULL, -1). tg_label_of and tg_tape_find set no
 * error at all. */

/* The node's value (one element of a one-element tensor). NaN for a tensor of several
 * elements (read those with tg_data; not an error), and for a handle that is no live node. */
TG_API double tg_value(tg_var v);
/* Name a node ("z1[3]"): the name appears in error messages, reports and graph output and can
 * be looked up with tg_tape_find. The text is copied. A name already used on this tape, or
 * NULL, sets TG_ERR_ARG. */
TG_API void tg_label(tg_var v, const char *name);
/* The node's label, or NULL (also for a handle that is no live node; sets no error).
 * Borrowed until the next reset. */
TG_API const char *tg_label_of(tg_var v);
/* The node labelled name, or an error handle (index TG_NONE) if none; sets no error. */
TG_API tg_var tg_tape_find(tg_tape *t, const char *name);

/* ---- sweeps ---- */

/* Reverse sweep from the scalar node out (seed 1): afterwards tg_gradient(v) is dout/dv for
 * every node v recorded up to out -- parameters and intermediates alike (at an intermediate
 * z, dE/dz is the delta of a hand derivation). Each call computes fresh adjoints; nothing
 * accumulates across calls. A node whose adjoint is exactly 0 passes nothing back, so a
 * branch masked to 0 cannot leak 0*Inf = NaN. Returns TG_OK, or the error status (also set on
 * the tape): out is an error handle, stale, or the tape has an error. */
TG_API tg_status tg_backward(tg_var out);
/* d(out)/d(v) from the last tg_backward. 0 for constants, for nodes the sweep did not reach,
 * for nodes recorded after it, for a tensor of several elements (tg_gradient_data; not an
 * error) and for a handle that is no live node (see "values, labels" above). */
TG_API double tg_gradient(tg_var v);

/* Forward sweep: the tangent of every node when the parameters leaves[k] move in direction
 * dx (other leaves fixed): dx holds numel(leaves[k]) values for each k in turn (one for a
 * scalar). Afterwards tg_tangent(v) = sum_k dv/dleaves[k] . dx_k (tg_tangent_data for a
 * tensor v). Returns TG_OK or an error status. */
TG_API tg_status tg_jvp(tg_tape *t, int n, const tg_var *leaves, const double *dx);
/* The tangent of v from the last tg_jvp. 0 for nodes recorded after it, for a tensor of
 * several elements (tg_tangent_data; not an error) and for a handle that is no live node. */
TG_API double tg_tangent(tg_var v);

/* Recompute every value after tg_set or tg_tensor_set changed leaves, without re-recording.
 * Values are exact at the new point (each op is evaluated again, kinked ones included).
 * Returns TG_OK, or an error status (sticky): the tape has an error, or anomaly mode saw a
 * NaN or Inf. When a kinked op changed branch -- one with a branch rule (relu, abs,
 * leaky_relu, step; on a tensor, any element) or with a choose rule (max: another arg-max)
 * -- values and gradients are still those of the new point, but a derivative taken across
 * the kink is one-sided: tg_replay_note(t) then names the first such node. Each replay
 * compares with the branches of the previous one (or of recording). */
TG_API tg_status tg_replay(tg_tape *t);
/* After tg_replay: the first node that changed branch, with its branch quantity (or, max,
 * its choice: the arg-max's offset in x) before and after, e.g. "relu 'a2[2]': branch
 * changed (input 0.31 -> -0.02)"; for a tensor node, the first element that changed, e.g.
 * "max 'm': element 0: choice changed (1 -> 0)". NULL when nothing crossed a kink. Borrowed
 * until the next replay or reset. */
TG_API const char *tg_replay_note(const tg_tape *t);

/* Derivative of the scalar out with respect to wrt, recorded as new nodes on the tape (so it
 * can be evaluated, replayed and differentiated again: g'' = tg_diff(tg_diff(g, x), x)).
 * Generic: a reverse sweep that calls each op's vjp_graph rule. Returns an error handle if
 * an op on the path has no vjp_graph (TG_ERR_UNSUPPORTED) or out is not usable. If out does
 * not depend on wrt the result is the constant 0. */
TG_API tg_var tg_diff(tg_var out, tg_var wrt);

/* The same for several wrt at once, from one reverse sweep: d[k] = d(out)/d(wrt[k]).
 * Returns TG_OK or an error status (then every d[k] is an error handle). */
TG_API tg_status tg_diff_many(tg_var out, int n, const tg_var *wrt, tg_var *d);

/* Hessian-vector product: hv = H v, H the Hessian of the scalar out with respect to the
 * parameters params[0..n-1] (scalars or tensors; v and hv hold numel(params[k]) values for
 * each k in turn, len in all: another len is TG_ERR_SHAPE). Forward over reverse: the gradient is recorded once as nodes
 * (tg_diff_many), then one forward sweep along v gives its directional derivative, so the
 * cost is a small constant times a gradient's. Each call records the gradient nodes again
 * (the tape grows): to apply H to many vectors, record tg_diff_many once and call tg_jvp and
 * tg_tangent_data per vector. Returns TG_OK or an error status. */
TG_API tg_status tg_hvp(tg_var out, int n, const tg_var *params, const double *v, size_t len,
                  double *hv);
/* The dense Hessian, N x N row-major in h, N the total number of parameter elements: one
 * forward sweep per element over the recorded gradient. For small N. */
TG_API tg_status tg_hessian(tg_var out, int n, const tg_var *params, double *h);

/* ---- checks ---- */

/* Options for the checks; zero-initialise, then set what you need (0 means the default). */
typedef struct tg_check_opts {
    double rtol;    /* relative tolerance, default 1e-6 */
    double atol;    /* absolute tolerance, default 1e-8: pass when |a-b| <= atol + rtol*|b| */
    int max_elems;  /* tensor parameters: check at most this many elements, drawn at random
                     * (0: every element) */
    uint64_t seed;  /* for that draw (0: a fixed default) */
} tg_check_opts;

/* Per-parameter outcome of tg_check_grad: for a tensor parameter, its worst element (a
 * failing one first, then the largest relative error). */
typedef struct tg_check_result {
    double reverse;  /* tg_backward's gradient */
    double forward;  /* tg_jvp's directional derivative along this parameter */
    double fd;       /* central differences with Richardson extrapolation (h and h/2) */
    double abs_err;  /* worst |a - b| over the pairs (reverse, fd) and (reverse, forward) */
    double rel_err;  /* the same divided by max(|a|, |b|), 0 when both are 0 */
    double step;     /* the finite-difference step h used for this parameter */
    int kink;        /* 1: a perturbation of +-h crossed a kink (relu at 0, ...): the point is
                      * not differentiable there; fd is not compared and it is not a failure */
    int undefined;   /* 1: a perturbation left the function's domain (fd is NaN or Inf, as for
                      * sqrt at 1e-9): fd is not compared */
    int pass;        /* 1 when the answers compared agree within tolerance */
    size_t elem;     /* which element (row-major index; 0 for a scalar) */
    size_t checked;  /* elements checked */
    size_t failed;   /* elements that failed */
} tg_check_result;

typedef struct tg_check_report {
    int n;           /* parameters checked */
    int failed;      /* how many failed */
    int kinks;       /* how many sat at a non-differentiable point */
    int undefined;   /* how many had no finite differences (domain edge) */
    int worst;       /* index (into params) of the worst relative error, -1 if n == 0 */
    double worst_abs, worst_rel;
} tg_check_report;

/* Gradient check of the scalar out with respect to params[0..n-1] (scalars or tensors, every
 * element or opts->max_elems of them), at the tape's current values: reverse mode vs forward
 * mode vs central finite differences, each element's step h = cbrt(eps) * max(1, |p|).
 * Finite differences re-evaluate the recorded tape with tg_set and tg_replay (no user
 * callback), then restore every value. results may be NULL; else it receives n entries.
 * Returns TG_OK when the check ran: its verdict is in report (report->failed == 0: every
 * parameter agrees); or an error status: the tape cannot be swept, report is NULL. */
TG_API tg_status tg_check_grad(tg_var out, int n, const tg_var *params, const tg_check_opts *opts,
                               tg_check_result *results, tg_check_report *report);
/* Print report and results as a table to f (labels used where nodes have them). */
TG_API void tg_check_print(FILE *f, int n, const tg_var *params, const tg_check_result *results,
                           const tg_check_report *report);

/* Outcome of tg_check_adjoints. */
typedef struct tg_adjoint_report {
    int n;           /* claims checked */
    int failed;      /* how many disagree */
    int first;       /* index into nodes of the first disagreeing claim in reverse-sweep order
                      * (the step where a hand derivation went wrong), -1 if none */
    double expected; /* the claim at first */
    double actual;   /* the tape's adjoint at first */
} tg_adjoint_report;

/* The adjoint a hand derivation claims for claim k, computed from node values (tg_value). */
typedef double (*tg_adjoint_fn)(void *ud, int k, const tg_var *nodes);

/* Check hand-derived adjoints dout/dnodes[k] (the deltas of a derivation) against the
 * reverse sweep, and name the first node, in reverse-sweep order (latest node first), whose
 * claim disagrees: the earliest step where the derivation went wrong. Returns TG_OK when
 * the check ran, its verdict in report (report->failed == 0: all agree; report->first names
 * the step to fix first), or an error status (report NULL among them). */
TG_API tg_status tg_check_adjoints(tg_var out, int n, const tg_var *nodes, const double *expected,
                                   const tg_check_opts *opts, tg_adjoint_report *report);
/* The same with claims computed by fn(ud, k, nodes). */
TG_API tg_status tg_check_adjoints_fn(tg_var out, int n, const tg_var *nodes, tg_adjoint_fn fn,
                                      void *ud, const tg_check_opts *opts,
                                      tg_adjoint_report *report);

/* ---- the tape compiler: generated C for a value and its gradient ----
 * tg_compile writes C for out's value and gradient over the nodes out depends on (its cone):
 * straight-line code, one line per node, named after the tape's labels, each op's value and
 * partials from the same C text as the library's own (tapegrad_op.h, TG_EVAL), the reverse
 * sweep adding contributions in the library's order. It compiles that with the system C
 * compiler and loads it. tg_compiled_run then does what tg_replay + tg_backward(out) do, with
 * the same numbers bit for bit. Elementwise tensor nodes become loops with their shapes
 * written in (those of one shape in a row share one forward loop); other tensor ops are run
 * by the library's own steps, called from the compiled code in tape order. docs/compile.md has
 * the details and the figures. */
typedef struct tg_compiled tg_compiled;

/* Options for tg_compile; zero-initialise (or pass NULL) for the defaults. */
typedef struct tg_compile_opts {
    const char *cc;        /* the compiler command, words split at spaces ("gcc -m64");
                            * NULL: $TG_CC if set, else "cc" */
    const char *cache_dir; /* where built modules are kept, keyed by a hash of the source, the
                            * compiler and its flags; NULL: $XDG_CACHE_HOME/tapegrad, else
                            * $HOME/.cache/tapegrad; "": no cache */
} tg_compile_opts;

/* Compile out's value and gradient. NULL with the tape's error set and a message that says
 * why: TG_ERR_COMPILE (no compiler found, the compiler failed: its first error line), TG_ERR_ARG
 * (anomaly mode is on: compiled code does not check; a cone of more than 50000 nodes),
 * TG_ERR_NOMEM. An output of several elements is run with tg_compiled_run_seed. A cache directory or
 * file another user could have written is never used: the module is then built afresh
 * (tg_compiled_log says so); a cached file that does not match its checksum, does not load or
 * holds another module is rebuilt. */
TG_API tg_compiled *tg_compile(tg_var out, const tg_compile_opts *opts);
/* The leaves' current values (tg_set) in, out's value and gradient out: afterwards
 * tg_value, tg_gradient and tg_replay_note answer as after tg_replay + tg_backward(out), for
 * out and every node it depends on (nodes outside that cone are not recomputed). The kept
 * partials are refreshed too, so other sweeps may follow. Returns TG_OK, or an error: the
 * tape's sticky error, TG_ERR_STALE after tg_tape_reset (compile the new recording),
 * TG_ERR_ARG with anomaly mode on. */
TG_API tg_status tg_compiled_run(tg_compiled *c);
/* The same for an output that is a tensor of any shape, as tg_replay + tg_backward_seed(out,
 * seed): seed holds dL/dout, one value per element of out. TG_ERR_ARG for a NULL seed or a
 * module whose output is a scalar node (tg_compiled_run seeds it with 1); tg_compiled_run on
 * an output of several elements is TG_ERR_SHAPE and names this. */
TG_API tg_status tg_compiled_run_seed(tg_compiled *c, const double *seed);
/* The raw entry point, for hot loops: skips the tape. in[k] is the value of input k, grad[k]
 * receives dout/d(input k) (0 for a constant), the return value is out. The inputs are the
 * leaves of out's cone -- parameters and constants -- in recording order; tg_compiled_inputs
 * names them. Reentrant; reports no kinks. NULL for a module with tensor nodes (see
 * tg_compiled_raw_tensors). */
typedef double (*tg_compiled_fn)(const double *in, double *grad);
TG_API tg_compiled_fn tg_compiled_raw(const tg_compiled *c);
/* The raw entry of a module with tensor nodes, for hot loops over large tensors: skips the
 * tape and keeps no intermediate tensor in memory. in[k] points at input k's values -- a
 * tensor's elements in row-major order, a scalar's one value -- and grad[k] at room for as
 * many, which receive dout/d(input k) (zeros for a constant); the return value is out. The
 * inputs are the leaves of out's cone, tensors and scalars, in recording order
 * (tg_compiled_inputs names them). One loop over the tensors' elements computes their
 * values in registers and takes each element's derivatives straight to the inputs' gradients,
 * with the bits of tg_compiled_run. It exists when the cone is one loop's worth: its tensors
 * of more than one element are inputs, windows of an input (tg_slice, tg_reshape) and
 * elementwise ops over those and one-element values, all of one shape, summed whole with
 * tg_sum; anything else (matmul, softmax, a sum along an axis, ...) gives NULL, and the
 * generated source's first comment says which node is why. Reentrant; reports no kinks. */
typedef double (*tg_compiled_tensor_fn)(const double *const *in, double *const *grad);
TG_API tg_compiled_tensor_fn tg_compiled_raw_tensors(const tg_compiled *c);
/* The number of inputs of the raw entry point (0 when it has none); their handles into
 * leaves[0 .. max-1]. */
TG_API int tg_compiled_inputs(const tg_compiled *c, tg_var *leaves, int max);
/* The generated source, NUL-terminated; owned by c. */
TG_API const char *tg_compiled_source(const tg_compiled *c);
/* One line on how the module was had: "built with cc in 84.2 ms (cached in DIR)", "loaded
 * from the cache DIR in 0.9 ms", or why the cache was not used. */
TG_API const char *tg_compiled_log(const tg_compiled *c);
TG_API void tg_compiled_free(tg_compiled *c);

/* The standalone emitter: C for `double NAME(const double *in, double *grad)` computing out
 * and its gradient with no dependency on tapegrad (only <math.h>), written to f. in[k] is
 * the leaf opts->in[k]; grad[k] receives dout/d(opts->wrt[k]), each wrt among the inputs.
 * Every other leaf is folded in at its current value, with everything computed from it
 * alone (a tensor as a static array). Its header comment names every input and output.
 * With tensors in out's cone the function is `double NAME(const double *const *in, double
 * *const *grad)`: in[k] points at the values of opts->in[k] (a tensor's in row-major order,
 * a scalar's one), grad[k] at room for as many. It is the fused loop of
 * tg_compiled_raw_tensors (it needs <string.h> too) when one loop takes the cone; otherwise
 * it is written node by node on a workspace it allocates (it needs <stdlib.h>, and CBLAS for
 * a product, whose steps are the library's cblas_dgemm calls; it returns NaN, writing no
 * gradient, if the allocation fails), with the interpreter's bits either way. TG_ERR_ARG for
 * a bad list (not a leaf, another tape, a wrt that is not an input, a name that is not a C
 * identifier), and TG_ERR_UNSUPPORTED for an op without C code (a user's op with no .code)
 * or a tensor op that is neither elementwise, a product (.gemm), a window nor a whole sum
 * (.fuse): softmax, the losses, a sum along an axis (the message says which node). */
typedef struct tg_emit_opts {
    const char *name;    /* the function's name, a C identifier; NULL: "f" */
    const char *comment; /* one line for the header comment (the expression), or NULL */
    int n_in;
    const tg_var *in;
    int n_wrt;
    const tg_var *wrt;
} tg_emit_opts;
TG_API tg_status tg_emit_c(tg_var out, const tg_emit_opts *opts, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
