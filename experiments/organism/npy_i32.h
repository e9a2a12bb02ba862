// Loading the data pipeline's int32 arrays with their shape checked.
#ifndef MD_ORGANISM_NPY_I32_H
#define MD_ORGANISM_NPY_I32_H

#include <stdint.h>

#include "tensor/error.h"

// Loads DIR/NAME (int32, 1-D (n) or 2-D (n, cols); *cols = 1 for 1-D) into a malloc'd
// buffer *data (free()).
int md_load_i32(const char *dir, const char *name, int32_t **data, int64_t *n, int64_t *cols,
                md_error *err);
// The same, requiring at least n rows of exactly `cols` columns.
int md_load_i32_shape(const char *dir, const char *name, int64_t n, int64_t cols,
                      int32_t **data, md_error *err);

#endif
