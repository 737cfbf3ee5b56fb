/* fuzz_expr.c - libFuzzer target for the expression language: arbitrary bytes as definitions
 * (every line but the last, through tg_defs_add) and an expression (the last line, through
 * tg_parse), then every sweep and report the workbench runs on a parsed expression: backward,
 * replay, tg_diff twice, tg_explain, tg_dot, tg_graph_json, tg_check_formula; inputs of odd
 * length in anomaly mode. Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * its seed corpus is tests/fuzz/corpus. See LICENSE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "tapegrad_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink(void)
{
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    return null;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tg_defs *defs = tg_defs_new();
    char *line = text, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        tg_parse_error e;
        tg_defs_add(defs, line, NULL, &e);
        line = nl + 1;
    }
    tg_tape *t = tg_tape_new();
    if (t && (size & 1)) tg_tape_check_nan(t, 1); /* odd lengths run the anomaly-mode sweeps */
    tg_names *names = tg_names_new();
    tg_parse_opts o = {.defs = defs, .max_nodes = 20000};
    tg_parse_error e;
    tg_var f = tg_parse(t, line, names, &o, &e);
    if (f.index != TG_NONE && tg_names_count(names) > 0) {
        tg_var x = tg_names_var(names, 0);
        tg_set(x, 0.75);
        tg_replay(t);
        tg_backward(f);
        tg_explain_opts eo = {.max_paths = 16};
        tg_explain(sink(), f, x, &eo);
        eo.named = 1;
        tg_explain(sink(), f, x, &eo);
        tg_dot(t, sink());
        tg_graph_json(t, sink());
        if (tg_tape_size(t) < 2000) {
            tg_var d = tg_diff(f, x);
            tg_formula_opts fo = {.samples = 3, .seed = size};
            tg_formula_report r;
            tg_var draw[4];
            int nd = tg_names_count(names) < 4 ? tg_names_count(names) : 4;
            for (int k = 0; k < nd; k++) draw[k] = tg_names_var(names, k);
            if (d.index != TG_NONE) tg_check_formula(f, x, 1, d, nd, draw, &fo, &r);
            if (!tg_tape_error(t)) tg_check_formula(f, x, 2, f, nd, draw, &fo, &r);
        }
    }
    tg_names_free(names);
    tg_tape_free(t);
    tg_defs_free(defs);
    free(text);
    return 0;
}
