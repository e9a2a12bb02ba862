// The organism's attention-head table: which heads look like the classes the IOI
// circuit is built from (Wang et al.): previous-token, duplicate-token, induction,
// name movers. Candidates only: the circuit toolkit tests them causally.
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"
#include "experiments/organism/behaviour.h"

int md_eval_heads(const md_model *m, const char *data_dir, const char *split, int n_ioi,
                  uint64_t seed, md_head_table *t, md_error *err) {
    memset(t, 0, sizeof *t);
    int L = m->cfg.n_layer, H = m->cfg.n_head;
    float *buf = calloc((size_t)L * H * 6, sizeof(float));
    if (!buf) return md_errorf(err, "head table: out of memory");
    t->L = L, t->H = H;
    t->prev = buf, t->dup = buf + L * H, t->ind = buf + 2 * L * H;
    t->dla = buf + 3 * L * H, t->att_io = buf + 4 * L * H, t->att_s = buf + 5 * L * H;
    // Two copies of 20 random tokens (or what the context allows) after BOS.
    int len = m->cfg.n_ctx >= 41 ? 20 : (m->cfg.n_ctx - 1) / 2;
    if (md_head_pattern_scores(m, 32, len, seed, t->prev, t->dup, t->ind, err)) goto fail;
    md_task_files f;
    md_task_batch task = {0};
    md_csession s = {0};
    md_task_files_ioi(&f, data_dir, split);
    if (md_task_batch_load(&f, &task, err)) goto fail;
    if (n_ioi > 0 && n_ioi < task.n) task.n = n_ioi;
    int rc = md_csession_init(&s, m, &task, 50, err);
    if (!rc) rc = md_head_dla(&s, t->dla, err);
    if (!rc) rc = md_head_name_attention(&s, t->att_io, t->att_s, err);
    md_csession_free(&s);
    md_task_batch_free(&task);
    if (rc) goto fail;
    return 0;
fail:
    md_head_table_free(t);
    return -1;
}

void md_head_table_free(md_head_table *t) {
    free(t->prev);  // one buffer holds all six arrays
    memset(t, 0, sizeof *t);
}

int md_head_candidates(const md_head_table *t, md_head_class cls, float min, int k, int *out) {
    int n = 0, LH = t->L * t->H;
    const float *score = cls == MD_HEAD_PREV ? t->prev : cls == MD_HEAD_DUP ? t->dup
                       : cls == MD_HEAD_IND  ? t->ind : t->dla;
    // Selection sort over at most k picks: LH is small (tens to a few hundred heads).
    unsigned char *taken = calloc((size_t)LH, 1);
    if (!taken) return 0;
    while (n < k) {
        int best = -1;
        for (int i = 0; i < LH; i++) {
            if (taken[i] || score[i] <= min) continue;
            if (cls == MD_HEAD_NAME_MOVER && t->att_io[i] <= t->att_s[i]) continue;
            if (best < 0 || score[i] > score[best]) best = i;
        }
        if (best < 0) break;
        taken[best] = 1;
        out[n++] = best;
    }
    free(taken);
    return n;
}
