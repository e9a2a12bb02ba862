// The frozen evaluation protocol, the same at every checkpoint:
//   1. EAP-IG edge scores (inputs variant, ig_steps, LD metric) on the n_eval test prompts
//   2. the circuit = top_n edges by |score|; under mean ablation (per-template means of
//      this model's node outputs over n_mean p_ABC rows): LD and accuracy of the full
//      model, the circuit's LD and normalised faithfulness, and the base circuit's
//      faithfulness on this model
//   3. per-head DLA, attention END -> IO and END -> S, previous-token / duplicate-token /
//      induction scores, and the Pearson correlation of the DLA with the base model's
//   4. edge and node IoU of the circuit with the base circuit
//   5. CMAP: every head of this model patched into the base model, and the reverse
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"

// Forget everything the session computed for earlier weights (the model's weights change
// between checkpoints; the graph and workspace stay).
static void session_reset(md_csession *s) {
    md_ablation_free(&s->abl);
    s->abl_start = -1;
    s->abl_n = 0;
    s->abl_default_ref = false;
    free(s->ref_logp);
    free(s->ref_ld);
    s->ref_logp = s->ref_ld = NULL;
    s->have_ref = false;
}

int np_eval_init(np_evaluator *ev, const np_config *c, const np_data *d, md_model *base,
                 md_model *work, md_error *err) {
    memset(ev, 0, sizeof *ev);
    ev->cfg = c;
    ev->data = d;
    ev->base = base;
    if (md_csession_init(&ev->base_s, base, &d->eval, c->eval_batch, err)) return -1;
    if (md_csession_init(&ev->work_s, work, &d->eval, c->eval_batch, err)) {
        md_csession_free(&ev->base_s);
        return -1;
    }
    int L = base->cfg.n_layer, H = base->cfg.n_head;
    ev->base_mask = malloc((size_t)ev->base_s.g.n_edges * sizeof(float));
    ev->base_dla = malloc((size_t)L * H * sizeof(float));
    ev->cmap_buf = malloc((size_t)L * H * sizeof(float));
    if (!ev->base_mask || !ev->base_dla || !ev->cmap_buf || md_circuit_init(&ev->base_c, &ev->base_s.g, err)) {
        np_eval_free(ev);
        return md_errorf(err, "exp-neuroplasticity: out of memory (evaluator)");
    }
    return 0;
}

void np_eval_free(np_evaluator *ev) {
    md_csession_free(&ev->base_s);
    md_csession_free(&ev->work_s);
    md_circuit_free(&ev->base_c);
    free(ev->base_mask);
    free(ev->base_dla);
    free(ev->cmap_buf);
    memset(ev, 0, sizeof *ev);
}

// Steps 1-4 for the session's model into (s, k). is_base: this is the base model (its
// circuit and DLA become the references).
static int eval_common(np_evaluator *ev, md_csession *ss, np_results *r, int s, int k,
                       bool is_base, md_error *err) {
    const np_config *c = ev->cfg;
    const md_model *m = ss->model;
    int L = r->L, H = r->H, E = r->E, LH = L * H;
    int64_t sk = (int64_t)s * r->K + k;
    float *score = r->scores + sk * E;
    float *mask = malloc((size_t)E * sizeof(float));
    md_circuit circ = {0};
    int rc = -1;
    if (!mask) return md_errorf(err, "exp-neuroplasticity: out of memory");
    session_reset(ss);
    md_eap_config ecfg = {.metric = MD_METRIC_LD, .ig_steps = c->ig_steps};
    if (md_eap_scores(ss, &ecfg, score, err)) goto done;
    if (md_csession_set_ablation(ss, MD_ABL_MEAN, &ev->data->mean_ref, true, err)) goto done;
    if (md_circuit_init(&circ, &ss->g, err) || md_circuit_top_n(&circ, score, c->top_n, err)) goto done;
    md_circuit_to_mask(&circ, mask);
    md_circuit_eval e;
    if (md_evaluate_circuit(ss, mask, &e, err)) goto done;
    r->ld[sk] = (float)e.ld_full;
    r->acc[sk] = (float)e.acc_full;
    r->faith[sk] = (float)e.faithfulness;
    r->ld_circuit[sk] = (float)e.ld_circuit;
    if (is_base) {
        memcpy(ev->base_mask, mask, (size_t)E * sizeof(float));
        if (md_circuit_top_n(&ev->base_c, score, c->top_n, err)) goto done;
        r->faith_base[sk] = (float)e.faithfulness;
    } else {
        md_circuit_eval eb;
        if (md_evaluate_circuit(ss, ev->base_mask, &eb, err)) goto done;
        r->faith_base[sk] = (float)eb.faithfulness;
    }
    r->edge_iou[sk] = (float)md_edge_iou(&circ, &ev->base_c);
    r->node_iou[sk] = (float)md_node_iou(&circ, &ev->base_c);
    float *hd[6];  // each (L, H) of this checkpoint
    for (int i = 0; i < 6; i++) hd[i] = r->heads[i] + sk * LH;
    if (md_head_dla(ss, hd[NP_HEAD_DLA], err) ||
        md_head_name_attention(ss, hd[NP_HEAD_ATT_IO], hd[NP_HEAD_ATT_S], err) ||
        md_head_pattern_scores(m, c->pattern_n, c->pattern_len, (uint64_t)c->pattern_seed,
                               hd[NP_HEAD_PREV], hd[NP_HEAD_DUP], hd[NP_HEAD_IND], err))
        goto done;
    if (is_base) memcpy(ev->base_dla, hd[NP_HEAD_DLA], (size_t)LH * sizeof(float));
    r->dla_corr[sk] = (float)np_pearson(hd[NP_HEAD_DLA], ev->base_dla, LH);
    rc = 0;
done:
    free(mask);
    md_circuit_free(&circ);
    return rc;
}

int np_eval_base(np_evaluator *ev, np_results *r, int s, md_error *err) {
    if (eval_common(ev, &ev->base_s, r, s, 0, true, err)) return -1;
    int64_t LH = (int64_t)r->L * r->H;
    // Patching the base model into itself changes nothing.
    for (int i = 0; i < 2; i++) memset(r->cmap[i] + (int64_t)s * r->K * LH, 0, (size_t)LH * sizeof(float));
    return 0;
}

int np_eval_work(np_evaluator *ev, md_model *work, np_results *r, int s, int k, md_error *err) {
    if (eval_common(ev, &ev->work_s, r, s, k, false, err)) return -1;
    int64_t LH = (int64_t)r->L * r->H;
    int64_t sk = (int64_t)s * r->K + k;
    const md_task_batch *t = &ev->data->eval;
    if (np_cmap(ev->base, work, t, ev->cfg->n_cmap, r->cmap[0] + sk * LH, err) ||
        np_cmap(work, ev->base, t, ev->cfg->n_cmap, r->cmap[1] + sk * LH, err))
        return md_error_prefix(err, "CMAP: ");
    return 0;
}
