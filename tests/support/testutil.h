// Shared helpers for the cmocka tests. Include after cmocka's required headers:
//   #include <stdarg.h> <stddef.h> <stdint.h> <setjmp.h> <cmocka.h>
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

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

#endif
