#include <stdio.h>
#include <stdlib.h>

#include "experiments/organism/npy_i32.h"
#include "tensor/npy.h"

int md_load_i32(const char *dir, const char *name, int32_t **data, int64_t *n, int64_t *cols,
                md_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    md_tensor t;
    void *owned = NULL;
    *data = NULL;
    if (md_npy_load(path, &t, &owned, err)) return -1;
    if (t.dtype != MD_I32 || t.ndim < 1 || t.ndim > 2) {
        free(owned);
        return md_errorf(err, "%s: expected an int32 array of 1 or 2 dimensions, got %s with %d",
                         path, md_dtype_name(t.dtype), t.ndim);
    }
    *n = t.shape[0];
    *cols = t.ndim == 2 ? t.shape[1] : 1;
    *data = owned;
    return 0;
}

int md_load_i32_shape(const char *dir, const char *name, int64_t n, int64_t cols,
                      int32_t **data, md_error *err) {
    int64_t rn, rc;
    if (md_load_i32(dir, name, data, &rn, &rc, err)) return -1;
    if (rn < n || rc != cols) {
        free(*data);
        *data = NULL;
        return md_errorf(err, "%s/%s: expected at least %lld rows of %lld, got (%lld, %lld)", dir, name,
                         (long long)n, (long long)cols, (long long)rn, (long long)rc);
    }
    return 0;
}
