// The tensor: a typed, dense, C-ordered view of up to 4 dimensions over memory the
// tensor does not own (it lives in an arena or a mapped file). Nothing here allocates.
#ifndef MD_TENSOR_H
#define MD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/error.h"

#define MD_MAX_DIMS 4

typedef enum md_dtype {
    MD_F32 = 0,
    MD_BF16,
    MD_F16,   // read-only: safetensors F16 weights are widened on load
    MD_I32,
    MD_I64,
    MD_U8,
    MD_BOOL,  // one byte per element, 0 or 1
    MD_DTYPE_COUNT
} md_dtype;

typedef uint16_t md_bf16;  // the top 16 bits of an IEEE binary32
typedef uint16_t md_f16;   // IEEE binary16

typedef struct md_tensor {
    md_dtype dtype;
    int ndim;                     // 0 (scalar) .. MD_MAX_DIMS
    int64_t shape[MD_MAX_DIMS];   // unused trailing entries are 1
    void *data;                   // shape-product elements of dtype, C order
} md_tensor;

size_t md_dtype_size(md_dtype dt);
const char *md_dtype_name(md_dtype dt);  // "f32", "bf16", ...

// Number of elements (1 for a scalar).
int64_t md_numel(const md_tensor *t);
size_t md_nbytes(const md_tensor *t);

// Builds a tensor header over `data`; shape given as ndim values.
md_tensor md_tensor_view(md_dtype dt, void *data, int ndim, const int64_t *shape);
// Convenience for literal shapes: md_tensor_2d(MD_F32, ptr, rows, cols).
md_tensor md_tensor_1d(md_dtype dt, void *data, int64_t d0);
md_tensor md_tensor_2d(md_dtype dt, void *data, int64_t d0, int64_t d1);
md_tensor md_tensor_3d(md_dtype dt, void *data, int64_t d0, int64_t d1, int64_t d2);
md_tensor md_tensor_4d(md_dtype dt, void *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

bool md_shape_equal(const md_tensor *a, const md_tensor *b);
// Writes "[2, 3, 4]" into buf; returns buf.
const char *md_shape_str(const md_tensor *t, char *buf, size_t n);

// Checks that t has dtype dt and the given shape; otherwise an error naming `what`,
// the expected and the actual shape. Use -1 in `shape` for "any size".
int md_tensor_expect(const md_tensor *t, const char *what, md_dtype dt, int ndim,
                     const int64_t *shape, md_error *err);

#endif
