// The `key = value` config reader (API and format in tensor/kvconfig.h).
//
// Parsing rules, beyond the header:
// - Whitespace around keys and values is trimmed; a value may be empty ("key =").
// - `#` starts a comment when it begins the line or follows a space or tab; a `#` glued
//   to other text (`a#b`) stays part of the value.
// - Keys are made of letters, digits, '_', '.', '-' and must not be empty.
// - Entries set with md_kv_set have line 0 and are reported as "(--set)" in errors.
#include "tensor/kvconfig.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tensor/fileio.h"

#define KV_MAX_FILE_BYTES (16u << 20)

static bool valid_key(const char *k, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
    }
    return true;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

// "PATH:LINE" for file entries, "PATH (--set)" for command-line overrides.
static void where(const md_kv *kv, const md_kv_entry *e, char *buf, size_t cap) {
    if (e->line > 0)
        snprintf(buf, cap, "%s:%d", kv->path, e->line);
    else
        snprintf(buf, cap, "%s (--set)", kv->path);
}

static md_kv_entry *find(const md_kv *kv, const char *key) {
    for (int i = 0; i < kv->count; i++)
        if (strcmp(kv->entries[i].key, key) == 0) return &kv->entries[i];
    return NULL;
}

static int append(md_kv *kv, const char *key, size_t klen, const char *val, size_t vlen,
                  int line, md_error *err) {
    md_kv_entry *grown = realloc(kv->entries, sizeof *grown * (size_t)(kv->count + 1));
    if (!grown) return md_errorf(err, "%s: out of memory reading the config", kv->path);
    kv->entries = grown;
    md_kv_entry *e = &kv->entries[kv->count];
    e->key = dup_n(key, klen);
    e->value = dup_n(val, vlen);
    e->line = line;
    e->used = false;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return md_errorf(err, "%s: out of memory reading the config", kv->path);
    }
    kv->count++;
    return 0;
}

void md_kv_free(md_kv *kv) {
    if (!kv) return;
    for (int i = 0; i < kv->count; i++) {
        free(kv->entries[i].key);
        free(kv->entries[i].value);
    }
    free(kv->entries);
    kv->entries = NULL;
    kv->count = 0;
}

static int parse_line(md_kv *kv, const char *s, size_t n, int line, md_error *err) {
    // Cut the comment: '#' at the start or after whitespace.
    for (size_t i = 0; i < n; i++)
        if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            n = i;
            break;
        }
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    size_t b = 0;
    while (b < n && isspace((unsigned char)s[b])) b++;
    if (b == n) return 0;  // blank or comment-only
    const char *eq = memchr(s + b, '=', n - b);
    if (!eq)
        return md_errorf(err, "%s:%d: expected 'key = value', got '%.*s'", kv->path, line,
                         (int)(n - b), s + b);
    size_t kend = (size_t)(eq - s);
    while (kend > b && isspace((unsigned char)s[kend - 1])) kend--;
    if (!valid_key(s + b, kend - b))
        return md_errorf(err,
                         "%s:%d: invalid key '%.*s' (expected letters, digits, '_', '.', '-')",
                         kv->path, line, (int)(kend - b), s + b);
    size_t vb = (size_t)(eq - s) + 1;
    while (vb < n && isspace((unsigned char)s[vb])) vb++;
    char key[256];
    if (kend - b >= sizeof key)
        return md_errorf(err, "%s:%d: key longer than %zu characters", kv->path, line,
                         sizeof key - 1);
    memcpy(key, s + b, kend - b);
    key[kend - b] = '\0';
    md_kv_entry *prev = find(kv, key);
    if (prev)
        return md_errorf(err, "%s:%d: key '%s' repeats line %d (each key may appear once)",
                         kv->path, line, key, prev->line);
    return append(kv, s + b, kend - b, s + vb, n - vb, line, err);
}

int md_kv_parse(const char *text, const char *source, md_kv *kv, md_error *err) {
    memset(kv, 0, sizeof *kv);
    snprintf(kv->path, sizeof kv->path, "%s", source ? source : "config");
    int line = 1;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (parse_line(kv, p, n, line, err)) {
            md_kv_free(kv);
            return -1;
        }
        if (!nl) break;
        p = nl + 1;
        line++;
    }
    return 0;
}

int md_kv_load(const char *path, md_kv *kv, md_error *err) {
    memset(kv, 0, sizeof *kv);
    char *text = NULL;
    size_t len = 0;
    if (md_read_file(path, KV_MAX_FILE_BYTES, &text, &len, err)) return -1;
    if (strlen(text) != len) {
        free(text);
        return md_errorf(err, "%s: contains a NUL byte (expected a text config)", path);
    }
    int rc = md_kv_parse(text, path, kv, err);
    free(text);
    return rc;
}

int md_kv_set(md_kv *kv, const char *key, const char *value, md_error *err) {
    size_t kl = strlen(key);
    if (!valid_key(key, kl))
        return md_errorf(err, "--set: invalid key '%s' (expected letters, digits, '_', '.', '-')",
                         key);
    md_kv_entry *e = find(kv, key);
    if (e) {
        char *v = dup_n(value, strlen(value));
        if (!v) return md_errorf(err, "%s: out of memory", kv->path);
        free(e->value);
        e->value = v;
        e->line = 0;
        return 0;
    }
    return append(kv, key, kl, value, strlen(value), 0, err);
}

// ---------------------------------------------------------------- getters
static int malformed(const md_kv *kv, const md_kv_entry *e, const char *expected,
                     md_error *err) {
    char loc[600];
    where(kv, e, loc, sizeof loc);
    return md_errorf(err, "%s: key '%s': expected %s, got '%s'", loc, e->key, expected,
                     e->value);
}

int md_kv_int(md_kv *kv, const char *key, int64_t def, int64_t *out, md_error *err) {
    md_kv_entry *e = find(kv, key);
    if (!e) {
        *out = def;
        return 0;
    }
    e->used = true;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(e->value, &end, 10);
    if (errno || end == e->value || *end) return malformed(kv, e, "an integer", err);
    *out = x;
    return 0;
}

int md_kv_double(md_kv *kv, const char *key, double def, double *out, md_error *err) {
    md_kv_entry *e = find(kv, key);
    if (!e) {
        *out = def;
        return 0;
    }
    e->used = true;
    char *end = NULL;
    errno = 0;
    double x = strtod(e->value, &end);
    if (errno || end == e->value || *end || !isfinite(x))
        return malformed(kv, e, "a finite number", err);
    *out = x;
    return 0;
}

int md_kv_bool(md_kv *kv, const char *key, bool def, bool *out, md_error *err) {
    md_kv_entry *e = find(kv, key);
    if (!e) {
        *out = def;
        return 0;
    }
    e->used = true;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(e->value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(e->value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return malformed(kv, e, "true or false", err);
}

int md_kv_string(md_kv *kv, const char *key, const char *def, const char **out,
                 md_error *err) {
    md_kv_entry *e = find(kv, key);
    if (!e) {
        *out = def;
        return 0;
    }
    e->used = true;
    *out = e->value;
    return 0;
}

int md_kv_require_int(md_kv *kv, const char *key, int64_t *out, md_error *err) {
    if (!find(kv, key)) return md_errorf(err, "%s: missing key '%s' (an integer)", kv->path, key);
    return md_kv_int(kv, key, 0, out, err);
}

int md_kv_require_string(md_kv *kv, const char *key, const char **out, md_error *err) {
    if (!find(kv, key)) return md_errorf(err, "%s: missing key '%s' (a string)", kv->path, key);
    return md_kv_string(kv, key, NULL, out, err);
}

int md_kv_check_unused(const md_kv *kv, md_error *err) {
    for (int i = 0; i < kv->count; i++) {
        const md_kv_entry *e = &kv->entries[i];
        if (!e->used) {
            char loc[600];
            where(kv, e, loc, sizeof loc);
            return md_errorf(err, "%s: unknown key '%s' (a typo or an obsolete option?)", loc,
                             e->key);
        }
    }
    return 0;
}
