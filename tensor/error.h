// Errors are values: a function that can fail takes an `md_error *` and returns
// non-zero (or NULL) after filling it with a message that names the file, the field
// and what was expected. Nothing in the kit aborts on bad input.
#ifndef MD_ERROR_H
#define MD_ERROR_H

#include <stddef.h>

#define MD_ERROR_MAX 1024

typedef struct md_error {
    char msg[MD_ERROR_MAX];  // empty string when no error
} md_error;

// Fills err (if not NULL) with a printf-style message; always returns -1 so that
// `return md_errorf(err, "...")` reads naturally.
int md_errorf(md_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes an existing message with more context ("model.safetensors: " + msg).
int md_error_prefix(md_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void md_error_clear(md_error *err);

// For invariants that only a bug in the kit can break (never for user input):
// prints file, line and the condition, then aborts.
#define MD_ASSERT(cond)                                                            \
    do {                                                                           \
        if (!(cond)) md_assert_fail(__FILE__, __LINE__, #cond);                    \
    } while (0)
void md_assert_fail(const char *file, int line, const char *cond) __attribute__((noreturn));

#endif
