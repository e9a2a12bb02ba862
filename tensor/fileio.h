// File I/O with the kit's two guarantees: every error names the path and what went
// wrong, and every write goes to a temporary name in the same directory that is
// renamed over the target only when complete, so a crash never leaves a half-written
// file behind.
#ifndef MD_FILEIO_H
#define MD_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/error.h"

// Reads a whole file into a malloc'd buffer (NUL-terminated for convenience; *len
// excludes the NUL). Refuses files larger than max_bytes (0 = no limit).
int md_read_file(const char *path, size_t max_bytes, char **data, size_t *len, md_error *err);

// Writes data to path atomically.
int md_write_file_atomic(const char *path, const void *data, size_t len, md_error *err);

// Streaming atomic write: md_atomic_open gives a FILE* on "PATH.tmp.PID.N"; commit
// flushes, fsyncs and renames it over path; abort (or a failed commit) removes it.
typedef struct md_atomic_file {
    FILE *f;
    char path[4096];
    char tmp_path[4096];
} md_atomic_file;

int md_atomic_open(md_atomic_file *af, const char *path, md_error *err);
int md_atomic_commit(md_atomic_file *af, md_error *err);
void md_atomic_abort(md_atomic_file *af);

// A read-only memory map of a whole file (for large safetensors files).
typedef struct md_mapped_file {
    const uint8_t *data;
    size_t len;
} md_mapped_file;

int md_map_file(const char *path, md_mapped_file *m, md_error *err);
void md_unmap_file(md_mapped_file *m);

// mkdir -p; error names the directory.
int md_mkdirs(const char *path, md_error *err);

#endif
