// Freeze masks: which parameter elements an update may change. Selection by tensor name
// (glob), by attention head (its slices of W_Q, W_K, W_V and their biases, and its input
// columns of W_O) and by MLP neuron (its row of W_in and b_in, its column of W_out). The
// model's parameter table says where each head's and neuron's slice lies (role, layer,
// layout), so nothing here knows a particular architecture's tensor names.
#include <stdlib.h>
#include <string.h>

#include "model/train.h"

int md_train_param_find(const md_train_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return i;
    return -1;
}

int md_mask_init(md_train_mask *k, const md_train_model *m, bool all_trainable, md_error *err) {
    k->n_params = m->n_params;
    k->mode = malloc((size_t)(m->n_params > 0 ? m->n_params : 1));
    k->elems = calloc((size_t)(m->n_params > 0 ? m->n_params : 1), sizeof(uint8_t *));
    if (!k->mode || !k->elems) {
        md_mask_free(k);
        return md_errorf(err, "freeze mask: out of memory");
    }
    memset(k->mode, all_trainable ? MD_MASK_TRAIN : MD_MASK_FROZEN, (size_t)m->n_params);
    return 0;
}

void md_mask_free(md_train_mask *k) {
    if (k->elems)
        for (int i = 0; i < k->n_params; i++) free(k->elems[i]);
    free(k->elems);
    free(k->mode);
    k->elems = NULL;
    k->mode = NULL;
    k->n_params = 0;
}

// '*' matches any run of characters (including '.'), '?' exactly one.
static bool glob_match(const char *g, const char *s) {
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*g == '*') {
            star = g++;
            resume = s;
        } else if (*g == '?' || *g == *s) {
            g++;
            s++;
        } else if (star) {
            g = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*g == '*') g++;
    return *g == 0;
}

int md_mask_unfreeze_glob(md_train_mask *k, const md_train_model *m, const char *glob,
                          md_error *err) {
    int hits = 0;
    for (int i = 0; i < m->n_params; i++) {
        if (!glob_match(glob, m->params[i].name)) continue;
        k->mode[i] = MD_MASK_TRAIN;
        free(k->elems[i]);
        k->elems[i] = NULL;
        hits++;
    }
    if (!hits)
        return md_errorf(err, "train tensors: '%s' matches no parameter (names look like '%s')",
                         glob, m->n_params ? m->params[0].name : "?");
    return 0;
}

// Marks output units [u0, u1) (rows of an (out, in) weight, columns of an (in, out) one,
// entries of a bias) or, with input_units, input units [u0, u1) of a weight.
static int mark_units(md_train_mask *k, const md_train_model *m, int p, int64_t u0,
                      int64_t u1, bool input_units, md_error *err) {
    const md_train_param *tp = &m->params[p];
    if (k->mode[p] == MD_MASK_TRAIN) return 0;  // already wholly trainable
    if (k->mode[p] == MD_MASK_FROZEN) {
        k->elems[p] = calloc((size_t)tp->numel, 1);
        if (!k->elems[p]) return md_errorf(err, "freeze mask: out of memory for '%s'", tp->name);
        k->mode[p] = MD_MASK_PARTIAL;
    }
    uint8_t *e = k->elems[p];
    if (tp->ndim == 1) {
        if (input_units) return 0;  // a bias over output units has no input units
        if (u1 > tp->shape[0])
            return md_errorf(err, "freeze mask: '%s' has %lld entries, unit range ends at %lld",
                             tp->name, (long long)tp->shape[0], (long long)u1);
        memset(e + u0, 1, (size_t)(u1 - u0));
        return 0;
    }
    if (tp->ndim != 2)
        return md_errorf(err, "freeze mask: '%s' is %d-D; head/neuron slices need 2-D weights",
                         tp->name, tp->ndim);
    int64_t rows = tp->shape[0], cols = tp->shape[1];
    // Units along rows when (out, in) and output units, or (in, out) and input units.
    bool along_rows = tp->in_out_layout == input_units;
    int64_t extent = along_rows ? rows : cols;
    if (u1 > extent)
        return md_errorf(err, "freeze mask: '%s' [%lld, %lld] has %lld %s units, range ends at %lld",
                         tp->name, (long long)rows, (long long)cols, (long long)extent,
                         input_units ? "input" : "output", (long long)u1);
    if (along_rows) {
        memset(e + u0 * cols, 1, (size_t)((u1 - u0) * cols));
    } else {
        for (int64_t r = 0; r < rows; r++) memset(e + r * cols + u0, 1, (size_t)(u1 - u0));
    }
    return 0;
}

int md_mask_unfreeze_head(md_train_mask *k, const md_train_model *m, int layer, int head,
                          md_error *err) {
    int H = m->n_head, D = m->d_head;
    if (H <= 0 || head < 0 || head >= H)
        return md_errorf(err, "train heads: head %d of layer %d: the model has %d heads per layer",
                         head, layer, H);
    int hits = 0;
    for (int p = 0; p < m->n_params; p++) {
        const md_train_param *tp = &m->params[p];
        if (tp->layer != layer) continue;
        int64_t h = head, d = D;
        int rc = 0;
        switch (tp->role) {
        case MD_ROLE_ATTN_Q:
        case MD_ROLE_ATTN_K:
        case MD_ROLE_ATTN_V: rc = mark_units(k, m, p, h * d, (h + 1) * d, false, err); break;
        case MD_ROLE_ATTN_QKV:
            for (int64_t part = 0; part < 3 && !rc; part++)
                rc = mark_units(k, m, p, part * H * d + h * d, part * H * d + (h + 1) * d, false,
                                err);
            break;
        case MD_ROLE_ATTN_QKV_HEADWISE:
            rc = mark_units(k, m, p, h * 3 * d, (h + 1) * 3 * d, false, err);
            break;
        case MD_ROLE_ATTN_O:
            if (tp->ndim == 1) continue;  // the output bias is shared by all heads
            rc = mark_units(k, m, p, h * d, (h + 1) * d, true, err);
            break;
        default: continue;
        }
        if (rc) return -1;
        hits++;
    }
    if (!hits) return md_errorf(err, "train heads: layer %d has no attention parameters", layer);
    return 0;
}

int md_mask_unfreeze_neuron(md_train_mask *k, const md_train_model *m, int layer, int neuron,
                            md_error *err) {
    int hits = 0;
    for (int p = 0; p < m->n_params; p++) {
        const md_train_param *tp = &m->params[p];
        if (tp->layer != layer) continue;
        int rc;
        if (tp->role == MD_ROLE_MLP_IN) {
            rc = mark_units(k, m, p, neuron, neuron + 1, false, err);
        } else if (tp->role == MD_ROLE_MLP_OUT) {
            if (tp->ndim == 1) continue;  // the output bias is shared by all neurons
            rc = mark_units(k, m, p, neuron, neuron + 1, true, err);
        } else {
            continue;
        }
        if (rc) return md_error_prefix(err, "train neurons: %d.%d: ", layer, neuron);
        hits++;
    }
    if (!hits) return md_errorf(err, "train neurons: layer %d has no MLP parameters", layer);
    return 0;
}

// Calls fn on each comma-separated item of list (whitespace trimmed, empty items skipped).
static int each_item(const char *list, int (*fn)(void *, const char *, md_error *), void *ctx,
                     md_error *err) {
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char item[256];
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n >= sizeof item) return md_errorf(err, "list item too long: '%.40s...'", s);
        memcpy(item, s, n);
        item[n] = 0;
        if (n && fn(ctx, item, err)) return -1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

typedef struct sel_ctx {
    md_train_mask *k;
    const md_train_model *m;
    int which;  // 0 glob, 1 head, 2 neuron
} sel_ctx;

static int select_item(void *vc, const char *item, md_error *err) {
    sel_ctx *c = vc;
    if (c->which == 0) return md_mask_unfreeze_glob(c->k, c->m, item, err);
    int a, b, used = 0;
    if (sscanf(item, "%d.%d%n", &a, &b, &used) != 2 || item[used] != 0 || a < 0 || b < 0)
        return md_errorf(err, "train %s: expected LAYER.%s (e.g. 3.7), got '%s'",
                         c->which == 1 ? "heads" : "neurons", c->which == 1 ? "HEAD" : "NEURON",
                         item);
    return c->which == 1 ? md_mask_unfreeze_head(c->k, c->m, a, b, err)
                         : md_mask_unfreeze_neuron(c->k, c->m, a, b, err);
}

int md_mask_unfreeze_globs(md_train_mask *k, const md_train_model *m, const char *list,
                           md_error *err) {
    sel_ctx c = {k, m, 0};
    return each_item(list, select_item, &c, err);
}
int md_mask_unfreeze_heads(md_train_mask *k, const md_train_model *m, const char *list,
                           md_error *err) {
    sel_ctx c = {k, m, 1};
    return each_item(list, select_item, &c, err);
}
int md_mask_unfreeze_neurons(md_train_mask *k, const md_train_model *m, const char *list,
                             md_error *err) {
    sel_ctx c = {k, m, 2};
    return each_item(list, select_item, &c, err);
}

void md_mask_zero_frozen_grads(const md_train_mask *k, const md_train_model *m) {
    for (int p = 0; p < m->n_params; p++) {
        const md_train_param *tp = &m->params[p];
        float *g = m->grads + tp->offset;
        if (k->mode[p] == MD_MASK_FROZEN) {
            memset(g, 0, sizeof(float) * (size_t)tp->numel);
        } else if (k->mode[p] == MD_MASK_PARTIAL) {
            const uint8_t *e = k->elems[p];
            for (int64_t i = 0; i < tp->numel; i++)
                if (!e[i]) g[i] = 0.0f;
        }
    }
}

int64_t md_mask_count(const md_train_mask *k, const md_train_model *m) {
    int64_t n = 0;
    for (int p = 0; p < m->n_params; p++) {
        if (k->mode[p] == MD_MASK_TRAIN) n += m->params[p].numel;
        else if (k->mode[p] == MD_MASK_PARTIAL)
            for (int64_t i = 0; i < m->params[p].numel; i++) n += k->elems[p][i];
    }
    return n;
}

bool md_mask_all_trainable(const md_train_mask *k) {
    for (int p = 0; p < k->n_params; p++)
        if (k->mode[p] != MD_MASK_TRAIN) return false;
    return true;
}
