/* test_docs.c - the docs tell the truth, and keep telling it: every `$ tapegrad ...` example
 * in README.md and the pages of docs/ is run and must print what the page shows; the outputs
 * the pages show for the docs/examples programs must be what those print; docs/cli.md has a
 * section for every command naming every option of its --help. What may differ between a page
 * and a run is the convention below (docs/reliability.md gives it to writers). See LICENSE. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* The convention. In a fenced code block (```) of README.md or of a docs/NAME.md page:
 *
 * - A line "$ CMD" is a command (sh syntax); the lines after it, up to the next "$ " line or
 *   the end of the block, are what it prints: stdout and stderr together, in the order a
 *   terminal shows them (stdout line-buffered). A command continues over lines ending in '\'
 *   and over the lines of a here-document (<<WORD ... WORD).
 * - A block with a command that runs tapegrad (first word, or first after |, ;, &&, ||) is
 *   run: its commands in order, by sh, with `tapegrad` on PATH being $TAPEGRAD, in a fresh
 *   temporary directory per block that holds copies of docs/examples and tests/data and an
 *   empty docs/img. Paths read as from the checkout's root and nothing is written into it.
 * - Each command's output must equal the lines shown, except:
 *   . a line "..." (blanks around it allowed) stands for any number of lines, none included;
 *   . blanks at the end of a line are not compared;
 *   . times are not compared: a number followed by a unit of time (ns, us, µs, ms, s), the
 *     value (a number, an array of numbers, or an object of them, as {"mean": m, "std": s})
 *     of a JSON key whose name contains "seconds",
 *     and the last field of the rows of a table whose header line ends in "seconds" (up to
 *     the next blank line);
 *   . a number shown with 16 or more significant digits (%.17g) matches one within 1e-13
 *     relative: its last digits are the last bits of rounding, and training's depend on the
 *     CPU's BLAS kernels;
 *   . without gnuplot, "wrote F (gnuplot), with the data in C and the script in G" matches
 *     the command's "tapegrad: ...: gnuplot is not installed, so F was not drawn; wrote C and
 *     G (...)"; without Graphviz, "wrote F (Graphviz dot), with the graph in D" matches
 *     "tapegrad: ...: Graphviz's dot is not installed, so F was not drawn; wrote D (...)".
 *     With them installed the line is compared as it is;
 *   . a command that says --data digits needs scikit-learn's data files is skipped, with a
 *     note, where they are not installed;
 *   . the exit status is not compared, but a command killed by a signal is a mismatch.
 * - "<!-- docs-test: skip (REASON) -->" as the last non-blank line before a block: the block
 *   is not run (the run lists it, with the reason). Meant for examples too slow to rerun.
 * - "<!-- docs-test: printed by docs/examples/NAME.c -->" before a block: the block's lines,
 *   "$ " commands aside, appear contiguous, under the same rules, in what NAME prints.
 * A command taking more than SLOW_SECONDS is reported (a note) so that it is made cheaper
 * or marked; TAPEGRAD_DOCS_TIMES=1 reports every command's time. The notes are cr_log_info:
 * Criterion exits 1 after any cr_log_warn, even when every test passes. */

#define SLOW_SECONDS 20.0
#define MAX_BLOCK_CMDS 64

/* ---- files and lines ---- */

typedef struct lines {
    char *text; /* the buffer, split in place */
    char **at;  /* the lines, without their '\n' */
    int n;
} lines;

/* Split text (taken over) into lines; a final '\n' does not start an empty last line. */
static lines split_lines(char *text)
{
    lines l = {text, NULL, 0};
    int cap = 64;
    l.at = malloc((size_t)cap * sizeof *l.at);
    for (char *p = text; *p;) {
        if (l.n == cap) l.at = realloc(l.at, (size_t)(cap *= 2) * sizeof *l.at);
        l.at[l.n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    return l;
}

static void free_lines(lines *l)
{
    free(l->text);
    free(l->at);
}

/* s without its trailing blanks (length). */
static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    return n;
}

static int is_blank(const char *s)
{
    return trimmed_len(s) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- comparing one shown line with one printed line ---- */

/* A line to expect: literal text, "..." (any lines), or a substring that a "not installed"
 * message must contain (the drawing line when gnuplot or Graphviz is missing). */
enum { L_TEXT, L_ANY, L_MISSING_TOOL };

typedef struct want {
    const char *text; /* L_TEXT: the line shown; L_MISSING_TOOL: the substring (malloc'd) */
    int kind;
    int time_col;     /* the last field is a time (a row of a "seconds" table) */
    int doc_line;     /* 1-based line in the page */
} want;

typedef struct got {
    const char *text;
    int time_col;
} got;

/* End of the number at p (p at a digit): digits, a fraction, an exponent. */
static const char *number_end(const char *p)
{
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.' && p[1] >= '0' && p[1] <= '9')
        for (p++; *p >= '0' && *p <= '9'; p++) {}
    if ((*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (*q == '+' || *q == '-') q++;
        if (*q >= '0' && *q <= '9') {
            while (*q >= '0' && *q <= '9') q++;
            p = q;
        }
    }
    return p;
}

static int sig_digits(const char *p, const char *end)
{
    int n = 0, lead = 1;
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p < '0' || *p > '9') continue;
        if (*p != '0') lead = 0;
        if (!lead) n++;
    }
    return n;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Does [k, e) contain "seconds"? */
static int names_seconds(const char *k, const char *e)
{
    for (; e - k >= 7; k++)
        if (strncmp(k, "seconds", 7) == 0) return 1;
    return 0;
}

/* Is the text of line s just before b, blanks aside, `"KEY": ` with KEY naming seconds? */
static int after_seconds_key(const char *s, const char *b)
{
    while (b > s && b[-1] == ' ') b--;
    if (b - s < 2 || b[-1] != ':' || b[-2] != '"') return 0;
    const char *e = b - 2, *k = e;
    while (k > s && k[-1] != '"') k--;
    return k > s && names_seconds(k, e);
}

/* The number [p, end) of line s is a time: followed by a unit of time, or the value (or an
 * element of the array value, or a member of the object value) of a JSON key whose name
 * contains "seconds". */
static int is_time(const char *s, const char *p, const char *end)
{
    static const char *units[] = {"ns", "us", "\xc2\xb5s", "ms", "s"};
    const char *q = *end == ' ' ? end + 1 : end;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t n = strlen(units[k]);
        if (strncmp(q, units[k], n) == 0 && !is_alnum(q[n])) return 1;
    }
    /* back over "[1.5, 2, " (an array's earlier numbers) to the key's "...": */
    const char *b = p;
    while (b > s && (strchr(" ,.+-eE", b[-1]) || (b[-1] >= '0' && b[-1] <= '9'))) b--;
    if (b > s && b[-1] == '[') b--;
    if (after_seconds_key(s, b)) return 1;
    /* a member of an object that is such a key's value: "seconds": {"mean": 1.5, "std": 0.2} */
    for (int depth = 0; b > s; b--) {
        if (b[-1] == '}') depth++;
        else if (b[-1] == '{' && depth-- == 0) return after_seconds_key(s, b - 1);
    }
    return 0;
}

/* The next token of a line: a number (*num = 1) or a run of other characters. */
static const char *next_token(const char *p, const char *lim, int *num)
{
    if (*p >= '0' && *p <= '9') {
        *num = 1;
        const char *e = number_end(p);
        return e < lim ? e : lim;
    }
    *num = 0;
    while (p < lim && !(*p >= '0' && *p <= '9')) p++;
    return p;
}

/* Does the printed line o match the shown line w (under the convention's rules)? */
static int line_matches(const want *w, const got *o)
{
    if (w->kind == L_MISSING_TOOL) return starts_with(o->text, "tapegrad: ") &&
                                          strstr(o->text, w->text) != NULL;
    const char *a = w->text, *b = o->text;
    const char *alim = a + trimmed_len(a), *blim = b + trimmed_len(b);
    if (alim - a == blim - b && memcmp(a, b, (size_t)(alim - a)) == 0) return 1;
    /* the last field of a time column: compare the rest */
    const char *alast = NULL, *blast = NULL;
    if (w->time_col && o->time_col) {
        for (alast = alim; alast > a && alast[-1] != ' '; alast--) {}
        for (blast = blim; blast > b && blast[-1] != ' '; blast--) {}
    }
    const char *p = a, *q = b;
    while (p < alim && q < blim) {
        int pn, qn;
        const char *pe = next_token(p, alim, &pn), *qe = next_token(q, blim, &qn);
        if (pn != qn) return 0;
        if (!pn) {
            if (pe - p != qe - q || memcmp(p, q, (size_t)(pe - p)) != 0) return 0;
        } else if (p == alast && q == blast && pe == alim && qe == blim) {
            /* a time in its column */
        } else if (is_time(w->text, p, pe) && is_time(o->text, q, qe)) {
            /* a time */
        } else if (pe - p != qe - q || memcmp(p, q, (size_t)(pe - p)) != 0) {
            if (sig_digits(p, pe) < 16) return 0;
            double x = strtod(p, NULL), y = strtod(q, NULL);
            if (!(fabs(x - y) <= 1e-13 * fmax(fabs(x), fabs(y)))) return 0;
        }
        p = pe;
        q = qe;
    }
    return p == alim && q == blim;
}

/* Mark the rows of "seconds" tables: after a header whose last word is "seconds", up to the
 * next blank line, a row whose last field is a number. */
static void mark_time_columns(int n, const char *const *text, int *mark)
{
    int in_table = 0;
    for (int i = 0; i < n; i++) {
        mark[i] = 0;
        size_t len = trimmed_len(text[i]);
        if (len == 0) {
            in_table = 0;
            continue;
        }
        const char *last = text[i] + len;
        while (last > text[i] && last[-1] != ' ') last--;
        if (len >= 7 && strncmp(text[i] + len - 7, "seconds", 7) == 0 &&
            (last == text[i] + len - 7)) {
            in_table = 1;
            continue;
        }
        if (in_table && *last >= '0' && *last <= '9' && number_end(last) == text[i] + len)
            mark[i] = 1;
    }
}

/* ---- matching a printed output against the lines shown ---- */

typedef struct mismatch {
    int wi, gi; /* first differing shown line and printed line (index; n: past the end) */
} mismatch;

/* Match got[0..ng) against want[0..nw) where L_ANY stands for any lines (backtracking like a
 * glob). Returns 1 on a match, else 0 with *mm the deepest point the match reached. */
static int match_lines(const want *w, int nw, const got *g, int ng, mismatch *mm)
{
    int i = 0, j = 0, star = -1, mark = 0;
    mm->wi = -1;
    mm->gi = 0;
    while (j < ng) {
        if (i < nw && w[i].kind == L_ANY) {
            star = i++;
            mark = j;
        } else if (i < nw && line_matches(&w[i], &g[j])) {
            i++;
            j++;
        } else {
            if (i > mm->wi) {
                mm->wi = i;
                mm->gi = j;
            }
            if (star < 0) return 0;
            i = star + 1;
            j = ++mark;
        }
    }
    while (i < nw && w[i].kind == L_ANY) i++;
    if (i == nw) return 1;
    if (i > mm->wi) {
        mm->wi = i;
        mm->gi = j;
    }
    return 0;
}

/* ---- running ---- */

typedef struct tools {
    int gnuplot, graphviz;
} tools;

static int have(const char *program)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    return system(cmd) == 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void run_or_die(const char *cmd)
{
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* Run the sh script text in directory dir with stdout line-buffered (as on a terminal) and
 * stderr into the same file; its output, malloc'd. *signaled: killed by a signal. */
static char *run_script(const char *base, const char *dir, const char *text, int *signaled,
                        double *seconds)
{
    char script[600], out[600], cmd[2400];
    snprintf(script, sizeof script, "%s/cmd.sh", base);
    snprintf(out, sizeof out, "%s/out", base);
    write_file(script, text);
    /* stdbuf preloads a library: an ASan build of tapegrad must be told not to mind */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && PATH='%s/bin':\"$PATH\" "
             "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\" "
             "stdbuf -oL sh '%s' >'%s' 2>&1 </dev/null",
             dir, base, script, out);
    double t0 = now();
    int st = system(cmd);
    *seconds = now() - t0;
    *signaled = st == -1 || (WIFEXITED(st) && WEXITSTATUS(st) > 128) || WIFSIGNALED(st);
    char *o = th_read_file(out);
    cr_assert_not_null(o);
    return o;
}

/* ---- reading the pages ---- */

/* One command shown in a block: its text (sh), the line of its "$ ", its output lines. */
typedef struct shown {
    char *cmd;
    int line;
    int first, n; /* the output: page lines [first, first + n) (0-based) */
} shown;

/* The marker before the block opening at line index open ("" if none, NULL if malformed). */
static const char *marker_before(const lines *page, int open, char *buf, size_t size)
{
    int k = open - 1;
    while (k >= 0 && is_blank(page->at[k])) k--;
    buf[0] = '\0';
    if (k < 0) return buf;
    const char *s = page->at[k];
    while (*s == ' ') s++;
    if (!starts_with(s, "<!-- docs-test:")) return buf;
    s += strlen("<!-- docs-test:");
    while (*s == ' ') s++;
    size_t n = trimmed_len(s);
    if (n < 3 || strncmp(s + n - 3, "-->", 3) != 0) return NULL;
    n -= 3;
    while (n && s[n - 1] == ' ') n--;
    snprintf(buf, size, "%.*s", (int)n, s);
    return buf;
}

/* The here-document word of a command (<<WORD, <<'WORD', <<"WORD", <<-WORD), or "". */
static void heredoc_word(const char *cmd, char *word, size_t size)
{
    word[0] = '\0';
    const char *h = strstr(cmd, "<<");
    if (!h || h[2] == '<') return; /* none, or a here-string (<<<) */
    h += 2;
    if (*h == '-') h++;
    while (*h == ' ') h++;
    char quote = (*h == '\'' || *h == '"') ? *h++ : 0;
    size_t n = 0;
    while (h[n] && h[n] != quote && h[n] != ' ' && h[n] != ';' && h[n] != '|' && n + 1 < size)
        n++;
    memcpy(word, h, n);
    word[n] = '\0';
}

/* Split block lines [a, b) into commands. Returns their number. */
static int read_commands(const lines *page, int a, int b, shown *cmds, int max)
{
    int n = 0;
    for (int k = a; k < b;) {
        if (!starts_with(page->at[k], "$ ")) {
            if (n) cmds[n - 1].n++;
            k++;
            continue;
        }
        cr_assert_lt(n, max, "more than %d commands in one block", max);
        shown *c = &cmds[n++];
        c->line = k + 1;
        size_t cap = 256, len = 0;
        c->cmd = malloc(cap);
        c->cmd[0] = '\0';
        char word[64] = "";
        for (int first = 1; k < b; first = 0) {
            const char *s = first ? page->at[k] + 2 : page->at[k];
            size_t sl = strlen(s);
            while (len + sl + 2 > cap) c->cmd = realloc(c->cmd, cap *= 2);
            memcpy(c->cmd + len, s, sl);
            len += sl;
            c->cmd[len++] = '\n';
            c->cmd[len] = '\0';
            k++;
            if (word[0]) {
                const char *t = s;
                while (*t == '\t') t++;
                if (strcmp(t, word) == 0) word[0] = '\0';
                else continue;
            } else if (first) {
                heredoc_word(s, word, sizeof word);
                if (word[0]) continue;
            }
            if (!(sl && s[sl - 1] == '\\')) break;
        }
        c->first = k;
        c->n = 0;
    }
    return n;
}

/* Does the sh command run tapegrad (as the first word of a simple command)? */
static int runs_tapegrad(const char *cmd)
{
    for (const char *p = strstr(cmd, "tapegrad"); p; p = strstr(p + 1, "tapegrad")) {
        char after = p[8];
        if (after != ' ' && after != '\n' && after != '\0') continue;
        const char *b = p;
        while (b > cmd && b[-1] == ' ') b--;
        if (b == cmd || b[-1] == '|' || b[-1] == ';' || b[-1] == '&' || b[-1] == '(' ||
            b[-1] == '\n')
            return 1;
    }
    return 0;
}

/* The expected lines of a command's output, under the tools present. */
static want *wanted(const lines *page, int first, int n, const tools *tl)
{
    want *w = calloc((size_t)n + 1, sizeof *w);
    int *mark = calloc((size_t)n + 1, sizeof *mark);
    mark_time_columns(n, (const char *const *)page->at + first, mark);
    for (int k = 0; k < n; k++) {
        const char *s = page->at[first + k];
        char f[256], c[256], g[256];
        w[k].text = s;
        w[k].kind = L_TEXT;
        w[k].time_col = mark[k];
        w[k].doc_line = first + k + 1;
        const char *t = s;
        while (*t == ' ') t++;
        if (trimmed_len(t) == 3 && strncmp(t, "...", 3) == 0) w[k].kind = L_ANY;
        else if (!tl->gnuplot && sscanf(s, "wrote %255s (gnuplot), with the data in %255s and "
                                           "the script in %255s", f, c, g) == 3) {
            char *m = malloc(1024);
            snprintf(m, 1024, "gnuplot is not installed, so %s was not drawn; wrote %s and %s (",
                     f, c, g);
            w[k].text = m;
            w[k].kind = L_MISSING_TOOL;
        } else if (!tl->graphviz && sscanf(s, "wrote %255s (Graphviz dot), with the graph in "
                                              "%255s", f, c) == 2) {
            char *m = malloc(1024);
            snprintf(m, 1024, "Graphviz's dot is not installed, so %s was not drawn; wrote %s (",
                     f, c);
            w[k].text = m;
            w[k].kind = L_MISSING_TOOL;
        }
    }
    free(mark);
    return w;
}

static void free_wanted(want *w, int n)
{
    for (int k = 0; k < n; k++)
        if (w[k].kind == L_MISSING_TOOL) free((char *)w[k].text);
    free(w);
}

static got *gotten(const lines *out)
{
    got *g = calloc((size_t)out->n + 1, sizeof *g);
    int *mark = calloc((size_t)out->n + 1, sizeof *mark);
    mark_time_columns(out->n, (const char *const *)out->at, mark);
    for (int k = 0; k < out->n; k++) {
        g[k].text = out->at[k];
        g[k].time_col = mark[k];
    }
    free(mark);
    return g;
}

/* Log one mismatch: where, what ran (its first line), and the first differing line with the
 * two printed lines before it. */
static void report(const char *file, int line, const char *what, const want *w, int nw,
                   const got *g, int ng, const mismatch *mm, const char *why)
{
    char ctx[1400] = "", wl[700], gl[700];
    size_t len = 0;
    for (int k = mm->gi - 2; k < mm->gi; k++)
        if (k >= 0 && len < sizeof ctx)
            len += (size_t)snprintf(ctx + len, sizeof ctx - len, "              %.600s\n",
                                    g[k].text);
    if (mm->wi >= 0 && mm->wi < nw)
        snprintf(wl, sizeof wl, "(line %d) %.600s", w[mm->wi].doc_line,
                 w[mm->wi].kind == L_MISSING_TOOL ? "a 'not installed' message" : w[mm->wi].text);
    else snprintf(wl, sizeof wl, "(the end of the output shown)");
    if (mm->gi < ng) snprintf(gl, sizeof gl, "(line %d) %.600s", mm->gi + 1, g[mm->gi].text);
    else snprintf(gl, sizeof gl, "(the end of the output, %d lines)", ng);
    cr_log_error("%s:%d: %s\n  %.*s\n%s  - shown   %s\n  + printed %s\n", file, line, why,
                 (int)strcspn(what, "\n"), what, ctx, wl, gl);
}

/* ---- the pages' tapegrad examples ---- */

typedef struct tally {
    int blocks, commands, failed, skipped;
} tally;

static void run_block(const char *file, const lines *page, shown *cmds, int ncmds,
                      const char *base, const tools *tl, tally *t)
{
    char dir[600], cmd[2600];
    snprintf(dir, sizeof dir, "%s/run%d", base, t->blocks++);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/docs/img' '%s/tests' && cp -R docs/examples '%s/docs/' && "
             "cp -R tests/data '%s/tests/'", dir, dir, dir, dir);
    run_or_die(cmd);
    for (int c = 0; c < ncmds; c++) {
        int signaled;
        double sec;
        char *text = run_script(base, dir, cmds[c].cmd, &signaled, &sec);
        t->commands++;
        if (getenv("TAPEGRAD_DOCS_TIMES")) cr_log_info("%s:%d: %.2f s", file, cmds[c].line, sec);
        if (sec > SLOW_SECONDS)
            cr_log_info("%s:%d: took %.0f s (over %.0f s): make it cheaper or mark its block "
                        "<!-- docs-test: skip (takes ...) -->", file, cmds[c].line, sec,
                        SLOW_SECONDS);
        if (strstr(text, "--data digits needs scikit-learn's data files")) {
            cr_log_info("%s:%d: not compared: scikit-learn's digits are not installed "
                        "(apt-get install python3-sklearn)", file, cmds[c].line);
            t->skipped++;
            free(text);
            continue;
        }
        lines out = split_lines(text);
        got *g = gotten(&out);
        want *w = wanted(page, cmds[c].first, cmds[c].n, tl);
        mismatch mm = {-1, out.n};
        char what[300];
        snprintf(what, sizeof what, "$ %.290s", cmds[c].cmd);
        if (signaled) {
            report(file, cmds[c].line, what, w, cmds[c].n, g, out.n, &mm,
                   "the command was killed by a signal");
            t->failed++;
        } else if (!match_lines(w, cmds[c].n, g, out.n, &mm)) {
            report(file, cmds[c].line, what, w, cmds[c].n, g, out.n, &mm,
                   "the output differs from the page");
            t->failed++;
        }
        free_wanted(w, cmds[c].n);
        free(g);
        free_lines(&out);
    }
}

#define MAX_PAGES 64
typedef char page_name[300];

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* README.md, then the docs/NAME.md pages sorted. */
static int pages(page_name *names)
{
    int n = 0;
    snprintf(names[n++], sizeof names[0], "README.md");
    DIR *d = opendir("docs");
    cr_assert_not_null(d, "no docs directory (run from the repository root)");
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len <= 3 || strcmp(e->d_name + len - 3, ".md") != 0) continue;
        cr_assert_lt(n, MAX_PAGES, "more than %d pages", MAX_PAGES);
        snprintf(names[n++], sizeof names[0], "docs/%s", e->d_name);
    }
    closedir(d);
    qsort(names + 1, (size_t)n - 1, sizeof names[0], by_name);
    return n;
}

/* Call fn for every fenced block of a page: the lines [a, b) inside the fences, and the
 * docs-test comment before it ("" if none). */
typedef void (*block_fn)(const char *file, const lines *page, int a, int b, const char *marker,
                         void *ud);

static void each_block(const char *file, block_fn fn, void *ud)
{
    char *text = th_read_file(file);
    cr_assert_not_null(text, "cannot read %s", file);
    lines page = split_lines(text);
    for (int k = 0; k < page.n; k++) {
        if (!starts_with(page.at[k], "```")) continue;
        int open = k;
        for (k++; k < page.n && !starts_with(page.at[k], "```"); k++) {}
        char mbuf[512];
        const char *marker = marker_before(&page, open, mbuf, sizeof mbuf);
        cr_assert_not_null(marker, "%s:%d: a docs-test comment must end in -->", file, open + 1);
        if (*marker && !starts_with(marker, "printed by docs/examples/") &&
            !starts_with(marker, "skip ("))
            cr_assert_fail("%s:%d: unknown docs-test comment '%s' (known: skip (REASON), "
                           "printed by docs/examples/NAME.c)", file, open + 1, marker);
        fn(file, &page, open + 1, k, marker, ud);
    }
    free_lines(&page);
}

static void make_base(char *base, const char *tapegrad)
{
    cr_assert_not_null(mkdtemp(base));
    char cmd[1400], cwd[600] = "";
    if (tapegrad[0] != '/') cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd, "mkdir '%s/bin' && ln -s '%s%s%s' '%s/bin/tapegrad'", base, cwd,
             *cwd ? "/" : "", tapegrad, base);
    run_or_die(cmd);
}

/* The test's temporary directory, removed by the test's fini even when an assertion ends it. */
static char tmp_base[] = "/tmp/tg-docs-XXXXXX";

static void remove_base(void)
{
    char cmd[700];
    if (strcmp(tmp_base + strlen(tmp_base) - 6, "XXXXXX") == 0) return; /* never made */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_base);
}

typedef struct examples {
    const char *base;
    tools tl;
    tally t;
} examples;

static void example_block(const char *file, const lines *page, int a, int b, const char *marker,
                          void *ud)
{
    examples *x = ud;
    shown cmds[MAX_BLOCK_CMDS];
    int n = read_commands(page, a, b, cmds, MAX_BLOCK_CMDS), runs = 0;
    for (int c = 0; c < n; c++) runs |= runs_tapegrad(cmds[c].cmd);
    if (runs && starts_with(marker, "skip (")) {
        cr_log_info("%s:%d: block not run: %s", file, a, marker);
        x->t.skipped++;
    } else if (runs && !*marker) {
        run_block(file, page, cmds, n, x->base, &x->tl, &x->t);
    }
    for (int c = 0; c < n; c++) free(cmds[c].cmd);
}

Test(docs, every_tapegrad_example_prints_what_the_page_shows, .fini = remove_base)
{
    const char *tg = th_tapegrad();
    if (!have("stdbuf"))
        cr_skip_test("stdbuf (coreutils) is needed to see stdout as a terminal does");
    examples x = {NULL, {have("gnuplot"), have("dot")}, {0, 0, 0, 0}};
    make_base(tmp_base, tg);
    x.base = tmp_base;
    static page_name names[MAX_PAGES];
    int n = pages(names);
    for (int i = 0; i < n; i++) each_block(names[i], example_block, &x);
    if (!x.tl.gnuplot)
        cr_log_info("gnuplot is not installed: its drawing lines were compared with the 'not "
                    "installed' message in their place");
    if (!x.tl.graphviz)
        cr_log_info("Graphviz is not installed: its drawing lines were compared with the 'not "
                    "installed' message in their place");
    cr_assert_geq(x.t.commands, 30, "only %d commands found in %d blocks: is the page reader "
                  "broken?", x.t.commands, x.t.blocks);
    cr_assert_eq(x.t.failed, 0, "%d of %d commands shown in the docs print something else (see "
                 "above; %d skipped)", x.t.failed, x.t.commands, x.t.skipped);
}

/* ---- what the docs/examples programs print ---- */

#define MAX_PROGRAMS 16

typedef struct programs {
    const char *base, *build; /* the temporary directory; where `make` put libtapegrad.a */
    int n, blocks, failed;
    char src[MAX_PROGRAMS][300];
    char *out[MAX_PROGRAMS];
} programs;

/* The output of docs/examples/NAME.c: the program `make examples` built when it is newer
 * than its source and the library, else one compiled here against the library. */
static const char *program_output(programs *p, const char *src)
{
    for (int k = 0; k < p->n; k++)
        if (strcmp(p->src[k], src) == 0) return p->out[k];
    cr_assert_lt(p->n, MAX_PROGRAMS);
    char name[300], exe[700], lib[700], cmd[2400];
    snprintf(name, sizeof name, "%s", strrchr(src, '/') + 1);
    name[strcspn(name, ".")] = '\0';
    snprintf(exe, sizeof exe, "%s/examples/%s", p->build, name);
    snprintf(lib, sizeof lib, "%s/libtapegrad.a", p->build);
    struct stat se, ss, sl;
    cr_assert_eq(stat(src, &ss), 0, "%s: no such program", src);
    cr_assert_eq(stat(lib, &sl), 0);
    if (stat(exe, &se) != 0 || se.st_mtime < ss.st_mtime || se.st_mtime < sl.st_mtime) {
        snprintf(exe, sizeof exe, "%s/%s", p->base, name);
        /* a library built with SANITIZE=1 needs the sanitizers' runtime at link time too */
        const char *flags[] = {"", " -fsanitize=address,undefined"};
        int st = -1;
        for (int k = 0; k < 2 && st != 0; k++) {
            snprintf(cmd, sizeof cmd, "cc -std=c11 -O2%s -Iinclude -o '%s' '%s' '%s' -lopenblas "
                     "-lm 2>/dev/null", flags[k], exe, src, lib);
            st = system(cmd);
        }
        cr_assert_eq(st, 0, "cannot build %s (`make examples` builds it): %s", src, cmd);
    }
    char script[1400], cwd[600] = "";
    int signaled;
    double sec;
    if (exe[0] != '/') cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(script, sizeof script, "'%s%s%s'\n", cwd, *cwd ? "/" : "", exe);
    p->out[p->n] = run_script(p->base, p->base, script, &signaled, &sec);
    cr_assert(!signaled, "%s was killed by a signal:\n%s", src, p->out[p->n]);
    snprintf(p->src[p->n], sizeof p->src[0], "%s", src);
    return p->out[p->n++];
}

static void printed_block(const char *file, const lines *page, int a, int b, const char *marker,
                          void *ud)
{
    programs *p = ud;
    if (!starts_with(marker, "printed by ")) return;
    const char *src = marker + strlen("printed by ");
    lines out = split_lines(strdup(program_output(p, src)));
    got *g = gotten(&out);
    /* the block's lines, its "$ " commands left out, between two "any lines" */
    shown cmds[MAX_BLOCK_CMDS];
    int ncmds = read_commands(page, a, b, cmds, MAX_BLOCK_CMDS), nw = 0, c = 0;
    tools all = {1, 1};
    want *body = wanted(page, a, b - a, &all), *w = calloc((size_t)(b - a) + 2, sizeof *w);
    w[nw++].kind = L_ANY;
    for (int k = a; k < b; k++) {
        if (c < ncmds && k == cmds[c].line - 1) {
            k = cmds[c++].first - 1;
            continue;
        }
        w[nw++] = body[k - a];
    }
    w[nw++].kind = L_ANY;
    mismatch mm;
    p->blocks++;
    if (!match_lines(w, nw, g, out.n, &mm)) {
        report(file, a, marker, w, nw, g, out.n, &mm,
               "these lines are not what the program prints");
        p->failed++;
    }
    for (c = 0; c < ncmds; c++) free(cmds[c].cmd);
    free_wanted(body, b - a);
    free(w);
    free(g);
    free_lines(&out);
}

Test(docs, example_programs_print_what_the_pages_show, .fini = remove_base)
{
    const char *tg = th_tapegrad();
    char path[600], build[600], lib[700];
    snprintf(path, sizeof path, "%s", tg);
    snprintf(build, sizeof build, "%s", dirname(dirname(path)));
    snprintf(lib, sizeof lib, "%s/libtapegrad.a", build);
    if (access(lib, R_OK) != 0)
        cr_skip_test("no %s beside $TAPEGRAD to build docs/examples with", lib);
    if (!have("stdbuf"))
        cr_skip_test("stdbuf (coreutils) is needed to see stdout as a terminal does");
    cr_assert_not_null(mkdtemp(tmp_base));
    programs p = {tmp_base, build, 0, 0, 0, {{0}}, {0}};
    static page_name names[MAX_PAGES];
    int n = pages(names);
    for (int i = 0; i < n; i++) each_block(names[i], printed_block, &p);
    for (int k = 0; k < p.n; k++) free(p.out[k]);
    cr_assert_geq(p.blocks, 1, "no block is marked <!-- docs-test: printed by "
                  "docs/examples/NAME.c -->");
    cr_assert_eq(p.failed, 0, "%d of %d blocks are not what their program prints (see above)",
                 p.failed, p.blocks);
}

/* ---- docs/cli.md: a section for every command, naming every option of its --help ---- */

/* What `tapegrad ARGS` prints on stdout, malloc'd. */
static char *stdout_of(const char *tg, const char *args)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", tg, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t cap = 8192, n = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0)
        if ((n += k) + 1 == cap) buf = realloc(buf, cap *= 2);
    buf[n] = '\0';
    pclose(p);
    return buf;
}

static int option_char(char c)
{
    return is_alnum(c) || c == '-';
}

/* Does text name the option opt (not as a part of a longer one, --seed in --seeds)? */
static int names_option(const char *text, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = strstr(text, opt); p; p = strstr(p + 1, opt))
        if ((p == text || !option_char(p[-1])) && !option_char(p[n])) return 1;
    return 0;
}

/* The text of docs/cli.md's sections about tapegrad CMD ("## `tapegrad CMD`" or
 * "## `tapegrad CMD ...`", each up to the next "## " heading), malloc'd; NULL if none. */
static char *cli_md_sections(const lines *md, const char *cmd)
{
    char head[96];
    snprintf(head, sizeof head, "## `tapegrad %s", cmd);
    size_t cap = 1024, len = 0;
    char *text = NULL;
    for (int k = 0; k < md->n; k++) {
        const char *s = md->at[k];
        if (!starts_with(s, head) || (s[strlen(head)] != '`' && s[strlen(head)] != ' ')) continue;
        if (!text) text = calloc(cap, 1);
        for (int j = k; j < md->n && (j == k || !starts_with(md->at[j], "## ")); j++) {
            size_t sl = strlen(md->at[j]);
            while (len + sl + 2 > cap) text = realloc(text, cap *= 2);
            memcpy(text + len, md->at[j], sl);
            len += sl;
            text[len++] = '\n';
            text[len] = '\0';
        }
    }
    return text;
}

Test(docs, cli_md_has_a_section_naming_every_option_of_each_command)
{
    const char *tg = th_tapegrad();
    char *help = stdout_of(tg, "--help");
    const char *p = strstr(help, "\ncommands:\n");
    cr_assert_not_null(p, "no commands: list in tapegrad --help:\n%s", help);
    char *doc = th_read_file("docs/cli.md");
    cr_assert_not_null(doc, "no docs/cli.md (run from the repository root)");
    lines md = split_lines(doc);
    int commands = 0, options = 0, missing = 0;
    for (p += strlen("\ncommands:\n"); starts_with(p, "  "); p = strchr(p, '\n') + 1) {
        char name[64], args[96];
        cr_assert_eq(sscanf(p, "%63s", name), 1);
        commands++;
        char *section = cli_md_sections(&md, name);
        if (!section) {
            cr_log_error("docs/cli.md has no section \"## `tapegrad %s`\"", name);
            missing++;
            continue;
        }
        snprintf(args, sizeof args, "%s --help", name);
        char *usage = stdout_of(tg, args);
        lines ul = split_lines(usage);
        /* an option line: two blanks, then the options up to the next two blanks */
        for (int k = 0; k < ul.n; k++) {
            if (!starts_with(ul.at[k], "  -")) continue;
            char *end = strstr(ul.at[k] + 2, "  ");
            if (end) *end = '\0';
            for (char *tok = strtok(ul.at[k] + 2, " ,"); tok; tok = strtok(NULL, " ,")) {
                if (tok[0] != '-') continue;
                options++;
                if (!names_option(section, tok)) {
                    cr_log_error("docs/cli.md: the section of tapegrad %s does not name %s",
                                 name, tok);
                    missing++;
                }
            }
        }
        free_lines(&ul);
        free(section);
    }
    free_lines(&md);
    free(help);
    cr_assert_geq(commands, 8, "only %d commands in tapegrad --help", commands);
    cr_assert_geq(options, 40, "only %d options in the commands' --help", options);
    cr_assert_eq(missing, 0, "docs/cli.md lacks %d sections or options of --help (see above)",
                 missing);
}
