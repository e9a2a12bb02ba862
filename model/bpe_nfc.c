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

typedef struct scratch {
    uint32_t *cp;  // (cap) code points
    uint8_t *cls;  // (cap) their combining classes
    size_t cap;
    uint8_t *out;  // (out_cap) the result so far
    size_t out_len, out_cap;
} scratch;

static bool out_reserve(scratch *w, size_t extra) {
    if (w->out_len + extra <= w->out_cap) return true;
    size_t cap = w->out_cap ? w->out_cap : 256;
    while (cap < w->out_len + extra) cap *= 2;
    uint8_t *o = realloc(w->out, cap + 1);
    if (!o) return false;
    w->out = o;
    w->out_cap = cap;
    return true;
}

// Normalizes s[0..n) (a region that starts with a starter or at the text start and
// ends before a character that nothing before it can affect) and appends the result.
static bool nfc_region(const uint8_t *s, size_t n, scratch *w) {
    // A code point decomposes into at most 4, and takes at least one byte.
    if (4 * n + 1 > w->cap) {
        size_t cap = 4 * n + 1;
        uint32_t *cp = realloc(w->cp, cap * sizeof *cp);
        if (!cp) return false;
        w->cp = cp;
        uint8_t *cls = realloc(w->cls, cap);
        if (!cls) return false;
        w->cls = cls;
        w->cap = cap;
    }
    uint32_t *cp = w->cp;
    uint8_t *cls = w->cls;
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
    size_t kept = 0;
    if (m > 0) {
        size_t starter = 0;
        int last = cls[0] ? 256 : 0;  // a leading non-starter composes with nothing
        kept = 1;
        for (size_t i = 1; i < m; i++) {
            uint32_t c = cp[i];
            int k = cls[i];
            uint32_t comp = last < k || (last == 0 && kept == starter + 1) ? compose(cp[starter], c) : 0;
            if (comp) {
                cp[starter] = comp;
                continue;
            }
            if (k == 0) starter = kept;
            last = k;
            cp[kept] = c;
            cls[kept] = (uint8_t)k;
            kept++;
        }
    }
    if (!out_reserve(w, 4 * kept)) return false;
    for (size_t i = 0; i < kept; i++) w->out_len += put_utf8(w->out + w->out_len, cp[i]);
    return true;
}

// Whether the character at s[i] is unsafe; *len receives its length in bytes.
static bool unsafe_at(const uint8_t *s, size_t n, size_t i, int *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return false;
    }
    uint32_t cp = md_bpe_utf8_decode(s + i, n - i, len);
    return cp != MD_BPE_INVALID && cp >= 0x300 && range_value(md_nfc_unsafe, md_nfc_nunsafe, cp);
}

// Text is cut into regions at "safe" characters (combining class 0 and NFC_Quick_Check
// Yes): nothing before such a character interacts with anything from it on. Only the
// regions made of a safe character (or the text start) and the unsafe characters after
// it are normalized; everything else is copied, so memory stays proportional to the
// text and most text is never copied at all.
char *md_bpe_nfc(const char *text, size_t n, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    scratch w = {0};
    size_t copied = 0;      // s[0..copied) is in w.out
    size_t last_safe = 0;   // start of the last safe character seen (or 0)
    bool any = false;
    for (size_t i = 0; i < n;) {
        int len;
        if (!unsafe_at(s, n, i, &len)) {
            last_safe = i;
            i += (size_t)len;
            continue;
        }
        // A region: from the last safe character to the next safe one.
        size_t end = i + (size_t)len;
        while (end < n && unsafe_at(s, n, end, &len)) end += (size_t)len;
        if (!any) {
            if (!out_reserve(&w, n + n / 8 + 16)) goto oom;
            any = true;
        }
        size_t start = last_safe >= copied ? last_safe : copied;  // always last_safe
        if (!out_reserve(&w, start - copied)) goto oom;
        memcpy(w.out + w.out_len, s + copied, start - copied);
        w.out_len += start - copied;
        if (!nfc_region(s + start, end - start, &w)) goto oom;
        copied = end;
        i = end;
    }
    free(w.cp);
    free(w.cls);
    if (!any) return NULL;
    if (!out_reserve(&w, n - copied)) {
        free(w.out);
        return NULL;
    }
    memcpy(w.out + w.out_len, s + copied, n - copied);
    w.out_len += n - copied;
    w.out[w.out_len] = 0;
    *out_len = w.out_len;
    return (char *)w.out;
oom:  // leave the text as it is
    free(w.cp);
    free(w.cls);
    free(w.out);
    return NULL;
}
