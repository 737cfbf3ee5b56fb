/* tapegrad_expr.h - the derivation workbench in the library: the expression language (tg_parse:
 * text to tape nodes, with a name table and definitions), the hand-derivative check
 * (tg_check_formula), the chain-rule explainer (tg_explain) and the graph export (tg_dot).
 * The grammar is in docs/cli.md. See LICENSE. */
#ifndef TAPEGRAD_EXPR_H
#define TAPEGRAD_EXPR_H

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tg_registry; /* tapegrad_op.h */

/* ---- names: NAME -> node ---- */

/* A table binding the expression language's names ("x", "w11[2]") to nodes. tg_parse looks
 * names up here and binds the new ones it meets, in order of first appearance. The table
 * holds handles, not nodes: it does not keep a tape alive. */
typedef struct tg_names tg_names;

/* New empty table (malloc/free), or NULL if out of memory. */
TG_API tg_names *tg_names_new(void);
/* New empty table allocating through fn(ud, ...) (tg_alloc_fn, as tg_tape_new_with). */
TG_API tg_names *tg_names_new_with(tg_alloc_fn fn, void *ud);
TG_API void tg_names_free(tg_names *n);
/* Bind name to v; a name bound already keeps its place in the order and takes v. TG_ERR_ARG
 * when n is NULL or name is not a NAME of the grammar (at most TG_NAME_MAX characters);
 * TG_ERR_NOMEM. */
TG_API tg_status tg_names_set(tg_names *n, const char *name, tg_var v);
/* The node bound to name, or an error handle (index TG_NONE) if none. */
TG_API tg_var tg_names_get(const tg_names *n, const char *name);
/* Number of bindings, and the i-th name and node in binding order (NULL / an error handle
 * when i is out of range). The name is borrowed while the table lives. */
TG_API int tg_names_count(const tg_names *n);
TG_API const char *tg_names_name(const tg_names *n, int i);
TG_API tg_var tg_names_var(const tg_names *n, int i);
/* Whether the i-th name is a step: assigned by a program's statement "NAME = EXPR" in
 * tg_parse (1), or a leaf or a binding made with tg_names_set (0; 0 when i is out of range). */
TG_API int tg_names_is_step(const tg_names *n, int i);

#define TG_NAME_MAX 255

/* ---- parse errors ---- */

typedef struct tg_parse_error {
    tg_status status;  /* TG_OK, TG_ERR_PARSE, or the tape's error (TG_ERR_NOMEM, ...) */
    int column;        /* 1-based byte column where it went wrong (in its line), 0 if nowhere */
    int line;          /* 1-based line of the text when it has several lines, else 0 */
    char message[256]; /* what, without the column: "unknown function 'sigmod' (did you
                        * mean 'sigmoid'?)" */
} tg_parse_error;

/* ---- definitions: f(x, y) = EXPR ---- */

/* User functions, expanded into nodes where they are called (no call node on the tape). */
typedef struct tg_defs tg_defs;

#define TG_DEF_MAX_PARAMS 16

TG_API tg_defs *tg_defs_new(void);
TG_API tg_defs *tg_defs_new_with(tg_alloc_fn fn, void *ud);
TG_API void tg_defs_free(tg_defs *d);
/* Add "NAME(P1, ..., Pk) = EXPR" (1 <= k <= TG_DEF_MAX_PARAMS; the text is copied). EXPR may
 * call the ops of reg (NULL: the built-ins) and earlier definitions, and use names other
 * than its parameters: those are bound where the definition is called, like any name of
 * the calling expression. Checked now: syntax, calls and their argument counts, that NAME
 * is neither an op nor defined already and the parameters are distinct. Returns TG_OK, or
 * TG_ERR_PARSE (err, if given, says what and the column in text) or TG_ERR_NOMEM. */
TG_API tg_status tg_defs_add(tg_defs *d, const char *text, const struct tg_registry *reg,
                             tg_parse_error *err);
/* Number of definitions and the i-th one's name (NULL when i is out of range). */
TG_API int tg_defs_count(const tg_defs *d);
TG_API const char *tg_defs_name(const tg_defs *d, int i);

/* ---- parsing ---- */

/* Makes the node for a name that is not in the table (and not a definition's parameter).
 * Return an error handle (index TG_NONE) to refuse the name: tg_parse then reports
 * "unknown name". */
typedef tg_var (*tg_bind_fn)(void *ud, tg_tape *t, const char *name);

#define TG_PARSE_MAX_DEPTH 256
#define TG_PARSE_MAX_NODES (1u << 22)

/* Options for tg_parse; zero-initialise, then set what you need. */
typedef struct tg_parse_opts {
    const struct tg_registry *registry; /* where function names are looked up; NULL: built-ins */
    const tg_defs *defs;                /* definitions callable by name; NULL: none */
    tg_bind_fn bind;                    /* new names; NULL: tg_param(t, 0.0) */
    void *bind_ud;
    int max_depth;                      /* nesting limit; 0: TG_PARSE_MAX_DEPTH */
    uint32_t max_nodes;                 /* nodes one call may record; 0: TG_PARSE_MAX_NODES */
} tg_parse_opts;

/* Record the expression or program text on t and return its node (the output's). The
 * grammar (docs/cli.md):
 *   program := statement (SEP statement)*     statement := NAME '=' expr | expr
 *   expr    := sum (('<' | '<=' | '>' | '>=') sum)?      no chains: a < b < c is an error
 *   sum     := term (('+' | '-') term)*
 *   term    := unary (('*' | '/') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary ('^' unary)?          right-associative: -x^2 is -(x^2)
 *   primary := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'
 *   NAME    := [A-Za-z_][A-Za-z0-9_]* ('[' [0-9]+ ']')?
 * SEP is ';', or a line's end outside parentheses after a name, a number or ')' (after an
 * operator the statement goes on to the next line); '#' starts a comment to the line's end;
 * empty statements are skipped. Every statement but the last is a step NAME = expr, which
 * may use the leaves and earlier steps: its node is labelled NAME (unless the node has a
 * label already, as in an alias z = x) and bound to NAME in names as a step
 * (tg_names_is_step). The last statement, a step or a bare expression, is the output.
 * A step's name must be new: used before its assignment, assigned twice, used in its own
 * expression, the name of a function, or bound before this call are errors that say where
 * both places are.
 * NUMBER is C's floating constant (1, 2.5, .5e-3, 0x1p-4). + - * / ^ and unary - record the
 * ops add, sub, mul, div, pow and neg (a minus before a literal folds into the constant),
 * < <= > >= the ops lt, le, gt and ge (0 or 1);
 * NAME(...) calls a definition of opts->defs, else the op of that name in opts->registry
 * (a scalar op: one with an eval kernel; tensor-only ops such as matmul are refused).
 * A name is looked up in names (which may be NULL: a table private to this call), else made
 * by opts->bind and added to names; either way its node is labelled with the name (tg_label)
 * when it has no label and the name labels no other node, so reports and graphs show it.
 * Returns the node, or on error an error handle: *err (if given) has the status, the place
 * (line and column) and the message, and the tape's sticky error is set to "tg_parse: at
 * [line L, ]column C: MESSAGE" (status TG_ERR_PARSE) unless the tape failed on its own (out
 * of memory, anomaly mode). Nodes and bindings made before the error stay. Never prints,
 * never aborts; recursion is bounded by opts->max_depth. */
TG_API tg_var tg_parse(tg_tape *t, const char *text, tg_names *names, const tg_parse_opts *opts,
                       tg_parse_error *err);

/* ---- checking a hand-written derivative ---- */

typedef struct tg_formula_opts {
    double lo, hi;     /* sample range for the drawn leaves; both 0: -3 and 3 */
    int samples;       /* number of random points; 0: 200 (with no leaves to draw: 1 point) */
    uint64_t seed;     /* the points are a function of the seed (splitmix64) */
    double rtol, atol; /* agree when |tape - hand| <= atol + rtol*max(|tape|, |hand|), or
                        * within the rounding allowance (within_rounding below);
                        * 0: 1e-6 and 1e-8 */
} tg_formula_opts;

typedef struct tg_formula_report {
    int agree;         /* the verdict: 1 when every compared point agrees, and at least one
                        * within the tolerance alone (not only within rounding), else 0 */
    int points;        /* points visited */
    int compared;      /* points where both sides were finite */
    int skipped;       /* points where f or one side was NaN or Inf (outside the domain), or
                        * where no digit is left (no_digits below) */
    int failed;        /* compared points where they disagree */
    /* at the worst point (largest error relative to the tolerance), where the tape is left: */
    double tape;       /* the tape's derivative */
    double hand;       /* the hand formula's value */
    double abs_err, rel_err;
    double fd;         /* central finite differences of f there (Richardson, h and h/2) */
    int fd_kink;       /* 1: a finite-difference step crossed a kink (fd is one-sided) */
    int within_rounding; /* compared points that agree only within the rounding allowance:
                        * where the tolerance is not met, each side's error from rounding
                        * is bounded (every node computed moved by an ULP, the effects
                        * summed; 4 ULP a node are allowed), and a difference within it is
                        * no disagreement: the expression loses digits there, as
                        * log(1 - sigmoid(z)) does for large z. Not computed where f's and
                        * hand's cone holds more than 2000 scalar nodes (two replays a node
                        * at every such point) */
    int no_digits;     /* skipped points where the allowance is at least the larger side:
                        * rounding alone could make either side what it is */
    double rounding;   /* the rounding allowance at the worst point, or 0 if not needed */
} tg_formula_report;

/* Compare the hand-written derivative hand (a node of f's tape, usually from tg_parse) with
 * the tape's d^order f / d wrt^order (order 1: the reverse sweep; order 2: tg_diff twice,
 * recorded once on the tape), at opts->samples points where each of draw[0..ndraw-1] (leaves)
 * is uniform in [lo, hi); other leaves keep their values. For order 1, wrt may also be a
 * scalar node recorded before f (or f itself), such as a program's step: the tape's side is
 * then the adjoint df/dwrt (the delta of a hand derivation), and the finite differences move
 * wrt's value with the nodes it depends on unchanged. Points where f or either side is
 * not finite are skipped and counted. Afterwards the leaves hold the worst point and the tape's
 * values and gradients are those of that point. Returns TG_OK when the check ran, its verdict
 * in rep->agree; or an error status: bad handles, wrt not a parameter (or such a node), order
 * not 1 or 2, rep NULL, or an op without a vjp_graph rule for order 2. */
TG_API tg_status tg_check_formula(tg_var f, tg_var wrt, int order, tg_var hand, int ndraw,
                            const tg_var *draw, const tg_formula_opts *opts,
                            tg_formula_report *rep);

/* ---- the chain rule made visible ---- */

typedef struct tg_explain_opts {
    int max_paths;   /* refuse (politely, on f) above this many paths; 0: 64 */
    int named;       /* 0: every node is a step of a path; 1: only nodes whose label is a NAME
                      * ("z1[2]", "a1[3]", the article's): the nodes between two such steps are
                      * folded into one factor, the derivative of one named node by the next */
    const char *out_name; /* how to call out when it has no label; NULL: "f" */
} tg_explain_opts;

/* Write to f every path from out down to wrt: each edge's local partial with its value, each
 * path's product, and their sum beside tg_backward's d out/d wrt (the sweep is run). Two
 * edges between the same pair of nodes (x*x) are one factor, their sum. Returns TG_OK when
 * written; TG_ERR_ARG for a NULL f or when there are more paths than opts->max_paths (the
 * refusal, with the number of paths, is written to f; the tape is untouched); or an error
 * status set on the tape (bad handles, out of memory). */
TG_API tg_status tg_explain(FILE *f, tg_var out, tg_var wrt, const tg_explain_opts *opts);
/* The number of paths tg_explain would list (a double: it can be astronomically large), or
 * -1 for bad handles. */
TG_API double tg_explain_paths(tg_var out, tg_var wrt, const tg_explain_opts *opts);

/* ---- the graph as Graphviz DOT ---- */

/* Write the tape's graph to f as a Graphviz digraph: one box per node with its op (leaves:
 * their label, or "param"/"const"), value and, for the nodes the last tg_backward reached,
 * gradient; edges from input to consumer labelled with the local partial. Returns 0, or
 * TG_ERR_ARG when t or f is NULL or writing failed. */
TG_API tg_status tg_dot(tg_tape *t, FILE *f);
/* The same graph as one JSON document (docs/cli.md, "JSON output"):
 *   {"nodes": [{"id": 0, "label": "x", "op": "param", "value": 1, "grad": 0.93}, ...],
 *    "edges": [[0, 1], ...]}
 * Nodes in tape order, id their index; label null when the node has none; op the op's name,
 * "param" or "const" for leaves; value null for a tensor node; grad null where the last
 * tg_backward did not reach (and for tensors). Each edge is [input, consumer], consumers in
 * tape order, a consumer's inputs in operand order. Numbers have 17 significant digits, NaN
 * and infinities are null. Returns and errors as tg_dot's. */
TG_API tg_status tg_graph_json(tg_tape *t, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
