// NumPy .npy files (numpy.lib.format, versions 1.0, 2.0 and 3.0):
//
//   "\x93NUMPY" major minor  header_len (u16 LE in 1.0, u32 LE in 2.0/3.0)
//   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//           padded with spaces and ending in '\n'
//   data:   shape-product elements, C order
//
// Supported dtypes: '<f4' (f32), '<f2' (f16), '<i4' (i32), '<i8' (i64), '|u1' (u8) and
// '|b1' (bool, every byte 0 or 1). C order only. The header is parsed as a real (small)
// Python literal grammar with exactly those three keys, not scanned loosely; big-endian
// dtypes, Fortran order, unknown dtypes, truncated or over-long data are errors that
// name the file and the problem.
//
// Writing produces version 1.0 (2.0 if the header would not fit in 65535 bytes), with the
// header padded so the data starts 64-byte aligned, as numpy does, through an atomic
// temporary file. md_npy_writer streams large arrays block by block; its first dimension
// may be left open (-1) and is fixed at commit from the number of bytes appended.
#ifndef MD_NPY_H
#define MD_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/error.h"
#include "tensor/fileio.h"
#include "tensor/tensor.h"

#define MD_NPY_MAX_DIMS 32                  // numpy's own limit (md_tensor holds 4)
#define MD_NPY_MAX_HEADER_BYTES (1u << 20)  // larger headers are refused as corrupt

typedef struct md_npy_info {
    int major, minor;       // format version
    md_dtype dtype;
    char descr[8];          // as written in the file, e.g. "<f4"
    int ndim;
    int64_t shape[MD_NPY_MAX_DIMS];
    size_t data_offset;     // bytes before the data (preamble + header)
    size_t nbytes;          // data bytes the shape and dtype call for
} md_npy_info;

// Parses the preamble and header at the start of buf[0..len) (len may cover only the
// header). `source` names the file in errors.
int md_npy_parse_header(const uint8_t *buf, size_t len, const char *source, md_npy_info *info,
                        md_error *err);
// Parses a whole file image: the header, then checks the data is exactly nbytes long and
// that bool data holds only 0 and 1. *data points into buf.
int md_npy_parse(const uint8_t *buf, size_t len, const char *source, md_npy_info *info,
                 const void **data, md_error *err);

// Loads a file into a fresh 64-byte-aligned buffer (*owned_data, free with free()) and
// a tensor view of it. Arrays of more than MD_MAX_DIMS dimensions are an error naming the
// shape. If info is not NULL it receives the header.
int md_npy_load(const char *path, md_tensor *out, void **owned_data, md_error *err);
int md_npy_load_info(const char *path, md_tensor *out, void **owned_data, md_npy_info *info,
                     md_error *err);

// Writes a tensor (any dtype but bf16, which numpy lacks) atomically.
int md_npy_save(const char *path, const md_tensor *t, md_error *err);

// ---------------------------------------------------------------- streaming writer
typedef struct md_npy_writer {
    md_atomic_file af;
    md_dtype dtype;
    int ndim;
    int64_t shape[MD_NPY_MAX_DIMS];
    bool open_ended;      // shape[0] given as -1: set at commit
    uint64_t row_bytes;   // bytes per index of the first dimension
    uint64_t expected;    // total data bytes (when not open-ended)
    uint64_t written;
    size_t header_bytes;  // reserved preamble + header length
    bool active;          // between a successful open and commit/abort/error
} md_npy_writer;

// Starts PATH.tmp.*; shape[0] may be -1 (then the other dimensions must be non-zero).
int md_npy_writer_open(md_npy_writer *w, const char *path, md_dtype dt, int ndim,
                       const int64_t *shape, md_error *err);
// Appends raw C-order element bytes (any split, not necessarily whole rows). More bytes
// than the shape holds is an error. Any error aborts the writer (nothing is left behind).
int md_npy_writer_append(md_npy_writer *w, const void *data, size_t nbytes, md_error *err);
// Checks the byte count matches the shape (whole rows when open-ended), finalizes the
// header and renames the file into place.
int md_npy_writer_commit(md_npy_writer *w, md_error *err);
// Removes the temporary file; safe to call after an error or twice.
void md_npy_writer_abort(md_npy_writer *w);

// The .npy descr string for a dtype ("<f4", ...), or NULL for bf16.
const char *md_npy_descr(md_dtype dt);

#endif
