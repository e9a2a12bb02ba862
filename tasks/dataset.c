#include "tasks/dataset.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/npy.h"

void md_data_check_add(md_data_ctx *c, const char *name, double value) {
    if (c->nchecks >= MD_DATA_MAX_CHECKS) return;
    md_data_check *k = &c->checks[c->nchecks++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->value = value;
}

void md_data_log(md_data_ctx *c, const char *fmt, ...) {
    if (!c->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->log, fmt, ap);
    va_end(ap);
    fputc('\n', c->log);
    fflush(c->log);
}

const char *md_data_path(const md_data_ctx *c, const char *rel, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", c->root, rel);
    return buf;
}

// Creates the directories above ROOT/rel.
int md_data_parent_dirs(const md_data_ctx *c, const char *rel, md_error *err) {
    char path[2048];
    md_data_path(c, rel, path, sizeof path);
    char *slash = strrchr(path, '/');
    if (!slash) return 0;
    *slash = '\0';
    return md_mkdirs(path, err);
}

int md_data_save(md_data_ctx *c, const char *rel, md_dtype dt, const void *data, int ndim,
                 const int64_t *shape, const char *axes, md_error *err) {
    char path[2048];
    if (md_data_parent_dirs(c, rel, err)) return -1;
    md_tensor t = md_tensor_view(dt, (void *)data, ndim, shape);
    if (md_npy_save(md_data_path(c, rel, path, sizeof path), &t, err)) return -1;
    if (c->man) md_manifest_array(c->man, rel, &t, axes);
    return 0;
}

int md_data_save_i32(md_data_ctx *c, const char *rel, const int32_t *x, int64_t n,
                     const char *axes, md_error *err) {
    return md_data_save(c, rel, MD_I32, x, 1, &n, axes, err);
}

// ---------------------------------------------------------------- tokens
int md_data_encode(md_data_ctx *c, const char *text, md_token_ids *out, md_error *err) {
    out->n = 0;
    return md_tokenizer_encode(c->tok, text, strlen(text), 0, out, err);
}

int md_data_one_token(md_data_ctx *c, const char *text, int32_t *id, md_error *err) {
    md_token_ids ids = {0};
    if (md_data_encode(c, text, &ids, err)) return -1;
    size_t n = ids.n;
    *id = n ? ids.ids[0] : -1;
    md_token_ids_free(&ids);
    if (n != 1)
        return md_errorf(err,
                         "'%s' is %zu tokens under the trained tokenizer (expected exactly one: "
                         "raise tokenizer.vocab_size or corpus.bytes)",
                         text, n);
    return 0;
}

int md_data_rows(md_data_ctx *c, char *const *texts, int64_t n, int64_t min_T, md_rows *r,
                 md_error *err) {
    memset(r, 0, sizeof *r);
    md_token_ids *all = calloc((size_t)(n ? n : 1), sizeof *all);
    if (!all) return md_errorf(err, "rows: out of memory");
    int64_t T = min_T > 1 ? min_T : 1;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        rc = md_data_encode(c, texts[i], &all[i], err);
        if ((int64_t)all[i].n + 1 > T) T = (int64_t)all[i].n + 1;
    }
    if (!rc) {
        r->n = n;
        r->T = T;
        r->ids = malloc(sizeof(int32_t) * (size_t)(n * T + 1));
        r->len = malloc(sizeof(int32_t) * (size_t)(n + 1));
        if (!r->ids || !r->len) rc = md_errorf(err, "rows: out of memory");
    }
    for (int64_t i = 0; i < n && !rc; i++) {
        int32_t *row = r->ids + i * T;
        row[0] = c->eot;
        memcpy(row + 1, all[i].ids, sizeof(int32_t) * all[i].n);
        for (int64_t t = (int64_t)all[i].n + 1; t < T; t++) row[t] = c->eot;
        r->len[i] = (int32_t)all[i].n + 1;
    }
    for (int64_t i = 0; i < n; i++) md_token_ids_free(&all[i]);
    free(all);
    if (rc) md_rows_free(r);
    return rc;
}

void md_rows_free(md_rows *r) {
    free(r->ids);
    free(r->len);
    memset(r, 0, sizeof *r);
}

int md_data_save_rows(md_data_ctx *c, const char *prefix, const md_rows *r, const char *what,
                      md_error *err) {
    char rel[512], axes[512];
    const int64_t shape[2] = {r->n, r->T};
    snprintf(rel, sizeof rel, "%s_tokens.npy", prefix);
    snprintf(axes, sizeof axes,
             "example, position: token ids of <|endoftext|> + %s, right-padded with "
             "<|endoftext|> (id %d)",
             what, c->eot);
    if (md_data_save(c, rel, MD_I32, r->ids, 2, shape, axes, err)) return -1;
    snprintf(rel, sizeof rel, "%s_lengths.npy", prefix);
    return md_data_save_i32(c, rel, r->len, r->n,
                            "example: tokens before padding (prediction at lengths - 1)", err);
}

int64_t md_data_unseen_rows(const md_data_ctx *c, const md_rows *r) {
    if (!c->seen) return 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < r->n; i++) {
        bool ok = true;
        for (int32_t t = 0; t < r->len[i]; t++) {
            int32_t id = r->ids[i * r->T + t];
            ok &= id >= 0 && id < c->vocab && c->seen[id];
        }
        bad += !ok;
    }
    return bad;
}

// ---------------------------------------------------------------- JSONL
int md_jsonl_open(md_data_ctx *c, md_jsonl *j, const char *rel, md_error *err) {
    char path[2048];
    if (md_data_parent_dirs(c, rel, err)) return -1;
    if (md_atomic_open(&j->af, md_data_path(c, rel, path, sizeof path), err)) return -1;
    return 0;
}

void md_jsonl_begin(md_jsonl *j) {
    md_jw_init(&j->jw, j->af.f, false);
    md_jw_object_begin(&j->jw);
}

void md_jsonl_end(md_jsonl *j) {
    md_jw_object_end(&j->jw);
    fputc('\n', j->af.f);
}

int md_jsonl_commit(md_jsonl *j, md_error *err) {
    if (ferror(j->af.f)) {
        md_atomic_abort(&j->af);
        return md_errorf(err, "%s: write failed", j->af.path);
    }
    return md_atomic_commit(&j->af, err);
}

void md_jw_ids(md_json_writer *w, const int32_t *ids, int64_t n) {
    md_jw_array_begin(w);
    for (int64_t i = 0; i < n; i++) md_jw_int(w, ids[i]);
    md_jw_array_end(w);
}

int md_data_write_sft(md_data_ctx *c, const char *rel, const md_rows *prompts,
                      const int32_t *answer, md_error *err) {
    md_jsonl j;
    if (md_jsonl_open(c, &j, rel, err)) return -1;
    for (int64_t i = 0; i < prompts->n; i++) {
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "prompt");
        md_jw_ids(&j.jw, prompts->ids + i * prompts->T, prompts->len[i]);
        md_jw_key(&j.jw, "answer");
        md_jw_ids(&j.jw, &answer[i], 1);
        md_jsonl_end(&j);
    }
    return md_jsonl_commit(&j, err);
}
