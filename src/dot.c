/* dot.c - the recorded graph written out: tg_dot (Graphviz DOT: one box per node with its label
 * or op, value and gradient from the last reverse sweep; edges from input to consumer labelled
 * with the local partial) and tg_graph_json (the same nodes and edges as JSON). One walk reads
 * the tape; each format only writes. The library's only output besides reports: to a FILE *
 * the caller gives. See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workbench.h"

/* One node as every format shows it. */
typedef struct gnode {
    uint32_t id;
    const char *label;   /* NULL: none */
    const char *op;      /* the op's name; "param" or "const" for leaves */
    int leaf, param, tensor, active, output;
    int reached;         /* the last tg_backward gave it a gradient */
    double value, grad;  /* value: NaN for a tensor; grad: NaN unless reached */
} gnode;

/* How one format writes the graph: head, every node, mid, every edge, tail. first: the first
 * node or edge; partial: the edge's local partial, NULL where it is not shown (an inactive
 * consumer or operand, a tensor). */
typedef struct gformat {
    const char *head, *mid, *tail;
    void (*node)(FILE *f, const gnode *n, int first);
    void (*edge)(FILE *f, uint32_t from, uint32_t to, const double *partial, int first);
} gformat;

static tg_status walk(tg_tape *t, FILE *f, const gformat *fmt)
{
    if (!t || !f) return TG_ERR_ARG;
    uint32_t out = t->adj_n ? t->adj_n - 1 : TG_NONE, in[TG_MAX_ARITY];
    fputs(fmt->head, f);
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &t->nodes[i];
        tg_var v = {t, i, t->epoch};
        gnode g = {.id = i, .label = tg_label_of(v), .op = nd->op->name,
                   .leaf = tg_node_is_leaf(nd), .param = nd->op == &tg_leaf_param,
                   .tensor = wb_is_tensor(nd), .active = tg_node_active(nd), .output = i == out};
        g.reached = g.active && i < t->adj_n && !g.tensor;
        g.value = g.tensor ? NAN : tg_value(v);
        g.grad = g.reached ? tg_gradient(v) : NAN;
        fmt->node(f, &g, i == 0);
    }
    fputs(fmt->mid, f);
    int first = 1;
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &t->nodes[i];
        if (tg_node_is_leaf(nd)) continue;
        int n = tg_node_inputs(t, nd, in), labelled = tg_node_active(nd) && !wb_is_tensor(nd);
        double p[TG_MAX_ARITY];
        if (labelled) tg_node_partials_get(t, nd, i, p);
        for (int k = 0; k < n; k++, first = 0)
            fmt->edge(f, in[k], i, labelled && tg_node_active(&t->nodes[in[k]]) ? &p[k] : NULL,
                      first);
    }
    fputs(fmt->tail, f);
    return ferror(f) ? TG_ERR_ARG : TG_OK;
}

/* s inside a double-quoted DOT or JSON string: both escape " and \ and write a newline as \n;
 * JSON also needs every other control character as \u00XX. */
static void escaped(FILE *f, const char *s, int json)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (json && c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

/* ---- DOT ---- */

static void dot_node(FILE *f, const gnode *n, int first)
{
    (void)first;
    fprintf(f, "  n%u [label=\"", (unsigned)n->id);
    if (n->leaf && !n->label && !n->param && !n->tensor) { /* an unnamed constant */
        fprintf(f, "%.6g\", style=dashed, color=\"#888888\"];\n", n->value);
        return;
    }
    if (n->label) {
        escaped(f, n->label, 0);
        fputs("\\n", f);
    }
    escaped(f, n->op, 0);
    if (n->tensor) fputs("\\n(tensor)", f);
    else fprintf(f, "\\nvalue %.6g", n->value);
    if (n->reached) fprintf(f, "\\ngrad %.6g", n->grad);
    fputc('"', f);
    if (n->param) fputs(", style=\"rounded,filled\", fillcolor=\"#dbe9f6\"", f);
    else if (n->leaf) fputs(", style=dashed", f);
    else if (!n->active) fputs(", color=\"#888888\"", f);
    if (n->output) fputs(", peripheries=2", f);
    fputs("];\n", f);
}

static void dot_edge(FILE *f, uint32_t from, uint32_t to, const double *partial, int first)
{
    (void)first;
    fprintf(f, "  n%u -> n%u", (unsigned)from, (unsigned)to);
    if (partial) fprintf(f, " [label=\"%.4g\"]", *partial);
    fputs(";\n", f);
}

tg_status tg_dot(tg_tape *t, FILE *f)
{
    static const gformat dot = {
        "digraph tapegrad {\n"
        "  rankdir=LR;\n"
        "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\", fontcolor=\"#555555\"];\n",
        "", "}\n", dot_node, dot_edge};
    return walk(t, f, &dot);
}

/* ---- JSON: a node a line, the edges on one ---- */

/* 17 significant digits (a double read back is the same double); NaN and Inf as null. */
static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", f);
    else fprintf(f, "%.17g", v);
}

static void json_node(FILE *f, const gnode *n, int first)
{
    fprintf(f, "%s{\"id\": %u, \"label\": ", first ? "\n  " : ",\n  ", (unsigned)n->id);
    if (n->label) {
        fputc('"', f);
        escaped(f, n->label, 1);
        fputc('"', f);
    } else {
        fputs("null", f);
    }
    fputs(", \"op\": \"", f);
    escaped(f, n->op, 1);
    fputs("\", \"value\": ", f);
    json_num(f, n->value);
    fputs(", \"grad\": ", f);
    json_num(f, n->grad);
    fputc('}', f);
}

static void json_edge(FILE *f, uint32_t from, uint32_t to, const double *partial, int first)
{
    (void)partial;
    fprintf(f, "%s[%u, %u]", first ? "" : ", ", (unsigned)from, (unsigned)to);
}

tg_status tg_graph_json(tg_tape *t, FILE *f)
{
    static const gformat json = {"{\"nodes\": [", "\n ],\n \"edges\": [", "]}\n", json_node,
                                 json_edge};
    return walk(t, f, &json);
}
