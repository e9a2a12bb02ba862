// safetensors files (https://github.com/huggingface/safetensors, "format" section):
//
//   [8 bytes: N, little-endian u64][N bytes: JSON header][data section]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" object of
// string -> string. The reader validates everything before handing out a pointer: N is
// at most 100 MB and fits the file, the header is strict JSON (tensor/json.h), each
// entry has exactly those three fields with the right types, byte lengths match
// shape x dtype, and the tensors cover the data section exactly, without overlaps or
// gaps. Reading is zero-copy: tensor data points into a read-only memory map.
//
// The writer lays tensors out in a documented deterministic order: by element size,
// largest first, then by name (bytewise). With the header padded by spaces to a multiple
// of 8 bytes (as the reference implementation does), every tensor then starts at an
// offset aligned to its element size, so the views the reader hands out are aligned.
//
// Sharded checkpoints (model.safetensors.index.json + shards) are read with
// md_safetensors_open_index into an md_safetensors_set.
#ifndef MD_SAFETENSORS_H
#define MD_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/error.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/tensor.h"

#define MD_ST_MAX_HEADER_BYTES 100000000u  // the reference implementation's limit
#define MD_ST_MAX_DIMS 8                   // shapes stored per entry (md_tensor holds 4)

typedef struct md_st_entry {
    const char *name;      // NUL-terminated, owned by the md_safetensors
    const char *st_dtype;  // the file's dtype string: "F32", "BF16", "F64", ...
    md_dtype dtype;        // MD_DTYPE_COUNT when the kit has no such dtype (F64, I8, ...)
    size_t elem_size;      // bytes per element of st_dtype
    int ndim;
    int64_t shape[MD_ST_MAX_DIMS];
    const void *data;      // (shape product) little-endian elements inside the buffer;
                           // aligned to elem_size only if the file was written aligned
    size_t nbytes;
    size_t offset;         // byte offset of data inside the data section
} md_st_entry;

typedef struct md_safetensors {
    char source[512];      // the path (or caller's name) used in error messages
    md_mapped_file map;    // the mapping when opened from a file (else empty)
    md_json *header;       // parsed header: names and strings point into it
    size_t count;
    md_st_entry *tensors;  // (count) sorted by name (bytewise), names unique
    size_t n_meta;
    const char **meta_keys;    // (n_meta) __metadata__ keys, document order
    const char **meta_values;  // (n_meta) their string values
    size_t data_start;     // file offset of the data section (8 + header length)
} md_safetensors;

// Maps the file and validates it. On failure nothing stays open. Errors start with path.
int md_safetensors_open(const char *path, md_safetensors *st, md_error *err);
// Parses buf[0..len) (a whole file image); views point into buf, which must outlive st.
// `source` names the buffer in errors. Used by md_safetensors_open and by the fuzzer.
int md_safetensors_parse_buffer(const uint8_t *buf, size_t len, const char *source,
                                md_safetensors *st, md_error *err);
void md_safetensors_close(md_safetensors *st);

// Entry by name (binary search), or NULL.
const md_st_entry *md_safetensors_find(const md_safetensors *st, const char *name);
// The value of a __metadata__ key, or NULL.
const char *md_safetensors_meta(const md_safetensors *st, const char *key);

// An md_tensor view of an entry (read-only data, despite md_tensor's non-const pointer).
// Errors (naming source and tensor) when the dtype is not one the kit holds, when it has
// more than MD_MAX_DIMS dimensions, or when the data is not aligned to its element size.
int md_st_entry_view(const md_safetensors *st, const md_st_entry *e, md_tensor *out,
                     md_error *err);
// find + view + md_tensor_expect: "PATH: tensor 'NAME': expected f32 [768, -1], got ...".
// A missing tensor is an error naming it. shape uses -1 for "any size".
int md_safetensors_get(const md_safetensors *st, const char *name, md_dtype dt, int ndim,
                       const int64_t *shape, md_tensor *out, md_error *err);

// Maps an md_dtype to the safetensors dtype string ("F32", "BF16", "F16", "I32", "I64",
// "U8", "BOOL").
const char *md_st_dtype_string(md_dtype dt);

// ---------------------------------------------------------------- writer
// Collects entries (the data is not copied: it must stay valid until md_stw_write) and
// metadata, then writes the file atomically.
typedef struct md_stw_item {
    char *name;
    md_dtype dtype;
    int ndim;
    int64_t shape[MD_ST_MAX_DIMS];
    const void *data;  // (shape product) elements of dtype
    size_t nbytes;
} md_stw_item;

typedef struct md_safetensors_writer {
    size_t count, cap;
    md_stw_item *items;
    size_t n_meta, meta_cap;
    char **meta_keys, **meta_values;
} md_safetensors_writer;

void md_stw_init(md_safetensors_writer *w);
// Adds a tensor; fails on a duplicate or empty name, "__metadata__", ndim out of range,
// negative dims or a byte size that overflows.
int md_stw_add(md_safetensors_writer *w, const char *name, md_dtype dt, int ndim,
               const int64_t *shape, const void *data, md_error *err);
int md_stw_add_tensor(md_safetensors_writer *w, const char *name, const md_tensor *t,
                      md_error *err);
// Adds (or replaces) a __metadata__ entry.
int md_stw_meta(md_safetensors_writer *w, const char *key, const char *value, md_error *err);
// Writes everything to path atomically (nothing is left behind on failure).
int md_stw_write(md_safetensors_writer *w, const char *path, md_error *err);
void md_stw_free(md_safetensors_writer *w);

// ---------------------------------------------------------------- sharded checkpoints
// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard file}}.
// Opens every shard named in the weight map (relative to the index's directory) and
// checks each listed tensor is in the shard the map names.
typedef struct md_safetensors_set {
    size_t n_shards;
    md_safetensors *shards;  // (n_shards)
} md_safetensors_set;

// `path` is either an index JSON file or a directory holding model.safetensors.index.json
// or model.safetensors (a single-file checkpoint is a set of one shard).
int md_safetensors_open_set(const char *path, md_safetensors_set *set, md_error *err);
// The entry named `name` in any shard (and its shard through *shard if not NULL).
const md_st_entry *md_safetensors_set_find(const md_safetensors_set *set, const char *name,
                                           const md_safetensors **shard);
void md_safetensors_set_close(md_safetensors_set *set);

#endif
