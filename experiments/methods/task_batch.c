// Task batches: allocation, views, checks, .npy load/save and the synthetic token-level
// IOI used when no tokenizer or trained model is at hand.
#include "experiments/methods/task_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tensor/npy.h"
#include "tensor/rng.h"

int md_task_batch_alloc(md_task_batch *b, int n, int T, md_error *err) {
    memset(b, 0, sizeof *b);
    if (n <= 0 || T <= 0)
        return md_errorf(err, "task batch: expected positive rows and length, got %d x %d", n, T);
    size_t nt = (size_t)n * (size_t)T;
    b->n = n;
    b->T = T;
    b->n_groups = 1;
    b->owns = 1;
    b->clean = calloc(nt, sizeof(int32_t));
    b->corrupt = calloc(nt, sizeof(int32_t));
    b->pos = calloc((size_t)n, sizeof(int32_t));
    b->good = calloc((size_t)n, sizeof(int32_t));
    b->bad = calloc((size_t)n, sizeof(int32_t));
    b->group = calloc((size_t)n, sizeof(int32_t));
    if (!b->clean || !b->corrupt || !b->pos || !b->good || !b->bad || !b->group) {
        md_task_batch_free(b);
        return md_errorf(err, "task batch: out of memory for %d x %d", n, T);
    }
    return 0;
}

void md_task_batch_free(md_task_batch *b) {
    if (b->owns) {
        free(b->clean);
        free(b->corrupt);
        free(b->pos);
        free(b->good);
        free(b->bad);
        free(b->group);
        free(b->io_pos);
        free(b->s1_pos);
        free(b->s2_pos);
    }
    memset(b, 0, sizeof *b);
}

md_task_batch md_task_batch_view(const md_task_batch *b, int start, int count) {
    md_task_batch v = *b;
    size_t off = (size_t)start * (size_t)b->T;
    v.n = count;
    v.owns = 0;
    v.clean = b->clean + off;
    v.corrupt = b->corrupt + off;
    v.pos = b->pos + start;
    v.good = b->good + start;
    v.bad = b->bad + start;
    v.group = b->group + start;
    v.io_pos = b->io_pos ? b->io_pos + start : NULL;
    v.s1_pos = b->s1_pos ? b->s1_pos + start : NULL;
    v.s2_pos = b->s2_pos ? b->s2_pos + start : NULL;
    return v;
}

int md_task_batch_check(const md_task_batch *b, int vocab, const char *source, md_error *err) {
    for (int i = 0; i < b->n; i++) {
        for (int t = 0; t < b->T; t++) {
            int32_t c = b->clean[(size_t)i * b->T + t], k = b->corrupt[(size_t)i * b->T + t];
            if (c < 0 || c >= vocab || k < 0 || k >= vocab)
                return md_errorf(err, "%s: row %d position %d: token %d (clean) / %d (corrupted) "
                                      "outside the model's vocabulary [0, %d)",
                                 source, i, t, c, k, vocab);
        }
        if (b->pos[i] < 0 || b->pos[i] >= b->T)
            return md_errorf(err, "%s: row %d: answer position %d outside [0, %d)", source, i,
                             b->pos[i], b->T);
        if (b->good[i] < 0 || b->good[i] >= vocab || b->bad[i] < 0 || b->bad[i] >= vocab)
            return md_errorf(err, "%s: row %d: good/bad tokens %d/%d outside [0, %d)", source, i,
                             b->good[i], b->bad[i], vocab);
        if (b->group[i] < 0 || b->group[i] >= b->n_groups)
            return md_errorf(err, "%s: row %d: group %d outside [0, %d)", source, i, b->group[i],
                             b->n_groups);
        const int32_t *ps[3] = {b->io_pos, b->s1_pos, b->s2_pos};
        for (int k = 0; k < 3; k++)
            if (ps[k] && (ps[k][i] < -1 || ps[k][i] >= b->T))
                return md_errorf(err, "%s: row %d: name position %d outside [-1, %d)", source, i,
                                 ps[k][i], b->T);
    }
    return 0;
}

// ---------------------------------------------------------------- files
void md_task_files_in(md_task_files *f, const char *dir) {
    static const char *const names[10] = {"clean_tokens.npy", "corrupt_tokens.npy",
                                          "answer_pos.npy",   "lengths.npy",
                                          "good.npy",         "bad.npy",
                                          "group.npy",        "io_pos.npy",
                                          "s1_pos.npy",       "s2_pos.npy"};
    const char **slots[10] = {&f->clean, &f->corrupt, &f->pos,    &f->lengths, &f->good,
                              &f->bad,   &f->group,   &f->io_pos, &f->s1_pos,  &f->s2_pos};
    for (int i = 0; i < 10; i++) {
        snprintf(f->buf[i], sizeof f->buf[i], "%s/%s", dir, names[i]);
        *slots[i] = f->buf[i];
    }
    f->positions = NULL;
}

void md_task_files_ioi(md_task_files *f, const char *data_dir, const char *split) {
    static const char *const suffix[11] = {"tokens", "abc_tokens", NULL, "lengths", "io", "s",
                                           "template", NULL, NULL, NULL, "positions"};
    const char **slots[11] = {&f->clean, &f->corrupt, &f->pos, &f->lengths, &f->good, &f->bad,
                              &f->group, &f->io_pos, &f->s1_pos, &f->s2_pos, &f->positions};
    for (int i = 0; i < 11; i++) {
        if (!suffix[i]) {
            *slots[i] = NULL;
            continue;
        }
        snprintf(f->buf[i], sizeof f->buf[i], "%s/ioi/%s_%s.npy", data_dir, split, suffix[i]);
        *slots[i] = f->buf[i];
    }
}

static bool file_exists(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0;
}

// Loads an int32 array of the given rank; shape[i] < 0 accepts any size. Also accepts
// int64 files (converted, range-checked).
static int load_i32(const char *path, int ndim, int64_t *shape, int32_t **out, md_error *err) {
    md_tensor t;
    void *owned = NULL;
    if (md_npy_load(path, &t, &owned, err)) return -1;
    int rc = -1;
    if (t.ndim != ndim || (t.dtype != MD_I32 && t.dtype != MD_I64)) {
        char sb[64];
        md_errorf(err, "%s: expected an int32 array of %d dimension%s, got %s %s", path, ndim,
                  ndim == 1 ? "" : "s", md_dtype_name(t.dtype), md_shape_str(&t, sb, sizeof sb));
        goto done;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] >= 0 && t.shape[i] != shape[i]) {
            md_errorf(err, "%s: dimension %d is %lld, expected %lld (to match the other files)",
                      path, i, (long long)t.shape[i], (long long)shape[i]);
            goto done;
        }
        shape[i] = t.shape[i];
    }
    int64_t n = md_numel(&t);
    int32_t *o = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!o) {
        md_errorf(err, "%s: out of memory", path);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v = t.dtype == MD_I32 ? ((int32_t *)t.data)[i] : ((int64_t *)t.data)[i];
        if (v < INT32_MIN || v > INT32_MAX) {
            free(o);
            md_errorf(err, "%s: element %lld = %lld does not fit int32", path, (long long)i,
                      (long long)v);
            goto done;
        }
        o[i] = (int32_t)v;
    }
    *out = o;
    rc = 0;
done:
    free(owned);
    return rc;
}

int md_task_batch_load(const md_task_files *f, md_task_batch *b, md_error *err) {
    memset(b, 0, sizeof *b);
    b->owns = 1;
    if (!f->clean || !f->corrupt || !f->good || !f->bad)
        return md_errorf(err, "task batch: clean, corrupted, good and bad files are required");
    int64_t s2[2] = {-1, -1};
    if (load_i32(f->clean, 2, s2, &b->clean, err)) goto fail;
    if (load_i32(f->corrupt, 2, s2, &b->corrupt, err)) goto fail;
    if (s2[0] <= 0 || s2[1] <= 0 || s2[0] > INT32_MAX || s2[1] > INT32_MAX) {
        md_errorf(err, "%s: expected a non-empty (n, T) token matrix", f->clean);
        goto fail;
    }
    b->n = (int)s2[0];
    b->T = (int)s2[1];
    int64_t s1[1] = {b->n};
    if (file_exists(f->pos)) {
        if (load_i32(f->pos, 1, s1, &b->pos, err)) goto fail;
    } else if (file_exists(f->lengths)) {
        if (load_i32(f->lengths, 1, s1, &b->pos, err)) goto fail;
        for (int i = 0; i < b->n; i++) b->pos[i] -= 1;
    } else {
        md_errorf(err, "task batch: neither %s nor %s exists (answer positions are required)",
                  f->pos ? f->pos : "answer_pos.npy", f->lengths ? f->lengths : "lengths.npy");
        goto fail;
    }
    if (load_i32(f->good, 1, s1, &b->good, err)) goto fail;
    if (load_i32(f->bad, 1, s1, &b->bad, err)) goto fail;
    b->n_groups = 1;
    if (file_exists(f->group)) {
        if (load_i32(f->group, 1, s1, &b->group, err)) goto fail;
        int mx = -1;
        for (int i = 0; i < b->n; i++) {
            if (b->group[i] < 0) {
                md_errorf(err, "%s: row %d: negative group %d", f->group, i, b->group[i]);
                goto fail;
            }
            if (b->group[i] > mx) mx = b->group[i];
        }
        b->n_groups = mx + 1;
    } else {
        b->group = calloc((size_t)b->n, sizeof(int32_t));
        if (!b->group) {
            md_errorf(err, "task batch: out of memory");
            goto fail;
        }
    }
    if (file_exists(f->positions)) {
        int64_t s4[2] = {b->n, -1};
        int32_t *p4 = NULL;
        if (load_i32(f->positions, 2, s4, &p4, err)) goto fail;
        if (s4[1] < 3) {
            free(p4);
            md_errorf(err, "%s: expected (n, >= 3) columns IO, S1, S2", f->positions);
            goto fail;
        }
        b->io_pos = malloc((size_t)b->n * sizeof(int32_t));
        b->s1_pos = malloc((size_t)b->n * sizeof(int32_t));
        b->s2_pos = malloc((size_t)b->n * sizeof(int32_t));
        if (!b->io_pos || !b->s1_pos || !b->s2_pos) {
            free(p4);
            md_errorf(err, "task batch: out of memory");
            goto fail;
        }
        for (int i = 0; i < b->n; i++) {
            b->io_pos[i] = p4[(int64_t)i * s4[1]];
            b->s1_pos[i] = p4[(int64_t)i * s4[1] + 1];
            b->s2_pos[i] = p4[(int64_t)i * s4[1] + 2];
        }
        free(p4);
    }
    if (!b->io_pos && file_exists(f->io_pos) && load_i32(f->io_pos, 1, s1, &b->io_pos, err)) goto fail;
    if (!b->s1_pos && file_exists(f->s1_pos) && load_i32(f->s1_pos, 1, s1, &b->s1_pos, err)) goto fail;
    if (!b->s2_pos && file_exists(f->s2_pos) && load_i32(f->s2_pos, 1, s1, &b->s2_pos, err)) goto fail;
    for (int i = 0; i < b->n; i++)
        if (b->pos[i] < 0 || b->pos[i] >= b->T) {
            md_errorf(err, "%s: row %d: answer position %d outside [0, %d)",
                      file_exists(f->pos) ? f->pos : f->lengths, i, b->pos[i], b->T);
            goto fail;
        }
    return 0;
fail:
    md_task_batch_free(b);
    return -1;
}

static int save_i32(const char *dir, const char *name, const int32_t *x, int ndim, int64_t d0,
                    int64_t d1, md_error *err) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    md_tensor t = ndim == 1 ? md_tensor_1d(MD_I32, (void *)x, d0)
                            : md_tensor_2d(MD_I32, (void *)x, d0, d1);
    return md_npy_save(path, &t, err);
}

int md_task_batch_save(const md_task_batch *b, const char *dir, md_error *err) {
    if (md_mkdirs(dir, err)) return -1;
    if (save_i32(dir, "clean_tokens.npy", b->clean, 2, b->n, b->T, err) ||
        save_i32(dir, "corrupt_tokens.npy", b->corrupt, 2, b->n, b->T, err) ||
        save_i32(dir, "answer_pos.npy", b->pos, 1, b->n, 0, err) ||
        save_i32(dir, "good.npy", b->good, 1, b->n, 0, err) ||
        save_i32(dir, "bad.npy", b->bad, 1, b->n, 0, err) ||
        save_i32(dir, "group.npy", b->group, 1, b->n, 0, err))
        return -1;
    if (b->io_pos && save_i32(dir, "io_pos.npy", b->io_pos, 1, b->n, 0, err)) return -1;
    if (b->s1_pos && save_i32(dir, "s1_pos.npy", b->s1_pos, 1, b->n, 0, err)) return -1;
    if (b->s2_pos && save_i32(dir, "s2_pos.npy", b->s2_pos, 1, b->n, 0, err)) return -1;
    return 0;
}

// ---------------------------------------------------------------- synthetic IOI
typedef struct synth_template {
    int len, a, b, s2;   // length (END = len - 1) and slot positions
    int32_t *tokens;     // (len) fillers (slots overwritten per row)
} synth_template;

int md_task_batch_synthetic_ioi(const md_synth_ioi *s, md_task_batch *b, md_error *err) {
    if (s->n <= 0 || s->n_names < 4 || s->n_templates <= 0 || s->min_len < 8 ||
        s->max_len < s->min_len || s->vocab < s->n_names + 64)
        return md_errorf(err, "synthetic IOI: expected n > 0, >= 4 names, >= 1 template, "
                              "8 <= min_len <= max_len and vocab >= names + 64");
    md_rng r = md_rng_init(s->seed, 0x10150);
    synth_template *tm = calloc((size_t)s->n_templates, sizeof *tm);
    if (!tm) return md_errorf(err, "synthetic IOI: out of memory");
    int rc = -1, T = 0;
    int n_fill = s->vocab - 1 - s->n_names, fill0 = 1 + s->n_names;
    for (int k = 0; k < s->n_templates; k++) {
        synth_template *t = &tm[k];
        t->len = s->min_len + (int)md_rng_below(&r, (uint64_t)(s->max_len - s->min_len + 1));
        t->a = 1 + (int)md_rng_below(&r, 2);
        t->b = t->a + 2 + (int)md_rng_below(&r, 2);
        // S2 somewhere after B, leaving at least two tokens before END.
        int lo = t->b + 2, hi = t->len - 3;
        t->s2 = lo + (int)md_rng_below(&r, (uint64_t)(hi - lo + 1));
        t->tokens = malloc((size_t)t->len * sizeof(int32_t));
        if (!t->tokens) {
            md_errorf(err, "synthetic IOI: out of memory");
            goto done;
        }
        t->tokens[0] = 0;
        for (int i = 1; i < t->len; i++)
            t->tokens[i] = fill0 + (int32_t)md_rng_below(&r, (uint64_t)n_fill);
        if (t->len > T) T = t->len;
    }
    if (md_task_batch_alloc(b, s->n, T, err)) goto done;
    b->n_groups = s->n_templates;
    b->io_pos = malloc((size_t)s->n * sizeof(int32_t));
    b->s1_pos = malloc((size_t)s->n * sizeof(int32_t));
    b->s2_pos = malloc((size_t)s->n * sizeof(int32_t));
    if (!b->io_pos || !b->s1_pos || !b->s2_pos) {
        md_task_batch_free(b);
        md_errorf(err, "synthetic IOI: out of memory");
        goto done;
    }
    for (int i = 0; i < s->n; i++) {
        int k = (i / 2) % s->n_templates;
        bool abba = (i % 2) == 0;  // IO first
        const synth_template *t = &tm[k];
        int io = 1 + (int)md_rng_below(&r, (uint64_t)s->n_names), sj;
        do sj = 1 + (int)md_rng_below(&r, (uint64_t)s->n_names); while (sj == io);
        int abc[3];
        for (int j = 0; j < 3; j++) {
            bool clash;
            do {
                abc[j] = 1 + (int)md_rng_below(&r, (uint64_t)s->n_names);
                clash = abc[j] == io || abc[j] == sj;
                for (int q = 0; q < j; q++) clash |= abc[j] == abc[q];
            } while (clash);
        }
        int32_t *c = b->clean + (size_t)i * T, *x = b->corrupt + (size_t)i * T;
        memcpy(c, t->tokens, (size_t)t->len * sizeof(int32_t));
        memcpy(x, t->tokens, (size_t)t->len * sizeof(int32_t));
        c[t->a] = abba ? io : sj;
        c[t->b] = abba ? sj : io;
        c[t->s2] = sj;
        x[t->a] = abc[0];
        x[t->b] = abc[1];
        x[t->s2] = abc[2];
        b->pos[i] = t->len - 1;
        b->good[i] = io;
        b->bad[i] = sj;
        b->group[i] = k;
        b->io_pos[i] = abba ? t->a : t->b;
        b->s1_pos[i] = abba ? t->b : t->a;
        b->s2_pos[i] = t->s2;
    }
    rc = 0;
done:
    for (int k = 0; k < s->n_templates; k++) free(tm[k].tokens);
    free(tm);
    return rc;
}
