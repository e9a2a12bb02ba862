// Shared helpers for the cmocka tests. Include after cmocka's required headers:
//   #include <stdarg.h> <stddef.h> <stdint.h> <setjmp.h> <cmocka.h>
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

#include <stdarg.h>
#include <stdint.h>

// A fresh directory under $TMPDIR (or /tmp) for this test binary; removed at exit.
const char *md_test_tmpdir(void);
// Joins the temp dir and a file name into a static-lifetime buffer (ring of 8).
const char *md_test_path(const char *name);

// Runs `python3 -c SCRIPT` (Debian's /usr/bin/python3 unless $PYTHON is set) with the
// given arguments appended; returns its exit status (0 = success). Output passes through.
int md_test_python(const char *script, const char *arg1, const char *arg2);

// Fills with uniform values in [lo, hi) from a fixed seed (Philox).
void md_test_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi);

// Largest |a-b| / max(1, |b|) over n values.
double md_test_max_rel_err(const float *a, const float *b, int64_t n);

// The CLI under test: $BIN/mechdrift when BIN is set (make test sets it; test-asan points
// it at the sanitizer build), else bin/mechdrift.
const char *md_test_cli(void);

// Runs a shell command (printf-style) with stderr merged into stdout. Returns its exit
// status, or 128 + the signal when it was killed (-1 if it could not be started). With
// out != NULL the output is captured into a malloc'd string (free()); with NULL it is
// passed through to this test's stdout.
int md_test_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int md_test_vsh(char **out, const char *fmt, va_list ap);

#endif
