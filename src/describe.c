/* describe.c - a node in words for reports and graphs: its label, a constant's value, or the
 * expression that made it, rebuilt from the tape with the fewest parentheses the grammar
 * needs ("x*sigmoid(x)"), cut with "..." past the caller's size. See LICENSE. */
#include <stdio.h>
#include <string.h>

#include "workbench.h"

#define MAX_DEPTH 24

typedef struct sb {
    char *buf;
    size_t size, len;
    int cut;
} sb;

static void put(sb *b, const char *s)
{
    if (b->cut) return;
    size_t n = strlen(s);
    if (b->len + n + 1 > b->size) {
        b->cut = 1;
        return;
    }
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

/* Binding strength of op's infix form (0: written as a call). */
static int prec_of(const tg_op_def *op)
{
    if (op == &tg_op_add || op == &tg_op_sub) return 1;
    if (op == &tg_op_mul || op == &tg_op_div) return 2;
    if (op == &tg_op_neg) return 3;
    if (op == &tg_op_pow) return 4;
    return 0;
}

static void node(sb *b, const tg_tape *t, uint32_t i, int ctx, int depth)
{
    char num[40];
    if (b->cut) return;
    if (depth > MAX_DEPTH) {
        b->cut = 1;
        return;
    }
    const tg_node *nd = &t->nodes[i];
    tg_var v = {(tg_tape *)t, i, t->epoch};
    const char *label = tg_label_of(v);
    if (label) {
        int plain = wb_is_name(label, strlen(label));
        if (!plain && ctx > 0) put(b, "(");
        put(b, label);
        if (!plain && ctx > 0) put(b, ")");
        return;
    }
    if (tg_node_is_leaf(nd)) {
        if (wb_is_tensor(nd))
            snprintf(num, sizeof num, "tensor#%u", (unsigned)i);
        else if (nd->op == &tg_leaf_const)
            snprintf(num, sizeof num, nd->v < 0 && ctx > 0 ? "(%.6g)" : "%.6g", tg_value(v));
        else
            snprintf(num, sizeof num, "#%u", (unsigned)i);
        put(b, num);
        return;
    }
    uint32_t in[TG_MAX_ARITY];
    int n = tg_node_inputs(t, nd, in), prec = prec_of(nd->op);
    if (prec == 0 || (prec == 3 && n != 1) || (prec != 3 && n != 2)) {
        put(b, nd->op->name);
        put(b, "(");
        for (int k = 0; k < n; k++) {
            if (k) put(b, ", ");
            node(b, t, in[k], 0, depth + 1);
        }
        put(b, ")");
        return;
    }
    if (prec < ctx) put(b, "(");
    if (prec == 3) {
        put(b, "-");
        node(b, t, in[0], 3, depth + 1);
    } else {
        const char *sym = nd->op == &tg_op_add ? "+" : nd->op == &tg_op_sub ? "-"
                        : nd->op == &tg_op_mul ? "*" : nd->op == &tg_op_div ? "/" : "^";
        /* left operand: same level associates (a-b-c); a power's base binds tighter;
         * right operand: one level tighter (a-(b-c)), except a power's exponent */
        node(b, t, in[0], prec == 4 ? 5 : prec, depth + 1);
        put(b, sym);
        node(b, t, in[1], prec == 4 ? 3 : prec + 1, depth + 1);
    }
    if (prec < ctx) put(b, ")");
}

const char *wb_describe(const tg_tape *t, uint32_t i, char *buf, size_t size)
{
    if (size == 0) return buf;
    buf[0] = '\0';
    if (!t || i >= t->n || size < 8) return buf;
    sb b = {buf, size - 3, 0, 0}; /* room kept for "..." */
    node(&b, t, i, 0, 0);
    if (b.cut) memcpy(buf + b.len, "...", 4);
    return buf;
}
