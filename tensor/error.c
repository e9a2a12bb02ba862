#include "tensor/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int md_errorf(md_error *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int md_error_prefix(md_error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[MD_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[MD_ERROR_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t np = strlen(prefix);
    if (np >= sizeof err->msg) np = sizeof err->msg - 1;
    memcpy(err->msg, prefix, np);
    size_t room = sizeof err->msg - 1 - np, no = strnlen(old, room);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
    return -1;
}

void md_error_clear(md_error *err) {
    if (err) err->msg[0] = '\0';
}

void md_assert_fail(const char *file, int line, const char *cond) {
    fprintf(stderr, "%s:%d: internal check failed: %s\n"
                    "  this is a bug in mechdrift, not in your input; please report it\n",
            file, line, cond);
    abort();
}
