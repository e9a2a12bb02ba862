// Ablated node outputs for removed edges: zero, the corrupted run's outputs (row by
// row), or means over a reference set per (group, position) (IOI: per-template means over
// p_ABC, Wang et al.'s mean ablation).
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"

static const char *const abl_names[3] = {"zero", "mean", "corrupted"};

const char *md_ablation_name(md_ablation_kind k) {
    return k >= 0 && k <= MD_ABL_CORRUPT ? abl_names[k] : "?";
}

int md_ablation_parse(const char *s, md_ablation_kind *k, md_error *err) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, abl_names[i]) == 0) {
            *k = (md_ablation_kind)i;
            return 0;
        }
    if (strcmp(s, "corrupt") == 0 || strcmp(s, "patching") == 0) {
        *k = MD_ABL_CORRUPT;
        return 0;
    }
    return md_errorf(err, "ablation '%s': expected zero, mean or corrupted", s);
}

void md_ablation_free(md_ablation *a) {
    free(a->mean);
    free(a->mean_all);
    free(a->count);
    memset(a, 0, sizeof *a);
}

// Means of every node output over ref's rows (clean or corrupted tokens), by group and
// position, computed chunk by chunk with the session's workspace.
static int build_means(md_csession *s, const md_task_batch *ref, bool use_corrupt, md_error *err) {
    const md_config *c = &s->model->cfg;
    md_ablation *a = &s->abl;
    int64_t C = c->d_model, T = ref->T;
    if (ref->T > s->ef.max_T)
        return md_errorf(err, "mean ablation: reference rows of %d tokens exceed the task's %d",
                         ref->T, s->ef.max_T);
    if (md_task_batch_check(ref, c->vocab_size, "mean ablation reference", err)) return -1;
    a->n_src = s->g.n_src;
    a->n_groups = ref->n_groups > s->task->n_groups ? ref->n_groups : s->task->n_groups;
    a->T = (int)T;
    a->C = (int)C;
    int64_t per = (int64_t)a->n_groups * T * C;
    double *sum = calloc((size_t)(a->n_src * per), sizeof(double));
    double *sum_all = calloc((size_t)(a->n_src * T * C), sizeof(double));
    a->mean = malloc((size_t)(a->n_src * per) * sizeof(float));
    a->mean_all = malloc((size_t)(a->n_src * T * C) * sizeof(float));
    a->count = calloc((size_t)(a->n_groups * T), sizeof(int32_t));
    int rc = -1;
    if (!sum || !sum_all || !a->mean || !a->mean_all || !a->count) {
        md_errorf(err, "mean ablation: out of memory for %d sources x %d groups x %lld positions",
                  a->n_src, a->n_groups, (long long)T);
        goto done;
    }
    for (int start = 0; start < ref->n; start += s->batch) {
        int n = ref->n - start < s->batch ? ref->n - start : s->batch;
        const int32_t *tok = (use_corrupt ? ref->corrupt : ref->clean) + (int64_t)start * T;
        md_ef_run r = {.tokens = tok, .B = n, .T = (int)T, .logit_pos = ref->pos + start};
        if (md_ef_forward(&s->ef, &r, err)) goto done;
        int64_t NC = (int64_t)n * T * C;
        for (int u = 0; u < a->n_src; u++) {
            const float *o = s->ef.out + (int64_t)u * NC;
            for (int b = 0; b < n; b++) {
                int grp = ref->group[start + b];
                double *dst = sum + (int64_t)u * per + (int64_t)grp * T * C;
                double *da = sum_all + (int64_t)u * T * C;
                const float *src = o + (int64_t)b * T * C;
                for (int64_t i = 0; i < T * C; i++) dst[i] += src[i], da[i] += src[i];
            }
        }
        for (int b = 0; b < n; b++)
            for (int64_t t = 0; t < T; t++) a->count[(int64_t)ref->group[start + b] * T + t]++;
    }
    for (int u = 0; u < a->n_src; u++) {
        for (int grp = 0; grp < a->n_groups; grp++)
            for (int64_t t = 0; t < T; t++) {
                int32_t k = a->count[(int64_t)grp * T + t];
                float *dst = a->mean + (int64_t)u * per + ((int64_t)grp * T + t) * C;
                const double *src = sum + (int64_t)u * per + ((int64_t)grp * T + t) * C;
                for (int64_t i = 0; i < C; i++) dst[i] = k ? (float)(src[i] / k) : 0.0f;
            }
        for (int64_t i = 0; i < T * C; i++)
            a->mean_all[(int64_t)u * T * C + i] = (float)(sum_all[(int64_t)u * T * C + i] / ref->n);
    }
    rc = 0;
done:
    free(sum);
    free(sum_all);
    return rc;
}

int md_csession_set_ablation(md_csession *s, md_ablation_kind kind, const md_task_batch *ref,
                             bool ref_use_corrupt, md_error *err) {
    // The same choice again (the default mean reference included) keeps what is built.
    if (kind == s->abl.kind && (kind != MD_ABL_MEAN || (!ref && s->abl.mean && s->abl_default_ref)))
        return 0;
    md_ablation_free(&s->abl);
    s->abl_default_ref = !ref;
    s->abl.kind = kind;
    s->abl_start = -1;
    s->abl_n = 0;
    if (kind == MD_ABL_ZERO) return 0;
    if (!s->abl_buf) {
        const md_config *c = &s->model->cfg;
        int64_t n = (int64_t)s->g.n_src * s->batch * s->task->T * c->d_model;
        s->abl_buf = malloc((size_t)n * sizeof(float));
        if (!s->abl_buf) return md_errorf(err, "ablation: out of memory (%lld floats)", (long long)n);
    }
    if (kind == MD_ABL_MEAN) {
        if (!ref) {
            ref = s->task;
            ref_use_corrupt = true;
        }
        if (build_means(s, ref, ref_use_corrupt, err)) {
            md_ablation_free(&s->abl);
            return -1;
        }
        s->abl.kind = MD_ABL_MEAN;
    }
    return 0;
}

// The ablated outputs for rows [start, start + n) of the task (NULL for zero ablation).
static int fill(md_csession *s, int start, int n, const float **out, md_error *err) {
    const md_task_batch *task = s->task;
    md_ablation *a = &s->abl;
    *out = NULL;
    if (a->kind == MD_ABL_ZERO) return 0;
    *out = s->abl_buf;
    if (s->abl_start == start && s->abl_n == n) return 0;
    int64_t T = task->T, C = s->model->cfg.d_model, NC = (int64_t)n * T * C;
    s->abl_start = -1;
    if (a->kind == MD_ABL_CORRUPT) {
        md_ef_run r = {.tokens = task->corrupt + (int64_t)start * T, .B = n, .T = (int)T,
                       .logit_pos = task->pos + start};
        if (md_ef_forward(&s->ef, &r, err)) return -1;
        memcpy(s->abl_buf, s->ef.out, (size_t)(s->g.n_src * NC) * sizeof(float));
    } else {
        int64_t per = (int64_t)a->n_groups * a->T * C;
        for (int u = 0; u < s->g.n_src; u++)
            for (int b = 0; b < n; b++) {
                int grp = task->group[start + b];
                float *dst = s->abl_buf + (int64_t)u * NC + (int64_t)b * T * C;
                for (int64_t t = 0; t < T; t++) {
                    const float *src = NULL;
                    if (t < a->T) {
                        if (grp < a->n_groups && a->count[(int64_t)grp * a->T + t] > 0)
                            src = a->mean + (int64_t)u * per + ((int64_t)grp * a->T + t) * C;
                        else
                            src = a->mean_all + ((int64_t)u * a->T + t) * C;
                    }
                    if (src) memcpy(dst + t * C, src, (size_t)C * sizeof(float));
                    else memset(dst + t * C, 0, (size_t)C * sizeof(float));
                }
            }
    }
    s->abl_start = start;
    s->abl_n = n;
    return 0;
}

int md_csession_forward(md_csession *s, int start, int n, const float *mask,
                        const float *input_override, md_error *err) {
    return md_csession_forward_from(s, start, n, mask, input_override, 0, err);
}

int md_csession_forward_from(md_csession *s, int start, int n, const float *mask,
                             const float *input_override, int from_layer, md_error *err) {
    const md_task_batch *task = s->task;
    if (start < 0 || n <= 0 || n > s->batch || start + n > task->n)
        return md_errorf(err, "circuit session: chunk [%d, %d) outside the task's %d rows or "
                              "larger than the batch %d", start, start + n, task->n, s->batch);
    const float *abl;
    // A corrupted forward for a new chunk replaces the workspace's state: start over.
    if (s->abl.kind == MD_ABL_CORRUPT && !(s->abl_start == start && s->abl_n == n)) from_layer = 0;
    if (fill(s, start, n, &abl, err)) return -1;
    md_ef_run r = {.tokens = task->clean + (int64_t)start * task->T, .B = n, .T = task->T,
                   .mask = mask, .abl = abl, .input_override = input_override,
                   .logit_pos = task->pos + start, .from_layer = from_layer};
    return md_ef_forward(&s->ef, &r, err);
}
