/* args.c - argument helpers every subcommand shares: options with values, strict numbers,
 * --at NAME=V lists, and the one-line "tapegrad: ..." error. See LICENSE. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("tapegrad: ", stderr);
    if (cmd) fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_option(const char *cmd, int argc, char **argv, int *i, const char *name,
               const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_fail(cmd, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_number(const char *cmd, const char *what, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (end != s && (*end == ' ' || *end == '\t')) end++;
    if (end == s || *end != '\0' || !isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
        cli_fail(cmd, "%s: '%s' is not a finite number", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_count(const char *cmd, const char *what, const char *s, uint64_t min, uint64_t max,
              uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > max || v > (max - d) / 10) break; /* v*10 + d would exceed max */
        v = v * 10 + d;
    }
    if (p == s || *p != '\0' || v < min) {
        cli_fail(cmd, "%s: '%s' is not an integer from %llu to %llu", what, s,
                 (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_output_path(const char *cmd, const char *opt, const char *path,
                    const char *const *exts)
{
    int n = 0, ok = 0;
    for (; exts[n]; n++) ok |= cli_ends_with(path, exts[n]);
    if (!ok) {
        char list[128] = "";
        size_t len = 0;
        for (int k = 0; k < n && len < sizeof list; k++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                    k == 0 ? "" : k == n - 1 ? " or " : ", ", exts[k]);
        return cli_fail(cmd, "%s: '%s' must end in %s", opt, path, list);
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_fail(cmd, "%s: cannot write %s (it is a directory)", opt, path);
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
        return cli_fail(cmd, "%s: cannot write %s (%s)", opt, path, strerror(errno));
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (!dir) return cli_fail(cmd, "out of memory");
    memcpy(dir, slash ? path : ".", len); /* "/x.png": "/" */
    dir[len] = '\0';
    const char *why = NULL;
    if (stat(dir, &st) != 0) why = strerror(errno);
    else if (!S_ISDIR(st.st_mode)) why = strerror(ENOTDIR);
    else if (access(dir, W_OK | X_OK) != 0) why = strerror(errno);
    int rc = why ? cli_fail(cmd, "%s: cannot write %s (directory %s: %s)", opt, path, dir, why)
                 : 0;
    free(dir);
    return rc;
}

/* s without leading and trailing blanks, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

int cli_at_each(const char *cmd, const char *spec,
                int (*bind)(void *ud, const char *name, double value), void *ud)
{
    size_t len = strlen(spec);
    char *buf = malloc(len + 1);
    if (!buf) return cli_fail(cmd, "out of memory"), -1;
    memcpy(buf, spec, len + 1);
    int rc = 0;
    for (char *item = buf; rc == 0 && item;) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        char *eq = strchr(item, '=');
        if (eq) *eq = '\0';
        char *name = trim(item);
        if (!eq && !*name) {
            cli_fail(cmd, "--at: empty item in '%s' (expected NAME=VALUE,...)", spec);
            rc = -1;
            break;
        }
        if (!eq || !*name) {
            if (eq) *eq = '=';
            cli_fail(cmd, "--at: malformed item '%s' (expected NAME=VALUE)", trim(item));
            rc = -1;
            break;
        }
        char what[96];
        snprintf(what, sizeof what, "--at: %s", name);
        double v;
        if (cli_number(cmd, what, trim(eq + 1), &v) != 0 || bind(ud, name, v) != 0) rc = -1;
        item = comma ? comma + 1 : NULL;
    }
    free(buf);
    return rc;
}
