/* internal.h - the tape's records and the helpers shared inside the library. Never installed.
 * See LICENSE. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "table.h"
#include "tapegrad_op.h"

/* One recorded node: 24 bytes (an active op node also has its partials in tape->part).
 *   in[0]  bit 31: active (depends on a parameter); bit 30: a tensor node; bits 0-29: the
 *          first input's index, or (TG_NARY) the offset of the input list in tape->ext
 *   in[1]  bits 30-31: the kind (TG_LEAF, TG_UNARY, TG_BINARY, TG_NARY); bits 0-29: the
 *          second input's index (TG_BINARY)
 * The kind lets the sweeps skip leaves and pick the loop without reading the descriptor.
 * A tensor node (its value in the data arena, even at rank 0) has v = the index of its
 * tg_tensor entry, and is always TG_LEAF or TG_NARY, so the scalar fast paths never see it. */
typedef struct tg_node {
    const tg_op_def *op;
    uint32_t in[2];
    double v;
} tg_node;

#define TG_ACTIVE 0x80000000u
#define TG_TENSOR 0x40000000u
#define TG_INDEX 0x3fffffffu
#define TG_IN1 0x3fffffffu
#define TG_KIND_SHIFT 30
enum { TG_LEAF, TG_UNARY, TG_BINARY, TG_NARY };
#define TG_MAX_NODES 0x3ffffff0u

static inline unsigned tg_kind_of_arity(int n)
{
    return n == 0 ? TG_LEAF : n == 1 ? TG_UNARY : n == 2 ? TG_BINARY : TG_NARY;
}

/* A kinked node's branch quantity (relu: its input) at the last record or replay, so replay
 * can tell when its sign changes (one per active kinked node, in node order). */
typedef struct tg_kink {
    uint32_t node;
    double s;
} tg_kink;

/* A tensor node's shape and where its values live: data[off .. off+n) in the data arena (or
 * the caller's array, for a leaf made with tg_tensor_param_ref / tg_tensor_const_ref); its
 * gradient and tangent use the same offsets in the grad and tdat arenas. */
typedef struct tg_tensor {
    size_t off, n;
    size_t koff; /* a kinked node's per-element marks in tape->ksign, or TG_NONE_OFF */
    size_t poff; /* an active elementwise node's partials (n x arity) in tape->tpart, or
                  * TG_NONE_OFF */
    double *ref; /* a borrowed leaf's values: the caller's array (data[off..] unused) */
    int rank;
    int shape[TG_MAX_RANK];
    int nattr;
    int attr[TG_MAX_ATTR];
} tg_tensor;

#define TG_NONE_OFF ((size_t)-1)

typedef struct tg_label_entry tg_label_entry;

struct tg_tape {
    tg_alloc_fn alloc;
    void *ud;
    uint32_t epoch;

    tg_node *nodes;
    uint32_t n, cap;
    double *part;  /* partials of active op nodes: part[2i], part[2i+1] */
    uint32_t part_cap; /* in nodes */
    uint32_t *ext; /* input lists of ops with arity > 2, their partials in pext */
    double *pext;
    uint32_t next, ext_cap, pext_cap;
    tg_kink *kinks;
    uint32_t nkinks, kink_cap;

    double *adj; /* adjoints of the last tg_backward, adj_n of them valid */
    uint32_t adj_n, adj_cap;
    double *tan; /* tangents of the last tg_jvp */
    uint32_t tan_n, tan_cap;

    tg_tensor *tens; /* tensor nodes' shapes */
    uint32_t ntens, tens_cap;
    double *data;    /* tensor values; grad and tdat mirror it */
    size_t data_n, data_cap;
    double *grad, *tdat;
    size_t grad_cap, tdat_cap;
    double *tpart;      /* partials of active elementwise tensor nodes, element-major */
    size_t tpart_n, tpart_cap;
    int32_t *ksign; /* per element of a kinked tensor node: the sign of its branch quantity,
                     * or (ops with a choose kernel) which input it chose */
    size_t ksign_n, ksign_cap;
    int32_t *kwork; /* replay's new choices of one node, before they are compared */
    size_t kwork_cap;
    double *scratch; /* the checker's working memory, kept like the rest */
    size_t scratch_cap;

    tg_table labels;          /* label names to their entries (label.c) */
    tg_label_entry **by_node; /* the same entries in node order, for naming a node */
    uint32_t nlabels, labels_cap;

    int check_nan;
    tg_status status;
    uint32_t room; /* nodes the inline builders may record: min(cap, part_cap), or 0 while
                    * the tape is in error or in anomaly mode (they then take tg_apply) */
    char msg[320];
    char note[200];
};

extern const tg_op_def tg_leaf_param, tg_leaf_const;

static inline int tg_node_active(const tg_node *nd) { return (nd->in[0] & TG_ACTIVE) != 0; }
static inline unsigned tg_node_kind(const tg_node *nd) { return nd->in[1] >> TG_KIND_SHIFT; }
static inline int tg_node_is_tensor(const tg_node *nd) { return (nd->in[0] & TG_TENSOR) != 0; }
static inline tg_tensor *tg_node_tensor(const tg_tape *t, const tg_node *nd)
{
    return &t->tens[(uint32_t)nd->v];
}
static inline int tg_node_is_leaf(const tg_node *nd) { return tg_node_kind(nd) == TG_LEAF; }
/* A handle that is live on its tape: same epoch, an index recorded (TG_NONE never is). */
static inline int tg_live(const tg_tape *t, tg_var v)
{
    return v.epoch == t->epoch && v.index < t->n;
}
/* Where node i keeps its partials dy/dx[j]: NULL when its op's partials are not kept (they
 * follow from the inputs, see tg_op_def.partials). */
static inline double *tg_node_partials(const tg_tape *t, const tg_node *nd, uint32_t i)
{
    if (nd->op->partials != TG_PARTIALS_KEPT) return NULL;
    return tg_node_kind(nd) == TG_NARY ? &t->pext[nd->in[0] & TG_INDEX] : &t->part[2 * (size_t)i];
}
/* Whether op's partials form is one the sweeps know (TG_PARTIALS_SWAP only on two operands). */
static inline int tg_op_form_ok(const tg_op_def *op)
{
    return op->partials == TG_PARTIALS_KEPT || op->partials == TG_PARTIALS_CONST ||
           (op->partials == TG_PARTIALS_SWAP && op->arity == 2);
}
/* Node i's partials into d[0 .. arity-1], however they are had. */
static inline void tg_node_partials_get(const tg_tape *t, const tg_node *nd, uint32_t i,
                                        double *d)
{
    const tg_op_def *op = nd->op;
    const double *p = tg_node_partials(t, nd, i);
    if (op->partials == TG_PARTIALS_SWAP) {
        d[0] = t->nodes[nd->in[1] & TG_IN1].v;
        d[1] = t->nodes[nd->in[0] & TG_INDEX].v;
        return;
    }
    for (int j = 0; j < op->arity; j++) d[j] = p ? p[j] : op->dconst[j];
}
/* Input indices of an op node into idx[]; returns the arity. */
static inline int tg_node_inputs(const tg_tape *t, const tg_node *nd, uint32_t *idx)
{
    int n = nd->op->arity;
    if (tg_node_kind(nd) != TG_NARY) {
        idx[0] = nd->in[0] & TG_INDEX;
        idx[1] = nd->in[1] & TG_IN1;
    } else {
        for (int i = 0; i < n; i++) idx[i] = t->ext[(nd->in[0] & TG_INDEX) + (uint32_t)i];
    }
    return n;
}

/* For loops specialised on a constant argument: each call gets its own copy. */
#ifdef __GNUC__
#define TG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TG_ALWAYS_INLINE inline
#endif

/* ---- recording: the builders' common case, inlined ----
 * Two (one) live scalar operands of one tape that has room and is neither in error nor in
 * anomaly mode (t->room is 0 then): the node is written here, its value and partials from
 * eval, with no call. A built-in op's builder passes its own kernel, which the compiler then
 * inlines too; the op vouches for itself (its arity, no branch or infer kernel). Anything
 * else goes through tg_apply, which handles and reports it. */
typedef double (*tg_eval_fn)(const double *x, double *dydx);

/* tg_apply on two operands, out of line so the inline paths' fallback is a tail call. */
tg_var tg_apply_pair(const tg_op_def *op, tg_var a, tg_var b);

static inline tg_var tg_record_node(tg_tape *t, const tg_op_def *op, tg_eval_fn eval,
                                    uint32_t in0, uint32_t in1, uint32_t act, const double *x)
{
    uint32_t i = t->n;
    tg_node *nd = &t->nodes[i];
    nd->v = eval(x, act && op->partials == TG_PARTIALS_KEPT ? &t->part[2 * (size_t)i] : NULL);
    nd->op = op;
    nd->in[0] = in0 | act;
    nd->in[1] = in1; /* with its kind bits */
    t->n = i + 1;
    return (tg_var){t, i, t->epoch};
}

static inline tg_var tg_record1(const tg_op_def *op, tg_eval_fn eval, tg_var a)
{
    tg_tape *t = a.tape;
    if (t && t->n < t->room && a.epoch == t->epoch && a.index < t->n) {
        const tg_node *na = &t->nodes[a.index];
        if (!(na->in[0] & TG_TENSOR))
            return tg_record_node(t, op, eval, a.index, (uint32_t)TG_UNARY << TG_KIND_SHIFT,
                                  na->in[0] & TG_ACTIVE, &na->v);
    }
    return tg_apply(op, 1, &a);
}

static inline tg_var tg_record2(const tg_op_def *op, tg_eval_fn eval, tg_var a, tg_var b)
{
    tg_tape *t = a.tape;
    if (t && b.tape == t && t->n < t->room && a.epoch == t->epoch && b.epoch == t->epoch &&
        a.index < t->n && b.index < t->n) {
        const tg_node *na = &t->nodes[a.index], *nb = &t->nodes[b.index];
        const uint32_t f = na->in[0] | nb->in[0];
        if (!(f & TG_TENSOR)) {
            const double x[2] = {na->v, nb->v};
            return tg_record_node(t, op, eval, a.index,
                                  b.index | (uint32_t)TG_BINARY << TG_KIND_SHIFT,
                                  f & TG_ACTIVE, x);
        }
    }
    return tg_apply_pair(op, a, b);
}

/* ---- tape.c ---- */
void *tg_mem(tg_tape *t, void *p, size_t osize, size_t nsize);
int tg_grow(tg_tape *t, void **p, uint32_t *cap, uint32_t need, size_t elem);
int tg_grow_big(tg_tape *t, void **p, size_t *cap, size_t need, size_t elem);
/* Room for one more node (and its partials): 0, or -1 with the error set. */
int tg_reserve(tg_tape *t);
/* Recompute t->room after the capacity, the status or anomaly mode changed. */
void tg_set_room(tg_tape *t);
/* Append a node (room reserved); in1 carries its kind bits. */
tg_var tg_push(tg_tape *t, const tg_op_def *op, uint32_t in0, uint32_t in1, double v);
/* Set the sticky error (the first one wins) with a printf-style message. Returns status. */
tg_status tg_fail(tg_tape *t, tg_status s, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
tg_var tg_err_var(tg_tape *t);
/* Resolve a handle: its record, or NULL after setting the error ("<who>: ..."). */
tg_node *tg_resolve(tg_var v, const char *who);
/* The same for a handle that must belong to tape t; a handle of another tape is reported on
 * t (not on its own tape) as "<who>: <what> is from another tape". */
tg_node *tg_resolve_on(tg_tape *t, tg_var v, const char *who, const char *what);
/* "'z1[3]'" if labelled, else "#12": names a node in messages. */
const char *tg_node_name(const tg_tape *t, uint32_t i, char *buf, size_t size);
/* A new tape's empty label table; freeing every label and the memory they hold. */
void tg_labels_init(tg_tape *t);
void tg_labels_clear(tg_tape *t);
/* Anomaly mode's report: op gave y from the n inputs x at node (no report if an x is not
 * finite: the NaN came from upstream). */
void tg_report_nonfinite(tg_tape *t, const tg_op_def *op, int n, const double *x, double y,
                         uint32_t node);

/* ---- tensor.c ---- */
/* Record op on operands of which at least one is a tensor, or a tensor-only op. */
tg_var tg_apply_tensor(tg_tape *t, const tg_op_def *op, int n, const uint32_t *idx, uint32_t act,
                       int nattr, const int *attr);
/* The sweeps' general path for a tensor node i: recompute its value (replay), pass its
 * gradient back (backward: returns 0, or an error status) or compute its tangent (jvp). */
void tg_tensor_forward(tg_tape *t, uint32_t i);
int tg_tensor_vjp(tg_tape *t, uint32_t i);
int tg_tensor_jvp(tg_tape *t, uint32_t i);
/* The view of node i's value (a scalar node's view points at its inline value). */
tg_view tg_node_view(const tg_tape *t, uint32_t i);
/* 1 with the error set ("<who>: leaf ... borrows the caller's array ...") when node i is a
 * borrowed tensor leaf, whose values the tape must not write; else 0. */
int tg_refuse_borrowed(tg_tape *t, uint32_t i, const char *who);
size_t tg_node_numel(const tg_tape *t, uint32_t i);
/* Where node j's gradient (base t->grad, flags t->adj) or tangent (t->tdat, t->tan) goes: a
 * scalar's own slot in flags, or a tensor's region of base, zeroed the first time it is
 * reached in a sweep (its flag then set) -- unless fresh is given: then the region is left
 * as it is and *fresh set to 1, for a caller that writes every element before reading. */
double *tg_tensor_slot(tg_tape *t, uint32_t j, double *base, double *flags, int *fresh);
/* Make room in the grad / tdat arena for every tensor recorded; 0 or -1 (error set). */
int tg_tensor_grad_ready(tg_tape *t);
int tg_tensor_tan_ready(tg_tape *t);

/* ---- registry.c ---- */
/* Check every property of a descriptor the library relies on: op not NULL, a name, arity in
 * 1..TG_MAX_ARITY, eval or infer + forward + vjp, a known partials form (TG_PARTIALS_SWAP with
 * arity 2). TG_OK with msg ""; else TG_ERR_ARG with the reason in msg, "<problem> (<details>)"
 * naming the op, for the caller to prefix with its own name. */
tg_status tg_op_validate(const tg_op_def *op, char *msg, size_t size);

/* ---- shape.c ---- */
/* The NumPy broadcast of the n operands' shapes into out (rank and shape); 0, or -1 when
 * they do not broadcast. */
int tg_broadcast(const tg_view *in, int n, tg_view *out);

#endif
