// The strict JSON reader (RFC 8259; see tensor/json.h).
//
// A recursive-descent parser whose recursion is bounded by MD_JSON_MAX_DEPTH: nesting
// deeper than that is an error before another frame is pushed, so hostile input such as
// 100000 '[' cannot overflow the stack. Every error carries the 1-based line and the
// 0-based byte offset of the offending byte.
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fileio.h"
#include "tensor/json.h"

// A JSON file larger than this is almost certainly not a config/tokenizer/header.
#define MD_JSON_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct parser {
    const unsigned char *s;  // (n) input bytes
    size_t n;
    size_t pos;              // next byte to read (lines are counted only for errors)
    const char *source;
    md_error *err;
} parser;

// ---------------------------------------------------------------- errors

// Describes the byte at pos for an error message ("end of input", "'x'", "byte 0xC3").
static const char *describe_here(const parser *p, char *buf, size_t n) {
    if (p->pos >= p->n) return "end of input";
    unsigned char c = p->s[p->pos];
    if (c >= 0x21 && c < 0x7f) snprintf(buf, n, "'%c'", c);
    else if (c == ' ') snprintf(buf, n, "a space");
    else snprintf(buf, n, "byte 0x%02X", c);
    return buf;
}

// Error at byte offset `at`; its line is counted here, so parsing never tracks lines.
static int fail_at(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, size_t at, const char *fmt, ...) {
    size_t line = 1;
    for (size_t i = 0; i < at && i < p->n; i++)
        if (p->s[i] == '\n') line++;
    char what[MD_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return md_errorf(p->err, "%s: line %zu, byte %zu: %s", p->source, line, at, what);
}

// "expected X, got Y" at the current position.
static int fail_expected(parser *p, const char *expected) {
    char buf[32];
    return fail_at(p, p->pos, "expected %s, got %s", expected, describe_here(p, buf, sizeof buf));
}

static int fail_oom(parser *p) { return fail_at(p, p->pos, "out of memory"); }

// ---------------------------------------------------------------- tree memory

static void free_contents(md_json *j) {
    switch (j->type) {
    case MD_JSON_STRING: free(j->str); break;
    case MD_JSON_ARRAY:
    case MD_JSON_OBJECT:
        for (size_t i = 0; i < j->count; i++) {
            free_contents(&j->items[i]);
            if (j->keys) free(j->keys[i]);
        }
        free(j->items);
        free(j->keys);
        free(j->key_lens);
        break;
    default: break;
    }
    memset(j, 0, sizeof *j);
}

void md_json_free(md_json *j) {
    if (!j) return;
    free_contents(j);
    free(j);
}

// ---------------------------------------------------------------- lexing helpers

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return;
        p->pos++;
    }
}

static bool at_byte(const parser *p, unsigned char c) { return p->pos < p->n && p->s[p->pos] == c; }

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads the 4 hex digits after "\u" at p->pos; -1 on error (reported).
static long read_hex4(parser *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        if (p->pos >= p->n) return fail_expected(p, "4 hex digits after \\u");
        int h = hex_value(p->s[p->pos]);
        if (h < 0) return fail_expected(p, "4 hex digits after \\u");
        v = v * 16 + h;
        p->pos++;
    }
    return v;
}

static size_t put_utf8(unsigned char *o, unsigned long cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

// Length of the well-formed UTF-8 sequence starting at s[0] (Unicode Table 3-7: no
// overlongs, no UTF-16 surrogates, nothing above U+10FFFF), or 0 if ill-formed.
static size_t utf8_valid_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c == 0xE0) need = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) need = 3;
    else if (c == 0xED) need = 3, hi = 0x9F;  // excludes encoded surrogates D800..DFFF
    else if (c >= 0xEE && c <= 0xEF) need = 3;
    else if (c == 0xF0) need = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 4;
    else if (c == 0xF4) need = 4, hi = 0x8F;  // nothing above U+10FFFF
    else return 0;
    if (avail < need) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need;
}

// ---------------------------------------------------------------- strings

// Parses a string starting at the opening quote; *out gets a malloc'd NUL-terminated
// copy (which may contain NULs from \u0000) and *out_len its length.
static int parse_string_raw(parser *p, char **out, size_t *out_len) {
    size_t start = ++p->pos;  // after the opening quote
    // First pass: find the closing quote so the output can be sized (decoded text is
    // never longer than its escaped form).
    size_t end = start;
    while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->n) {
        p->pos = p->n;
        return fail_expected(p, "'\"' to close the string");
    }
    unsigned char *o = malloc(end - start + 1);
    if (!o) return fail_oom(p);
    size_t k = 0;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        if (c < 0x20) {
            free(o);
            return fail_at(p, p->pos, "control character 0x%02X in a string (must be escaped)", c);
        }
        if (c >= 0x80) {
            size_t len = utf8_valid_len(p->s + p->pos, end - p->pos);
            if (!len) {
                free(o);
                return fail_at(p, p->pos, "invalid UTF-8 byte 0x%02X in a string", c);
            }
            memcpy(o + k, p->s + p->pos, len);
            k += len;
            p->pos += len;
            continue;
        }
        if (c != '\\') {
            o[k++] = c;
            p->pos++;
            continue;
        }
        size_t esc_at = p->pos++;
        unsigned char e = p->s[p->pos++];  // exists: the scan above kept end past it
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            long cp = read_hex4(p);
            if (cp < 0) {
                free(o);
                return -1;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(o);
                return fail_at(p, esc_at, "lone low surrogate \\u%04lX in a string", cp);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 1 >= end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    free(o);
                    return fail_at(p, esc_at,
                                   "high surrogate \\u%04lX not followed by a \\u low surrogate", cp);
                }
                p->pos += 2;
                long lo = read_hex4(p);
                if (lo < 0) {
                    free(o);
                    return -1;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    free(o);
                    return fail_at(p, esc_at,
                                   "high surrogate \\u%04lX followed by \\u%04lX, expected a low "
                                   "surrogate \\uDC00..\\uDFFF", cp, lo);
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            k += put_utf8(o + k, (unsigned long)cp);
            break;
        }
        default:
            free(o);
            p->pos = esc_at + 1;
            return fail_expected(p, "an escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
    }
    p->pos = end + 1;
    o[k] = '\0';
    *out = (char *)o;
    *out_len = k;
    return 0;
}

// ---------------------------------------------------------------- numbers

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, md_json *out) {
    size_t start = p->pos;
    bool neg = false;
    if (at_byte(p, '-')) {
        neg = true;
        p->pos++;
    }
    if (p->pos >= p->n || !is_digit(p->s[p->pos])) return fail_expected(p, "a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && is_digit(p->s[p->pos]))
            return fail_at(p, start, "leading zeros are not allowed in numbers");
    } else {
        while (p->pos < p->n && is_digit(p->s[p->pos])) p->pos++;
    }
    size_t int_end = p->pos;
    bool integral = true;
    if (at_byte(p, '.')) {
        integral = false;
        p->pos++;
        if (p->pos >= p->n || !is_digit(p->s[p->pos]))
            return fail_expected(p, "a digit after the decimal point");
        while (p->pos < p->n && is_digit(p->s[p->pos])) p->pos++;
    }
    if (at_byte(p, 'e') || at_byte(p, 'E')) {
        integral = false;
        p->pos++;
        if (at_byte(p, '+') || at_byte(p, '-')) p->pos++;
        if (p->pos >= p->n || !is_digit(p->s[p->pos]))
            return fail_expected(p, "a digit in the exponent");
        while (p->pos < p->n && is_digit(p->s[p->pos])) p->pos++;
    }
    size_t len = p->pos - start;

    out->type = MD_JSON_NUMBER;
    if (integral) {
        // Exact int64: accumulate as a negative number so INT64_MIN fits.
        int64_t v = 0;
        bool fits = true;
        for (size_t i = start + (neg ? 1 : 0); i < int_end; i++) {
            int d = p->s[i] - '0';
            if (v < (INT64_MIN + d) / 10) {
                fits = false;
                break;
            }
            v = v * 10 - d;
        }
        if (fits && !neg && v == INT64_MIN) fits = false;
        if (fits) {
            out->is_integer = true;
            out->integer = neg ? v : -v;
        }
    }
    // strtod needs a NUL-terminated copy; the C locale is assumed (the kit never calls
    // setlocale, so '.' is the decimal point).
    char small[64];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf) return fail_oom(p);
    memcpy(buf, p->s + start, len);
    buf[len] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(d)) return fail_at(p, start, "number %.*s is out of the range of a double",
                                 (int)(len > 40 ? 40 : len), (const char *)p->s + start);
    out->number = d;
    return 0;
}

// ---------------------------------------------------------------- values

static int parse_value(parser *p, md_json *out, int depth);

// Open-addressing set of key indices, used to find duplicate keys in large objects
// (tokenizer vocabularies have ~50k keys, so a pairwise scan would be quadratic).
typedef struct key_set {
    size_t *slots;  // (cap) index+1 into the key arrays, 0 = empty
    size_t cap;
} key_set;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

// Returns 1 if the key (index i) was already present, 0 if inserted, -1 on OOM.
static int key_set_insert(key_set *ks, char **keys, size_t *lens, size_t i) {
    if ((i + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return -1;
        for (size_t j = 0; j < ks->cap; j++) {
            size_t v = ks->slots[j];
            if (!v) continue;
            size_t h = (size_t)hash_bytes(keys[v - 1], lens[v - 1]) & (cap - 1);
            while (slots[h]) h = (h + 1) & (cap - 1);
            slots[h] = v;
        }
        free(ks->slots);
        ks->slots = slots;
        ks->cap = cap;
    }
    size_t h = (size_t)hash_bytes(keys[i], lens[i]) & (ks->cap - 1);
    while (ks->slots[h]) {
        size_t v = ks->slots[h] - 1;
        if (lens[v] == lens[i] && memcmp(keys[v], keys[i], lens[i]) == 0) return 1;
        h = (h + 1) & (ks->cap - 1);
    }
    ks->slots[h] = i + 1;
    return 0;
}

// Grows the item (and key) arrays of a container being built to hold one more entry.
static int grow(parser *p, md_json *c, size_t *cap) {
    if (c->count < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    md_json *items = realloc(c->items, ncap * sizeof *items);
    if (!items) return fail_oom(p);
    c->items = items;
    if (c->type == MD_JSON_OBJECT) {
        char **keys = realloc(c->keys, ncap * sizeof *keys);
        if (!keys) return fail_oom(p);
        c->keys = keys;
        size_t *lens = realloc(c->key_lens, ncap * sizeof *lens);
        if (!lens) return fail_oom(p);
        c->key_lens = lens;
    }
    *cap = ncap;
    return 0;
}

// Shrinks the arrays to their final size (saves memory for big vocabularies).
static void shrink(md_json *c) {
    if (!c->count) {
        free(c->items), c->items = NULL;
        free(c->keys), c->keys = NULL;
        free(c->key_lens), c->key_lens = NULL;
        return;
    }
    md_json *items = realloc(c->items, c->count * sizeof *items);
    if (items) c->items = items;
    if (c->keys) {
        char **keys = realloc(c->keys, c->count * sizeof *keys);
        if (keys) c->keys = keys;
        size_t *lens = realloc(c->key_lens, c->count * sizeof *lens);
        if (lens) c->key_lens = lens;
    }
}

static int parse_array(parser *p, md_json *out, int depth) {
    out->type = MD_JSON_ARRAY;
    size_t cap = 0;
    p->pos++;  // '['
    skip_ws(p);
    if (at_byte(p, ']')) {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (grow(p, out, &cap)) return -1;
        md_json *item = &out->items[out->count];
        memset(item, 0, sizeof *item);
        if (parse_value(p, item, depth + 1)) {
            free_contents(item);
            return -1;
        }
        out->count++;
        skip_ws(p);
        if (at_byte(p, ',')) {
            p->pos++;
            skip_ws(p);
            if (at_byte(p, ']')) return fail_at(p, p->pos, "trailing comma before ']'");
            continue;
        }
        if (at_byte(p, ']')) {
            p->pos++;
            shrink(out);
            return 0;
        }
        return fail_expected(p, "',' or ']' in an array");
    }
}

static int parse_object(parser *p, md_json *out, int depth) {
    out->type = MD_JSON_OBJECT;
    size_t cap = 0;
    key_set ks = {0};
    int rc = -1;
    p->pos++;  // '{'
    skip_ws(p);
    if (at_byte(p, '}')) {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (!at_byte(p, '"')) {
            fail_expected(p, "'\"' to start an object key");
            goto done;
        }
        if (grow(p, out, &cap)) goto done;
        size_t i = out->count, key_at = p->pos;
        if (parse_string_raw(p, &out->keys[i], &out->key_lens[i])) goto done;
        // Item i is not counted yet: free its key by hand on the error paths below.
        int dup = 0;
        if (i < 8) {
            for (size_t j = 0; j < i && !dup; j++)
                dup = out->key_lens[j] == out->key_lens[i] &&
                      memcmp(out->keys[j], out->keys[i], out->key_lens[i]) == 0;
        } else {
            if (i == 8)  // switch to the hash set: seed it with the first 8 keys
                for (size_t j = 0; j < 8; j++)
                    if (key_set_insert(&ks, out->keys, out->key_lens, j) < 0) dup = -1;
            if (dup == 0) dup = key_set_insert(&ks, out->keys, out->key_lens, i);
        }
        if (dup != 0) {
            if (dup < 0) fail_oom(p);
            else fail_at(p, key_at, "duplicate key \"%.*s\" in an object",
                         (int)(out->key_lens[i] > 80 ? 80 : out->key_lens[i]), out->keys[i]);
            free(out->keys[i]);
            goto done;
        }
        skip_ws(p);
        if (!at_byte(p, ':')) {
            fail_expected(p, "':' after an object key");
            free(out->keys[i]);
            goto done;
        }
        p->pos++;
        md_json *item = &out->items[i];
        memset(item, 0, sizeof *item);
        if (parse_value(p, item, depth + 1)) {
            free_contents(item);
            free(out->keys[i]);
            goto done;
        }
        out->count++;
        skip_ws(p);
        if (at_byte(p, ',')) {
            p->pos++;
            skip_ws(p);
            if (at_byte(p, '}')) {
                fail_at(p, p->pos, "trailing comma before '}'");
                goto done;
            }
            continue;
        }
        if (at_byte(p, '}')) {
            p->pos++;
            shrink(out);
            rc = 0;
            goto done;
        }
        fail_expected(p, "',' or '}' in an object");
        goto done;
    }
done:
    free(ks.slots);
    return rc;
}

static int parse_literal(parser *p, const char *word, size_t n) {
    if (p->n - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        char what[32];
        snprintf(what, sizeof what, "a value ('%s'?)", word);
        return fail_expected(p, what);
    }
    p->pos += n;
    return 0;
}

// Parses one value at p->pos into *out (zeroed by the caller). On error *out may hold
// partial contents: the caller frees them with free_contents.
static int parse_value(parser *p, md_json *out, int depth) {
    skip_ws(p);
    if (p->pos >= p->n) return fail_expected(p, "a value");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= MD_JSON_MAX_DEPTH)
            return fail_at(p, p->pos, "nesting deeper than %d levels", MD_JSON_MAX_DEPTH);
        return c == '{' ? parse_object(p, out, depth) : parse_array(p, out, depth);
    case '"':
        out->type = MD_JSON_STRING;
        return parse_string_raw(p, &out->str, &out->len);
    case 't':
        out->type = MD_JSON_BOOL;
        out->boolean = true;
        return parse_literal(p, "true", 4);
    case 'f':
        out->type = MD_JSON_BOOL;
        return parse_literal(p, "false", 5);
    case 'n':
        out->type = MD_JSON_NULL;
        return parse_literal(p, "null", 4);
    case '/':
        return fail_at(p, p->pos, "comments are not allowed in JSON");
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, out);
        if (c == 0xEF && p->n - p->pos >= 3 && p->s[p->pos + 1] == 0xBB && p->s[p->pos + 2] == 0xBF)
            return fail_at(p, p->pos, "a byte order mark is not allowed in JSON");
        return fail_expected(p, "a value");
    }
}

md_json *md_json_parse(const char *text, size_t len, const char *source, md_error *err) {
    parser p = {.s = (const unsigned char *)text, .n = len, .source = source ? source : "JSON",
                .err = err};
    md_json *root = calloc(1, sizeof *root);
    if (!root) {
        md_errorf(err, "%s: out of memory", p.source);
        return NULL;
    }
    if (parse_value(&p, root, 0) == 0) {
        skip_ws(&p);
        if (p.pos == p.n) return root;
        if (p.s[p.pos] == '/') fail_at(&p, p.pos, "comments are not allowed in JSON");
        else fail_expected(&p, "end of input after the top-level value");
    }
    md_json_free(root);
    return NULL;
}

md_json *md_json_parse_file(const char *path, md_error *err) {
    char *text;
    size_t len;
    if (md_read_file(path, MD_JSON_MAX_FILE_BYTES, &text, &len, err)) return NULL;
    md_json *j = md_json_parse(text, len, path, err);
    free(text);
    return j;
}

// ---------------------------------------------------------------- access

const md_json *md_json_get(const md_json *obj, const char *key) {
    if (!obj || obj->type != MD_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0) return &obj->items[i];
    return NULL;
}

const char *md_json_type_name(md_json_type t) {
    switch (t) {
    case MD_JSON_NULL: return "null";
    case MD_JSON_BOOL: return "boolean";
    case MD_JSON_NUMBER: return "number";
    case MD_JSON_STRING: return "string";
    case MD_JSON_ARRAY: return "array";
    case MD_JSON_OBJECT: return "object";
    }
    return "invalid";
}

const char *md_json_type_phrase(md_json_type t) {
    switch (t) {
    case MD_JSON_NULL: return "null";
    case MD_JSON_BOOL: return "a boolean";
    case MD_JSON_NUMBER: return "a number";
    case MD_JSON_STRING: return "a string";
    case MD_JSON_ARRAY: return "an array";
    case MD_JSON_OBJECT: return "an object";
    }
    return "an invalid value";
}

// Finds a required field of type t; on failure an error naming source, key and types.
static const md_json *require(const md_json *obj, const char *key, const char *source,
                              md_json_type t, const char *expected, md_error *err) {
    if (!source) source = "JSON";
    if (!obj || obj->type != MD_JSON_OBJECT) {
        md_errorf(err, "%s: field '%s': expected an object to hold it, got %s", source, key,
                  obj ? md_json_type_phrase(obj->type) : "nothing");
        return NULL;
    }
    const md_json *v = md_json_get(obj, key);
    if (!v) {
        md_errorf(err, "%s: field '%s': missing (expected %s)", source, key, expected);
        return NULL;
    }
    if (v->type != t) {
        md_errorf(err, "%s: field '%s': expected %s, got %s", source, key, expected,
                  md_json_type_phrase(v->type));
        return NULL;
    }
    return v;
}

int md_json_get_int(const md_json *obj, const char *key, const char *source, int64_t *out,
                    md_error *err) {
    const md_json *v = require(obj, key, source, MD_JSON_NUMBER, "an integer", err);
    if (!v) return -1;
    if (!v->is_integer)
        return md_errorf(err, "%s: field '%s': expected an integer, got %.17g%s",
                         source ? source : "JSON", key, v->number,
                         fabs(v->number) >= 9.2e18 ? " (outside the int64 range)" : "");
    *out = v->integer;
    return 0;
}

int md_json_get_number(const md_json *obj, const char *key, const char *source, double *out,
                       md_error *err) {
    const md_json *v = require(obj, key, source, MD_JSON_NUMBER, "a number", err);
    if (!v) return -1;
    *out = v->number;
    return 0;
}

int md_json_get_bool(const md_json *obj, const char *key, const char *source, bool *out,
                     md_error *err) {
    const md_json *v = require(obj, key, source, MD_JSON_BOOL, "a boolean", err);
    if (!v) return -1;
    *out = v->boolean;
    return 0;
}

int md_json_get_string(const md_json *obj, const char *key, const char *source,
                       const char **out, md_error *err) {
    const md_json *v = require(obj, key, source, MD_JSON_STRING, "a string", err);
    if (!v) return -1;
    *out = v->str;
    return 0;
}
