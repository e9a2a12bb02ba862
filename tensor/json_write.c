// The streaming JSON writer (see tensor/json.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tensor/json.h"

void md_jw_init(md_json_writer *w, FILE *f, bool indent) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->indent = indent;
    w->first[0] = true;
}

static void newline(md_json_writer *w) {
    if (!w->indent) return;
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
}

// Separator before a value or key at the current depth (not after a key).
static void before_item(md_json_writer *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth]) fputc(',', w->f);
    w->first[w->depth] = false;
    if (w->depth > 0) newline(w);
}

static void open(md_json_writer *w, char c) {
    before_item(w);
    fputc(c, w->f);
    if (w->depth < MD_JSON_MAX_DEPTH) w->depth++;
    w->first[w->depth] = true;
}

static void close_(md_json_writer *w, char c) {
    bool empty = w->first[w->depth];
    if (w->depth > 0) w->depth--;
    if (!empty) newline(w);
    fputc(c, w->f);
    if (w->depth == 0 && w->indent) fputc('\n', w->f);
}

void md_jw_object_begin(md_json_writer *w) { open(w, '{'); }
void md_jw_object_end(md_json_writer *w) { close_(w, '}'); }
void md_jw_array_begin(md_json_writer *w) { open(w, '['); }
void md_jw_array_end(md_json_writer *w) { close_(w, ']'); }

static void write_escaped(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

void md_jw_key(md_json_writer *w, const char *key) {
    before_item(w);
    write_escaped(w->f, key, strlen(key));
    fputs(w->indent ? ": " : ":", w->f);
    w->after_key = true;
}

void md_jw_string_n(md_json_writer *w, const char *s, size_t n) {
    before_item(w);
    write_escaped(w->f, s, n);
}

void md_jw_string(md_json_writer *w, const char *s) { md_jw_string_n(w, s, strlen(s)); }

void md_jw_number(md_json_writer *w, double x) {
    before_item(w);
    if (!isfinite(x)) fputs("null", w->f);
    else fprintf(w->f, "%.17g", x);
}

void md_jw_int(md_json_writer *w, int64_t x) {
    before_item(w);
    fprintf(w->f, "%lld", (long long)x);
}

void md_jw_bool(md_json_writer *w, bool b) {
    before_item(w);
    fputs(b ? "true" : "false", w->f);
}

void md_jw_null(md_json_writer *w) {
    before_item(w);
    fputs("null", w->f);
}
