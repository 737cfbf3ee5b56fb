/* run.c - the tests' way to run the tapegrad command (run.h): posix_spawn with standard
 * output and error redirected to temporary files, read back whole once it exits.
 * See LICENSE. */
#include "run.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *th_tapegrad(void)
{
    const char *b = getenv("TAPEGRAD");
    if (b && *b) return b;
    if (access("build/bin/tapegrad", X_OK) == 0) return "build/bin/tapegrad";
    cr_skip_test("TAPEGRAD is not set (make test sets it) and build/bin/tapegrad is missing");
    return NULL;
}

/* A temporary file, already unlinked: it lives as long as fd. */
static int scratch(void)
{
    char path[] = "/tmp/tapegrad-run-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp failed");
    unlink(path);
    return fd;
}

/* All of fd from its start, NUL-terminated and malloc'd; its length in *len. */
static char *read_back(int fd, size_t *len)
{
    off_t size = lseek(fd, 0, SEEK_END);
    cr_assert_geq(size, 0);
    char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(pread(fd, buf, (size_t)size, 0), size, "cannot read the output back");
    buf[size] = '\0';
    *len = (size_t)size;
    close(fd);
    return buf;
}

void th_run_tapegrad(th_run *r, const char *const *args)
{
    int n = 0;
    while (args[n]) n++;
    const char **argv = malloc((size_t)(n + 2) * sizeof *argv); /* a check may pass ~100 */
    cr_assert_not_null(argv);
    argv[0] = th_tapegrad();
    memcpy(argv + 1, args, (size_t)(n + 1) * sizeof *argv);
    int out = scratch(), err = scratch();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    pid_t pid;
    int st = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(st, 0, "cannot run %s: %s", argv[0], strerror(st));
    free(argv);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = read_back(out, &r->out_len);
    r->err = read_back(err, &r->err_len);
}

void th_run_free(th_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

char *th_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

th_grad_fn th_compile_fn(const char *dir, const char *src, const char *name, void **dl)
{
    char c[300], so[300], cmd[800];
    snprintf(c, sizeof c, "%s/th_fn.c", dir);
    snprintf(so, sizeof so, "%s/th_fn.so", dir);
    FILE *f = fopen(c, "w");
    cr_assert_not_null(f, "cannot write %s", c);
    fputs(src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c99 -Wall -Werror -O2 -ffp-contract=off -fPIC -shared "
             "-o %s %s -lm%s", so, c, strstr(src, "#include <cblas.h>") ? " -lopenblas" : "");
    cr_assert_eq(system(cmd), 0, "%s failed on:\n%s", cmd, src);
    *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(*dl, "%s", dlerror());
    unlink(c);
    unlink(so);
    th_grad_fn fn = (th_grad_fn)(uintptr_t)dlsym(*dl, name);
    cr_assert_not_null(fn, "no function %s in:\n%s", name, src);
    return fn;
}
