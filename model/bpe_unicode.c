// Character-level helpers of the byte-level BPE: Unicode classes for the GPT-2 regex,
// strict UTF-8 decoding, and GPT-2's byte <-> character alphabet.
#include <string.h>

#include "model/bpe_internal.h"

md_bpe_class md_bpe_class_of(uint32_t cp) {
    // ASCII is most of most text: answer it without a search.
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return MD_BPE_LETTER;
        if (cp >= 'A' && cp <= 'Z') return MD_BPE_LETTER;
        if (cp >= '0' && cp <= '9') return MD_BPE_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return MD_BPE_SPACE;
        return MD_BPE_OTHER;
    }
    int lo = 0, hi = md_bpe_class_nranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const md_bpe_class_range *r = &md_bpe_class_ranges[mid];
        if (cp < r->first) hi = mid - 1;
        else if (cp > r->last) lo = mid + 1;
        else return (md_bpe_class)r->cls;
    }
    return MD_BPE_OTHER;
}

uint32_t md_bpe_utf8_decode(const uint8_t *s, size_t n, int *clen) {
    uint8_t c = s[0];
    *clen = 1;
    if (c < 0x80) return c;
    int need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return MD_BPE_INVALID;
    if ((size_t)need >= n) return MD_BPE_INVALID;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) return MD_BPE_INVALID;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return MD_BPE_INVALID;
    *clen = need + 1;
    return cp;
}

static bool printable_byte(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// The 68 non-printable bytes are 0x00..0x20, 0x7F..0xA0 and 0xAD; they take U+0100,
// U+0101, ... in increasing byte order.
uint32_t md_bpe_byte_to_char(uint8_t b) {
    if (printable_byte(b)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67;  // 0xAD
}

int md_bpe_char_to_byte(uint32_t cp) {
    if (cp < 0x100) return printable_byte((int)cp) ? (int)cp : -1;
    uint32_t k = cp - 0x100;
    if (k < 33) return (int)k;
    if (k < 67) return (int)(0x7F + k - 33);
    if (k == 67) return 0xAD;
    return -1;
}

void md_bpe_byte_order(uint8_t order[256]) {
    int k = 0;
    for (int b = 0; b < 256; b++)
        if (printable_byte(b)) order[k++] = (uint8_t)b;
    for (int b = 0; b < 256; b++)
        if (!printable_byte(b)) order[k++] = (uint8_t)b;
}

size_t md_bpe_bytes_to_bytelevel(const uint8_t *src, size_t n, char *dst) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = md_bpe_byte_to_char(src[i]);
        if (cp < 0x80) {
            dst[k++] = (char)cp;
        } else {  // all alphabet characters are below U+0800: two bytes
            dst[k++] = (char)(0xC0 | (cp >> 6));
            dst[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return k;
}
