/* dot.c - tg_dot: the recorded graph as Graphviz DOT. One box per node (its label or op,
 * value, and gradient from the last reverse sweep), edges from input to consumer labelled with
 * the local partial derivative. The library's only output besides reports: to a FILE * the
 * caller gives. See LICENSE. */
#include <stdio.h>
#include <string.h>

#include "workbench.h"

/* s inside a DOT double-quoted string. */
static void quoted(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n') fputs("\\n", f);
        else fputc(*s, f);
    }
}

tg_status tg_dot(tg_tape *t, FILE *f)
{
    if (!t || !f) return TG_ERR_ARG;
    uint32_t out = t->adj_n ? t->adj_n - 1 : TG_NONE, in[TG_MAX_ARITY];
    fputs("digraph tapegrad {\n"
          "  rankdir=LR;\n"
          "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
          "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\", fontcolor=\"#555555\"];\n",
          f);
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &t->nodes[i];
        tg_var v = {t, i, t->epoch};
        const char *label = tg_label_of(v);
        int leaf = tg_node_is_leaf(nd), param = nd->op == &tg_leaf_param;
        fprintf(f, "  n%u [label=\"", (unsigned)i);
        if (leaf && !label && !param && !wb_is_tensor(nd)) { /* an unnamed constant */
            fprintf(f, "%.6g\", style=dashed, color=\"#888888\"];\n", tg_value(v));
            continue;
        }
        if (label) {
            quoted(f, label);
            fputs("\\n", f);
        }
        if (leaf) fputs(param ? "param" : "const", f);
        else quoted(f, nd->op->name);
        if (wb_is_tensor(nd)) fputs("\\n(tensor)", f);
        else fprintf(f, "\\nvalue %.6g", tg_value(v));
        if (tg_node_active(nd) && i < t->adj_n && !wb_is_tensor(nd))
            fprintf(f, "\\ngrad %.6g", tg_gradient(v));
        fputc('"', f);
        if (param) fputs(", style=\"rounded,filled\", fillcolor=\"#dbe9f6\"", f);
        else if (leaf) fputs(", style=dashed", f);
        else if (!tg_node_active(nd)) fputs(", color=\"#888888\"", f);
        if (i == out) fputs(", peripheries=2", f);
        fputs("];\n", f);
    }
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &t->nodes[i];
        if (tg_node_is_leaf(nd)) continue;
        int n = tg_node_inputs(t, nd, in), labelled = tg_node_active(nd) && !wb_is_tensor(nd);
        double p[TG_MAX_ARITY];
        if (labelled) tg_node_partials_get(t, nd, i, p);
        for (int k = 0; k < n; k++) {
            fprintf(f, "  n%u -> n%u", (unsigned)in[k], (unsigned)i);
            if (labelled && tg_node_active(&t->nodes[in[k]]))
                fprintf(f, " [label=\"%.4g\"]", p[k]);
            fputs(";\n", f);
        }
    }
    fputs("}\n", f);
    return ferror(f) ? TG_ERR_ARG : TG_OK;
}
