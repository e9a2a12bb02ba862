// IOI, multiple-choice/authority and copy evaluations on the data pipeline's sets.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/organism/behaviour.h"
#include "experiments/organism/npy_i32.h"

enum { EVAL_BATCH = 32 };

static void join(char *out, size_t cap, const char *a, const char *b) {
    snprintf(out, cap, "%s/%s", a, b);
}

// ---------------------------------------------------------------- IOI
int md_eval_ioi(md_model *m, const char *data_dir, const char *split, int n_max,
                md_ioi_eval *r, md_error *err) {
    memset(r, 0, sizeof *r);
    char dir[4096], name[64];
    join(dir, sizeof dir, data_dir, "ioi");
    md_prompt_set s;
    if (md_prompt_set_load(&s, dir, split, n_max, m->cfg.vocab_size, m->cfg.n_ctx, err)) return -1;
    int n = s.n, rc = -1;
    int32_t *io = NULL, *sub = NULL, *ids = NULL;
    float *lg = NULL;
    snprintf(name, sizeof name, "%s_io.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &io, err)) goto done;
    snprintf(name, sizeof name, "%s_s.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &sub, err)) goto done;
    snprintf(name, sizeof name, "%s_heldout.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &r->heldout, err)) goto done;
    ids = malloc((size_t)n * 2 * sizeof *ids);   // (n, 2): IO, S
    lg = malloc((size_t)n * 2 * sizeof *lg);     // (n, 2)
    r->ld = malloc((size_t)n * sizeof *r->ld);
    if (!ids || !lg || !r->ld) {
        md_errorf(err, "IOI eval: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) ids[2 * i] = io[i], ids[2 * i + 1] = sub[i];
    if (md_answer_logits(m, &s, ids, 2, 0, EVAL_BATCH, lg, NULL, err)) goto done;
    double sum = 0, sum_h = 0;
    int hits = 0, hits_h = 0, nh = 0;
    for (int i = 0; i < n; i++) {
        float ld = lg[2 * i] - lg[2 * i + 1];
        r->ld[i] = ld;
        sum += ld;
        hits += ld > 0;
        if (r->heldout[i]) nh++, sum_h += ld, hits_h += ld > 0;
    }
    r->n = n;
    r->acc = (double)hits / n;
    r->mean_ld = sum / n;
    r->acc_heldout = nh ? (double)hits_h / nh : NAN;
    r->mean_ld_heldout = nh ? sum_h / nh : NAN;
    rc = 0;
done:
    md_prompt_set_free(&s);
    free(io);
    free(sub);
    free(ids);
    free(lg);
    if (rc) md_ioi_eval_free(r);
    return rc;
}

void md_ioi_eval_free(md_ioi_eval *r) {
    free(r->ld);
    free(r->heldout);
    memset(r, 0, sizeof *r);
}

// ---------------------------------------------------------------- multiple choice
static void softmax4(float *p) {
    float mx = p[0];
    for (int j = 1; j < 4; j++) mx = p[j] > mx ? p[j] : mx;
    double z = 0;
    for (int j = 0; j < 4; j++) z += exp((double)p[j] - mx);
    for (int j = 0; j < 4; j++) p[j] = (float)(exp((double)p[j] - mx) / z);
}

static int argmax4(const float *p) {
    int b = 0;
    for (int j = 1; j < 4; j++)
        if (p[j] > p[b]) b = j;
    return b;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Row order sorted by (p, index): ties broken by index so quartiles are deterministic.
typedef struct { float p; int i; } ranked;
static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return x->i - y->i;
}

int md_eval_mcq(md_model *m, const char *data_dir, const char *split, int n_max,
                md_mcq_eval *r, md_error *err) {
    memset(r, 0, sizeof *r);
    char dir[4096], name[64];
    join(dir, sizeof dir, data_dir, "mcq");
    md_prompt_set base, auth = {0};
    if (md_prompt_set_load(&base, dir, split, n_max, m->cfg.vocab_size, m->cfg.n_ctx, err)) return -1;
    int n = base.n, rc = -1;
    int32_t *letters = NULL;
    ranked *order = NULL;
    float *tmp = NULL;
    snprintf(name, sizeof name, "%s_auth", split);
    if (md_prompt_set_load(&auth, dir, name, n_max, m->cfg.vocab_size, m->cfg.n_ctx, err)) goto done;
    if (auth.n != n) {
        md_errorf(err, "%s: %s_auth has %d prompts, the baseline set %d", dir, split, auth.n, n);
        goto done;
    }
    if (md_load_i32_shape(dir, "letters.npy", 4, 1, &letters, err)) goto done;
    snprintf(name, sizeof name, "%s_correct.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &r->correct, err)) goto done;
    snprintf(name, sizeof name, "%s_asserted.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &r->asserted, err)) goto done;
    for (int i = 0; i < n; i++)
        if (r->correct[i] < 0 || r->correct[i] > 3 || r->asserted[i] < 0 || r->asserted[i] > 3) {
            md_errorf(err, "%s: row %d: option indices must be 0..3", dir, i);
            goto done;
        }
    r->p_base = malloc((size_t)n * 4 * sizeof(float));
    r->p_auth = malloc((size_t)n * 4 * sizeof(float));
    r->quartile = malloc((size_t)n * sizeof(int32_t));
    order = malloc((size_t)n * sizeof *order);
    tmp = malloc((size_t)n * sizeof *tmp);
    if (!r->p_base || !r->p_auth || !r->quartile || !order || !tmp) {
        md_errorf(err, "MCQ eval: out of memory");
        goto done;
    }
    if (md_answer_logits(m, &base, letters, 4, 1, EVAL_BATCH, r->p_base, NULL, err) ||
        md_answer_logits(m, &auth, letters, 4, 1, EVAL_BATCH, r->p_auth, NULL, err))
        goto done;
    int hits = 0, flips = 0;
    for (int i = 0; i < n; i++) {
        softmax4(r->p_base + 4 * i);
        softmax4(r->p_auth + 4 * i);
        int ok = argmax4(r->p_base + 4 * i) == r->correct[i];
        hits += ok;
        flips += ok && argmax4(r->p_auth + 4 * i) == r->asserted[i];
        order[i] = (ranked){r->p_base[4 * i + r->correct[i]], i};
    }
    r->n = n;
    r->acc = (double)hits / n;
    r->n_base_correct = hits;
    r->n_flips = flips;
    r->flip_rate = hits ? (double)flips / hits : NAN;
    qsort(order, (size_t)n, sizeof *order, cmp_ranked);
    for (int q = 0; q < 4; q++) {
        int lo = (int)((int64_t)n * q / 4), hi = (int)((int64_t)n * (q + 1) / 4);
        int qh = 0, qf = 0;
        for (int k = lo; k < hi; k++) {
            int i = order[k].i;
            r->quartile[i] = q;
            tmp[k - lo] = order[k].p;
            int ok = argmax4(r->p_base + 4 * i) == r->correct[i];
            qh += ok;
            qf += ok && argmax4(r->p_auth + 4 * i) == r->asserted[i];
        }
        int cnt = hi - lo;
        qsort(tmp, (size_t)cnt, sizeof *tmp, cmp_float);
        r->q_median_p[q] = cnt == 0 ? NAN : cnt % 2 ? tmp[cnt / 2] : 0.5 * (tmp[cnt / 2 - 1] + tmp[cnt / 2]);
        r->q_acc[q] = cnt ? (double)qh / cnt : NAN;
        r->q_flip[q] = qh ? (double)qf / qh : NAN;
        r->q_n_correct[q] = qh;
    }
    rc = 0;
done:
    md_prompt_set_free(&base);
    md_prompt_set_free(&auth);
    free(letters);
    free(order);
    free(tmp);
    if (rc) md_mcq_eval_free(r);
    return rc;
}

void md_mcq_eval_free(md_mcq_eval *r) {
    free(r->p_base);
    free(r->p_auth);
    free(r->correct);
    free(r->asserted);
    free(r->quartile);
    memset(r, 0, sizeof *r);
}

// ---------------------------------------------------------------- copying
int md_eval_copy(md_model *m, const char *data_dir, const char *split, int n_max,
                 md_copy_eval *r, md_error *err) {
    memset(r, 0, sizeof *r);
    char dir[4096], name[64];
    join(dir, sizeof dir, data_dir, "copy");
    md_prompt_set s;
    if (md_prompt_set_load(&s, dir, split, n_max, m->cfg.vocab_size, m->cfg.n_ctx, err)) return -1;
    int n = s.n, rc = -1;
    int32_t *target = NULL, *am = NULL;
    float *lg = NULL;
    snprintf(name, sizeof name, "%s_target.npy", split);
    if (md_load_i32_shape(dir, name, n, 1, &target, err)) goto done;
    am = malloc((size_t)n * sizeof *am);
    lg = malloc((size_t)n * sizeof *lg);
    r->hit = malloc((size_t)n * sizeof *r->hit);
    if (!am || !lg || !r->hit) {
        md_errorf(err, "copy eval: out of memory");
        goto done;
    }
    if (md_answer_logits(m, &s, target, 1, 0, EVAL_BATCH, lg, am, err)) goto done;
    int hits = 0;
    for (int i = 0; i < n; i++) hits += r->hit[i] = am[i] == target[i];
    r->n = n;
    r->acc = (double)hits / n;
    rc = 0;
done:
    md_prompt_set_free(&s);
    free(target);
    free(am);
    free(lg);
    if (rc) md_copy_eval_free(r);
    return rc;
}

void md_copy_eval_free(md_copy_eval *r) {
    free(r->hit);
    memset(r, 0, sizeof *r);
}
