/* dot.c - `tapegrad dot EXPR`: the recorded graph of an expression, with every node's value
 * and gradient, as Graphviz DOT (tg_dot), drawn to SVG/PNG by Graphviz when installed, or as
 * JSON (tg_graph_json); the last also for `tapegrad article --dot --json`. See LICENSE. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CMD "dot"

static const char usage[] =
    "usage: tapegrad dot EXPR [--at NAME=V,...] [--def 'f(x) = ...'] [-o FILE.dot|.svg|.png]\n"
    "                         [--json]\n"
    "\n"
    "Records EXPR, runs the reverse sweep and writes the tape's graph in Graphviz's DOT\n"
    "language: one box per node with its op, value and gradient (leaves by name), edges\n"
    "from input to consumer labelled with the local partial derivative; the output f has a\n"
    "double border.\n"
    "\n"
    "  --at NAME=V,...   the names' values (every name needs one)\n"
    "  --def 'f(x) = E'  define a function (repeatable; see tapegrad grad --help)\n"
    "  --file F          read an EXPR from the file F ('-': standard input)\n"
    "  --                every later argument is an EXPR, even one that starts with --\n"
    "  -o FILE           FILE.dot: the DOT text; FILE.svg or FILE.png: drawn by Graphviz's\n"
    "                    dot (FILE.dot is written beside it); without -o: DOT to standard\n"
    "                    output\n"
    "  --json            print the graph as one object instead of DOT: {\"nodes\": [{\"id\": 0,\n"
    "                    \"label\": \"x\", \"op\": \"param\", \"value\": v, \"grad\": g}, ...],\n"
    "                    \"edges\": [[from, to], ...]} (label and grad may be null; not with -o)\n"
    "\n"
    "examples:\n"
    "  tapegrad dot 'x*sigmoid(x)' --at x=1 -o swish.svg\n"
    "  tapegrad dot 'log(1 + exp(w*x + b))' --at w=0.5,x=2,b=-1 | dot -Tpng > g.png\n"
    "  tapegrad dot 'tanh(w*x + b)' --at w=0.5,x=1,b=0 --json\n"
    "  tapegrad article --dot -o article.svg      (the article's network)\n";

int cli_json_or_file(const char *cmd, int json, const char *out)
{
    if (!json || !out) return 0;
    return cli_fail(cmd, "--json prints to standard output and -o writes a file: give one of "
                    "them (to keep the JSON in a file: --json > FILE.json)");
}

int cli_write_graph(const char *cmd, tg_tape *t, const char *out, int json)
{
    if (!json) return cli_write_dot(cmd, t, out);
    if (cli_json_or_file(cmd, json, out)) return 2;
    return tg_graph_json(t, stdout) == TG_OK ? 0 : cli_fail(cmd, "cannot write the graph");
}

int cli_dot(int argc, char **argv)
{
    cli_wb w;
    const char *text = NULL, *out = NULL, *v;
    int rc = 0, m, json = 0;
    if (cli_wb_init(&w, CMD)) return 2;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (w.rest) { /* after "--", expressions only */
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((m = cli_option(CMD, argc, argv, &i, "-o", &v)) != 0 ||
                   (m = cli_option(CMD, argc, argv, &i, "--output", &v)) != 0) {
            rc = m < 0 ? 2 : 0;
            out = v;
        } else {
            rc = cli_wb_arg(&w, argc, argv, &i, usage, &text);
        }
    }
    if (rc == CLI_HELP) {
        cli_wb_free(&w);
        return 0;
    }
    if (rc == 0) rc = cli_json_or_file(CMD, json, out);
    if (rc == 0 && out) rc = cli_output_path(CMD, "-o", out, cli_graph_exts);
    if (rc == 0 && !text) rc = cli_fail(CMD, "no expression (try 'tapegrad dot --help')");
    tg_var f = {0};
    if (rc == 0) f = cli_wb_parse(&w, NULL, text, &rc);
    if (rc == 0) rc = cli_wb_bound(&w, NULL);
    if (rc == 0 && !tg_label_of(f) && tg_tape_find(w.tape, "f").index == TG_NONE)
        tg_label(f, "f");
    if (rc == 0 && tg_backward(f) != TG_OK) rc = cli_fail(CMD, "%s", tg_tape_error(w.tape));
    if (rc == 0) rc = cli_write_graph(CMD, w.tape, out, json);
    cli_wb_free(&w);
    return rc;
}
