/* test_cli_codegen.c - `tapegrad codegen`: its function, compiled with cc, gives what
 * `tapegrad grad --json` gives at random points, bit for bit (17 significant digits read
 * back), for expressions over many ops, a --def, the article's program and a --wrt subset;
 * and its errors name what was wrong. Skips when there is no C compiler. See LICENSE. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include "helpers.h"
#include "json.h"
#include "run.h"

static int have_cc(void) { return system("cc --version >/dev/null 2>&1") == 0; }

/* The names of grad --json's "grad" object at a first point, in order: the inputs. */
static int grad_names(const char *const *expr, char names[][16], int max)
{
    th_run r;
    const char *args[12] = {"grad", "--json"};
    int n = 2;
    for (int k = 0; expr[k]; k++) args[n++] = expr[k];
    args[n] = NULL;
    th_run_tapegrad(&r, args); /* exit 2: no values given; the message lists them */
    const char *p = strstr(r.err, "give ");
    cr_assert_not_null(p, "%s", r.err);
    int m = 0;
    for (p = strstr(p, "--at ") + 5; *p && *p != ')' && *p != '\n' && m < max;) {
        size_t len = strcspn(p, "=");
        snprintf(names[m++], 16, "%.*s", (int)len, p);
        p += len;
        p += strcspn(p, ",)\n");
        p += *p == ',';
    }
    th_run_free(&r);
    return m;
}

typedef struct cg_case {
    const char *expr[4]; /* the expression arguments (EXPR, or --file F, with --def) */
    const char *wrt;     /* --wrt, or NULL */
} cg_case;

static void check_case(const cg_case *c, const char *dir)
{
    char names[16][16];
    int n = grad_names(c->expr, names, 16);
    const char *args[14] = {"codegen", "--name", "g"};
    int a = 3;
    for (int k = 0; c->expr[k]; k++) args[a++] = c->expr[k];
    if (c->wrt) args[a++] = "--wrt", args[a++] = c->wrt;
    args[a] = NULL;
    th_run r;
    th_run_tapegrad(&r, args);
    cr_assert_eq(r.status, 0, "codegen %s: %s", c->expr[0], r.err);
    void *dl;
    th_grad_fn g = th_compile_fn(dir, r.out, "g", &dl);
    th_rng rng = th_rng_new(th_seed(c->expr[0], 5));
    for (int pt = 0; pt < 12; pt++) {
        double in[16], grad[16];
        char at[600] = "";
        size_t len = 0;
        for (int k = 0; k < n; k++) {
            in[k] = th_uniform(&rng, 0.1, 1.9);
            len += (size_t)snprintf(at + len, sizeof at - len, "%s%s=%.17g", k ? "," : "",
                                    names[k], in[k]);
        }
        const char *gargs[12] = {"grad", "--json", "--at", at};
        int ga = 4;
        for (int k = 0; c->expr[k]; k++) gargs[ga++] = c->expr[k];
        gargs[ga] = NULL;
        th_run gr;
        th_run_tapegrad(&gr, gargs);
        cr_assert_eq(gr.status, 0, "%s", gr.err);
        json *j = json_parse(gr.out, gr.out_len, NULL, 0);
        cr_assert_not_null(j);
        double y = g(in, grad);
        cr_expect_eq(y, json_get(j, "value")->number, "%s: f %.17g, grad says %.17g", c->expr[0],
                     y, json_get(j, "value")->number);
        const json *gj = json_get(j, "grad");
        int w = 0;
        for (int k = 0; k < gj->n; k++) {
            if (c->wrt && !strstr(c->wrt, json_key(gj, k))) continue;
            cr_expect_eq(grad[w], json_at(gj, k)->number, "%s: d/d%s %.17g, grad says %.17g",
                         c->expr[0], json_key(gj, k), grad[w], json_at(gj, k)->number);
            w++;
        }
        json_free(j);
        th_run_free(&gr);
    }
    dlclose(dl);
    th_run_free(&r);
}

Test(cli_codegen, the_function_gives_what_grad_gives)
{
    th_tapegrad();
    if (!have_cc()) cr_skip_test("skipped: no C compiler (cc) on this machine");
    char dir[] = "/tmp/tg-codegen-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const cg_case cases[] = {
        {{"x*sigmoid(b*x)"}, NULL},
        {{"x*sigmoid(b*x)"}, "b"},
        {{"log(1 + exp(w*x + b)) / sqrt(x^2 + y^2) - pi*atan(y/x) + erf(x)*tanh(y)"}, NULL},
        {{"where(x > y, log(x), expm1(y)) + clamp(x - y, -0.5, 0.5) + maximum(x, y)^3"}, NULL},
        {{"swish(x) * swish(y)", "--def", "swish(x) = x*sigmoid(x)"}, "y"},
        {{"--file", "docs/examples/article.tg"}, "w11[1],w31[2]"},
        {{"z = w*x + b; a = gelu(z) + softplus(-z); E = 0.5*(a - t)^2"}, NULL},
        /* names the generated code uses itself, renamed where they would clash */
        {{"d = x*memset; gy = d + V3; r = gy*d_x + o0 + in + grad + double + tg_back"}, NULL},
        {{"TG_OUT_OF_LINE*sigmoid(tg_gauss) + tanh(e)*normcdf(s)"}, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) check_case(&cases[k], dir);
    rmdir(dir);
}

Test(cli_codegen, errors_name_what_was_wrong)
{
    th_tapegrad();
    struct {
        const char *args[8];
        const char *err;
    } bad[] = {
        {{"codegen", "x*y", "--wrt", "z"}, "tapegrad: codegen: --wrt: 'z' is not a name in the "
                                            "expression\n"},
        {{"codegen", "x*y", "--name", "2f"}, "tapegrad: codegen: --name: '2f' is not a C "
                                             "identifier\n"},
        {{"codegen", "x*y", "-o", "/nonexistent/dir/f.c"},
         "tapegrad: codegen: -o: cannot write /nonexistent/dir/f.c (directory /nonexistent/dir: "
         "No such file or directory)\n"},
        {{"codegen", "x*y", "-o", "f.txt"}, "tapegrad: codegen: -o: 'f.txt' must end in .c\n"},
        {{"codegen"}, "tapegrad: codegen: no expression (try 'tapegrad codegen --help')\n"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        th_run r;
        th_run_tapegrad(&r, bad[k].args);
        cr_expect_eq(r.status, 2, "case %zu: exit %d", k, r.status);
        cr_expect_str_eq(r.err, bad[k].err);
        cr_expect_eq(r.out_len, 0, "case %zu wrote %s", k, r.out);
        th_run_free(&r);
    }
}
