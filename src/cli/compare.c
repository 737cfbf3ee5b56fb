/* compare.c - `tapegrad compare --activation A --activation B ...`: the same model trained
 * with each activation over several seeds; a table (or JSON) of mean +- std of the final loss
 * and test accuracy, the epochs to reach a target accuracy and the time, and one plot with
 * every activation's mean loss curve. Each activation's derivative is checked first.
 * See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "train.h"

#define CMD "compare"
#define MAX_ACTS 12

static const char usage[] =
    "usage: tapegrad compare --activation A --activation B [...] [--seeds N] [--target ACC]\n"
    "                        [--plot compare.png] [--json] [the options of tapegrad train]\n"
    "\n"
    "Trains the same model with each activation (an op name, an expression in x, or a\n"
    "--def's name), once per seed, and prints per activation the mean +- standard deviation\n"
    "of the final training loss and the test accuracy, the mean number of epochs until the\n"
    "test accuracy first reaches the target (and for how many seeds it did), and the mean\n"
    "training time. Every activation is checked, as train checks it, before anything is\n"
    "trained. One that is refused, or whose training fails for a seed (its other seeds are\n"
    "then skipped), gets a row \"failed: REASON\" and the others are still compared; the exit\n"
    "status is then 1 (0: every activation trained; 2: bad input, nothing printed).\n"
    "\n"
    "  --activation A     repeat for each activation (2 to 12)\n"
    "  --seeds N          runs per activation, seeds S, S+1, ... (default 3); the data set\n"
    "                     and its split stay those of --seed\n"
    "  --target ACC       test accuracy for the epochs-to-target column (default 0.95)\n"
    "  --plot FILE.png    every activation's mean loss curve (and FILE.csv), by gnuplot\n"
    "  --json             print one object instead of the table: per activation the mean\n"
    "                     and std of each column and every seed's run as train --json\n"
    "                     prints it, with its seed and epochs to the target (a failed\n"
    "                     activation: \"error\", the columns null, the runs it completed)\n"
    "%s"
    "\n"
    "example:\n"
    "  tapegrad compare --activation relu --activation 'x*sigmoid(1.702*x)' \\\n"
    "                   --activation tanh --seeds 5 --plot compare.png\n";

typedef struct summary {
    double loss_m, loss_s, acc_m, acc_s, ep_m, sec_m, sec_s;
    int reached;
    double *curve; /* mean loss per epoch */
    int done;      /* runs completed */
    char failed[TG_NN_ERRSIZE + 96]; /* why the activation has no results; "" when it has */
} summary;

/* One activation's run with one seed. */
typedef struct run {
    uint64_t seed;
    train_result r;
    int to_target; /* epochs until the test accuracy first reached the target; 0: never */
} run;

static void mean_std(const double *x, int n, double *m, double *s)
{
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) a += x[i];
    a /= n;
    for (int i = 0; i < n; i++) b += (x[i] - a) * (x[i] - a);
    *m = a;
    *s = n > 1 ? sqrt(b / (n - 1)) : 0;
}

static int plot_all(const char *png, const train_cfg *c, const char *data, int nact,
                    train_act *acts, summary *sum)
{
    char *csv = cli_replace_ext(png, ".csv");
    if (!csv) return cli_fail(CMD, "out of memory");
    FILE *f = fopen(csv, "w");
    if (!f) {
        cli_fail(CMD, "cannot write %s", csv);
        free(csv);
        return 2;
    }
    fprintf(f, "epoch");
    for (int k = 0; k < nact; k++)
        if (!sum[k].failed[0]) fprintf(f, ",loss_%d", k + 1);
    fputc('\n', f);
    for (int e = 0; e < c->epochs; e++) {
        fprintf(f, "%d", e + 1);
        for (int k = 0; k < nact; k++)
            if (!sum[k].failed[0]) fprintf(f, ",%.10g", sum[k].curve[e]);
        fputc('\n', f);
    }
    fclose(f);
    size_t cap = 4096 + 512 * (size_t)nact, n = 0;
    char *script = malloc(cap);
    if (!script) {
        free(csv);
        return cli_fail(CMD, "out of memory");
    }
    n += (size_t)snprintf(script + n, cap - n,
                          "%sset output '%s'\nset datafile separator ','\n"
                          "set title 'tapegrad compare: %s, %s, mean training loss over seeds'\n"
                          "set xlabel 'epoch'\nset ylabel 'training loss'\nset logscale y\n"
                          "set grid\nplot ",
                          train_gp_terminal(png), png, data, c->opt);
    for (int k = 0, col = 2; k < nact; k++) {
        if (sum[k].failed[0]) continue;
        char t[200];
        size_t m = 0;
        for (const char *s = acts[k].text; *s && m + 1 < sizeof t; s++)
            if (*s != '\'' && *s != '\\' && *s != '"') t[m++] = *s;
        t[m] = '\0';
        n += (size_t)snprintf(script + n, cap - n, "%s'%s' using 1:%d skip 1 with lines lw 2 "
                                                   "title '%s'", col > 2 ? ", " : "", csv, col, t);
        col++;
    }
    snprintf(script + n, cap - n, "\n");
    int rc = train_gnuplot(CMD, png, csv, script);
    free(script);
    free(csv);
    return rc;
}

/* "key": {"mean": m, "std": s} */
static void json_mean_std(const char *key, double m, double s)
{
    printf(", \"%s\": {\"mean\": ", key);
    cli_json_num(stdout, m);
    fputs(", \"std\": ", stdout);
    cli_json_num(stdout, s);
    putchar('}');
}

/* The table's content as one object: the setup, then per activation its columns in the
 * table's order and its runs (seeds of them). Without classes (a regression set) there is no
 * target: "target" and "epochs_to_target" are null, and so are the accuracies. An activation
 * that failed has "error" (the reason its row shows) after its name, every column null and
 * the runs it completed before it failed. */
static void print_json(const train_cfg *c, const char *data, int cls, double target, int nact,
                       const train_act *acts, const summary *sum, const run *runs, int seeds)
{
    fputs("{\"data\": ", stdout);
    cli_json_str(stdout, data);
    printf(", \"epochs\": %d, \"seeds\": %d, \"target\": ", c->epochs, seeds);
    cli_json_num(stdout, cls ? target : NAN);
    fputs(", \"activations\": [", stdout);
    for (int k = 0; k < nact; k++) {
        const summary *m = &sum[k];
        fputs(k ? ",\n  {\"activation\": " : "\n  {\"activation\": ", stdout);
        cli_json_str(stdout, acts[k].text);
        if (m->failed[0]) {
            fputs(", \"error\": ", stdout);
            cli_json_str(stdout, m->failed);
            fputs(", \"final_loss\": null, \"test_accuracy\": null, \"epochs_to_target\": "
                  "null, \"seconds\": null", stdout);
        } else {
            json_mean_std("final_loss", m->loss_m, m->loss_s);
            json_mean_std("test_accuracy", m->acc_m, m->acc_s);
            fputs(", \"epochs_to_target\": ", stdout);
            if (cls) {
                fputs("{\"mean\": ", stdout);
                cli_json_num(stdout, m->reached ? m->ep_m : NAN);
                printf(", \"reached\": %d}", m->reached);
            } else {
                fputs("null", stdout);
            }
            json_mean_std("seconds", m->sec_m, m->sec_s);
        }
        fputs(",\n   \"runs\": [", stdout);
        for (int s = 0; s < m->done; s++) {
            const run *u = &runs[k * seeds + s];
            printf("%s{\"seed\": %llu, ", s ? ",\n            " : "",
                   (unsigned long long)u->seed);
            train_json_result(stdout, &u->r);
            fputs(", \"epochs_to_target\": ", stdout);
            if (u->to_target) printf("%d}", u->to_target);
            else fputs("null}", stdout);
        }
        fputs("]}", stdout);
    }
    fputs("]}\n", stdout);
}

int cli_compare(int argc, char **argv)
{
    train_cfg c;
    train_cfg_defaults(&c);
    const char *texts[MAX_ACTS], *plot = NULL;
    int nact = 0, seeds = 3, json = 0;
    double target = 0.95;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        uint64_t u;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(usage, train_cfg_help);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if ((r = train_cfg_option(CMD, &c, argc, argv, &i)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--activation", &v)) != 0) {
            if (r < 0) return 2;
            if (nact == MAX_ACTS) return cli_fail(CMD, "at most %d activations", MAX_ACTS);
            texts[nact++] = v;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--seeds", &v)) != 0) {
            if (r < 0 || cli_count(CMD, "--seeds", v, 1, 1000, &u)) return 2;
            seeds = (int)u;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--target", &v)) != 0) {
            if (r < 0 || cli_number(CMD, "--target", v, &target)) return 2;
            if (!(target > 0 && target <= 1))
                return cli_fail(CMD, "--target: an accuracy in (0, 1] (got %s)", v);
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--plot", &v)) != 0) {
            if (r < 0) return 2;
            if (cli_output_path(CMD, "--plot", v, train_plot_exts)) return 2;
            plot = v;
            continue;
        }
        return cli_fail(CMD, "unknown option '%s' (try 'tapegrad compare --help')", argv[i]);
    }
    if (nact < 2) return cli_fail(CMD, "give at least two --activation options to compare");

    train_act acts[MAX_ACTS];
    summary sum[MAX_ACTS];
    memset(acts, 0, sizeof acts);
    memset(sum, 0, sizeof sum);
    int rc = 0, made = 0, failed = 0;
    for (; made < nact && rc == 0; made++) { /* a refusal is the activation's row, bad input ends */
        rc = train_act_make(CMD, &c, texts[made], &acts[made]);
        if (rc == 0 && train_act_check(CMD, &acts[made], sum[made].failed,
                                       sizeof sum[made].failed) == 2)
            rc = 2;
    }
    train_data d;
    memset(&d, 0, sizeof d);
    if (rc == 0) rc = train_data_load(CMD, &c, &d);
    int cls = d.train.classes >= 2;
    double *loss = malloc((size_t)seeds * sizeof *loss), *acc = malloc((size_t)seeds * sizeof *acc);
    double *ep = malloc((size_t)seeds * sizeof *ep), *sec = malloc((size_t)seeds * sizeof *sec);
    run *runs = calloc((size_t)nact * (size_t)seeds, sizeof *runs);
    if (rc == 0 && (!loss || !acc || !ep || !sec || !runs)) rc = cli_fail(CMD, "out of memory");
    cli_par_jobs *jobs; /* on MPI ranks, every run made ahead, each on its rank (par.h) */
    rc = cli_par_jobs_run(&jobs, rc, CMD, &c, &d, acts, nact, seeds, cls);
    if (rc == 0 && !c.quiet)
        fprintf(stderr, "%s: %d training rows, %d test rows; %d activations x %d seeds, %d "
                        "epochs each\n", d.name, d.train.n, d.test.n, nact, seeds, c.epochs);
    for (int k = 0; k < nact && rc == 0; k++) {
        if (sum[k].failed[0]) {
            if (!c.quiet) fprintf(stderr, "  %-24s failed: %s\n", acts[k].text, sum[k].failed);
            failed++;
            continue;
        }
        sum[k].curve = calloc((size_t)c.epochs, sizeof(double));
        if (!sum[k].curve) {
            rc = cli_fail(CMD, "out of memory");
            break;
        }
        int nep = 0;
        for (int s = 0; s < seeds && rc == 0 && !sum[k].failed[0]; s++) {
            train_curve cv;
            int r = cli_par_job(jobs, k * seeds + s, CMD, &c, &d, &acts[k],
                                c.seed + (uint64_t)s, train_progress(&c, 0), cls, &cv);
            if (r == 2) { /* the model does not fit the data: so for every activation */
                rc = cli_fail(CMD, "%s", cv.error);
            } else if (r == 1) {
                snprintf(sum[k].failed, sizeof sum[k].failed, "seed %llu: %s",
                         (unsigned long long)(c.seed + (uint64_t)s), cv.error);
                if (!c.quiet)
                    fprintf(stderr, "  %-24s seed %llu: failed: %s\n", acts[k].text,
                            (unsigned long long)(c.seed + (uint64_t)s), cv.error);
                failed++;
            } else {
                run *u = &runs[k * seeds + s];
                sum[k].done++;
                u->seed = c.seed + (uint64_t)s;
                u->r = cv.r;
                loss[s] = cv.r.final_loss;
                acc[s] = cv.r.test_accuracy;
                sec[s] = cv.r.seconds;
                for (int e = 0; e < c.epochs; e++) sum[k].curve[e] += cv.loss[e] / seeds;
                for (int e = 0; cls && e < cv.r.epochs; e++)
                    if (cv.test_acc[e] >= target) {
                        ep[nep++] = u->to_target = e + 1;
                        break;
                    }
                if (!c.quiet) {
                    fprintf(stderr, "  %-24s seed %llu: loss %.4g", acts[k].text,
                            (unsigned long long)u->seed, cv.r.final_loss);
                    if (cls) fprintf(stderr, ", test accuracy %.1f%%", 100 * cv.r.test_accuracy);
                    fputc('\n', stderr);
                }
            }
            train_curve_free(&cv);
        }
        if (rc || sum[k].failed[0]) continue;
        double dummy;
        mean_std(loss, seeds, &sum[k].loss_m, &sum[k].loss_s);
        mean_std(acc, seeds, &sum[k].acc_m, &sum[k].acc_s);
        mean_std(sec, seeds, &sum[k].sec_m, &sum[k].sec_s);
        sum[k].reached = nep;
        if (nep) mean_std(ep, nep, &sum[k].ep_m, &dummy);
    }
    if (rc == 0 && json) {
        print_json(&c, d.name, cls, target, nact, acts, sum, runs, seeds);
    } else if (rc == 0) {
        printf("%-26s %-22s %-20s %-18s %s\n", "activation", "final loss", "test accuracy",
               cls ? "epochs to target" : "", "seconds");
        char tgt[32];
        snprintf(tgt, sizeof tgt, "(>= %.4g%%)", 100 * target);
        printf("%-26s %-22s %-20s %-18s\n", "", "mean +- std", "mean +- std", cls ? tgt : "");
        for (int k = 0; k < nact; k++) {
            char l[64], a[64], e[64];
            if (sum[k].failed[0]) {
                printf("%-26s failed: %s\n", acts[k].text, sum[k].failed);
                continue;
            }
            snprintf(l, sizeof l, "%.4g +- %.2g", sum[k].loss_m, sum[k].loss_s);
            if (cls) snprintf(a, sizeof a, "%.2f%% +- %.2f", 100 * sum[k].acc_m, 100 * sum[k].acc_s);
            else snprintf(a, sizeof a, "-");
            if (!cls) e[0] = '\0';
            else if (sum[k].reached)
                snprintf(e, sizeof e, "%.1f (%d/%d)", sum[k].ep_m, sum[k].reached, seeds);
            else snprintf(e, sizeof e, "never (0/%d)", seeds);
            printf("%-26s %-22s %-20s %-18s %.3f\n", acts[k].text, l, a, e, sum[k].sec_m);
        }
    }
    if (rc == 0 && plot && failed == nact)
        fprintf(stderr, "tapegrad: compare: no activation was trained, so %s was not drawn\n",
                plot);
    else if (rc == 0 && plot && cli_par_rank() == 0)
        rc = plot_all(plot, &c, d.name, nact, acts, sum);
    cli_par_jobs_free(jobs);
    for (int k = 0; k < nact; k++) free(sum[k].curve);
    for (int k = 0; k < made; k++) train_act_free(&acts[k]);
    free(loss);
    free(acc);
    free(ep);
    free(sec);
    free(runs);
    train_data_free(&d);
    return rc ? rc : failed ? 1 : 0; /* 1: the table is printed, with the failed rows */
}
