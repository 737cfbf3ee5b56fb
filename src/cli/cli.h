/* cli.h - what the files of the tapegrad command share: the subcommands' entry points and the
 * argument helpers (args.c). Adding a subcommand: its file src/cli/NAME.c defining
 * cli_NAME(argc, argv), its prototype here, its line in main.c's table. See LICENSE. */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tapegrad.h"
#include "tapegrad_expr.h"

/* A subcommand: argv[0] is its name, argv[1..argc-1] its arguments. Returns the exit status
 * (0 done, 1 a check disagreed, 2 bad input, after printing "tapegrad: <message>"). */
typedef int cli_run_fn(int argc, char **argv);

cli_run_fn cli_article, cli_grad, cli_check, cli_plot, cli_dot, cli_hess, cli_train, cli_compare,
    cli_codegen;

/* ---- args.c ---- */

/* Print "tapegrad: <cmd>: <message>" (or "tapegrad: <message>" when cmd is NULL) on one line
 * to stderr. Returns 2, the exit status for bad input. */
int cli_fail(const char *cmd, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Whether argv[*i] is the option name, as "--name VALUE" or "--name=VALUE". Returns 0 when it
 * is not; 1 when it is, with *val its value and *i at the last argument used; -1 (after
 * cli_fail) when the value is missing. */
int cli_option(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **val);

/* Parse a finite double (all of s, no trailing text). 0, or -1 after cli_fail naming what
 * ("--lr: 'abc' is not a number"). */
int cli_number(const char *cmd, const char *what, const char *s, double *out);
/* Parse a decimal integer from min to max: the one place an integer option's range is
 * stated. Anything else (text, a sign, a value out of range) gets the one message "--samples:
 * '0' is not an integer from 1 to 100000000". 0, or -1 after cli_fail. */
int cli_count(const char *cmd, const char *what, const char *s, uint64_t min, uint64_t max,
              uint64_t *out);

/* The check every command makes of a file it was told to write (-o FILE, --plot FILE), right
 * after reading its options and before any work: that path ends in one of exts (NULL-ended,
 * e.g. {".csv", ".svg", ".png", NULL}), is not a directory, and lies in a directory that
 * exists and can be written (the files a command writes beside it, FILE.csv and FILE.gp,
 * share that directory). 0, or 2 after cli_fail: "-o: 'f.txt' must end in .csv, .svg or
 * .png", "--plot: cannot write /no/such/c.png (directory /no/such: No such file or
 * directory)". */
int cli_output_path(const char *cmd, const char *opt, const char *path,
                    const char *const *exts);

/* Walk an --at list "NAME=V,NAME=V,...": calls bind(ud, name, value) for each item in order,
 * spaces around names and values ignored. Returns 0, or -1 after cli_fail for a malformed item
 * (no '=', empty name), a bad number, or when bind returns nonzero (bind reports its own
 * error). */
int cli_at_each(const char *cmd, const char *spec,
                int (*bind)(void *ud, const char *name, double value), void *ud);

/* ---- workbench.c: what grad, check, plot, dot and hess share ---- */

/* One tape, one name table, the --def definitions and the --at values. */
typedef struct cli_wb {
    const char *cmd;
    tg_tape *tape;
    tg_names *names;
    tg_defs *defs;
    struct cli_at {
        char *name;
        double v;
        int used; /* an expression met the name */
    } *at;
    int nat, capat;
    char *input; /* standard input, when an expression is "-" or --file - */
    size_t input_len;
    struct cli_file {
        const char *path;
        char *text;
    } *files; /* --file F: each file read once */
    int nfiles;
    int rest;         /* "--" seen: every later argument is an expression */
    const char *expr; /* the expression cli_wb_arg found last */
} cli_wb;

/* The longest expression the command reads (the library has no such limit). */
#define CLI_MAX_EXPR (256 * 1024)

/* 0, or 2 after cli_fail (out of memory). cli_wb_free may be called either way. */
int cli_wb_init(cli_wb *w, const char *cmd);
void cli_wb_free(cli_wb *w);
/* --def TEXT, --at LIST: 0, or 2 after printing the error. */
int cli_wb_def(cli_wb *w, const char *text);
int cli_wb_at(cli_wb *w, const char *spec);
/* Parse text onto w's tape ("-": read it from standard input). A name met for the first time becomes a parameter with its --at
 * value (or 0 when it has none: see cli_wb_unset); pi and e are constants unless --at sets
 * them. On error prints "tapegrad: [WHAT: ]at column C: MESSAGE", sets *rc = 2 and returns
 * an error handle. */
tg_var cli_wb_parse(cli_wb *w, const char *what, const char *text, int *rc);
/* How to call f, a program's output: the step's name when the last statement is an
 * assignment ("E"), else "f". */
const char *cli_wb_out_name(const cli_wb *w, tg_var f);
/* Whether the i-th name is a step other than f (what grad lists as dE/dNAME). */
int cli_wb_is_inner_step(const cli_wb *w, int i, tg_var f);
/* Whether --at gave name a value. */
int cli_wb_given(const cli_wb *w, const char *name);
/* Whether the i-th name is a parameter (not one of the built-in constants). */
int cli_wb_is_param(const cli_wb *w, int i);
/* The parameters without an --at value, except `except`, as "x, y" in list; their count. */
int cli_wb_unset(const cli_wb *w, const char *except, char *list, size_t size);
/* Print the "no value for ..." error for the unset names (except `except`). */
void cli_wb_missing(const cli_wb *w, const char *except);
/* 0, or 2 after an error naming an --at name no expression used. */
int cli_wb_unused_at(const cli_wb *w);
/* The arguments every expression command takes, after its own options: --help (prints
 * usage; returns CLI_HELP, the command then exits 0), --at, --def, --file F (the expression
 * or program is file F's text; "-": standard input), "--" (every later argument is an
 * expression, even one like --x: the command's loop then calls this first, while w->rest),
 * an unknown option (error), and the expression itself into *text (a second one is an
 * error). With text NULL (plot: a list of expressions) an expression is left to the caller:
 * returns CLI_EXPR, w->expr is it. 0, CLI_HELP, CLI_EXPR, or 2 after the error. */
#define CLI_HELP (-1)
#define CLI_EXPR (-2)
int cli_wb_arg(cli_wb *w, int argc, char **argv, int *i, const char *usage, const char **text);
/* Both checks above for a point evaluation: every --at name used, and every parameter but
 * `except` given a value. 0, or 2 after the error. */
int cli_wb_bound(const cli_wb *w, const char *except);

/* JSON number with 17 significant digits (null for NaN and Inf), JSON string. */
void cli_json_num(FILE *f, double v);
void cli_json_str(FILE *f, const char *s);
int cli_ends_with(const char *s, const char *suffix);
/* Whether an argument the command does not know is meant as an option: "--" and a letter.
 * Anything else is an expression, even with leading minus signs ("-x^2", "---x"). */
int cli_is_option(const char *arg);
/* path with its extension replaced by ext (".csv"); malloc'd, NULL if out of memory. */
char *cli_replace_ext(const char *path, const char *ext);
/* Run argv[0] (searched in PATH) with argv and wait: its exit status, -1 when it is not
 * installed, -2 when it could not be run or was killed. */
int cli_run_program(const char *const *argv);
/* The tape's graph (tg_dot) to standard output (out NULL), to out (.dot), or drawn to out
 * (.svg, .png) by Graphviz's dot with the DOT beside it; without dot installed, says so and
 * how to install it. out was checked by cli_output_path with cli_graph_exts. 0, or 2 after
 * cli_fail. */
extern const char *const cli_graph_exts[];
int cli_write_dot(const char *cmd, tg_tape *t, const char *out);

/* ---- dot.c: the graph, for dot and article --dot; --json's one rule ---- */

/* --json and -o together are refused (plot, dot, article --dot): the JSON is the result, on
 * standard output, and -o would name a second place for it. 0, or 2 after cli_fail. */
int cli_json_or_file(const char *cmd, int json, const char *out);
/* The tape's graph: as JSON (tg_graph_json) to standard output when json (out must then be
 * NULL), else as cli_write_dot writes it. 0, or 2 after cli_fail. */
int cli_write_graph(const char *cmd, tg_tape *t, const char *out, int json);

#endif
