/* internal.h - the tape's records and the helpers shared inside the library. Never installed.
 * See LICENSE. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "table.h"
#include "tapegrad_op.h"

/* The node record (tg_node), its flag bits and the tape's head are in tapegrad_op.h: the
 * inline recording path reads them. A tensor node (its value in the data arena, even at
 * rank 0) has v = the index of its tg_tensor entry, and is always TG_LEAF or TG_NARY, so the
 * scalar fast paths never see it. */
#define TG_MAX_NODES 0x3ffffff0u

/* For loops specialised on a constant argument (the sweeps' check): each call gets its own
 * copy, with the constant folded in. */
#ifdef __GNUC__
#define TG_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TG_ALWAYS_INLINE static inline
#endif

static inline unsigned tg_kind_of_arity(int n)
{
    return n == 0 ? TG_LEAF : n == 1 ? TG_UNARY : n == 2 ? TG_BINARY : TG_NARY;
}

/* An active kinked node (an op with a branch rule, or a tensor op with a choose kernel), in
 * node order: its branch quantities (relu: its input; one per element) or choices at the
 * last record or replay are kept at kval[off ..], so replay can tell when one changes. */
typedef struct tg_kink {
    uint32_t node;
    size_t off;
} tg_kink;

/* A tensor node's shape and where its values live: data[off .. off+n) in the data arena (or
 * the caller's array, for a leaf made with tg_tensor_param_ref / tg_tensor_const_ref); its
 * gradient and tangent use the same offsets in the grad and tdat arenas. */
typedef struct tg_tensor {
    size_t off, n;
    size_t poff; /* an active elementwise node's partials (n x arity) in tape->tpart, or
                  * TG_NONE_OFF */
    double *ref; /* a borrowed leaf's values: the caller's array (data[off..] unused) */
    int rank;
    int shape[TG_MAX_RANK];
    int nattr;
    int attr[TG_MAX_ATTR];
} tg_tensor;

#define TG_NONE_OFF ((size_t)-1)

/* A label's record in the tape's name table (its name is the table's copy); label.c. */
typedef struct tg_label_entry {
    uint32_t node;
    uint32_t epoch; /* live while it equals the tape's */
} tg_label_entry;

struct tg_tape {
    union { /* the head first, as the inline recording path sees it (tapegrad_op.h) */
        tg_tape_head head;
        struct {
            tg_node *nodes;
            double *part;  /* partials of active op nodes: part[2i], part[2i+1] */
            uint32_t n;
            uint32_t room; /* nodes the inline path may record: min(cap, part_cap), or 0
                            * while the tape is in error or in anomaly mode (then tg_apply) */
            uint32_t epoch;
        };
    };
    uint32_t cap, part_cap; /* in nodes */
    tg_alloc_fn alloc;
    void *ud;
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
    double *kval;   /* kinked nodes' branch quantities or choices (see tg_kink) */
    size_t kval_n, kval_cap;
    double *kwork;  /* one node's new ones, before they are compared */
    size_t kwork_cap;
    double *scratch; /* the checker's working memory, kept like the rest */
    size_t scratch_cap;

    tg_table labels;          /* label names to their entries (label.c) */
    tg_label_entry **by_node; /* the same entries in node order, for naming a node */
    uint32_t nlabels, labels_cap;

    int check_nan;
    tg_status status;
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
/* Input indices of an op node into idx[]; returns the arity. */
static inline int tg_node_inputs(const tg_tape *t, const tg_node *nd, uint32_t *idx)
{
    int n = nd->op->arity;
    if (tg_node_kind(nd) != TG_NARY) {
        idx[0] = nd->in[0] & TG_INDEX;
        idx[1] = nd->in[1] & TG_INDEX;
    } else {
        for (int i = 0; i < n; i++) idx[i] = t->ext[(nd->in[0] & TG_INDEX) + (uint32_t)i];
    }
    return n;
}

/* ---- partials: how the sweeps have dy/dx[j], in whichever form the op keeps them ---- */

/* Where active node i keeps its partials (arity of them): NULL when its op's are not kept. */
static inline double *tg_node_kept(const tg_tape *t, const tg_node *nd, uint32_t i)
{
    if (nd->op->partials != TG_PARTIALS_KEPT) return NULL;
    return tg_node_kind(nd) == TG_NARY ? &t->pext[nd->in[0] & TG_INDEX] : &t->part[2 * (size_t)i];
}
/* The one decoder of tg_op_def.partials, for scalar and tensor nodes alike: where operand j's
 * partials are, element k at [k * *step]. kept: the node's kept partials (kstep apart);
 * other: the values of the operand whose value is the partial under TG_PARTIALS_SWAP (ostep
 * apart). Selects rather than branches: the reverse loop calls it on every node. */
static inline const double *tg_partials_at(const tg_op_def *op, int j, const double *kept,
                                           size_t kstep, const double *other, size_t ostep,
                                           size_t *step)
{
    const int swap = op->partials == TG_PARTIALS_SWAP, keep = op->partials == TG_PARTIALS_KEPT;
    const double *own = keep ? kept : op->dconst; /* the node's own partials, or the constants */
    *step = swap ? ostep : keep ? kstep : 0;
    return swap ? other : own + j;
}
/* A scalar node's partial dy/dx[j]: op its op, kept where it keeps them (tg_node_kept; for
 * an op of arity <= 2 &part[2i] will do, read only when the op keeps them), idx its inputs
 * in the tape's nodes. */
static inline double tg_node_partial(const tg_node *nodes, const tg_op_def *op,
                                     const double *kept, int j, const uint32_t *idx)
{
    size_t step;
    return *tg_partials_at(op, j, kept, 0, &nodes[idx[1 - j % 2]].v, 0, &step);
}
/* All of node i's partials into d[0 .. arity-1]. */
static inline void tg_node_partials_get(const tg_tape *t, const tg_node *nd, uint32_t i,
                                        double *d)
{
    uint32_t idx[TG_MAX_ARITY];
    int n = tg_node_inputs(t, nd, idx);
    const double *kept = tg_node_kept(t, nd, i);
    for (int j = 0; j < n; j++) d[j] = tg_node_partial(t->nodes, nd->op, kept, j, idx);
}
/* Whether the contribution v = g * d (an adjoint or tangent times a partial) is passed on:
 * always, unless it is the NaN of 0 * Inf (a zero factor passes nothing on). v is tested
 * first: NaN is rare, so the common case costs one comparison. */
static inline int tg_passes(double v, double g, double d)
{
    return v == v || (g != 0.0 && d != 0.0);
}

/* ---- alloc.c ---- */
/* The default allocator hook: realloc and free. */
void *tg_default_alloc(void *ud, void *p, size_t osize, size_t nsize);

/* ---- tape.c: memory, lifecycle, errors, handles, appending records ---- */
void *tg_mem(tg_tape *t, void *p, size_t osize, size_t nsize);
int tg_grow(tg_tape *t, void **p, uint32_t *cap, uint32_t need, size_t elem);
int tg_grow_big(tg_tape *t, void **p, size_t *cap, size_t need, size_t elem);
/* Room for one more node (and its partials): 0, or -1 with the error set. */
int tg_reserve(tg_tape *t);
/* Recompute t->room after the capacity, the status or anomaly mode changed. */
void tg_set_room(tg_tape *t);
/* Append a node (reserving room); in1 carries its kind bits. Error handle when out of room. */
tg_var tg_push(tg_tape *t, const tg_op_def *op, uint32_t in0, uint32_t in1, double v);
/* Set the sticky error (the first one wins) with a printf-style message. Returns status. */
tg_status tg_fail(tg_tape *t, tg_status s, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
tg_var tg_err_var(tg_tape *t);
/* Resolve a handle: its record, or NULL after setting the error ("<who>: ..."). k > 0 names
 * it "operand k" in the message, k = 0 "the handle". */
tg_node *tg_resolve_arg(tg_var v, const char *who, int k);
static inline tg_node *tg_resolve(tg_var v, const char *who) { return tg_resolve_arg(v, who, 0); }
/* The same for a handle that must belong to tape t; a handle of another tape is reported on
 * t (not on its own tape) as "<who>: <what> is from another tape". */
tg_node *tg_resolve_on(tg_tape *t, tg_var v, const char *who, const char *what);

/* ---- label.c ---- */
/* "'z1[3]'" if labelled, else "#12": names a node in messages. */
const char *tg_node_name(const tg_tape *t, uint32_t i, char *buf, size_t size);

/* ---- node.c: tensor entries, views, leaves ---- */
/* A new tg_tensor entry of v's rank and shape (and attributes) with room for its values;
 * UINT32_MAX on failure (error set). */
uint32_t tg_tensor_new(tg_tape *t, const tg_view *shape, int nattr, const int *attr);
/* The view of tensor entry tt's values, and of node i's (a scalar's points at its value). */
tg_view tg_tensor_view(const tg_tape *t, const tg_tensor *tt);
tg_view tg_node_view(const tg_tape *t, uint32_t i);
/* The kernel context of tensor node i (operands, output, attributes; no gradients), its
 * operands' indices in idx; returns their number. */
int tg_node_ctx(const tg_tape *t, uint32_t i, tg_op_ctx *c, uint32_t *idx);
/* cblas_dgemm with CBLAS's enums as ints (gemm.c), handed to compiled code. */
void tg_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
              int lda, const double *b, int ldb, double beta, double *c, int ldc);
size_t tg_node_numel(const tg_tape *t, uint32_t i);
/* 1 with the error set ("<who>: leaf ... borrows the caller's array ...") when node i is a
 * borrowed tensor leaf, whose values the tape must not write; else 0. */
int tg_refuse_borrowed(tg_tape *t, uint32_t i, const char *who);

/* ---- ew.c: the elementwise driver (kernel contexts only) ---- */
/* Values, and the partials into part (c->n per element) when part is not NULL. */
void tg_ew_forward(const tg_op_def *op, tg_op_ctx *c, double *part);
/* ADD gy times the partials (kept ones in part, or had from the descriptor or operands) into
 * every non-NULL gin[j]; where fresh[j], WRITE instead (gin[j] has the output's size and
 * nothing has reached it yet). */
void tg_ew_vjp(const tg_op_def *op, tg_op_ctx *c, const double *part, const int *fresh);
void tg_ew_jvp(const tg_op_def *op, tg_op_ctx *c, const double *part);
/* The branch quantity of every output element into s. */
void tg_ew_branch(const tg_op_def *op, const tg_op_ctx *c, double *s);
/* op->check on every output element's operands: TG_OK, or the first refusal's status with
 * c->msg filled and *elem the element. */
tg_status tg_ew_check(const tg_op_def *op, const tg_op_ctx *c, size_t *elem);
/* Where output element e reads operand j: its offset in c->in[j] (a stretched axis at 0). */
size_t tg_ew_offset(const tg_op_ctx *c, int j, size_t e);

/* ---- record.c: tg_apply, for scalar and tensor nodes ---- */
/* A tensor node's branch quantities (or choices) at c, in the tape's work buffer (out.n of
 * them); NULL when out of memory (error set). */
double *tg_kinks_now(tg_tape *t, const tg_op_def *op, const tg_op_ctx *c);
/* Keep kinked node k's new branch quantities or choices now[0 .. n-1] (the node's element
 * count); with compare (replay), the first that changed becomes the replay note. */
void tg_kinks_keep(tg_tape *t, const tg_kink *k, const double *now, size_t n, int compare);
/* Anomaly mode's reports: op gave y from the n inputs x at node (none if an x is not
 * finite: the NaN came from upstream); a tensor result's first non-finite element, with its
 * operands there when op is elementwise (c: the node's kernel context, out computed). */
void tg_report_nonfinite(tg_tape *t, const tg_op_def *op, int n, const double *x, double y,
                         uint32_t node);
void tg_report_tensor(tg_tape *t, const tg_op_def *op, const tg_op_ctx *c, uint32_t node);

/* ---- sweep.c ---- */
/* What tg_backward (seed NULL: a one-element out seeded 1) and tg_backward_seed do before
 * their loop, for compiled code: adjoints 0 up to out, out seeded; errors say who (and, for
 * an unseeded out of several elements, point at who's _seed form). TG_OK or the error
 * status. */
tg_status tg_begin_reverse(tg_tape *t, tg_var out, const double *seed, const char *who);
/* Tensor node i as replay computes it (its kinks not compared), and as the reverse loop
 * passes its adjoint back (when it was reached). */
void tg_tensor_node_forward(tg_tape *t, uint32_t i);
void tg_tensor_node_vjp(tg_tape *t, uint32_t i);
/* Compare kinked node k's branch quantities (or choices) at the values the tape holds with
 * the last ones, as replay does, noting the first change. */
void tg_kink_recheck(tg_tape *t, const tg_kink *k);
/* Replay the nodes after node i from the values the tape holds (node i's included, which
 * the caller may have changed): tg_replay's work and rules for part of the tape. */
tg_status tg_replay_after(tg_tape *t, uint32_t i);

/* ---- registry.c ---- */
/* Check every property of a descriptor the library relies on: op not NULL, a name, arity in
 * 1..TG_MAX_ARITY, eval or infer + forward + vjp, a known partials form (TG_PARTIALS_SWAP with
 * arity 2). TG_OK with msg ""; else TG_ERR_ARG with the reason in msg, "<problem> (<details>)"
 * naming the op, for the caller to prefix with its own name. */
tg_status tg_op_validate(const tg_op_def *op, char *msg, size_t size);

/* ---- emit.c: C source from a tape ---- */
/* A growing NUL-terminated string on the tape's allocator (running out sets the error). */
typedef struct tg_buf {
    tg_tape *t;
    char *s;
    size_t n, cap;
    int oom;
} tg_buf;
void tg_buf_printf(tg_buf *b, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void tg_buf_free(tg_buf *b);
/* What a module needs besides its source (tape allocator; sizes are the counts). */
typedef struct tg_emitted {
    const tg_op_def **ext; /* ops without code, in the order of the table tg_entry_init takes */
    uint32_t next;
    uint32_t *leaves;      /* the raw entry's inputs: node indices */
    uint32_t nleaves;
    uint32_t *kinks;       /* indices into t->kinks of the kinked nodes in the cone */
    uint32_t nkinks;
    uint32_t ncone;
    uint32_t stale;        /* active nodes before out that are not in its cone: their adjoints
                            * are not written by the module, so the run clears them */
    int tensors;           /* the cone holds tensor nodes: no tg_entry_raw; the run prepares
                            * the reverse sweep as tg_backward does */
    int fused;             /* ... and the module has the fused raw entry, tg_entry_arrays */
} tg_emitted;
/* Append to b the C for out: with o, tg_emit_c's standalone function; with o NULL, a module
 * for tg_compile (entries tg_entry_tape, tg_entry_raw and, for ops without code,
 * tg_entry_init), info filled. TG_OK or the error status (set on t). */
tg_status tg_emit(tg_tape *t, uint32_t out, const tg_emit_opts *o, tg_buf *b, tg_emitted *info);
void tg_emitted_free(tg_tape *t, tg_emitted *info);

/* ---- special.c ---- */
/* The numerical kernels as C text, for the code the emitter writes: each one's name and its
 * definition, a kernel after the kernels it calls; ended by {NULL, NULL}, at most
 * TG_MAX_KERNELS in all. */
#define TG_MAX_KERNELS 16
typedef struct tg_kernel {
    const char *name, *text;
} tg_kernel;
extern const tg_kernel tg_kernels[];

/* ---- shape.c ---- */
/* The NumPy broadcast of the n operands' shapes into out (rank and shape); 0, or -1 when
 * they do not broadcast. */
int tg_broadcast(const tg_view *in, int n, tg_view *out);

#endif
