/* run.h - running the tapegrad command from a test: the binary named by $TAPEGRAD (as `make
 * test` sets it), arguments passed as they are (no shell, so no quoting), standard input
 * empty, standard output and error captured whole. See LICENSE. */
#ifndef TAPEGRAD_TEST_RUN_H
#define TAPEGRAD_TEST_RUN_H

#include <stddef.h>

typedef struct th_run {
    char *out, *err;        /* what it wrote, NUL-terminated (malloc'd) */
    size_t out_len, err_len;
    int status;             /* its exit status; -1 when it did not exit */
} th_run;

/* The binary: $TAPEGRAD, else build/bin/tapegrad; skips the current test when neither is
 * there. */
const char *th_tapegrad(void);
/* Run `tapegrad ARGS...` (args: NULL-terminated) to completion into *r; asserts that it could
 * be started. Free r with th_run_free. */
void th_run_tapegrad(th_run *r, const char *const *args);
void th_run_free(th_run *r);
/* The whole of the file at path, NUL-terminated and malloc'd; NULL if it cannot be read. */
char *th_read_file(const char *path);
/* Compile the C in src with `cc -std=c99 -Wall -Werror -O2 -ffp-contract=off` into a shared
 * object under dir, load it (*dl, for dlclose) and return its function name as
 * double (*)(const double *in, double *grad); asserts every step. */
typedef double (*th_grad_fn)(const double *in, double *grad);
th_grad_fn th_compile_fn(const char *dir, const char *src, const char *name, void **dl);

#endif
