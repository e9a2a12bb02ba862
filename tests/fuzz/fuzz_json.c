// libFuzzer target for the strict JSON reader (tensor/json.c).
//
// Besides "no crash, no leak, no UB" it checks two invariants on every accepted input:
// every object key is found by md_json_get, and writing the tree back with the streaming
// writer gives text that parses to the same tree (types, strings, numbers).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/json.h"

static void check(int ok) {
    if (!ok) abort();
}

static bool has_nul_key(const md_json *j) {
    if (j->type == MD_JSON_OBJECT)
        for (size_t i = 0; i < j->count; i++)
            if (strlen(j->keys[i]) != j->key_lens[i]) return true;
    if (j->type == MD_JSON_ARRAY || j->type == MD_JSON_OBJECT)
        for (size_t i = 0; i < j->count; i++)
            if (has_nul_key(&j->items[i])) return true;
    return false;
}

static void write_tree(md_json_writer *w, const md_json *j) {
    switch (j->type) {
    case MD_JSON_NULL: md_jw_null(w); break;
    case MD_JSON_BOOL: md_jw_bool(w, j->boolean); break;
    case MD_JSON_NUMBER:
        // "-0" is an integer literal whose double keeps its sign: %lld would drop it.
        if (j->is_integer && !(j->integer == 0 && signbit(j->number))) md_jw_int(w, j->integer);
        else md_jw_number(w, j->number);
        break;
    case MD_JSON_STRING: md_jw_string_n(w, j->str, j->len); break;
    case MD_JSON_ARRAY:
        md_jw_array_begin(w);
        for (size_t i = 0; i < j->count; i++) write_tree(w, &j->items[i]);
        md_jw_array_end(w);
        break;
    case MD_JSON_OBJECT:
        md_jw_object_begin(w);
        for (size_t i = 0; i < j->count; i++) {
            md_jw_key(w, j->keys[i]);
            write_tree(w, &j->items[i]);
        }
        md_jw_object_end(w);
        break;
    }
}

static void same_tree(const md_json *a, const md_json *b) {
    check(a->type == b->type);
    switch (a->type) {
    case MD_JSON_BOOL: check(a->boolean == b->boolean); break;
    case MD_JSON_NUMBER:
        check(a->number == b->number && signbit(a->number) == signbit(b->number));
        if (a->is_integer) check(b->is_integer && a->integer == b->integer);
        break;
    case MD_JSON_STRING: check(a->len == b->len && memcmp(a->str, b->str, a->len) == 0); break;
    case MD_JSON_ARRAY:
    case MD_JSON_OBJECT:
        check(a->count == b->count);
        for (size_t i = 0; i < a->count; i++) {
            if (a->type == MD_JSON_OBJECT)
                check(a->key_lens[i] == b->key_lens[i] &&
                      memcmp(a->keys[i], b->keys[i], a->key_lens[i]) == 0);
            same_tree(&a->items[i], &b->items[i]);
        }
        break;
    default: break;
    }
}

static void check_lookups(const md_json *j) {
    if (j->type == MD_JSON_OBJECT)
        for (size_t i = 0; i < j->count; i++)
            if (strlen(j->keys[i]) == j->key_lens[i]) check(md_json_get(j, j->keys[i]) == &j->items[i]);
    if (j->type == MD_JSON_ARRAY || j->type == MD_JSON_OBJECT)
        for (size_t i = 0; i < j->count; i++) check_lookups(&j->items[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    md_error err = {{0}};
    md_json *j = md_json_parse((const char *)data, size, "fuzz", &err);
    if (!j) {
        check(strncmp(err.msg, "fuzz: line ", 11) == 0);  // every error says where
        return 0;
    }
    check_lookups(j);
    if (!has_nul_key(j)) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        check(f != NULL);
        md_json_writer w;
        md_jw_init(&w, f, size % 2 == 0);
        write_tree(&w, j);
        fclose(f);
        md_json *k = md_json_parse(text, len, "rewritten", &err);
        if (!k) {
            fprintf(stderr, "writer output does not parse: %s\n%.*s\n", err.msg, (int)len, text);
            abort();
        }
        same_tree(j, k);
        md_json_free(k);
        free(text);
    }
    md_json_free(j);
    return 0;
}
