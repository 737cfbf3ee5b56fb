/* main.c - the tapegrad command: finds the subcommand in the table below and runs it. Each
 * subcommand is one file in src/cli/ (its own options, --help and messages) and one line
 * here. The command does no maths of its own: it parses, calls the library, prints.
 * See LICENSE. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "par.h"

static const struct command {
    const char *name;
    cli_run_fn *run;
    const char *summary;
} commands[] = {
    {"article", cli_article, "the backpropagation article's 2-3-1 network: tape vs hand deltas"},
    {"grad", cli_grad, "value and gradient of an expression (--explain: the chain rule's paths)"},
    {"check", cli_check, "a hand-written derivative against the tape's, at random points"},
    {"plot", cli_plot, "an expression and its derivatives on a grid: CSV, SVG or PNG"},
    {"hess", cli_hess, "the Hessian of an expression over its names (--json)"},
    {"train", cli_train, "train an MLP on a data set (the activation's derivative checked first)"},
    {"compare", cli_compare, "train one model with several activations: mean +- std table, plot"},
    {"dot", cli_dot, "an expression's graph as Graphviz DOT (or SVG/PNG through dot)"},
    {"codegen", cli_codegen, "a standalone C function for an expression and its gradient"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f)
{
    fputs("usage: tapegrad COMMAND [OPTIONS]   (tapegrad COMMAND --help for its options)\n"
          "       tapegrad --help | --version\n\n"
          "commands:\n", f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nexamples:\n"
          "  tapegrad grad 'x*sigmoid(x)' --at x=1 --explain x\n"
          "  tapegrad check 'log(1 + exp(x))' --wrt x --expect 'sigmoid(x)'\n"
          "  tapegrad plot 'x*sigmoid(x)' 'gelu(x)' -o compare.svg\n"
          "  tapegrad dot 'tanh(w*x + b)' --at w=0.5,x=1,b=0 -o graph.svg\n"
          "  tapegrad article --explain 'w11[1]'\n"
          "\nexpressions: + - * / ^, numbers, names (x, w11[2]) and ops by name (sigmoid,\n"
          "tanh, relu, exp, log, ...); see docs/cli.md\n"
          "\nexit status: 0 done, 1 a check found a disagreement, 2 bad input\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) return cli_fail(NULL, "no command given (try 'tapegrad --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("tapegrad %s\n", tg_version());
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return cli_par_main(commands[i].run, argc - 1, argv + 1); /* MPI=1: on ranks */

    char list[256] = "";
    size_t n = 0;
    for (int i = 0; i < NCOMMANDS && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", commands[i].name);
    return cli_fail(NULL, "unknown command '%s' (commands: %s)", cmd, list);
}
