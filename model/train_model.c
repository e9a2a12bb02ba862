// The kit's transformer (model/model.h) as an md_train_model: its parameter arena is the
// trainer's weight arena (or, in bf16 mode, a bf16-rounded copy of the trainer's fp32
// master weights), its gradient arena has the same layout, and forward_backward is the
// model's forward then backward with the loss normalised by the step's target count.
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/train.h"
#include "model/weights.h"
#include "tensor/bf16.h"

static int fb(void *ctx, const int32_t *tokens, const int32_t *targets, int64_t B, int64_t T,
              int64_t loss_count, double *loss_sum, md_error *err) {
    md_model_trainer_ctx *c = ctx;
    md_model *m = c->model;
    if (md_model_forward(m, tokens, targets, (int)B, (int)T, NULL, err)) return -1;
    *loss_sum = m->loss_count > 0 ? m->loss * (double)m->loss_count : 0.0;
    if (m->loss_count == 0) return 0;  // nothing to learn from this micro-batch
    // md_model_backward scales the loss gradient by 1/loss_count of the last forward;
    // the step's mean is over all its micro-batches' targets, so use that count.
    m->loss_count = loss_count;
    return md_model_backward(m, err);
}

// bf16 mode: the model computes with the master weights rounded to bf16. The optimizer
// writes the rounded copy of every element it updates (weights_rounded); this full
// refresh is only for the start and after a save.
static int round_all(md_model_trainer_ctx *c) {
    float *dst = (float *)c->model->param_arena.base;
    memcpy(dst, c->master, sizeof(float) * (size_t)c->tm.n_elems);
    md_round_to_bf16_n(dst, c->tm.n_elems);
    return 0;
}

static int save(void *ctx, const char *dir, md_error *err) {
    md_model_trainer_ctx *c = ctx;
    if (!c->master) return md_model_save(c->model, dir, MD_F32, err);
    // Save the fp32 master weights, then put the rounded copy back.
    memcpy(c->model->param_arena.base, c->master, sizeof(float) * (size_t)c->tm.n_elems);
    int rc = md_model_save(c->model, dir, MD_F32, err);
    round_all(c);
    return rc;
}

static void classify(md_train_param *p) {
    const char *n = p->name;
    p->layer = -1;
    p->role = MD_ROLE_OTHER;
    int l;
    char rest[64];
    if (sscanf(n, "blocks.%d.%63s", &l, rest) == 2) {
        p->layer = l;
        if (!strncmp(rest, "ln", 2)) p->kind = MD_PARAM_NORM;
        else if (!strcmp(rest, "attn.W_qkv")) p->kind = MD_PARAM_WEIGHT, p->role = MD_ROLE_ATTN_QKV;
        else if (!strcmp(rest, "attn.b_qkv")) p->kind = MD_PARAM_BIAS, p->role = MD_ROLE_ATTN_QKV;
        else if (!strcmp(rest, "attn.W_O")) p->kind = MD_PARAM_WEIGHT, p->role = MD_ROLE_ATTN_O;
        else if (!strcmp(rest, "attn.b_O")) p->kind = MD_PARAM_BIAS, p->role = MD_ROLE_ATTN_O;
        else if (!strcmp(rest, "mlp.W_in")) p->kind = MD_PARAM_WEIGHT, p->role = MD_ROLE_MLP_IN;
        else if (!strcmp(rest, "mlp.b_in")) p->kind = MD_PARAM_BIAS, p->role = MD_ROLE_MLP_IN;
        else if (!strcmp(rest, "mlp.W_out")) p->kind = MD_PARAM_WEIGHT, p->role = MD_ROLE_MLP_OUT;
        else if (!strcmp(rest, "mlp.b_out")) p->kind = MD_PARAM_BIAS, p->role = MD_ROLE_MLP_OUT;
        else p->kind = p->ndim == 1 ? MD_PARAM_BIAS : MD_PARAM_WEIGHT;
        return;
    }
    if (!strncmp(n, "embed.", 6) || !strncmp(n, "pos_embed.", 10)) p->kind = MD_PARAM_EMBED;
    else if (!strncmp(n, "ln_final.", 9)) p->kind = MD_PARAM_NORM;
    else p->kind = p->ndim == 1 ? MD_PARAM_BIAS : MD_PARAM_WEIGHT;  // unembed.W_U (untied)
}

int md_train_model_wrap(md_model_trainer_ctx *c, md_model *m, int max_B, int max_T, bool bf16,
                        md_error *err) {
    memset(c, 0, sizeof *c);
    c->model = m;
    if (md_model_alloc_grads(m, err) || md_model_alloc_acts(m, max_B, max_T, err)) return -1;
    int n = md_model_param_refs(m, NULL, 0);
    md_param_ref *refs = calloc((size_t)n, sizeof *refs);
    c->params = calloc((size_t)n, sizeof *c->params);
    if (!refs || !c->params) {
        free(refs);
        md_train_model_unwrap(c);
        return md_errorf(err, "train: out of memory");
    }
    md_model_param_refs(m, refs, n);
    const float *pbase = (const float *)m->param_arena.base;
    const float *gbase = (const float *)m->grad_arena.base;
    int k = 0;
    int64_t end = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(refs[i].name, "unembed.b_U")) continue;  // not a Hugging Face parameter
        md_train_param *p = &c->params[k++];
        snprintf(p->name, sizeof p->name, "%s", refs[i].name);
        p->ndim = refs[i].ndim;
        p->shape[0] = refs[i].shape[0];
        p->shape[1] = p->ndim == 2 ? refs[i].shape[1] : 1;
        p->numel = refs[i].shape[0] * (p->ndim == 2 ? refs[i].shape[1] : 1);
        p->offset = refs[i].param - pbase;
        // The trainer indexes weights and grads with one offset: the layouts must agree.
        MD_ASSERT(refs[i].grad - gbase == p->offset);
        if (p->offset + p->numel > end) end = p->offset + p->numel;
        classify(p);
    }
    free(refs);
    md_train_model *tm = &c->tm;
    tm->n_params = k;
    tm->params = c->params;
    tm->n_elems = end;  // parameters beyond (the unembedding bias) are not the trainer's
    tm->weights = (float *)m->param_arena.base;
    tm->grads = (float *)m->grad_arena.base;
    tm->n_head = m->cfg.n_head;
    tm->d_head = m->cfg.d_head;
    tm->vocab = m->cfg.vocab_size;
    tm->ctx = c;
    tm->forward_backward = fb;
    tm->save = save;
    if (bf16) {
        c->master = malloc(sizeof(float) * (size_t)end);
        if (!c->master) {
            md_train_model_unwrap(c);
            return md_errorf(err, "train: out of memory for bf16 master weights");
        }
        memcpy(c->master, tm->weights, sizeof(float) * (size_t)end);
        tm->weights = c->master;
        tm->weights_rounded = (float *)m->param_arena.base;
        round_all(c);
    }
    return 0;
}

void md_train_model_unwrap(md_model_trainer_ctx *c) {
    // Leave the model holding the trained fp32 weights.
    if (c->master) memcpy(c->model->param_arena.base, c->master, sizeof(float) * (size_t)c->tm.n_elems);
    free(c->master);
    free(c->params);
    c->master = NULL;
    c->params = NULL;
}
