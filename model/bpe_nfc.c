// NFC normalization (Unicode Standard Annex #15) for tokenizer.json files whose
// normalizer is NFC (GPT-NeoX / Pythia). Canonical decomposition, canonical ordering,
// then canonical composition, with Hangul done by formula. Most text is already NFC:
// a scan for "unsafe" characters (NFC_Quick_Check No/Maybe or a combining mark) returns
// early without copying. Invalid UTF-8 bytes pass through unchanged and block
// composition across them.
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"
#include "model/bpe_nfc.h"

#define RAW_BYTE 0x80000000u  // an invalid UTF-8 byte carried through as itself

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7 };
enum { LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int range_value(const md_nfc_range *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].first) hi = mid - 1;
        else if (cp > r[mid].last) lo = mid + 1;
        else return r[mid].value;
    }
    return 0;
}

static int ccc(uint32_t cp) {
    return cp < 0x300 || (cp & RAW_BYTE) ? 0 : range_value(md_nfc_ccc, md_nfc_nccc, cp);
}

static const md_nfc_decomp *find_decomp(uint32_t cp) {
    int lo = 0, hi = md_nfc_ndecomps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < md_nfc_decomps[mid].cp) hi = mid - 1;
        else if (cp > md_nfc_decomps[mid].cp) lo = mid + 1;
        else return &md_nfc_decomps[mid];
    }
    return NULL;
}

// The primary composite of (a, b), or 0.
static uint32_t compose(uint32_t a, uint32_t b) {
    if ((a | b) & RAW_BYTE) return 0;
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE &&
        b < TBASE + TCOUNT)
        return a + (b - TBASE);
    uint64_t key = (uint64_t)a << 21 | b;
    int lo = 0, hi = md_nfc_ncomps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (key < md_nfc_comps[mid].key) hi = mid - 1;
        else if (key > md_nfc_comps[mid].key) lo = mid + 1;
        else return md_nfc_comps[mid].composite;
    }
    return 0;
}

static bool already_nfc(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if (s[i] < 0xCC) {  // ASCII, continuation bytes, and lead bytes of U+0080..U+02FF
            i++;
            continue;
        }
        int len;
        uint32_t cp = md_bpe_utf8_decode(s + i, n - i, &len);
        if (cp != MD_BPE_INVALID && range_value(md_nfc_unsafe, md_nfc_nunsafe, cp)) return false;
        i += (size_t)len;
    }
    return true;
}

static size_t put_utf8(uint8_t *o, uint32_t cp) {
    if (cp & RAW_BYTE) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

char *md_bpe_nfc(const char *text, size_t n, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    if (already_nfc(s, n)) return NULL;
    // A code point decomposes into at most 4, and takes at least one byte.
    uint32_t *cp = malloc((4 * n + 1) * sizeof *cp);
    uint8_t *cls = malloc(4 * n + 1);
    if (!cp || !cls) {
        free(cp);
        free(cls);
        return NULL;  // out of memory: leave the text as it is
    }
    // 1. Full canonical decomposition.
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t c = md_bpe_utf8_decode(s + i, n - i, &len);
        if (c == MD_BPE_INVALID) {
            cp[m++] = RAW_BYTE | s[i];
        } else if (c >= SBASE && c < SBASE + SCOUNT) {
            uint32_t si = c - SBASE;
            cp[m++] = LBASE + si / NCOUNT;
            cp[m++] = VBASE + si % NCOUNT / TCOUNT;
            if (si % TCOUNT) cp[m++] = TBASE + si % TCOUNT;
        } else {
            const md_nfc_decomp *d = c < 0xC0 ? NULL : find_decomp(c);
            if (d) {
                for (int k = 0; k < d->len; k++) cp[m++] = md_nfc_decomp_pool[d->off + k];
            } else {
                cp[m++] = c;
            }
        }
        i += (size_t)len;
    }
    // 2. Canonical ordering: stable sort of each run of non-starters by class.
    for (size_t i = 0; i < m; i++) cls[i] = (uint8_t)ccc(cp[i]);
    for (size_t i = 1; i < m; i++) {
        if (cls[i] == 0) continue;
        uint32_t c = cp[i];
        uint8_t k = cls[i];
        size_t j = i;
        while (j > 0 && cls[j - 1] > k) {
            cp[j] = cp[j - 1];
            cls[j] = cls[j - 1];
            j--;
        }
        cp[j] = c;
        cls[j] = k;
    }
    // 3. Canonical composition: a character joins the last starter unless blocked by a
    // character in between of class 0 or of a class >= its own.
    size_t w = 0;
    if (m > 0) {
        size_t starter = 0;
        int last = cls[0] ? 256 : 0;  // a leading non-starter composes with nothing
        w = 1;
        for (size_t i = 1; i < m; i++) {
            uint32_t c = cp[i];
            int k = cls[i];
            uint32_t comp = last < k || last == 0 ? compose(cp[starter], c) : 0;
            if (comp && (last < k || (last == 0 && w == starter + 1))) {
                cp[starter] = comp;
                continue;
            }
            if (k == 0) starter = w;
            last = k;
            cp[w] = c;
            cls[w] = (uint8_t)k;
            w++;
        }
    }
    uint8_t *out = malloc(4 * w + 1);
    if (!out) {
        free(cp);
        free(cls);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < w; i++) o += put_utf8(out + o, cp[i]);
    out[o] = 0;
    free(cp);
    free(cls);
    *out_len = o;
    return (char *)out;
}
