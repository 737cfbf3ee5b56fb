/* workbench.c - what grad, check, plot, dot and hess share: --def and --at collected before any
 * expression is read, expressions parsed onto one tape with one name table, the one-line
 * parse error "tapegrad: at column C: ...", JSON numbers, and running a helper program
 * (gnuplot, dot) when it is installed. See LICENSE. */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"

extern char **environ;

/* The constants every expression may use without --at (an --at value overrides them). */
static const struct {
    const char *name;
    double v;
} constants[] = {{"pi", 3.14159265358979323846}, {"e", 2.71828182845904523536}};

static int is_alnum(char c)
{
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* NAME := [A-Za-z_][A-Za-z0-9_]* ('[' [0-9]+ ']')? */
static int is_name(const char *s)
{
    size_t i = 0, n = strlen(s);
    if (n == 0 || n > TG_NAME_MAX || (s[0] >= '0' && s[0] <= '9')) return 0;
    while (i < n && is_alnum(s[i])) i++;
    if (i == 0) return 0;
    if (i == n) return 1;
    if (s[i] != '[' || s[n - 1] != ']' || n - i < 3) return 0;
    for (size_t k = i + 1; k + 1 < n; k++)
        if (s[k] < '0' || s[k] > '9') return 0;
    return 1;
}

int cli_wb_init(cli_wb *w, const char *cmd)
{
    memset(w, 0, sizeof *w);
    w->cmd = cmd;
    w->tape = tg_tape_new();
    w->names = tg_names_new();
    w->defs = tg_defs_new();
    if (!w->tape || !w->names || !w->defs) {
        cli_wb_free(w);
        return cli_fail(cmd, "out of memory");
    }
    return 0;
}

void cli_wb_free(cli_wb *w)
{
    for (int i = 0; i < w->nat; i++) free(w->at[i].name);
    free(w->at);
    free(w->input);
    for (int i = 0; i < w->nfiles; i++) free(w->files[i].text);
    free(w->files);
    tg_defs_free(w->defs);
    tg_names_free(w->names);
    tg_tape_free(w->tape);
    memset(w, 0, sizeof *w);
}

/* Under a parse error's line on stderr: the line of text it is in (a window of it when long)
 * and a caret under the column. */
static void show_place(const char *text, int line, int column)
{
    enum { WIDTH = 76 };
    for (int k = 1; k < line && strchr(text, '\n'); k++) text = strchr(text, '\n') + 1;
    size_t len = strcspn(text, "\n"), at = (size_t)column - 1, from = 0;
    if (column <= 0 || at > len) return;
    if (len > WIDTH && at > WIDTH / 2) from = at - WIDTH / 2;
    if (from + WIDTH > len && len > WIDTH) from = len - WIDTH;
    size_t to = from + WIDTH < len ? from + WIDTH : len;
    fprintf(stderr, "  %s", from ? "..." : "");
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)text[i];
        fputc(c >= 0x20 && c < 0x7f ? c : ' ', stderr); /* one column each */
    }
    fprintf(stderr, "%s\n  %*s^\n", to < len ? "..." : "", (int)(at - from + (from ? 3 : 0)), "");
}

int cli_wb_def(cli_wb *w, const char *text)
{
    tg_parse_error e;
    int rc;
    if (tg_defs_add(w->defs, text, NULL, &e) == TG_OK) return 0;
    if (e.column <= 0) return cli_fail(NULL, "--def: %s", e.message);
    rc = cli_fail(NULL, "--def: at column %d: %s", e.column, e.message);
    show_place(text, 0, e.column);
    return rc;
}

static int at_bind(void *ud, const char *name, double value)
{
    cli_wb *w = ud;
    for (int i = 0; i < w->nat; i++)
        if (strcmp(w->at[i].name, name) == 0)
            return cli_fail(w->cmd, "--at: '%s' is given twice", name);
    size_t len = strlen(name);
    if (!is_name(name))
        return cli_fail(w->cmd, "--at: '%s' is not a name (names are like x, beta, w11[2])",
                        name);
    if (w->nat == w->capat) {
        int cap = w->capat ? 2 * w->capat : 8;
        void *q = realloc(w->at, (size_t)cap * sizeof *w->at);
        if (!q) return cli_fail(w->cmd, "out of memory");
        w->at = q;
        w->capat = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return cli_fail(w->cmd, "out of memory");
    memcpy(copy, name, len + 1);
    w->at[w->nat].name = copy;
    w->at[w->nat].v = value;
    w->at[w->nat].used = 0;
    w->nat++;
    return 0;
}

int cli_wb_at(cli_wb *w, const char *spec) { return cli_at_each(w->cmd, spec, at_bind, w); }

/* A name the expression meets for the first time: its --at value as a parameter, a known
 * constant, or a parameter without a value yet (0, listed by cli_wb_unset). */
static tg_var bind(void *ud, tg_tape *t, const char *name)
{
    cli_wb *w = ud;
    for (int i = 0; i < w->nat; i++) {
        if (strcmp(w->at[i].name, name) == 0) {
            w->at[i].used = 1;
            return tg_param(t, w->at[i].v);
        }
    }
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
        if (strcmp(constants[i].name, name) == 0) return tg_const(t, constants[i].v);
    return tg_param(t, 0.0);
}

/* The whole of f, NUL-terminated, in *len bytes (stopping past CLI_MAX_EXPR: the caller
 * refuses it), malloc'd; NULL after cli_fail. */
static char *read_all(cli_wb *w, FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap + 1);
    if (!buf) return cli_fail(w->cmd, "out of memory"), NULL;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n > CLI_MAX_EXPR) break;
        if (n == cap) {
            char *q = realloc(buf, 2 * cap + 1);
            if (!q) return free(buf), cli_fail(w->cmd, "out of memory"), NULL;
            buf = q;
            cap *= 2;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* EXPR "-": the expression is standard input, read once. NULL after cli_fail. */
static const char *read_stdin(cli_wb *w)
{
    if (w->input) return w->input;
    size_t n;
    char *buf = read_all(w, stdin, &n);
    if (!buf) return NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    w->input = buf;
    w->input_len = n;
    return buf;
}

/* --file F: F's text, read now ("-": standard input). NULL after cli_fail. */
static const char *read_file(cli_wb *w, const char *path)
{
    if (strcmp(path, "-") == 0) return read_stdin(w);
    struct cli_file *q = realloc(w->files, (size_t)(w->nfiles + 1) * sizeof *q);
    if (!q) return cli_fail(w->cmd, "out of memory"), NULL;
    w->files = q;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(w->cmd, "--file: cannot read '%s': %s", path, strerror(errno)), NULL;
    size_t n;
    char *text = read_all(w, f, &n);
    int bad = ferror(f);
    fclose(f);
    if (text && bad) {
        free(text);
        return cli_fail(w->cmd, "--file: cannot read '%s'", path), NULL;
    }
    if (text && n > CLI_MAX_EXPR) {
        free(text);
        return cli_fail(w->cmd, "--file: '%s' is longer than %d bytes", path, CLI_MAX_EXPR), NULL;
    }
    if (text && strlen(text) != n) {
        size_t at = strlen(text);
        free(text);
        return cli_fail(w->cmd, "--file: '%s' has a byte 0x00 (NUL) at offset %zu", path, at), NULL;
    }
    if (text) w->files[w->nfiles++] = (struct cli_file){path, text};
    return text;
}

tg_var cli_wb_parse(cli_wb *w, const char *what, const char *text, int *rc)
{
    tg_parse_opts o = {.defs = w->defs, .bind = bind, .bind_ud = w};
    tg_parse_error e;
    tg_var none = {w->tape, TG_NONE, 0};
    const char *sep = what ? ": " : "";
    size_t len;
    for (int i = 0; i < w->nfiles && !what; i++) /* name the file in its errors */
        if (text == w->files[i].text) what = w->files[i].path;
    sep = what ? ": " : "";
    if (strcmp(text, "-") == 0) {
        if (!(text = read_stdin(w))) return *rc = 2, none;
        len = w->input_len;
        const char *nul = memchr(text, '\0', len);
        if (nul) {
            *rc = cli_fail(NULL, "%s%sat column %zu: byte 0x00 (NUL) in the expression", what ? what : "",
                           sep, (size_t)(nul - text) + 1);
            return none;
        }
    } else {
        len = strlen(text);
    }
    if (len > CLI_MAX_EXPR) {
        *rc = cli_fail(NULL, "%s%sat column %d: the expression is longer than %d bytes",
                       what ? what : "", sep, CLI_MAX_EXPR + 1, CLI_MAX_EXPR);
        return none;
    }
    tg_var v = tg_parse(w->tape, text, w->names, &o, &e);
    if (v.index != TG_NONE) return v;
    char at[64] = "";
    if (e.line > 0) snprintf(at, sizeof at, "at line %d, column %d: ", e.line, e.column);
    else if (e.column > 0) snprintf(at, sizeof at, "at column %d: ", e.column);
    *rc = cli_fail(NULL, "%s%s%s%s", what ? what : "", sep, at, e.message);
    if (e.status == TG_ERR_PARSE) show_place(text, e.line, e.column);
    return v;
}

const char *cli_wb_out_name(const cli_wb *w, tg_var f)
{
    for (int i = tg_names_count(w->names) - 1; i >= 0; i--)
        if (tg_names_is_step(w->names, i) && tg_names_var(w->names, i).index == f.index)
            return tg_names_name(w->names, i);
    return "f";
}

int cli_wb_is_inner_step(const cli_wb *w, int i, tg_var f)
{
    return tg_names_is_step(w->names, i) && tg_names_var(w->names, i).index != f.index;
}

int cli_wb_given(const cli_wb *w, const char *name)
{
    for (int i = 0; i < w->nat; i++)
        if (strcmp(w->at[i].name, name) == 0) return 1;
    return 0;
}

int cli_wb_is_param(const cli_wb *w, int i)
{
    tg_var v = tg_names_var(w->names, i);
    const char *name = tg_names_name(w->names, i);
    for (size_t k = 0; k < sizeof constants / sizeof constants[0]; k++)
        if (strcmp(constants[k].name, name) == 0 && !cli_wb_given(w, name)) return 0;
    return v.index != TG_NONE && !tg_names_is_step(w->names, i);
}

int cli_wb_unset(const cli_wb *w, const char *except, char *list, size_t size)
{
    int n = 0;
    size_t len = 0;
    list[0] = '\0';
    for (int i = 0; i < tg_names_count(w->names); i++) {
        const char *name = tg_names_name(w->names, i);
        if (!cli_wb_is_param(w, i) || cli_wb_given(w, name)) continue;
        if (except && strcmp(name, except) == 0) continue;
        if (len < size)
            len += (size_t)snprintf(list + len, size - len, "%s%s", n ? ", " : "", name);
        n++;
    }
    return n;
}

int cli_wb_unused_at(const cli_wb *w)
{
    for (int i = 0; i < w->nat; i++) {
        if (w->at[i].used) continue;
        for (int k = 0; k < tg_names_count(w->names); k++)
            if (tg_names_is_step(w->names, k) &&
                strcmp(tg_names_name(w->names, k), w->at[i].name) == 0)
                return cli_fail(w->cmd, "--at: '%s' is a step of the program, computed from "
                                "its leaves: it takes no value", w->at[i].name);
        char list[512];
        size_t len = 0;
        list[0] = '\0';
        for (int k = 0; k < tg_names_count(w->names) && len < sizeof list; k++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "",
                                    tg_names_name(w->names, k));
        return cli_fail(w->cmd, "--at: '%s' does not appear in the expression (its names: %s)",
                        w->at[i].name, len ? list : "none");
    }
    return 0;
}

/* cli_wb_arg's options: 0, CLI_HELP or 2 when argv[*i] is one, CLI_EXPR when it is the
 * expression (w->expr). */
static int wb_option(cli_wb *w, int argc, char **argv, int *i, const char *usage)
{
    const char *v;
    int m;
    w->expr = argv[*i];
    if (w->rest) return CLI_EXPR;
    if (strcmp(argv[*i], "--") == 0) {
        w->rest = 1;
        return 0;
    }
    if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0) {
        fputs(usage, stdout);
        return CLI_HELP;
    }
    if ((m = cli_option(w->cmd, argc, argv, i, "--at", &v)) != 0)
        return m < 0 || cli_wb_at(w, v) ? 2 : 0;
    if ((m = cli_option(w->cmd, argc, argv, i, "--def", &v)) != 0)
        return m < 0 || cli_wb_def(w, v) ? 2 : 0;
    if ((m = cli_option(w->cmd, argc, argv, i, "--file", &v)) != 0)
        return m < 0 || !(w->expr = read_file(w, v)) ? 2 : CLI_EXPR;
    if (cli_is_option(argv[*i]))
        return cli_fail(w->cmd, "unknown option '%s' (see 'tapegrad %s --help'; an expression "
                        "that starts with '--' goes after '--': tapegrad %s -- '%s')", argv[*i],
                        w->cmd, w->cmd, argv[*i]);
    return CLI_EXPR;
}

int cli_wb_arg(cli_wb *w, int argc, char **argv, int *i, const char *usage, const char **text)
{
    int rc = wb_option(w, argc, argv, i, usage);
    if (rc != CLI_EXPR || !text) return rc;
    if (*text)
        return cli_fail(w->cmd, "one expression only (got '%.40s' and '%.40s'; quote an "
                        "expression with spaces)", *text, w->expr);
    *text = w->expr;
    return 0;
}

int cli_wb_bound(const cli_wb *w, const char *except)
{
    char list[8];
    int rc = cli_wb_unused_at(w);
    if (rc == 0 && cli_wb_unset(w, except, list, sizeof list) > 0) {
        cli_wb_missing(w, except);
        rc = 2;
    }
    return rc;
}

void cli_wb_missing(const cli_wb *w, const char *except)
{
    char list[512], hint[600];
    int n = cli_wb_unset(w, except, list, sizeof list);
    size_t len = 0;
    hint[0] = '\0';
    for (int i = 0, k = 0; i < tg_names_count(w->names) && len < sizeof hint; i++) {
        const char *name = tg_names_name(w->names, i);
        if (!cli_wb_is_param(w, i) || cli_wb_given(w, name)) continue;
        if (except && strcmp(name, except) == 0) continue;
        len += (size_t)snprintf(hint + len, sizeof hint - len, "%s%s=...", k++ ? "," : "", name);
    }
    cli_fail(w->cmd, "no value for %s %s (give %s with --at %s)", n == 1 ? "the name" : "the names",
             list, n == 1 ? "it" : "them", hint);
}

/* ---- output ---- */

void cli_json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", f);
    else fprintf(f, "%.17g", v);
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int cli_is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' &&
           ((arg[2] >= 'a' && arg[2] <= 'z') || (arg[2] >= 'A' && arg[2] <= 'Z'));
}

int cli_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

char *cli_replace_ext(const char *path, const char *ext)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    char *s = malloc(base + strlen(ext) + 1);
    if (!s) return NULL;
    memcpy(s, path, base);
    strcpy(s + base, ext);
    return s;
}

int cli_run_program(const char *const *argv)
{
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
    if (err) return err == ENOENT ? -1 : -2;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -2;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

const char *const cli_graph_exts[] = {".dot", ".svg", ".png", NULL};

int cli_write_dot(const char *cmd, tg_tape *t, const char *out)
{
    int png = out && cli_ends_with(out, ".png"), svg = out && cli_ends_with(out, ".svg");
    if (!out) return tg_dot(t, stdout) == TG_OK ? 0 : cli_fail(cmd, "cannot write the graph");
    char *dotfile = png || svg ? cli_replace_ext(out, ".dot") : NULL;
    const char *path = dotfile ? dotfile : out;
    if ((png || svg) && !dotfile) return cli_fail(cmd, "out of memory");
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f) {
        rc = cli_fail(cmd, "cannot write %s", path);
    } else {
        int bad = tg_dot(t, f) != TG_OK; /* close it either way */
        if (fclose(f) != 0 || bad) rc = cli_fail(cmd, "cannot write %s", path);
    }
    if (rc == 0 && dotfile) {
        const char *args[] = {"dot", png ? "-Tpng" : "-Tsvg", "-o", out, dotfile, NULL};
        int st = cli_run_program(args);
        if (st == -1)
            fprintf(stderr, "tapegrad: %s: Graphviz's dot is not installed, so %s was not drawn; "
                    "wrote %s (install Graphviz, e.g. 'apt-get install graphviz', then run "
                    "'dot %s -o %s %s')\n", cmd, out, dotfile, png ? "-Tpng" : "-Tsvg", out,
                    dotfile);
        else if (st != 0)
            rc = cli_fail(cmd, "dot failed (status %d) drawing %s from %s", st, out, dotfile);
        else
            printf("wrote %s (Graphviz dot), with the graph in %s\n", out, dotfile);
    } else if (rc == 0) {
        printf("wrote %s\n", out);
    }
    free(dotfile);
    return rc;
}
