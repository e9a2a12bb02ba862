// Plain-text configs under version control: one `key = value` per line, `#` starts a
// comment, blank lines ignored, keys may contain dots (`world.names = 120`). Later
// lines may not repeat a key (an error naming both lines). Values are looked up with
// typed getters that report the file, the line and what was expected; unknown keys are
// reported by md_kv_check_unused so a misspelt option never passes silently.
#ifndef MD_KVCONFIG_H
#define MD_KVCONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/error.h"

typedef struct md_kv_entry {
    char *key;
    char *value;
    int line;
    bool used;  // set by the getters
} md_kv_entry;

typedef struct md_kv {
    char path[512];
    md_kv_entry *entries;
    int count;
} md_kv;

int md_kv_load(const char *path, md_kv *kv, md_error *err);
// Parses text already in memory (source names it in errors).
int md_kv_parse(const char *text, const char *source, md_kv *kv, md_error *err);
// Adds or replaces a value (for command-line overrides `--set key=value`).
int md_kv_set(md_kv *kv, const char *key, const char *value, md_error *err);
void md_kv_free(md_kv *kv);

// Getters: return 0 and set *out; when the key is absent, set *out = def and return 0
// (def is the documented default); when present but malformed, return -1 with
// "PATH:LINE: key 'k': expected an integer, got 'x'".
int md_kv_int(md_kv *kv, const char *key, int64_t def, int64_t *out, md_error *err);
int md_kv_double(md_kv *kv, const char *key, double def, double *out, md_error *err);
int md_kv_bool(md_kv *kv, const char *key, bool def, bool *out, md_error *err);
int md_kv_string(md_kv *kv, const char *key, const char *def, const char **out, md_error *err);
// Required variants: absent -> error "PATH: missing key 'k' (what it is)".
int md_kv_require_int(md_kv *kv, const char *key, int64_t *out, md_error *err);
int md_kv_require_string(md_kv *kv, const char *key, const char **out, md_error *err);

// Error naming the first key never read by a getter (a typo or an obsolete option).
int md_kv_check_unused(const md_kv *kv, md_error *err);

#endif
