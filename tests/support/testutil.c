#include "tests/support/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tensor/rng.h"

static char tmpdir[512];

static void remove_tmpdir(void) {
    if (!tmpdir[0] || getenv("MD_TEST_KEEP_TMP")) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

const char *md_test_tmpdir(void) {
    if (tmpdir[0]) return tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mechdrift-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(remove_tmpdir);
    return tmpdir;
}

const char *md_test_path(const char *name) {
    static char ring[8][1024];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, 1024, "%s/%s", md_test_tmpdir(), name);
    return p;
}

int md_test_python(const char *script, const char *arg1, const char *arg2) {
    const char *py = getenv("PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl(py, py, "-c", script, arg1 ? arg1 : (char *)NULL, arg1 ? arg2 : (char *)NULL,
              (char *)NULL);
        perror(py);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void md_test_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi) {
    md_rng r = md_rng_init(seed, 0x7e57);
    md_rng_uniform_range(&r, x, n, lo, hi);
}

double md_test_max_rel_err(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(d <= m)) m = d;  // NaN counts as the worst
    }
    return m;
}

const char *md_test_cli(void) {
    static char path[1024];
    const char *b = getenv("BIN");
    snprintf(path, sizeof path, "%s/mechdrift", b && *b ? b : "bin");
    return path;
}

int md_test_vsh(char **out, const char *fmt, va_list ap) {
    char inner[8192], cmd[8224];
    int n = vsnprintf(inner, sizeof inner, fmt, ap);
    if (n < 0 || n >= (int)sizeof inner) return -1;
    // A subshell, so the command's own redirections (2>file) still win over the merge.
    snprintf(cmd, sizeof cmd, "( %s ) 2>&1", inner);
    if (out) *out = NULL;
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = out ? malloc(cap) : NULL;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (!out) {
            fwrite(chunk, 1, got, stdout);
            continue;
        }
        if (buf && len + got + 1 > cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
        if (buf) memcpy(buf + len, chunk, got), len += got;
    }
    int st = pclose(p);
    if (out && buf) buf[len] = '\0', *out = buf;
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 128;
}

int md_test_sh(char **out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = md_test_vsh(out, fmt, ap);
    va_end(ap);
    return rc;
}
