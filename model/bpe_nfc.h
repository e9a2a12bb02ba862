// Unicode tables for NFC normalization (generated into model/bpe_nfc_tables.c by
// tools/gen_bpe_nfc_tables.py). Internal to model/bpe_nfc.c.
#ifndef MD_BPE_NFC_H
#define MD_BPE_NFC_H

#include <stdint.h>

typedef struct md_nfc_range {
    uint32_t first, last;  // inclusive
    uint8_t value;         // combining class, or 1 for "unsafe"
} md_nfc_range;

typedef struct md_nfc_decomp {
    uint32_t cp;
    uint16_t off, len;  // into md_nfc_decomp_pool
} md_nfc_decomp;

typedef struct md_nfc_comp {
    uint64_t key;  // first << 21 | second
    uint32_t composite;
} md_nfc_comp;

extern const md_nfc_range md_nfc_ccc[];
extern const int md_nfc_nccc;
extern const md_nfc_range md_nfc_unsafe[];
extern const int md_nfc_nunsafe;
extern const md_nfc_decomp md_nfc_decomps[];
extern const int md_nfc_ndecomps;
extern const uint32_t md_nfc_decomp_pool[];
extern const md_nfc_comp md_nfc_comps[];
extern const int md_nfc_ncomps;
extern const char md_nfc_unicode_version[];

#endif
