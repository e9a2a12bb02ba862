#include "tensor/tensor.h"

#include <stdio.h>
#include <string.h>

static const size_t dtype_sizes[MD_DTYPE_COUNT] = {4, 2, 2, 4, 8, 1, 1};
static const char *const dtype_names[MD_DTYPE_COUNT] = {"f32", "bf16", "f16", "i32",
                                                        "i64", "u8",   "bool"};

size_t md_dtype_size(md_dtype dt) {
    return (unsigned)dt < MD_DTYPE_COUNT ? dtype_sizes[dt] : 0;
}

const char *md_dtype_name(md_dtype dt) {
    return (unsigned)dt < MD_DTYPE_COUNT ? dtype_names[dt] : "invalid";
}

int64_t md_numel(const md_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t md_nbytes(const md_tensor *t) { return (size_t)md_numel(t) * md_dtype_size(t->dtype); }

md_tensor md_tensor_view(md_dtype dt, void *data, int ndim, const int64_t *shape) {
    md_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    for (int i = 0; i < MD_MAX_DIMS; i++) t.shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

md_tensor md_tensor_1d(md_dtype dt, void *data, int64_t d0) {
    return md_tensor_view(dt, data, 1, (int64_t[]){d0});
}
md_tensor md_tensor_2d(md_dtype dt, void *data, int64_t d0, int64_t d1) {
    return md_tensor_view(dt, data, 2, (int64_t[]){d0, d1});
}
md_tensor md_tensor_3d(md_dtype dt, void *data, int64_t d0, int64_t d1, int64_t d2) {
    return md_tensor_view(dt, data, 3, (int64_t[]){d0, d1, d2});
}
md_tensor md_tensor_4d(md_dtype dt, void *data, int64_t d0, int64_t d1, int64_t d2,
                       int64_t d3) {
    return md_tensor_view(dt, data, 4, (int64_t[]){d0, d1, d2, d3});
}

bool md_shape_equal(const md_tensor *a, const md_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

const char *md_shape_str(const md_tensor *t, char *buf, size_t n) {
    return shape_str(t->ndim, t->shape, buf, n);
}

int md_tensor_expect(const md_tensor *t, const char *what, md_dtype dt, int ndim,
                     const int64_t *shape, md_error *err) {
    char want[96], got[96];
    bool ok = t->dtype == dt && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (ok) return 0;
    return md_errorf(err, "%s: expected %s %s (-1 = any), got %s %s", what, md_dtype_name(dt),
                     shape_str(ndim, shape, want, sizeof want), md_dtype_name(t->dtype),
                     md_shape_str(t, got, sizeof got));
}
