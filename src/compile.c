/* compile.c - the tape compiler's second half: build the C that emit.c writes with the system
 * compiler, keep it in a cache, load it, and run it in place of replay + backward. Also the
 * standalone emitter's entry point, tg_emit_c.
 *
 * The cache (docs/compile.md): one shared object per module, named by a 128-bit hash of the
 * source, the compiler command and its flags, in a directory that only its owner can write.
 * A file is loaded from it only when the directory and the file belong to this user and no
 * one else may write them, its bytes match the checksum kept beside it (a truncated shared
 * object can crash dlopen itself), and the module it holds says it is the one asked for (its
 * key); anything else is rebuilt, never trusted. A module is built in a private directory made
 * with mkdtemp (inside the cache, so that the finished file is renamed into place in one
 * step), loaded from there, then moved. See LICENSE. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

#define MAX_CONE 50000 /* nodes: gcc's time on one long function grows faster than its size */
#define MAX_WORDS 16

/* The flags every module is built with: those of the library's own objects that change a
 * double (-O2; no FMA contraction), and those of a loadable object. */
static const char *const cc_flags[] = {"-O2", "-ffp-contract=off", "-fPIC", "-shared"};

/* What a module is given to run a tensor node: the library's own steps (sweep.c), and the
 * library's cblas_dgemm for the products it writes out (gemm.c), so that a module needs
 * neither CBLAS's header nor its symbols resolved when it is loaded. */
typedef struct runtime {
    void *t;
    void (*forward)(void *t, unsigned i);
    void (*vjp)(void *t, unsigned i);
    double *(*values)(void *t, unsigned i);
    double *(*gradient)(void *t, unsigned i);
    double *(*partials)(void *t, unsigned i);
    void (*cblas_dgemm)(int order, int ta, int tb, int m, int n, int k, double alpha,
                        const double *a, int lda, const double *b, int ldb, double beta,
                        double *c, int ldc);
} runtime;

static void rt_forward(void *t, unsigned i) { tg_tensor_node_forward(t, i); }
static void rt_vjp(void *t, unsigned i) { tg_tensor_node_vjp(t, i); }
static double *rt_values(void *t, unsigned i) { return tg_node_view(t, i).x; }

static double *rt_gradient(void *tp, unsigned i)
{
    tg_tape *t = tp;
    return t->grad + tg_node_tensor(t, &t->nodes[i])->off;
}

static double *rt_partials(void *tp, unsigned i)
{
    tg_tape *t = tp;
    const size_t poff = tg_node_tensor(t, &t->nodes[i])->poff;
    return poff == TG_NONE_OFF ? NULL : t->tpart + poff;
}

typedef void (*tape_fn)(tg_node *nd, double *part, double *pext, double *adj,
                        const runtime *rt);

struct tg_compiled {
    tg_tape *t;
    tg_var out;
    tg_buf src;
    tg_emitted info;
    void *dl;
    tape_fn tape;
    tg_compiled_fn raw;
    tg_compiled_tensor_fn arrays;
    char log[400];
};

typedef struct build {
    tg_compiled *c;
    char *words[MAX_WORDS + 1]; /* the compiler command, split */
    char cmd[256];
    char key[40];               /* 32 hex digits of the hash */
    char cache[4000];           /* the cache directory, "" when none is used */
    char why[200];              /* why the cache was not used, or a file was rebuilt */
} build;

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Two FNV-1a style hashes at once (different starts and multipliers): 128 bits, for naming
 * a module by its source and for checking a cached file's bytes. Not a defence against an
 * attacker, who cannot write the cache. */
typedef struct hash2 {
    uint64_t h[2];
} hash2;

static hash2 hash_start(void) { return (hash2){{0xcbf29ce484222325ull, 0x84222325cbf29ce5ull}}; }

static void hash_add(hash2 *h, const void *data, size_t n)
{
    static const uint64_t mult[2] = {0x100000001b3ull, 0x9e3779b97f4a7c15ull};
    const unsigned char *c = data;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) h->h[k] = (h->h[k] ^ c[i]) * mult[k];
}

static void hash_hex(const hash2 *h, char out[33])
{
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, h->h[0], h->h[1]);
}

/* The module's key: the source, the compiler command and the flags, each with its NUL. */
static void hash_key(build *bd, const char *s)
{
    hash2 h = hash_start();
    hash_add(&h, s, strlen(s) + 1);
    hash_add(&h, bd->cmd, strlen(bd->cmd) + 1);
    for (size_t k = 0; k < sizeof cc_flags / sizeof *cc_flags; k++)
        hash_add(&h, cc_flags[k], strlen(cc_flags[k]) + 1);
    hash_hex(&h, bd->key);
}

/* The hash of the file at path's bytes and its size, as "HEX SIZE\n" into out; -1 if it
 * cannot be read. */
static int file_sum(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    hash2 h = hash_start();
    unsigned char buf[8192];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) hash_add(&h, buf, n), total += n;
    int bad = ferror(f);
    fclose(f);
    char hex[33];
    hash_hex(&h, hex);
    snprintf(out, size, "%s %zu\n", hex, total);
    return bad ? -1 : 0;
}

/* ---- the cache directory ---- */

/* Whether path may be trusted: a directory (want_dir) or a regular file, not a link, owned
 * by this user, writable by no one else. Else 0 with the reason in why. */
static int trusted(const char *path, int want_dir, char *why, size_t size)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        return 0;
    }
    const char *what = want_dir ? "directory" : "file";
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        snprintf(why, size, "%s is not a %s%s", path, what,
                 S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
    else if (st.st_uid != geteuid())
        snprintf(why, size, "%s %s belongs to user %u, not to this one (%u)", what, path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        snprintf(why, size, "%s %s is writable by others (mode %04o)", what, path,
                 (unsigned)(st.st_mode & 07777));
    else
        return 1;
    return 0;
}

/* The cache directory into bd->cache, made (mode 0700) if missing; "" when there is none to
 * use, with the reason in bd->why. */
static void cache_dir(build *bd, const tg_compile_opts *o)
{
    const char *set = o ? o->cache_dir : NULL, *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (set)
        n = snprintf(bd->cache, sizeof bd->cache, "%s", set);
    else if (xdg && xdg[0] == '/')
        n = snprintf(bd->cache, sizeof bd->cache, "%s/tapegrad", xdg);
    else if (home && home[0] == '/')
        n = snprintf(bd->cache, sizeof bd->cache, "%s/.cache/tapegrad", home);
    else
        n = snprintf(bd->cache, sizeof bd->cache, "%s", "");
    if (n <= 0 || (size_t)n >= sizeof bd->cache - 64) {
        if (n > 0) snprintf(bd->why, sizeof bd->why, "cache not used: its path is too long");
        bd->cache[0] = '\0';
        return;
    }
    for (char *p = bd->cache + 1;; p++) { /* mkdir -p, each new directory 0700 */
        char c = *p;
        if (c != '/' && c) continue;
        *p = '\0';
        if (mkdir(bd->cache, 0700) != 0 && errno != EEXIST) {
            snprintf(bd->why, sizeof bd->why, "cache not used: cannot make %.100s: %s", bd->cache,
                     strerror(errno));
            bd->cache[0] = '\0';
            return;
        }
        *p = c;
        if (!c) break;
    }
    char why[sizeof bd->why - 20];
    if (!trusted(bd->cache, 1, why, sizeof why)) {
        snprintf(bd->why, sizeof bd->why, "cache not used: %s", why);
        bd->cache[0] = '\0';
    }
}

/* ---- loading ---- */

/* Load the module at path and check that it is the one keyed bd->key; 0, or -1 with the
 * reason in why (and nothing kept loaded). */
static int load(build *bd, const char *path, char *why, size_t size)
{
    tg_compiled *c = bd->c;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(why, size, "it does not load (%s)", e ? e : "dlopen failed");
        return -1;
    }
    const char *key = dlsym(dl, "tg_entry_key");
    c->tape = (tape_fn)(uintptr_t)dlsym(dl, "tg_entry_tape");
    c->raw = (tg_compiled_fn)(uintptr_t)dlsym(dl, "tg_entry_raw");
    c->arrays = (tg_compiled_tensor_fn)(uintptr_t)dlsym(dl, "tg_entry_arrays");
    void (*init)(double (*const *)(const double *, double *)) =
        (void (*)(double (*const *)(const double *, double *)))(uintptr_t)dlsym(
            dl, "tg_entry_init");
    if (!key || strcmp(key, bd->key) || !c->tape || (!c->raw && !c->info.tensors) ||
        (!c->arrays && c->info.fused) ||
        (c->info.next && !init)) {
        snprintf(why, size, "it holds another module");
        dlclose(dl);
        return -1;
    }
    if (c->info.next) { /* the evals of the ops without code */
        double (*table[64])(const double *, double *);
        for (uint32_t k = 0; k < c->info.next && k < 64; k++) table[k] = c->info.ext[k]->eval;
        init(table);
    }
    c->dl = dl;
    return 0;
}

/* ---- building ---- */

static tg_status write_file(tg_tape *t, const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "w");
    int ok = f && fwrite(s, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (ok) return TG_OK;
    return tg_fail(t, TG_ERR_COMPILE, "tg_compile: cannot write %s: %s", path, strerror(errno));
}

/* The compiler's first line that says "error" (else its first line) from the log at path. */
static void first_error(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!out[0] || strstr(line, "error")) snprintf(out, size, "%.*s", (int)size - 1, line);
        if (strstr(line, "error")) break;
    }
    if (f) fclose(f);
}

/* Run the compiler on dir/m.c into dir/m.so, its output into dir/cc.log. */
static tg_status run_cc(build *bd, const char dir[4100])
{
    tg_tape *t = bd->c->t;
    char src[4200], so[4200], log[4200]; /* dir is shorter than 4100 */
    snprintf(src, sizeof src, "%s/m.c", dir);
    snprintf(so, sizeof so, "%s/m.so", dir);
    snprintf(log, sizeof log, "%s/cc.log", dir);
    char *argv[MAX_WORDS + 12];
    int n = 0;
    for (int k = 0; bd->words[k]; k++) argv[n++] = bd->words[k];
    for (size_t k = 0; k < sizeof cc_flags / sizeof *cc_flags; k++)
        argv[n++] = (char *)cc_flags[k];
    argv[n++] = "-o";
    argv[n++] = so;
    argv[n++] = src;
    argv[n++] = "-lm";
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), status = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        return tg_fail(t, TG_ERR_COMPILE, "tg_compile: no C compiler: cannot run '%s' (%s; "
                       "set TG_CC or tg_compile_opts.cc)", argv[0], strerror(err));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return TG_OK;
    char first[300];
    first_error(log, first, sizeof first);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return tg_fail(t, TG_ERR_COMPILE, "tg_compile: no C compiler: '%s' was not found "
                       "(set TG_CC or tg_compile_opts.cc)", argv[0]);
    if (WIFEXITED(status))
        return tg_fail(t, TG_ERR_COMPILE, "tg_compile: the C compiler failed ('%s' exited with "
                       "status %d): %s", bd->cmd, WEXITSTATUS(status), first);
    return tg_fail(t, TG_ERR_COMPILE, "tg_compile: the C compiler failed ('%s' was killed by "
                   "signal %d)", bd->cmd, WTERMSIG(status));
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"m.c", "m.so", "m.sum", "cc.log"};
    char p[4200];
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[k]);
        unlink(p);
    }
    rmdir(dir);
}

/* The path of the checksum beside module file path ("K.so" -> "K.sum"). */
static void sum_path(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%.*s.sum", (int)(strlen(path) - 3), path);
}

/* Whether the cached module at path is whole: its checksum file is trusted and holds the
 * hash and size of its bytes (a truncated module could crash dlopen). Else the reason. */
static int intact(const char *path, char *why, size_t size)
{
    char sp[4300], want[64] = "", have[64];
    sum_path(path, sp, sizeof sp);
    if (!trusted(sp, 0, why, size)) return 0;
    FILE *f = fopen(sp, "r");
    if (!f || !fgets(want, sizeof want, f)) want[0] = '\0';
    if (f) fclose(f);
    if (file_sum(path, have, sizeof have) == 0 && !strcmp(want, have)) return 1;
    snprintf(why, size, "its bytes do not match its checksum (truncated or corrupt)");
    return 0;
}

/* Move the module built in dir, and its checksum, to cached (K.so) and K.sum. */
static int keep(const char *dir, const char *cached)
{
    char so[4200], sum[4200], line[64], sp[4300];
    snprintf(so, sizeof so, "%s/m.so", dir);
    snprintf(sum, sizeof sum, "%s/m.sum", dir);
    sum_path(cached, sp, sizeof sp);
    if (file_sum(so, line, sizeof line)) return -1;
    FILE *f = fopen(sum, "w");
    int ok = f && fputs(line, f) >= 0;
    if (f && fclose(f)) ok = 0;
    return ok && rename(so, cached) == 0 && rename(sum, sp) == 0 ? 0 : -1;
}

/* Build the module in a fresh private directory, load it, and move it into the cache. */
static tg_status build_and_load(build *bd, const char *cached)
{
    tg_compiled *c = bd->c;
    tg_tape *t = c->t;
    const char *tmp = getenv("TMPDIR");
    char dir[4100], so[4200];
    snprintf(dir, sizeof dir, "%s/tapegrad-XXXXXX",
             bd->cache[0] ? bd->cache : tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return tg_fail(t, TG_ERR_COMPILE, "tg_compile: cannot make a build directory %s: %s",
                       dir, strerror(errno));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(so, sizeof so, "%s/m.c", dir);
    tg_status s = write_file(t, so, c->src.s, c->src.n);
    if (!s) s = run_cc(bd, dir);
    snprintf(so, sizeof so, "%s/m.so", dir);
    char why[200];
    if (!s && load(bd, so, why, sizeof why))
        s = tg_fail(t, TG_ERR_COMPILE, "tg_compile: the module just built: %s", why);
    if (!s) {
        double ms = ms_since(&t0);
        if (cached && keep(dir, cached) == 0)
            snprintf(c->log, sizeof c->log, "built with %.60s in %.1f ms (cached in %.150s)%s%.150s",
                     bd->cmd, ms, bd->cache, bd->why[0] ? "; " : "", bd->why);
        else
            snprintf(c->log, sizeof c->log, "built with %.60s in %.1f ms (not cached%s%.200s)",
                     bd->cmd, ms, bd->why[0] ? ": " : "", bd->why);
    }
    remove_dir(dir);
    return s;
}

/* The compiler command: opts->cc, $TG_CC or "cc", into bd->cmd. */
static tg_status compiler(build *bd, const tg_compile_opts *o)
{
    const char *cc = o && o->cc ? o->cc : getenv("TG_CC");
    if (!cc || !cc[strspn(cc, " \t")]) cc = "cc";
    cc += strspn(cc, " \t");
    if (strlen(cc) >= sizeof bd->cmd)
        return tg_fail(bd->c->t, TG_ERR_ARG, "tg_compile: the compiler command is longer than "
                       "%zu characters", sizeof bd->cmd - 1);
    snprintf(bd->cmd, sizeof bd->cmd, "%s", cc);
    return TG_OK;
}

static tg_status get_module(build *bd, const tg_compile_opts *o)
{
    tg_compiled *c = bd->c;
    char split[sizeof bd->cmd];
    tg_status s = compiler(bd, o);
    if (s) return s;
    snprintf(split, sizeof split, "%s", bd->cmd);
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(split, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_WORDS)
            return tg_fail(c->t, TG_ERR_ARG, "tg_compile: the compiler command '%.60s' has "
                           "more than %d words", bd->cmd, MAX_WORDS);
        bd->words[n++] = w;
    }
    bd->words[n] = NULL;
    hash_key(bd, c->src.s);
    tg_buf_printf(&c->src, "\n/* the module's key: a hash of the source above, the compiler "
                  "and its flags */\nconst char tg_entry_key[] = \"%s\";\n", bd->key);
    if (c->src.oom) return c->t->status;
    cache_dir(bd, o);
    if (!bd->cache[0]) return build_and_load(bd, NULL);
    char path[4200], why[200];
    snprintf(path, sizeof path, "%s/%s.so", bd->cache, bd->key);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (access(path, F_OK) == 0 || errno != ENOENT) {
        char reason[sizeof bd->why];
        if (trusted(path, 0, why, sizeof why) && intact(path, why, sizeof why) &&
            !load(bd, path, why, sizeof why)) {
            snprintf(c->log, sizeof c->log, "loaded from the cache %.300s in %.2f ms", bd->cache,
                     ms_since(&t0));
            return TG_OK;
        }
        snprintf(reason, sizeof reason, "rebuilt %s.so: %.140s", bd->key, why);
        snprintf(bd->why, sizeof bd->why, "%s", reason);
    }
    return build_and_load(bd, path);
}

/* ---- the API ---- */

static void compiled_free(tg_compiled *c)
{
    tg_tape *t = c->t;
    if (c->dl) dlclose(c->dl);
    tg_buf_free(&c->src);
    tg_emitted_free(t, &c->info);
    tg_mem(t, c, sizeof *c, 0);
}

tg_compiled *tg_compile(tg_var out, const tg_compile_opts *opts)
{
    tg_tape *t = out.tape;
    if (!t) return NULL;
    const tg_node *nd = tg_resolve(out, "tg_compile");
    if (!nd || t->status) return NULL;
    if (t->check_nan) {
        tg_fail(t, TG_ERR_ARG, "tg_compile: anomaly mode is on, and compiled code does not "
                "check for NaN (turn it off with tg_tape_check_nan(t, 0), or use tg_replay)");
        return NULL;
    }
    tg_compiled *c = tg_mem(t, NULL, 0, sizeof *c);
    if (!c) {
        tg_fail(t, TG_ERR_NOMEM, "tg_compile: out of memory");
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->t = t;
    c->out = out;
    c->src.t = t;
    build bd = {.c = c};
    if (!tg_emit(t, out.index, NULL, &c->src, &c->info)) {
        if (c->info.ncone > MAX_CONE)
            tg_fail(t, TG_ERR_ARG, "tg_compile: the tape is too large to compile (%" PRIu32
                    " nodes in the output's cone, more than %d)", c->info.ncone, MAX_CONE);
        else if (c->info.next > 64)
            tg_fail(t, TG_ERR_UNSUPPORTED, "tg_compile: more than 64 ops without C code");
        else
            get_module(&bd, opts);
    }
    if (!t->status) return c;
    compiled_free(c);
    return NULL;
}

/* tg_compiled_run (seed NULL) and tg_compiled_run_seed, named who. */
static tg_status run(tg_compiled *c, const double *seed, const char *who)
{
    if (!c) return TG_ERR_ARG;
    tg_tape *t = c->t;
    if (t->status) return t->status;
    if (!tg_live(t, c->out))
        return tg_fail(t, TG_ERR_STALE, "%s: the tape was reset since tg_compile (compile the "
                       "new recording)", who);
    if (t->check_nan)
        return tg_fail(t, TG_ERR_ARG, "%s: anomaly mode is on, and compiled code does not "
                       "check for NaN (use tg_replay and tg_backward)", who);
    const uint32_t n = c->out.index + 1;
    t->note[0] = '\0';
    t->tan_n = 0;
    if (c->info.tensors) { /* adjoints in the tape from the start, as tg_backward has them */
        if (tg_begin_reverse(t, c->out, seed, who)) return t->status;
    } else {
        if (n > t->adj_cap && tg_grow(t, (void **)&t->adj, &t->adj_cap, n, sizeof *t->adj))
            return t->status;
        if (c->info.stale) memset(t->adj, 0, (size_t)n * sizeof *t->adj); /* else written */
        t->adj_n = n;
    }
    const runtime rt = {t,          rt_forward,  rt_vjp, rt_values,
                        rt_gradient, rt_partials, tg_dgemm};
    c->tape(t->nodes, t->part, t->pext, t->adj, &rt);
    for (uint32_t q = 0; q < c->info.nkinks; q++) /* replay's flip report, in node order */
        tg_kink_recheck(t, &t->kinks[c->info.kinks[q]]);
    return TG_OK;
}

tg_status tg_compiled_run(tg_compiled *c) { return run(c, NULL, "tg_compiled_run"); }

tg_status tg_compiled_run_seed(tg_compiled *c, const double *seed)
{
    if (!c) return TG_ERR_ARG;
    if (!seed) return tg_fail(c->t, TG_ERR_ARG, "tg_compiled_run_seed: seed is NULL");
    if (!c->info.tensors)
        return tg_fail(c->t, TG_ERR_ARG, "tg_compiled_run_seed: the output is a scalar node, "
                       "which the module seeds with 1 (use tg_compiled_run)");
    return run(c, seed, "tg_compiled_run_seed");
}

tg_compiled_fn tg_compiled_raw(const tg_compiled *c) { return c ? c->raw : NULL; }

tg_compiled_tensor_fn tg_compiled_raw_tensors(const tg_compiled *c) { return c ? c->arrays : NULL; }

int tg_compiled_inputs(const tg_compiled *c, tg_var *leaves, int max)
{
    if (!c) return -1;
    if (!c->raw && !c->arrays) return 0;
    for (int k = 0; leaves && k < max && (uint32_t)k < c->info.nleaves; k++)
        leaves[k] = (tg_var){c->t, c->info.leaves[k], c->out.epoch};
    return (int)c->info.nleaves;
}

const char *tg_compiled_source(const tg_compiled *c) { return c ? c->src.s : NULL; }

const char *tg_compiled_log(const tg_compiled *c) { return c ? c->log : NULL; }

void tg_compiled_free(tg_compiled *c)
{
    if (c) compiled_free(c);
}

/* ---- the standalone emitter ---- */

static int is_ident(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* Each of n handles a live leaf of t; within, each among the first nin of in. */
static tg_status check_leaves(tg_tape *t, int n, const tg_var *v, const char *what,
                              const tg_var *in, int nin)
{
    if (n < 0 || (n > 0 && !v))
        return tg_fail(t, TG_ERR_ARG, "tg_emit_c: %d %s with the list %s", n, what,
                       v ? "given" : "NULL");
    for (int k = 0; k < n; k++) {
        const tg_node *nd = tg_resolve_on(t, v[k], "tg_emit_c", what);
        if (!nd) return t->status;
        if (!tg_node_is_leaf(nd))
            return tg_fail(t, TG_ERR_ARG, "tg_emit_c: %s %d is not a leaf", what, k);
        int found = !in;
        for (int j = 0; in && j < nin && !found; j++) found = in[j].index == v[k].index;
        if (!found)
            return tg_fail(t, TG_ERR_ARG, "tg_emit_c: %s %d is not one of the inputs", what, k);
    }
    return TG_OK;
}

tg_status tg_emit_c(tg_var out, const tg_emit_opts *opts, FILE *f)
{
    tg_tape *t = out.tape;
    if (!t) return TG_ERR_ARG;
    if (!tg_resolve(out, "tg_emit_c") || t->status) return t->status;
    if (!opts || !f)
        return tg_fail(t, TG_ERR_ARG, "tg_emit_c: %s is NULL", opts ? "the file" : "opts");
    if (opts->name && !is_ident(opts->name))
        return tg_fail(t, TG_ERR_ARG, "tg_emit_c: '%s' is not a C identifier", opts->name);
    if (check_leaves(t, opts->n_in, opts->in, "input", NULL, 0) ||
        check_leaves(t, opts->n_wrt, opts->wrt, "wrt", opts->in, opts->n_in))
        return t->status;
    tg_buf b = {.t = t};
    tg_emitted info = {0};
    if (!tg_emit(t, out.index, opts, &b, &info) && fwrite(b.s, 1, b.n, f) != b.n)
        tg_fail(t, TG_ERR_ARG, "tg_emit_c: cannot write the source: %s", strerror(errno));
    tg_buf_free(&b);
    tg_emitted_free(t, &info);
    return t->status;
}
