/* record.c - tg_apply: recording one op on any operands, the general path behind the
 * builders' inline one (tapegrad_op.h). Checks the descriptor and the handles, then records
 * a scalar node (partials kept as its op says, kinks noted) or a tensor node (shape from
 * infer or broadcasting, values from the op's kernels or the elementwise driver), refuses
 * operands the op's check refuses, and reports NaN/Inf in anomaly mode. Above node.c, below
 * the sweeps. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define MAX_NUMEL 0x7fffffffu

/* ---- kinks: one record for scalar and tensor nodes ---- */

/* A kink entry for the node about to be recorded, with room for n values. 0, or -1. */
static int kink_add(tg_tape *t, size_t n)
{
    if (tg_grow(t, (void **)&t->kinks, &t->kink_cap, t->nkinks + 1, sizeof *t->kinks) ||
        tg_grow_big(t, (void **)&t->kval, &t->kval_cap, t->kval_n + n, sizeof *t->kval))
        return -1;
    t->kinks[t->nkinks++] = (tg_kink){t->n, t->kval_n};
    t->kval_n += n;
    return 0;
}

static int sign(double s) { return (s > 0) - (s < 0); }

void tg_kinks_keep(tg_tape *t, const tg_kink *k, const double *now, size_t n, int compare)
{
    double *kept = t->kval + k->off;
    for (size_t e = 0; e < n && compare && !t->note[0]; e++) { /* the first change is noted */
        const tg_node *nd = &t->nodes[k->node];
        const int choice = nd->op->choose != NULL;
        if (choice ? now[e] == kept[e] : sign(now[e]) == sign(kept[e])) continue;
        char nm[64], at[32] = "";
        if (tg_node_is_tensor(nd)) snprintf(at, sizeof at, " element %zu:", e);
        snprintf(t->note, sizeof t->note, "%s %s:%s %s changed (%s%.6g -> %.6g)", nd->op->name,
                 tg_node_name(t, k->node, nm, sizeof nm), at, choice ? "choice" : "branch",
                 choice ? "" : "input ", kept[e], now[e]);
    }
    memcpy(kept, now, n * sizeof *now);
}

double *tg_kinks_now(tg_tape *t, const tg_op_def *op, const tg_op_ctx *c)
{
    if (tg_grow_big(t, (void **)&t->kwork, &t->kwork_cap, c->out.n, sizeof *t->kwork))
        return NULL;
    if (op->choose)
        op->choose(c, t->kwork);
    else
        tg_ew_branch(op, c, t->kwork);
    return t->kwork;
}

/* ---- anomaly mode ---- */

/* A non-finite value as a message shows it: "nan" whatever the NaN's sign bit (which the CPU
 * chooses: sqrt(-1) is -nan on x86), so the same mistake reads the same everywhere. */
static const char *nonfinite_str(double y)
{
    return isnan(y) ? "nan" : y > 0 ? "inf" : "-inf";
}

void tg_report_nonfinite(tg_tape *t, const tg_op_def *op, int n, const double *x, double y,
                         uint32_t node)
{
    char in[160] = "", nm[64];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) return; /* propagated, not produced here */
        len += (size_t)snprintf(in + len, sizeof in - len, "%sx%d = %.17g", i ? ", " : "", i + 1,
                                x[i]);
        if (len >= sizeof in) break;
    }
    tg_fail(t, TG_ERR_DOMAIN, "%s: result is %s at node %s (%s)", op->name, nonfinite_str(y),
            tg_node_name(t, node, nm, sizeof nm), in);
}

void tg_report_tensor(tg_tape *t, const tg_op_def *op, const tg_op_ctx *c, uint32_t node)
{
    const tg_view *out = &c->out;
    for (size_t e = 0; e < out->n; e++) {
        if (isfinite(out->x[e])) continue;
        char nm[64], sh[48], in[160] = "";
        size_t len = 0;
        for (int j = 0; !op->infer && j < c->n && len < sizeof in; j++)
            len += (size_t)snprintf(in + len, sizeof in - len, "%sx%d = %.17g", j ? ", " : "; ",
                                    j + 1, c->in[j].x[tg_ew_offset(c, j, e)]);
        tg_fail(t, TG_ERR_DOMAIN, "%s: result is %s at element %zu of node %s (shape %s%s)",
                op->name, nonfinite_str(out->x[e]), e, tg_node_name(t, node, nm, sizeof nm),
                tg_view_shape(out, sh, sizeof sh), in);
        return;
    }
}

/* ---- scalar nodes ---- */

/* The general scalar path: any arity, kinked ops, anomaly mode, a tape that must grow. */
static tg_var record_scalar(tg_tape *t, const tg_op_def *op, int n, const uint32_t *idx,
                            const double *x, uint32_t act)
{
    if (op->check) {
        char msg[200] = "";
        tg_status st = op->check(x, msg, sizeof msg);
        if (st != TG_OK) {
            tg_fail(t, st, "%s: %s", op->name, msg[0] ? msg : tg_status_str(st));
            return tg_err_var(t);
        }
    }
    if (tg_reserve(t)) return tg_err_var(t);
    uint32_t in0 = idx[0], in1 = n == 2 ? idx[1] : 0;
    double *dydx = &t->part[2 * (size_t)t->n];
    if (n > 2) { /* the inputs and partials go in the side tables; in[0] says where */
        uint32_t need = t->next + (uint32_t)n;
        if (tg_grow(t, (void **)&t->ext, &t->ext_cap, need, sizeof *t->ext) ||
            tg_grow(t, (void **)&t->pext, &t->pext_cap, need, sizeof *t->pext))
            return tg_err_var(t);
        memcpy(t->ext + t->next, idx, (size_t)n * sizeof *idx);
        dydx = t->pext + t->next;
        in0 = t->next;
        t->next = need;
    }
    if (op->branch && act) {
        double s = op->branch(x);
        if (kink_add(t, 1)) return tg_err_var(t);
        tg_kinks_keep(t, &t->kinks[t->nkinks - 1], &s, 1, 0);
    }
    /* inactive nodes are never swept, so they need no partials */
    double y = op->eval(x, act && op->partials == TG_PARTIALS_KEPT ? dydx : NULL);
    if (t->check_nan && !isfinite(y)) {
        tg_report_nonfinite(t, op, n, x, y, t->n);
        if (t->status) return tg_err_var(t);
    }
    return tg_push(t, op, in0 | act, in1 | tg_kind_of_arity(n) << TG_KIND_SHIFT, y);
}

/* ---- tensor nodes ---- */

/* Why the operands' shapes do not broadcast, as "shapes [3,4] and [5,4] do not broadcast". */
static void broadcast_msg(const tg_op_ctx *c, char *msg, size_t size)
{
    size_t len = (size_t)snprintf(msg, size, "shapes");
    for (int j = 0; j < c->n && len < size; j++) {
        char sh[48];
        len += (size_t)snprintf(msg + len, size - len, "%s %s",
                                j == 0 ? "" : j + 1 == c->n ? " and" : ",",
                                tg_view_shape(&c->in[j], sh, sizeof sh));
    }
    if (len < size) snprintf(msg + len, size - len, " do not broadcast");
}

/* The output's shape (infer, or broadcasting for an elementwise op) into c->out: TG_OK, or
 * the error set on t. */
static tg_status infer_shape(tg_tape *t, const tg_op_def *op, tg_op_ctx *c)
{
    tg_status st = TG_OK;
    if (op->infer) {
        st = op->infer(c);
    } else if (tg_broadcast(c->in, c->n, &c->out)) {
        broadcast_msg(c, c->msg, c->msgsize);
        st = TG_ERR_SHAPE;
    }
    if (st != TG_OK)
        return tg_fail(t, st, "%s: %s", op->name, c->msg[0] ? c->msg : tg_status_str(st));
    c->out.n = 1;
    for (int d = 0; d < c->out.rank; d++) {
        c->out.n *= (size_t)c->out.shape[d];
        if (c->out.n > MAX_NUMEL)
            return tg_fail(t, TG_ERR_ARG, "%s: the result would have more than 2^31-1 elements",
                           op->name);
    }
    return TG_OK;
}

/* Op on operands of which at least one is a tensor, or a tensor-only op. */
static tg_var record_tensor(tg_tape *t, const tg_op_def *op, int n, const uint32_t *idx,
                            uint32_t act, int nattr, const int *attr)
{
    char msg[200] = "";
    tg_op_ctx c = {.n = n, .attr = attr, .nattr = nattr, .msg = msg, .msgsize = sizeof msg};
    for (int j = 0; j < n; j++) c.in[j] = tg_node_view(t, idx[j]);
    if (infer_shape(t, op, &c)) return tg_err_var(t);
    if (op->check && !op->infer) {
        size_t e = 0;
        tg_status st = tg_ew_check(op, &c, &e);
        if (st != TG_OK) {
            char sh[48];
            tg_fail(t, st, "%s: %s at element %zu (result shape %s)", op->name,
                    msg[0] ? msg : tg_status_str(st), e, tg_view_shape(&c.out, sh, sizeof sh));
            return tg_err_var(t);
        }
    }
    /* an active elementwise node keeps its partials, as a scalar node does, so its reverse
     * and forward sweeps call no kernel */
    const int elementwise = !op->infer;
    const int kinked = act && ((elementwise && op->branch) || op->choose);
    size_t np = elementwise && act && op->partials == TG_PARTIALS_KEPT ? c.out.n * (size_t)n : 0;
    uint32_t ti = tg_tensor_new(t, &c.out, nattr, attr), off = t->next;
    if (ti == UINT32_MAX || tg_reserve(t) ||
        tg_grow(t, (void **)&t->ext, &t->ext_cap, t->next + (uint32_t)n, sizeof *t->ext) ||
        (np && tg_grow_big(t, (void **)&t->tpart, &t->tpart_cap, t->tpart_n + np,
                           sizeof *t->tpart)) ||
        (kinked && kink_add(t, c.out.n)))
        return tg_err_var(t);
    if (np) {
        t->tens[ti].poff = t->tpart_n;
        t->tpart_n += np;
    }
    memcpy(t->ext + off, idx, (size_t)n * sizeof *idx);
    t->next += (uint32_t)n;
    /* the arenas may have moved: take the views again */
    for (int j = 0; j < n; j++) c.in[j] = tg_node_view(t, idx[j]);
    c.out = tg_tensor_view(t, &t->tens[ti]);
    if (op->infer)
        op->forward(&c);
    else
        tg_ew_forward(op, &c, np ? t->tpart + t->tens[ti].poff : NULL);
    if (kinked) {
        const double *now = tg_kinks_now(t, op, &c);
        if (!now) return tg_err_var(t);
        tg_kinks_keep(t, &t->kinks[t->nkinks - 1], now, c.out.n, 0);
    }
    if (t->check_nan) {
        tg_report_tensor(t, op, &c, t->n);
        if (t->status) return tg_err_var(t);
    }
    return tg_push(t, op, off | act | TG_TENSOR, (uint32_t)TG_NARY << TG_KIND_SHIFT, (double)ti);
}

/* ---- tg_apply ---- */

tg_status tg_operand(tg_var v, const char *op, int k, tg_view *view)
{
    if (!v.tape || !view) return TG_ERR_ARG;
    if (v.tape->status) return v.tape->status;
    if (!tg_resolve_arg(v, op ? op : "tg_operand", k)) return v.tape->status;
    *view = tg_node_view(v.tape, v.index);
    return TG_OK;
}

tg_var tg_apply(const tg_op_def *op, int n, const tg_var *in)
{
    return tg_apply_attr(op, n, in, 0, NULL);
}

tg_var tg_apply1_general(const tg_op_def *op, tg_var a) { return tg_apply_attr(op, 1, &a, 0, NULL); }

tg_var tg_apply2_general(const tg_op_def *op, tg_var a, tg_var b)
{
    tg_var in[2] = {a, b};
    return tg_apply_attr(op, 2, in, 0, NULL);
}

tg_var tg_apply_attr(const tg_op_def *op, int n, const tg_var *in, int nattr, const int *attr)
{
    if (!in || n < 1 || !in[0].tape) return tg_err_var(NULL);
    tg_tape *t = in[0].tape;
    if (t->status) return tg_err_var(t);
    char why[160];
    if (tg_op_validate(op, why, sizeof why) != TG_OK) {
        tg_fail(t, TG_ERR_ARG, "tg_apply: %s", why);
        return tg_err_var(t);
    }
    if (nattr < 0 || nattr > TG_MAX_ATTR || (nattr > 0 && !attr)) {
        tg_fail(t, TG_ERR_ARG, "%s: %d attributes%s (at most %d)", op->name, nattr,
                nattr > 0 && !attr ? " but attr is NULL" : "", TG_MAX_ATTR);
        return tg_err_var(t);
    }
    if (n != op->arity) {
        tg_fail(t, TG_ERR_ARG, "%s: takes %d operand%s, got %d", op->name, op->arity,
                op->arity == 1 ? "" : "s", n);
        return tg_err_var(t);
    }
    double x[TG_MAX_ARITY];
    uint32_t idx[TG_MAX_ARITY], act = 0, tensor = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].tape != t) {
            tg_fail(t, TG_ERR_TAPE, "%s: operand %d is from %s", op->name, i + 1,
                    in[i].tape ? "another tape" : "no tape (NULL)");
            return tg_err_var(t);
        }
        const tg_node *a = tg_resolve_arg(in[i], op->name, i + 1);
        if (!a) return tg_err_var(t);
        idx[i] = in[i].index;
        x[i] = a->v;
        act |= a->in[0] & TG_ACTIVE;
        tensor |= a->in[0] & TG_TENSOR;
    }
    if (tensor || op->infer || nattr > 0) return record_tensor(t, op, n, idx, act, nattr, attr);
    return record_scalar(t, op, n, idx, x, act);
}
