// The GPT-2 pre-tokenizer: the regex
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written out by hand. The alternatives are tried in order at the current position and
// the first that matches wins (a regex alternation is ordered, not longest-match):
//   1. a lowercase contraction: an apostrophe followed by s, t, re, ve, m, ll or d,
//      whatever follows ("'sun" gives "'s" then "un"; "'S" is not a contraction);
//   2-4. an optional single U+0020 space and then a maximal run of letters, of numbers,
//      or of "other" characters (not whitespace, letter or number);
//   5. a whitespace run not followed by a non-space: the greedy run backtracks by one
//      character when a non-space follows, so "a   b" gives "a", "  ", " b" (the last
//      space goes with the next word); at the end of the text the whole run matches;
//   6. otherwise a single whitespace character followed by a non-space.
// An invalid UTF-8 byte is one character of class "other".
#include "model/bpe_internal.h"

typedef struct pchar {
    md_bpe_class cls;
    int len;  // bytes
} pchar;

static inline pchar char_at(const uint8_t *s, size_t len, size_t pos) {
    pchar c;
    uint8_t b = s[pos];
    if (b < 0x80) {  // inline ASCII path
        c.len = 1;
        if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') c.cls = MD_BPE_LETTER;
        else if (b >= '0' && b <= '9') c.cls = MD_BPE_NUMBER;
        else if (b == ' ' || (b >= 0x09 && b <= 0x0D)) c.cls = MD_BPE_SPACE;
        else c.cls = MD_BPE_OTHER;
        return c;
    }
    uint32_t cp = md_bpe_utf8_decode(s + pos, len - pos, &c.len);
    c.cls = cp == MD_BPE_INVALID ? MD_BPE_OTHER : md_bpe_class_of(cp);
    return c;
}

// End of the maximal run of class cls starting at pos (the char at pos has class cls).
static size_t run_end(const uint8_t *s, size_t len, size_t pos, md_bpe_class cls) {
    while (pos < len) {
        pchar c = char_at(s, len, pos);
        if (c.cls != cls) break;
        pos += (size_t)c.len;
    }
    return pos;
}

static size_t contraction(const uint8_t *s, size_t len, size_t pos) {
    size_t r = len - pos;  // s[pos] == '\''
    if (r >= 2) {
        uint8_t a = s[pos + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
        if (r >= 3) {
            uint8_t b = s[pos + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return pos + 3;
        }
    }
    return 0;
}

size_t md_bpe_pretokenize_next(const char *text, size_t len, size_t pos) {
    const uint8_t *s = (const uint8_t *)text;
    if (s[pos] == '\'') {
        size_t e = contraction(s, len, pos);
        if (e) return e;
    }
    pchar c = char_at(s, len, pos);
    if (c.cls != MD_BPE_SPACE) return run_end(s, len, pos + (size_t)c.len, c.cls);
    if (s[pos] == ' ' && pos + 1 < len) {
        pchar n = char_at(s, len, pos + 1);
        if (n.cls != MD_BPE_SPACE) return run_end(s, len, pos + 1 + (size_t)n.len, n.cls);
    }
    // A whitespace run: find its end and the start of its last character.
    size_t last = pos, e = pos;
    while (e < len) {
        pchar w = char_at(s, len, e);
        if (w.cls != MD_BPE_SPACE) break;
        last = e;
        e += (size_t)w.len;
    }
    if (e == len || last == pos) return e;  // rule 5 at the end of text, or rule 6
    return last;                            // rule 5: leave the last one to the next piece
}
