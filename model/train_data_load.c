// Training data from files: token streams (.npy ids, or .txt tokenized) and prompt/answer
// examples (.jsonl, text or ids). See md_data_load in model/train.h.
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "model/train.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/npy.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int load_npy(md_train_data *d, const char *path, double ratio, md_error *err) {
    md_tensor t;
    void *owned = NULL;
    if (md_npy_load(path, &t, &owned, err)) return -1;
    int rc = -1;
    int64_t n = md_numel(&t);
    if (t.ndim != 1 || (t.dtype != MD_I32 && t.dtype != MD_I64)) {
        char shape[64];
        md_errorf(err, "%s: expected a 1-D int32 or int64 array of token ids, got %s %s", path,
                  md_dtype_name(t.dtype), md_shape_str(&t, shape, sizeof shape));
        goto done;
    }
    if (t.dtype == MD_I64) {
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
        if (!ids) {
            md_errorf(err, "%s: out of memory", path);
            goto done;
        }
        const int64_t *src = t.data;
        for (int64_t i = 0; i < n; i++) {
            if (src[i] < 0 || src[i] > INT32_MAX) {
                free(ids);
                md_errorf(err, "%s: element %lld: token id %lld out of range", path,
                          (long long)i, (long long)src[i]);
                goto done;
            }
            ids[i] = (int32_t)src[i];
        }
        rc = md_data_add_stream(d, path, ids, n, ratio, err);
        free(ids);
    } else {
        rc = md_data_add_stream(d, path, t.data, n, ratio, err);
    }
done:
    free(owned);
    return rc;
}

static int load_txt(md_train_data *d, const char *path, double ratio, md_tokenizer *tok,
                    md_error *err) {
    if (!tok) return md_errorf(err, "%s: a text file needs the model's tokenizer", path);
    char *text;
    size_t len;
    if (md_read_file(path, 0, &text, &len, err)) return -1;
    md_token_ids ids = {0};
    int rc = md_tokenizer_encode(tok, text, len, MD_TOK_SPECIAL, &ids, err);
    free(text);
    if (rc == 0) rc = md_data_add_stream(d, path, ids.ids, (int64_t)ids.n, ratio, err);
    else md_error_prefix(err, "%s: ", path);
    md_token_ids_free(&ids);
    return rc;
}

// A "prompt" or "answer" field: a string (tokenized) or an array of non-negative ids.
static int field_ids(const md_json *obj, const char *key, md_tokenizer *tok, const char *path,
                     int64_t line, md_token_ids *out, md_error *err) {
    out->n = 0;
    const md_json *v = md_json_get(obj, key);
    if (!v) return md_errorf(err, "%s:%lld: missing field '%s'", path, (long long)line, key);
    if (v->type == MD_JSON_STRING) {
        if (!tok)
            return md_errorf(err, "%s:%lld: field '%s' is text: it needs the model's tokenizer",
                             path, (long long)line, key);
        if (md_tokenizer_encode(tok, v->str, v->len, 0, out, err))
            return md_error_prefix(err, "%s:%lld: ", path, (long long)line);
        return 0;
    }
    if (v->type != MD_JSON_ARRAY)
        return md_errorf(err, "%s:%lld: field '%s': expected a string or an array of token ids, "
                         "got %s", path, (long long)line, key, md_json_type_name(v->type));
    for (size_t i = 0; i < v->count; i++) {
        const md_json *e = &v->items[i];
        if (e->type != MD_JSON_NUMBER || !e->is_integer || e->integer < 0 || e->integer > INT32_MAX)
            return md_errorf(err, "%s:%lld: field '%s' item %zu: expected a token id "
                             "(a non-negative integer)", path, (long long)line, key, i);
        if (out->n == out->cap) {
            size_t nc = out->cap ? 2 * out->cap : 64;
            int32_t *p = realloc(out->ids, nc * sizeof(int32_t));
            if (!p) return md_errorf(err, "%s: out of memory", path);
            out->ids = p;
            out->cap = nc;
        }
        out->ids[out->n++] = (int32_t)e->integer;
    }
    return 0;
}

static int load_jsonl(md_train_data *d, const char *path, double ratio, md_tokenizer *tok,
                      md_error *err) {
    char *text;
    size_t len;
    if (md_read_file(path, 0, &text, &len, err)) return -1;
    int idx;
    if (md_data_add_sft(d, path, ratio, &idx, err)) {
        free(text);
        return -1;
    }
    md_token_ids p = {0}, a = {0};
    int rc = 0;
    int64_t line = 0;
    for (char *s = text; s < text + len && rc == 0;) {
        char *e = memchr(s, '\n', (size_t)(text + len - s));
        size_t n = e ? (size_t)(e - s) : (size_t)(text + len - s);
        line++;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k < n) {
            char src[600];
            snprintf(src, sizeof src, "%s:%lld", path, (long long)line);
            md_json *j = md_json_parse(s, n, src, err);
            if (!j) {
                rc = -1;
            } else {
                if (j->type != MD_JSON_OBJECT)
                    rc = md_errorf(err, "%s: expected an object {\"prompt\", \"answer\"}", src);
                else if (field_ids(j, "prompt", tok, path, line, &p, err) ||
                         field_ids(j, "answer", tok, path, line, &a, err))
                    rc = -1;
                else if (p.n > INT32_MAX || a.n > INT32_MAX)
                    rc = md_errorf(err, "%s: example too long", src);
                else if (md_data_sft_example(d, idx, p.ids, (int32_t)p.n, a.ids, (int32_t)a.n, err))
                    rc = md_error_prefix(err, "%s: ", src);
                md_json_free(j);
            }
        }
        s = e ? e + 1 : text + len;
    }
    free(text);
    md_token_ids_free(&p);
    md_token_ids_free(&a);
    if (rc == 0 && d->src[idx].n_examples == 0)
        rc = md_errorf(err, "%s: no examples (one JSON object per line)", path);
    if (rc) d->n_sources--;  // drop the half-filled source (its buffers are freed below)
    if (rc) {
        md_train_source *src = &d->src[d->n_sources];
        free(src->tokens), free(src->ex_off), free(src->prompt_len), free(src->answer_len);
        memset(src, 0, sizeof *src);
    }
    return rc;
}

int md_data_load(md_train_data *d, const char *path, double ratio, md_tokenizer *tok,
                 md_error *err) {
    if (ends_with(path, ".npy")) return load_npy(d, path, ratio, err);
    if (ends_with(path, ".txt")) return load_txt(d, path, ratio, tok, err);
    if (ends_with(path, ".jsonl")) return load_jsonl(d, path, ratio, tok, err);
    return md_errorf(err, "%s: unknown data file type (expected .npy token ids, .txt text or "
                     ".jsonl prompt/answer examples)", path);
}

int md_data_load_list(md_train_data *d, const char *list, md_tokenizer *tok, md_error *err) {
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char item[4096];
        if (n >= sizeof item) return md_errorf(err, "data: path too long");
        memcpy(item, s, n);
        item[n] = 0;
        double ratio = 1.0;
        char *colon = strrchr(item, ':');
        if (colon) {
            char *end;
            ratio = strtod(colon + 1, &end);
            if (end == colon + 1 || *end)
                return md_errorf(err, "data '%s': expected PATH or PATH:RATIO (a number after "
                                 "the colon)", item);
            *colon = 0;
        }
        if (n && md_data_load(d, item, ratio, tok, err)) return -1;
        if (!e) break;
        s = e + 1;
    }
    if (d->n_sources == 0) return md_errorf(err, "data: no files given");
    return 0;
}
