/* test_cli_golden.c - the workbench commands run as a program ($TAPEGRAD, as `make test` sets
 * it): every tests/cli/NAME.tg (one line: the arguments, in sh syntax) must print exactly
 * tests/cli/NAME.expected (stdout, then "--- stderr" and stderr when there is any, then
 * "--- exit N"). TAPEGRAD_GOLDEN_UPDATE=1 rewrites the .expected files instead. Also: grad
 * --json against the gradient check for every op, plot/dot with and without gnuplot and
 * Graphviz installed, --version, and the man page against --help. See LICENSE. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "tapegrad.h"
#include "tapegrad_expr.h"
#include "tapegrad_op.h"

#define GOLDEN_DIR "tests/cli"

static const char *binary(void)
{
    const char *b = getenv("TAPEGRAD");
    if (b && *b) return b;
    if (access("build/bin/tapegrad", X_OK) == 0) return "build/bin/tapegrad";
    cr_skip_test("TAPEGRAD is not set (make test sets it) and build/bin/tapegrad is missing");
    return NULL;
}

/* The whole of a file, malloc'd (NULL if it cannot be read). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Run the sh command line `line`, in which `tg` is the tapegrad binary, after `env` (sh
 * assignments), with stdout and stderr in files; the transcript in the golden format,
 * malloc'd. */
static char *transcript(const char *env, const char *line)
{
    char out[] = "/tmp/tg-golden-out-XXXXXX", err[] = "/tmp/tg-golden-err-XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    size_t len = strlen(line) + strlen(binary()) + strlen(env) + 200;
    char *cmd = malloc(len);
    snprintf(cmd, len, "TAPEGRAD_BIN='%s'; tg() { %s \"$TAPEGRAD_BIN\" \"$@\"; }; { %s ; } "
             ">'%s' 2>'%s' </dev/null", binary(), env, line, out, err);
    int st = system(cmd);
    free(cmd);
    char *o = read_all(out), *e = read_all(err);
    unlink(out);
    unlink(err);
    size_t size = strlen(o) + strlen(e) + 64;
    char *t = malloc(size);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    snprintf(t, size, "%s%s%s--- exit %d\n", o, *e ? "--- stderr\n" : "", e, code);
    free(o);
    free(e);
    return t;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(cli_golden, every_case_prints_its_expected_transcript)
{
    binary();
    DIR *d = opendir(GOLDEN_DIR);
    cr_assert_not_null(d, "no %s directory (run from the repository root)", GOLDEN_DIR);
    char *names[512];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 512;) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".tg") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    cr_assert_geq(n, 20, "only %d golden cases", n);
    int update = getenv("TAPEGRAD_GOLDEN_UPDATE") != NULL, failed = 0;
    for (int i = 0; i < n; i++) {
        char path[600], exp_path[600];
        snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, names[i]);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", GOLDEN_DIR,
                 (int)(strlen(names[i]) - 3), names[i]);
        char *args = read_all(path);
        cr_assert_not_null(args);
        char *nl = strchr(args, '\n');
        if (nl) *nl = '\0';
        char *got = transcript("", args);
        if (update) {
            FILE *f = fopen(exp_path, "w");
            fputs(got, f);
            fclose(f);
        } else {
            char *want = read_all(exp_path);
            if (!want || strcmp(want, got) != 0) {
                failed++;
                cr_log_error("%s: %s\n--- expected:\n%s--- got:\n%s", names[i], args,
                             want ? want : "(no .expected file)\n", got);
            }
            free(want);
        }
        free(got);
        free(args);
        free(names[i]);
    }
    cr_assert_eq(failed, 0, "%d of %d golden cases differ (see above; TAPEGRAD_GOLDEN_UPDATE=1 "
                 "rewrites them)", failed, n);
}

/* ---- grad agrees with the gradient check on every op ---- */

/* The number after "\"KEY\": " in a JSON text. */
static double json_num(const char *s, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(s, k);
    cr_assert_not_null(p, "no %s in %s", key, s);
    return strtod(p + strlen(k), NULL);
}

Test(cli_golden, grad_json_agrees_with_the_gradient_check_on_every_op)
{
    binary();
    th_rng rng = th_rng_new(5);
    int ops = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->eval) continue;
        char expr[128], at[256];
        double x[TG_MAX_ARITY];
        size_t le = (size_t)snprintf(expr, sizeof expr, "%s(", op->name), la = 0;
        do { /* operands the op's check admits (clamp: lo <= hi) */
            for (int k = 0; k < op->arity; k++) x[k] = th_uniform(&rng, 0.3, 1.7);
        } while (!th_op_admits(op, x));
        for (int k = 0; k < op->arity; k++) {
            le += (size_t)snprintf(expr + le, sizeof expr - le, "%sx%d", k ? ", " : "", k + 1);
            la += (size_t)snprintf(at + la, sizeof at - la, "%sx%d=%.17g", k ? "," : "", k + 1, x[k]);
        }
        snprintf(expr + le, sizeof expr - le, ")");
        char args[512];
        snprintf(args, sizeof args, "tg grad '%s' --at '%s' --json", expr, at);
        char *got = transcript("", args);
        cr_assert(strstr(got, "--- exit 0"), "%s", got);
        /* the same op recorded directly, checked by reverse vs forward vs finite differences */
        tg_tape *t = tg_tape_new();
        tg_var p[TG_MAX_ARITY];
        for (int k = 0; k < op->arity; k++) p[k] = tg_param(t, x[k]);
        tg_var y = tg_apply(op, op->arity, p);
        tg_check_result r[TG_MAX_ARITY];
        tg_check_report rep;
        cr_assert_eq(tg_check_grad(y, op->arity, p, NULL, r, &rep), TG_OK, "%s", expr);
        cr_assert_eq(rep.failed, 0, "%s", expr);
        cr_assert_eq(json_num(got, "value"), tg_value(y), "%s: value", expr);
        for (int k = 0; k < op->arity; k++) {
            char key[16];
            snprintf(key, sizeof key, "x%d", k + 1);
            double g = json_num(got, key);
            cr_assert_eq(g, r[k].reverse, "%s: d/d%s %.17g vs %.17g", expr, key, g, r[k].reverse);
            cr_assert(th_close(g, r[k].fd, 1e-6, 1e-8), "%s: d/d%s %.17g, fd %.17g", expr, key, g,
                      r[k].fd);
        }
        tg_tape_free(t);
        free(got);
        ops++;
    }
    cr_assert_gt(ops, 15);
}

/* ---- pictures, with and without the helper programs ---- */

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static int have(const char *program)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    return system(cmd) == 0;
}

Test(cli_golden, plot_draws_svg_and_png_with_gnuplot)
{
    binary();
    if (!have("gnuplot")) cr_skip_test("gnuplot is not installed");
    char dir[] = "/tmp/tg-plot-XXXXXX", args[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(args, sizeof args, "tg plot 'x*sigmoid(x)' -o %s/swish.svg", dir);
    char *got = transcript("", args);
    cr_assert(strstr(got, "--- exit 0"), "%s", got);
    snprintf(args, sizeof args, "%s/swish.svg", dir);
    char *svg = read_all(args);
    cr_assert_not_null(svg);
    cr_assert(strstr(svg, "<svg"), "not an SVG");
    cr_assert(strstr(svg, "x*sigmoid(x)"), "the title is the expression");
    cr_assert(strstr(svg, "f&apos;&apos;(x)") || strstr(svg, "f''(x)"), "a curve per order");
    free(svg);
    free(got);
    snprintf(args, sizeof args, "tg plot 'relu(x)' 'silu(x)' 'gelu(x)' -o %s/cmp.png", dir);
    got = transcript("", args);
    cr_assert(strstr(got, "--- exit 0"), "%s", got);
    snprintf(args, sizeof args, "%s/cmp.png", dir);
    char *png = read_all(args);
    cr_assert(png && memcmp(png, "\x89PNG", 4) == 0, "not a PNG");
    free(png);
    free(got);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_assert_eq(system(args), 0);
}

Test(cli_golden, plot_without_gnuplot_says_so_and_writes_the_csv)
{
    binary();
    char dir[] = "/tmp/tg-plot-XXXXXX", args[256], path[300];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(args, sizeof args, "tg plot 'tanh(x)' --points 11 -o %s/t.svg", dir);
    char *got = transcript("PATH=/nonexistent", args);
    cr_assert(strstr(got, "--- exit 0"), "%s", got);
    cr_assert(strstr(got, "gnuplot is not installed"), "%s", got);
    cr_assert(strstr(got, "apt-get install gnuplot-nox"), "%s", got);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    char *csv = read_all(path);
    cr_assert_not_null(csv);
    cr_assert(strncmp(csv, "x,f,df,d2f\n-5,", 14) == 0, "%s", csv);
    free(csv);
    snprintf(path, sizeof path, "%s/t.gp", dir);
    cr_assert(exists(path), "the gnuplot script is written for later");
    snprintf(path, sizeof path, "%s/t.svg", dir);
    cr_assert(!exists(path));
    free(got);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_assert_eq(system(args), 0);
}

Test(cli_golden, dot_draws_svg_with_graphviz_or_says_how_to_get_it)
{
    binary();
    char dir[] = "/tmp/tg-dot-XXXXXX", args[256], path[300];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(args, sizeof args, "tg dot 'x*sigmoid(x)' --at x=1 -o %s/g.svg", dir);
    char *got = transcript("PATH=/nonexistent", args);
    cr_assert(strstr(got, "--- exit 0"), "%s", got);
    cr_assert(strstr(got, "Graphviz's dot is not installed"), "%s", got);
    snprintf(path, sizeof path, "%s/g.dot", dir);
    char *dot = read_all(path);
    cr_assert(dot && strncmp(dot, "digraph tapegrad {", 18) == 0);
    free(dot);
    free(got);
    if (have("dot")) {
        snprintf(args, sizeof args, "tg article --dot -o %s/article.svg", dir);
        got = transcript("", args);
        cr_assert(strstr(got, "--- exit 0"), "%s", got);
        snprintf(path, sizeof path, "%s/article.svg", dir);
        char *svg = read_all(path);
        cr_assert(svg && strstr(svg, "<svg") && strstr(svg, "w11[1]"), "the article's graph");
        free(svg);
        free(got);
    }
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_assert_eq(system(args), 0);
}

/* ---- --version: the library's version, which no golden file repeats ---- */

Test(cli_golden, version_prints_the_library_version)
{
    char *got = transcript("", "tg --version");
    cr_expect_str_eq(got, "tapegrad " TG_VERSION_STRING "\n--- exit 0\n");
    free(got);
}

/* ---- the man page (docs/tapegrad.1) has one .SS "tapegrad NAME" per command of --help ---- */

Test(cli_golden, man_page_describes_exactly_the_commands_of_help)
{
    char *help = transcript("", "tg --help");
    char *man = read_all("docs/tapegrad.1");
    cr_assert_not_null(man, "no docs/tapegrad.1 (run from the repository root)");
    const char *p = strstr(help, "\ncommands:\n");
    cr_assert_not_null(p, "no commands: list in tapegrad --help:\n%s", help);
    int listed = 0;
    for (p += strlen("\ncommands:\n"); strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1) {
        char name[64], heading[96];
        cr_assert_eq(sscanf(p, "%63s", name), 1);
        snprintf(heading, sizeof heading, "\n.SS \"tapegrad %s\"\n", name);
        cr_expect(strstr(man, heading), "docs/tapegrad.1 has no .SS \"tapegrad %s\"", name);
        listed++;
    }
    cr_assert_geq(listed, 8, "only %d commands found in tapegrad --help", listed);
    int sections = 0;
    for (const char *q = man; (q = strstr(q, "\n.SS \"tapegrad ")); q++) sections++;
    cr_expect_eq(sections, listed, "docs/tapegrad.1 describes %d commands, tapegrad --help "
                 "lists %d", sections, listed);
    free(man);
    free(help);
}
