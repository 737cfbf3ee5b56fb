/* cli.h - what the files of the tapegrad command share: the subcommands' entry points and the
 * argument helpers (args.c). Adding a subcommand: its file src/cli/NAME.c defining
 * cli_NAME(argc, argv), its prototype here, its line in main.c's table. See LICENSE. */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdint.h>

/* A subcommand: argv[0] is its name, argv[1..argc-1] its arguments. Returns the exit status
 * (0 done, 1 a check disagreed, 2 bad input, after printing "tapegrad: <message>"). */
typedef int cli_run_fn(int argc, char **argv);

cli_run_fn cli_article;

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
/* Parse a non-negative decimal integer up to max. 0, or -1 after cli_fail. */
int cli_count(const char *cmd, const char *what, const char *s, uint64_t max, uint64_t *out);

/* Walk an --at list "NAME=V,NAME=V,...": calls bind(ud, name, value) for each item in order,
 * spaces around names and values ignored. Returns 0, or -1 after cli_fail for a malformed item
 * (no '=', empty name), a bad number, or when bind returns nonzero (bind reports its own
 * error). */
int cli_at_each(const char *cmd, const char *spec,
                int (*bind)(void *ud, const char *name, double value), void *ud);

#endif
