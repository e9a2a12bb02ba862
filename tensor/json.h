// A small strict JSON reader (RFC 8259) shared by everything that reads JSON
// (config.json, safetensors headers, tokenizer.json, vocab.json, manifests), and a
// streaming writer for everything that writes it.
//
// The reader rejects: trailing commas, comments, leading zeros, bad escapes, lone or
// invalid surrogates, invalid UTF-8, control characters in strings, nesting deeper than
// MD_JSON_MAX_DEPTH, trailing garbage, and duplicate keys within one object. Every
// error names the source (a file name or "safetensors header"), the byte offset and
// line, and what was expected.
#ifndef MD_JSON_H
#define MD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/error.h"

#define MD_JSON_MAX_DEPTH 64

typedef enum md_json_type {
    MD_JSON_NULL,
    MD_JSON_BOOL,
    MD_JSON_NUMBER,
    MD_JSON_STRING,
    MD_JSON_ARRAY,
    MD_JSON_OBJECT
} md_json_type;

typedef struct md_json md_json;
struct md_json {
    md_json_type type;
    bool boolean;
    double number;       // MD_JSON_NUMBER
    bool is_integer;     // the literal had no fraction/exponent and fits in int64
    int64_t integer;     // exact value when is_integer
    char *str;           // MD_JSON_STRING: UTF-8, NUL-terminated (may contain \0: use len)
    size_t len;          // string length in bytes
    size_t count;        // MD_JSON_ARRAY / MD_JSON_OBJECT: number of items
    md_json *items;      // (count) values, in document order
    char **keys;         // MD_JSON_OBJECT: (count) keys, NUL-terminated, document order
    size_t *key_lens;    // MD_JSON_OBJECT: (count) key lengths in bytes
};

// Parses text[0..len). Returns a tree to free with md_json_free, or NULL with an error
// "SOURCE: line L, byte B: expected ...".
md_json *md_json_parse(const char *text, size_t len, const char *source, md_error *err);
// Reads and parses a whole file (errors name the path).
md_json *md_json_parse_file(const char *path, md_error *err);
void md_json_free(md_json *j);

// Object member by key, or NULL (also NULL when obj is not an object).
const md_json *md_json_get(const md_json *obj, const char *key);

// Typed getters for required fields: on a missing field or wrong type, an error
// "SOURCE: field 'KEY': expected an integer, got a string" (source names the file).
int md_json_get_int(const md_json *obj, const char *key, const char *source, int64_t *out,
                    md_error *err);
int md_json_get_number(const md_json *obj, const char *key, const char *source, double *out,
                       md_error *err);
int md_json_get_bool(const md_json *obj, const char *key, const char *source, bool *out,
                     md_error *err);
// Points *out at the string inside the tree (valid until md_json_free).
int md_json_get_string(const md_json *obj, const char *key, const char *source,
                       const char **out, md_error *err);
const char *md_json_type_name(md_json_type t);
// The type with its article, for messages: "a string", "an array", "null".
const char *md_json_type_phrase(md_json_type t);

// ---------------------------------------------------------------- writer
// Streams JSON to a FILE with correct escaping and separators. Pretty-prints with
// two-space indentation when indent is true. Numbers are written so that they parse
// back to the same double (%.17g; non-finite values are written as null).
typedef struct md_json_writer {
    FILE *f;
    bool indent;
    int depth;
    bool first[MD_JSON_MAX_DEPTH + 1];  // no item written yet at this depth
    bool after_key;
} md_json_writer;

void md_jw_init(md_json_writer *w, FILE *f, bool indent);
void md_jw_object_begin(md_json_writer *w);
void md_jw_object_end(md_json_writer *w);
void md_jw_array_begin(md_json_writer *w);
void md_jw_array_end(md_json_writer *w);
void md_jw_key(md_json_writer *w, const char *key);
void md_jw_string(md_json_writer *w, const char *s);
void md_jw_string_n(md_json_writer *w, const char *s, size_t n);
void md_jw_number(md_json_writer *w, double x);
void md_jw_int(md_json_writer *w, int64_t x);
void md_jw_bool(md_json_writer *w, bool b);
void md_jw_null(md_json_writer *w);

#endif
