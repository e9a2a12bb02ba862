#include "model/process.h"

#include <stdio.h>
#include <string.h>

// W (rows, cols) reads a layer norm's output (cols = C): W' = W diag(w), b' = b + W b_ln,
// then each row centred (the normalised input has zero mean over C).
static void fold_reader(float *W, float *bias, const float *w, const float *b, int64_t rows,
                        int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = W + r * cols;
        double shift = 0.0, mean = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            shift += (double)row[c] * b[c];
            row[c] *= w[c];
            mean += row[c];
        }
        mean /= (double)cols;
        for (int64_t c = 0; c < cols; c++) row[c] = (float)(row[c] - mean);
        bias[r] = (float)(bias[r] + shift);
    }
}

static void reset_ln(float *w, float *b, int64_t C) {
    for (int64_t c = 0; c < C; c++) w[c] = 1.0f, b[c] = 0.0f;
}

// A matrix (rows = C outputs into the residual, cols) loses the mean over its outputs.
static void center_columns(float *W, int64_t rows, int64_t cols) {
    for (int64_t c = 0; c < cols; c++) {
        double mean = 0.0;
        for (int64_t r = 0; r < rows; r++) mean += W[r * cols + c];
        mean /= (double)rows;
        for (int64_t r = 0; r < rows; r++) W[r * cols + c] = (float)(W[r * cols + c] - mean);
    }
}

// Each row (one residual write of C values) loses its mean.
static void center_rows(float *W, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0.0;
        for (int64_t c = 0; c < cols; c++) mean += W[r * cols + c];
        mean /= (double)cols;
        for (int64_t c = 0; c < cols; c++) W[r * cols + c] = (float)(W[r * cols + c] - mean);
    }
}

int md_model_process(md_model *m, const md_process_opts *o, md_error *err) {
    const md_config *c = &m->cfg;
    md_params *p = &m->params;
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    bool tied = p->unembed == p->wte;
    if (tied && (o->fold_ln || o->center_writing_weights || o->center_unembed))
        return md_errorf(err, "weight processing: the embedding and unembedding share storage "
                              "(tied head); load the model with untie = true (--untie) first");
    if (!c->attn_bias && (o->fold_ln || o->fold_value_biases))
        return md_errorf(err, "weight processing: fold_ln / fold_value_biases need attention "
                              "biases, and this config has attention_bias = false");
    if (o->fold_ln) {
        for (int l = 0; l < c->n_layer; l++) {
            md_layer_params *L = &p->layers[l];
            fold_reader(L->qkv_w, L->qkv_b, L->ln1_w, L->ln1_b, 3 * C, C);
            reset_ln(L->ln1_w, L->ln1_b, C);
            fold_reader(L->fc_w, L->fc_b, L->ln2_w, L->ln2_b, F, C);
            reset_ln(L->ln2_w, L->ln2_b, C);
        }
        fold_reader(p->unembed, p->unembed_b, p->lnf_w, p->lnf_b, V, C);
        reset_ln(p->lnf_w, p->lnf_b, C);
    }
    if (o->center_writing_weights) {
        center_rows(p->wte, V, C);
        if (p->wpe) center_rows(p->wpe, c->n_ctx, C);
        for (int l = 0; l < c->n_layer; l++) {
            md_layer_params *L = &p->layers[l];
            center_columns(L->o_w, C, C);
            if (L->o_b) center_rows(L->o_b, 1, C);
            center_columns(L->proj_w, C, F);
            center_rows(L->proj_b, 1, C);
        }
    }
    if (o->center_unembed) {
        center_columns(p->unembed, V, C);
        center_columns(p->unembed_b, V, 1);
    }
    if (o->fold_value_biases) {
        for (int l = 0; l < c->n_layer; l++) {
            md_layer_params *L = &p->layers[l];
            float *bv = L->qkv_b + 2 * C;  // (H*D) value bias
            for (int64_t i = 0; i < C; i++) {
                double s = L->o_b[i];
                for (int64_t j = 0; j < C; j++) s += (double)L->o_w[i * C + j] * bv[j];
                L->o_b[i] = (float)s;
            }
            for (int64_t j = 0; j < C; j++) bv[j] = 0.0f;
        }
    }
    return 0;
}

int md_process_opts_parse(const char *list, md_process_opts *o, md_error *err) {
    memset(o, 0, sizeof *o);
    if (!list || !*list) return 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 3 && strncmp(s, "all", 3) == 0)
            o->fold_ln = o->center_writing_weights = o->center_unembed = o->fold_value_biases = true;
        else if (n == 7 && strncmp(s, "fold_ln", n) == 0) o->fold_ln = true;
        else if (n == 22 && strncmp(s, "center_writing_weights", n) == 0) o->center_writing_weights = true;
        else if (n == 14 && strncmp(s, "center_unembed", n) == 0) o->center_unembed = true;
        else if (n == 17 && strncmp(s, "fold_value_biases", n) == 0) o->fold_value_biases = true;
        else
            return md_errorf(err, "unknown weight processing option '%.*s' (expected fold_ln, "
                                  "center_writing_weights, center_unembed, fold_value_biases or all)",
                             (int)n, s);
        s += n;
        if (*s == ',') s++;
    }
    return 0;
}
