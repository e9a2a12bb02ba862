#include "model/hooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fileio.h"
#include "tensor/npy.h"

// ---------------------------------------------------------------- point catalogue
static const struct {
    const char *name;  // with %d for the layer where per block
    md_point_shape shape;
} points[MD_PT_COUNT] = {
    [MD_PT_RESID_PRE] = {"blocks.%d.hook_resid_pre", MD_SHAPE_BTC},
    [MD_PT_LN1_SCALE] = {"blocks.%d.ln1.hook_scale", MD_SHAPE_BT1},
    [MD_PT_LN1_NORMALIZED] = {"blocks.%d.ln1.hook_normalized", MD_SHAPE_BTC},
    [MD_PT_Q_INPUT] = {"blocks.%d.hook_q_input", MD_SHAPE_BTHC},
    [MD_PT_K_INPUT] = {"blocks.%d.hook_k_input", MD_SHAPE_BTHC},
    [MD_PT_V_INPUT] = {"blocks.%d.hook_v_input", MD_SHAPE_BTHC},
    [MD_PT_Q] = {"blocks.%d.attn.hook_q", MD_SHAPE_BTHD},
    [MD_PT_K] = {"blocks.%d.attn.hook_k", MD_SHAPE_BTHD},
    [MD_PT_V] = {"blocks.%d.attn.hook_v", MD_SHAPE_BTHD},
    [MD_PT_ROT_Q] = {"blocks.%d.attn.hook_rot_q", MD_SHAPE_BTHD},
    [MD_PT_ROT_K] = {"blocks.%d.attn.hook_rot_k", MD_SHAPE_BTHD},
    [MD_PT_ATTN_SCORES] = {"blocks.%d.attn.hook_attn_scores", MD_SHAPE_BHTT},
    [MD_PT_PATTERN] = {"blocks.%d.attn.hook_pattern", MD_SHAPE_BHTT},
    [MD_PT_Z] = {"blocks.%d.attn.hook_z", MD_SHAPE_BTHD},
    [MD_PT_RESULT] = {"blocks.%d.attn.hook_result", MD_SHAPE_BTHC},
    [MD_PT_ATTN_OUT] = {"blocks.%d.hook_attn_out", MD_SHAPE_BTC},
    [MD_PT_RESID_MID] = {"blocks.%d.hook_resid_mid", MD_SHAPE_BTC},
    [MD_PT_MLP_IN] = {"blocks.%d.hook_mlp_in", MD_SHAPE_BTC},
    [MD_PT_LN2_SCALE] = {"blocks.%d.ln2.hook_scale", MD_SHAPE_BT1},
    [MD_PT_LN2_NORMALIZED] = {"blocks.%d.ln2.hook_normalized", MD_SHAPE_BTC},
    [MD_PT_MLP_PRE] = {"blocks.%d.mlp.hook_pre", MD_SHAPE_BTF},
    [MD_PT_MLP_POST] = {"blocks.%d.mlp.hook_post", MD_SHAPE_BTF},
    [MD_PT_MLP_OUT] = {"blocks.%d.hook_mlp_out", MD_SHAPE_BTC},
    [MD_PT_RESID_POST] = {"blocks.%d.hook_resid_post", MD_SHAPE_BTC},
    [MD_PT_EMBED] = {"hook_embed", MD_SHAPE_BTC},
    [MD_PT_POS_EMBED] = {"hook_pos_embed", MD_SHAPE_BTC},
    [MD_PT_LNF_SCALE] = {"ln_final.hook_scale", MD_SHAPE_BT1},
    [MD_PT_LNF_NORMALIZED] = {"ln_final.hook_normalized", MD_SHAPE_BTC},
};

const char *md_point_name(md_point p, int layer, char *buf, int n) {
    if ((unsigned)p >= MD_PT_COUNT) {
        snprintf(buf, (size_t)n, "invalid");
        return buf;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (p < MD_PT_BLOCK_COUNT)
        snprintf(buf, (size_t)n, points[p].name, layer);
    else
        snprintf(buf, (size_t)n, "%s", points[p].name);
#pragma GCC diagnostic pop
    return buf;
}

md_point_shape md_point_shape_of(md_point p) { return points[p].shape; }

// ---------------------------------------------------------------- glob
bool md_glob_match(const char *p, const char *s) {
    // Iterative '*' matching with one backtrack point: linear in practice.
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            retry = s;
        } else if (*p == *s || *p == '?') {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}

// ---------------------------------------------------------------- caches
void md_cache_init(md_cache *c) { memset(c, 0, sizeof *c); }

int md_cache_init_dir(md_cache *c, const char *dir, md_error *err) {
    md_cache_init(c);
    if (md_mkdirs(dir, err)) return -1;
    c->dir = strdup(dir);
    if (!c->dir) return md_errorf(err, "cache: out of memory");
    return 0;
}

void md_cache_free(md_cache *c) {
    for (int i = 0; i < c->count; i++) {
        free(c->entries[i].name);
        free(c->entries[i].t.data);
    }
    free(c->entries);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

static md_cache_entry *cache_find(const md_cache *c, const char *name) {
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].name, name) == 0) return &c->entries[i];
    return NULL;
}

const md_tensor *md_cache_get(const md_cache *c, const char *name) {
    md_cache_entry *e = cache_find(c, name);
    return e ? &e->t : NULL;
}

int md_cache_put(md_cache *c, const char *name, const md_tensor *t, md_error *err) {
    if (t->dtype != MD_F32) return md_errorf(err, "cache '%s': expected an f32 tensor", name);
    if (c->dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.npy", c->dir, name);
        return md_npy_save(path, t, err);
    }
    md_cache_entry *e = cache_find(c, name);
    if (!e) {
        if (c->count == c->cap) {
            int cap = c->cap ? 2 * c->cap : 16;
            md_cache_entry *ne = realloc(c->entries, (size_t)cap * sizeof *ne);
            if (!ne) return md_errorf(err, "cache '%s': out of memory", name);
            c->entries = ne;
            c->cap = cap;
        }
        e = &c->entries[c->count];
        memset(e, 0, sizeof *e);
        e->name = strdup(name);
        if (!e->name) return md_errorf(err, "cache '%s': out of memory", name);
        c->count++;
    }
    size_t nb = md_nbytes(t);
    if (nb > e->capacity || !e->t.data) {
        void *d = realloc(e->t.data, nb ? nb : 1);
        if (!d) return md_errorf(err, "cache '%s': out of memory for %zu bytes", name, nb);
        e->t.data = d;
        e->capacity = nb;
    }
    void *data = e->t.data;
    e->t = *t;
    e->t.data = data;
    memcpy(data, t->data, nb);
    return 0;
}

int md_cache_save_npy(const md_cache *c, const char *dir, md_error *err) {
    if (md_mkdirs(dir, err)) return -1;
    for (int i = 0; i < c->count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.npy", dir, c->entries[i].name);
        if (md_npy_save(path, &c->entries[i].t, err)) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- registry
void md_hooks_init(md_hooks *h) { memset(h, 0, sizeof *h); }
void md_hooks_free(md_hooks *h) {
    free(h->items);
    memset(h, 0, sizeof *h);
}
void md_hooks_clear(md_hooks *h) { h->count = 0; }

static int add_hook(md_hooks *h, const md_hook *k, md_error *err) {
    if (!k->pattern[0]) return md_errorf(err, "hooks: empty name pattern");
    if (h->count == h->cap) {
        int cap = h->cap ? 2 * h->cap : 8;
        md_hook *n = realloc(h->items, (size_t)cap * sizeof *n);
        if (!n) return md_errorf(err, "hooks: out of memory");
        h->items = n;
        h->cap = cap;
    }
    h->items[h->count++] = *k;
    return 0;
}

static int make_hook(md_hook *k, const char *pattern, md_hook_op op, md_error *err) {
    memset(k, 0, sizeof *k);
    if (!pattern || strlen(pattern) >= sizeof k->pattern)
        return md_errorf(err, "hooks: name pattern missing or longer than %zu characters",
                         sizeof k->pattern - 1);
    snprintf(k->pattern, sizeof k->pattern, "%s", pattern);
    k->op = op;
    return 0;
}

int md_hooks_cache(md_hooks *h, const char *pattern, md_cache *dest, md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_CACHE, err)) return -1;
    k.cache = dest;
    return add_hook(h, &k, err);
}

int md_hooks_grad_cache(md_hooks *h, const char *pattern, md_cache *dest, md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_GRAD_CACHE, err)) return -1;
    k.cache = dest;
    return add_hook(h, &k, err);
}

int md_hooks_patch(md_hooks *h, const char *pattern, md_cache *source, md_hook_sel sel,
                   md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_PATCH, err)) return -1;
    k.cache = source;
    k.sel = sel;
    return add_hook(h, &k, err);
}

int md_hooks_patch_tensor(md_hooks *h, const char *name, md_tensor value, md_hook_sel sel,
                          md_error *err) {
    md_hook k;
    if (make_hook(&k, name, MD_HOOK_PATCH, err)) return -1;
    if (value.dtype != MD_F32 || !value.data)
        return md_errorf(err, "hooks: patch value for '%s' must be an f32 tensor", name);
    k.value = value;
    k.sel = sel;
    return add_hook(h, &k, err);
}

int md_hooks_zero(md_hooks *h, const char *pattern, md_hook_sel sel, md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_ZERO, err)) return -1;
    k.sel = sel;
    return add_hook(h, &k, err);
}

int md_hooks_mean(md_hooks *h, const char *pattern, md_tensor mean, md_hook_sel sel,
                  md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_MEAN, err)) return -1;
    if (mean.dtype != MD_F32 || !mean.data)
        return md_errorf(err, "hooks: mean for '%s' must be an f32 tensor", pattern);
    k.value = mean;
    k.sel = sel;
    return add_hook(h, &k, err);
}

int md_hooks_add(md_hooks *h, const char *pattern, md_tensor vec, float coeff,
                 md_hook_sel sel, md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_ADD, err)) return -1;
    if (vec.dtype != MD_F32 || !vec.data)
        return md_errorf(err, "hooks: vector for '%s' must be an f32 tensor", pattern);
    k.value = vec;
    k.coeff = coeff;
    k.sel = sel;
    return add_hook(h, &k, err);
}

int md_hooks_call(md_hooks *h, const char *pattern, md_hook_fn fn, void *ctx, md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_CALL, err)) return -1;
    if (!fn) return md_errorf(err, "hooks: no function for '%s'", pattern);
    k.fn = fn;
    k.ctx = ctx;
    return add_hook(h, &k, err);
}

int md_hooks_grad_call(md_hooks *h, const char *pattern, md_hook_fn fn, void *ctx,
                       md_error *err) {
    md_hook k;
    if (make_hook(&k, pattern, MD_HOOK_GRAD_CALL, err)) return -1;
    if (!fn) return md_errorf(err, "hooks: no function for '%s'", pattern);
    k.fn = fn;
    k.ctx = ctx;
    return add_hook(h, &k, err);
}

int md_hooks_needs(const md_hooks *h, const char *name) {
    if (!h) return 0;
    int need = 0;
    for (int i = 0; i < h->count; i++) {
        const md_hook *k = &h->items[i];
        if (!md_glob_match(k->pattern, name)) continue;
        switch (k->op) {
        case MD_HOOK_CACHE: need |= MD_NEED_READ; break;
        case MD_HOOK_PATCH:
        case MD_HOOK_ZERO:
        case MD_HOOK_MEAN:
        case MD_HOOK_ADD: need |= MD_NEED_WRITE; break;
        case MD_HOOK_CALL: need |= MD_NEED_READ | MD_NEED_WRITE; break;
        case MD_HOOK_GRAD_CACHE:
        case MD_HOOK_GRAD_CALL: need |= MD_NEED_GRAD; break;
        }
    }
    return need;
}

// ---------------------------------------------------------------- row geometry
static bool has_heads(md_point_shape s) {
    return s == MD_SHAPE_BTHD || s == MD_SHAPE_BTHC || s == MD_SHAPE_BHTT;
}

// Position (query position for BHTT) and head (-1 without a head axis) of a row.
static void row_coords(const md_point_geom *g, int64_t r, int64_t *pos, int64_t *head) {
    switch (g->shape) {
    case MD_SHAPE_BTHD:
    case MD_SHAPE_BTHC:
        *head = r % g->H;
        *pos = (r / g->H) % g->T;
        return;
    case MD_SHAPE_BHTT:
        *pos = r % g->T;
        *head = (r / g->T) % g->H;
        return;
    default:
        *pos = r % g->T;
        *head = -1;
        return;
    }
}

static bool in_list(const int32_t *xs, int n, int64_t x) {
    for (int i = 0; i < n; i++)
        if (xs[i] == x) return true;
    return false;
}

static int check_sel(const md_hook *k, const char *name, const md_point_geom *g,
                     md_error *err) {
    for (int i = 0; i < k->sel.npositions; i++)
        if (k->sel.positions[i] < 0 || k->sel.positions[i] >= g->T)
            return md_errorf(err, "hook '%s': position %d out of range [0, %lld)", name,
                             k->sel.positions[i], (long long)g->T);
    if (k->sel.nheads && !has_heads(g->shape))
        return md_errorf(err, "hook '%s': a head selection needs a point with a head axis",
                         name);
    for (int i = 0; i < k->sel.nheads; i++)
        if (k->sel.heads[i] < 0 || k->sel.heads[i] >= g->H)
            return md_errorf(err, "hook '%s': head %d out of range [0, %lld)", name,
                             k->sel.heads[i], (long long)g->H);
    return 0;
}

static bool row_selected(const md_hook_sel *s, const md_point_geom *g, int64_t r) {
    if (!s->npositions && !s->nheads) return true;
    int64_t pos, head;
    row_coords(g, r, &pos, &head);
    if (s->npositions && !in_list(s->positions, s->npositions, pos)) return false;
    if (s->nheads && !in_list(s->heads, s->nheads, head)) return false;
    return true;
}

static bool replaces(md_hook_op op) {
    return op == MD_HOOK_PATCH || op == MD_HOOK_ZERO || op == MD_HOOK_MEAN;
}

static const char *shape_str(const md_tensor *t, char *b, size_t n) { return md_shape_str(t, b, n); }

// The per-batch-element size of a point (rows / B * row_len).
static int64_t per_batch(const md_point_geom *g) { return g->rows / g->B * g->row_len; }

static int apply_patch(const md_hook *k, const char *name, const md_point_geom *g,
                       md_tensor *act, md_error *err) {
    const md_tensor *src = &k->value;
    if (k->cache) {
        src = md_cache_get(k->cache, name);
        if (!src)
            return md_errorf(err, "hook '%s': the patch source cache has no entry '%s'", name,
                             name);
    }
    int64_t pb = per_batch(g), n = md_numel(src);
    bool same = src->ndim == act->ndim;
    for (int i = 1; same && i < act->ndim; i++) same = src->shape[i] == act->shape[i];
    if (!same || !(n == pb * g->B || n == pb)) {
        char a[64], b[64];
        return md_errorf(err, "hook '%s': patch source shape %s does not match the activation "
                              "%s (batch may be 1)", name, shape_str(src, a, sizeof a),
                         shape_str(act, b, sizeof b));
    }
    const float *s = src->data;
    float *x = act->data;
    bool bcast = n == pb;
    for (int64_t r = 0; r < g->rows; r++) {
        if (!row_selected(&k->sel, g, r)) continue;
        int64_t off = r * g->row_len;
        memcpy(x + off, s + (bcast ? off % pb : off), (size_t)g->row_len * sizeof(float));
    }
    return 0;
}

static int apply_mean(const md_hook *k, const char *name, const md_point_geom *g,
                      md_tensor *act, md_error *err) {
    int64_t pb = per_batch(g), n = md_numel(&k->value);
    int64_t nheads = has_heads(g->shape) ? g->H : 1;
    int mode;  // 0: per position (and head), 1: per head, 2: one row
    if (n == pb)
        mode = 0;
    else if (has_heads(g->shape) && n == nheads * g->row_len)
        mode = 1;
    else if (n == g->row_len)
        mode = 2;
    else
        return md_errorf(err, "hook '%s': mean has %lld values; expected %lld (per position), "
                              "%lld (per head) or %lld (one row)", name, (long long)n,
                         (long long)pb, (long long)(nheads * g->row_len), (long long)g->row_len);
    const float *m = k->value.data;
    float *x = act->data;
    for (int64_t r = 0; r < g->rows; r++) {
        if (!row_selected(&k->sel, g, r)) continue;
        int64_t pos, head;
        row_coords(g, r, &pos, &head);
        const float *src = mode == 0 ? m + (r * g->row_len) % pb
                         : mode == 1 ? m + head * g->row_len : m;
        memcpy(x + r * g->row_len, src, (size_t)g->row_len * sizeof(float));
    }
    return 0;
}

int md_hooks_run_forward(const md_hooks *h, const char *name, const md_point_geom *g,
                         md_tensor *act, md_error *err) {
    if (!h) return 0;
    for (int i = 0; i < h->count; i++) {
        const md_hook *k = &h->items[i];
        if (k->op == MD_HOOK_GRAD_CACHE || k->op == MD_HOOK_GRAD_CALL) continue;
        if (!md_glob_match(k->pattern, name)) continue;
        if (check_sel(k, name, g, err)) return -1;
        float *x = act->data;
        switch (k->op) {
        case MD_HOOK_CACHE:
            if (!k->cache) return md_errorf(err, "hook '%s': cache hook without a cache", name);
            if (md_cache_put(k->cache, name, act, err)) return -1;
            break;
        case MD_HOOK_PATCH:
            if (apply_patch(k, name, g, act, err)) return -1;
            break;
        case MD_HOOK_ZERO:
            for (int64_t r = 0; r < g->rows; r++)
                if (row_selected(&k->sel, g, r))
                    memset(x + r * g->row_len, 0, (size_t)g->row_len * sizeof(float));
            break;
        case MD_HOOK_MEAN:
            if (apply_mean(k, name, g, act, err)) return -1;
            break;
        case MD_HOOK_ADD: {
            if (md_numel(&k->value) != g->row_len)
                return md_errorf(err, "hook '%s': steering vector has %lld values, expected "
                                      "%lld (the last axis)", name,
                                 (long long)md_numel(&k->value), (long long)g->row_len);
            const float *v = k->value.data;
            for (int64_t r = 0; r < g->rows; r++) {
                if (!row_selected(&k->sel, g, r)) continue;
                float *row = x + r * g->row_len;
                for (int64_t c = 0; c < g->row_len; c++) row[c] += k->coeff * v[c];
            }
            break;
        }
        case MD_HOOK_CALL:
            if (k->fn(k->ctx, name, act, err)) {
                if (!err || !err->msg[0]) md_errorf(err, "hook '%s': function failed", name);
                return -1;
            }
            break;
        default: break;
        }
    }
    return 0;
}

int md_hooks_run_backward(const md_hooks *h, const char *name, const md_point_geom *g,
                          md_tensor *grad, md_error *err) {
    if (!h) return 0;
    for (int i = 0; i < h->count; i++) {
        const md_hook *k = &h->items[i];
        if (k->op != MD_HOOK_GRAD_CACHE && k->op != MD_HOOK_GRAD_CALL) continue;
        if (!md_glob_match(k->pattern, name)) continue;
        if (k->op == MD_HOOK_GRAD_CACHE) {
            if (!k->cache) return md_errorf(err, "hook '%s': grad cache hook without a cache", name);
            if (md_cache_put(k->cache, name, grad, err)) return -1;
        } else if (k->fn(k->ctx, name, grad, err)) {
            if (!err || !err->msg[0]) md_errorf(err, "hook '%s': gradient function failed", name);
            return -1;
        }
    }
    // Rows a forward intervention replaced do not depend on the upstream value. (ADD and
    // CALL pass the gradient through unchanged: a function's own Jacobian is unknown.)
    float *x = grad->data;
    for (int i = 0; i < h->count; i++) {
        const md_hook *k = &h->items[i];
        if (!replaces(k->op) || !md_glob_match(k->pattern, name)) continue;
        for (int64_t r = 0; r < g->rows; r++)
            if (row_selected(&k->sel, g, r))
                memset(x + r * g->row_len, 0, (size_t)g->row_len * sizeof(float));
    }
    return 0;
}
