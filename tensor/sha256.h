// SHA-256 (FIPS 180-4), for model and data hashes in run manifests.
#ifndef MD_SHA256_H
#define MD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/error.h"

typedef struct md_sha256 {
    uint32_t h[8];
    uint64_t total;      // bytes hashed so far
    uint8_t block[64];
    size_t fill;         // bytes waiting in block
} md_sha256;

void md_sha256_init(md_sha256 *s);
void md_sha256_update(md_sha256 *s, const void *data, size_t n);
void md_sha256_final(md_sha256 *s, uint8_t digest[32]);
// Lower-case hex of the digest of data (hex must hold 65 bytes).
void md_sha256_hex(const void *data, size_t n, char hex[65]);
// Hash of a whole file, streamed (error names the path).
int md_sha256_file(const char *path, char hex[65], md_error *err);

#endif
