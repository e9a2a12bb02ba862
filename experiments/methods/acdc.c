// ACDC (Conmy et al. 2023): visit the receivers in reverse topological order; for each
// incoming edge (latest source first) try removing it; keep it removed when the loss
// grows by less than tau. Loss: KL(full || circuit) at the answer position, or the lost
// logit difference LD(full) - LD(circuit); removed edges take the session's ablation
// (corrupted activations in ACDC).
//
// Speed-ups that do not change the result: a trial only recomputes the layers from the
// receiver's layer on (the earlier layers are unaffected by its edges), and a receiver
// whose node no longer reaches the logits through kept edges has all its incoming edges
// removed without trials (its output is ablated everywhere, so they cannot matter).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"
#include "tensor/threads.h"

typedef struct acdc_state {
    md_csession *s;
    md_metric metric;
    int n;                 // rows
    double ref_ld_mean;
} acdc_state;

static int loss_of(acdc_state *a, const float *mask, int from_layer, double *loss, md_error *err) {
    md_csession *s = a->s;
    const md_task_batch *task = s->task;
    int V = s->model->cfg.vocab_size;
    if (md_csession_forward_from(s, 0, a->n, mask, NULL, from_layer, err)) return -1;
    if (a->metric == MD_METRIC_KL) {
        *loss = md_metric_sum(MD_METRIC_KL, s->ef.logits, a->n, V, task->good, task->bad,
                              s->ref_logp, NULL, 1.0f) / a->n;
    } else {
        double ld = md_metric_sum(MD_METRIC_LD, s->ef.logits, a->n, V, task->good, task->bad,
                                  NULL, NULL, 1.0f) / a->n;
        *loss = a->ref_ld_mean - ld;
    }
    return 0;
}

// Does node v reach the logits through kept edges? (alive, by the current mask)
static void compute_alive(const md_cgraph *g, const float *mask, uint8_t *alive) {
    memset(alive, 0, (size_t)g->n_nodes);
    alive[md_cgraph_logits(g)] = 1;
    for (int r = g->n_recv - 1; r >= 0; r--)
        for (int e = g->recv_edge0[r]; e < g->recv_edge0[r + 1]; e++)
            if (mask[e] != 0.0f && alive[g->edges[e].dst]) alive[g->edges[e].src] = 1;
}

int md_acdc(md_csession *s, const md_acdc_config *cfg, float *mask, float *score,
            md_acdc_result *res, md_error *err) {
    const md_cgraph *g = &s->g;
    const md_task_batch *task = s->task;
    double t0 = md_now();
    if (cfg->metric != MD_METRIC_KL && cfg->metric != MD_METRIC_LD)
        return md_errorf(err, "ACDC: metric must be kl or ld, got %s", md_metric_name(cfg->metric));
    acdc_state a = {s, cfg->metric, task->n, 0};
    if (cfg->max_rows > 0 && cfg->max_rows < a.n) a.n = cfg->max_rows;
    if (a.n > s->batch)
        return md_errorf(err, "ACDC: its %d rows must fit one batch (the session's batch is %d; "
                              "raise the batch or lower the rows)", a.n, s->batch);
    if (md_csession_reference(s, err)) return -1;
    for (int i = 0; i < a.n; i++) a.ref_ld_mean += s->ref_ld[i];
    a.ref_ld_mean /= a.n;
    uint8_t *alive = malloc((size_t)g->n_nodes);
    if (!alive) return md_errorf(err, "ACDC: out of memory");
    for (int e = 0; e < g->n_edges; e++) mask[e] = 1.0f;
    if (score)
        for (int e = 0; e < g->n_edges; e++) score[e] = 0.0f;
    double cur;
    int forwards = 1, rc = -1;
    if (loss_of(&a, mask, 0, &cur, err)) goto done;
    for (int r = g->n_recv - 1; r >= 0; r--) {
        int v = g->recv_node[r], layer = g->recv_layer[r];
        int e0 = g->recv_edge0[r], e1 = g->recv_edge0[r + 1];
        if (g->nodes[v].kind != MD_CN_LOGITS) {
            compute_alive(g, mask, alive);
            if (!alive[v]) {
                for (int e = e0; e < e1; e++) mask[e] = 0.0f;
                continue;
            }
        }
        int kept_before = 0;
        for (int e = e1 - 1; e >= e0; e--) {
            mask[e] = 0.0f;
            double trial;
            if (loss_of(&a, mask, layer, &trial, err)) goto done;
            forwards++;
            if (score) score[e] = (float)(trial - cur);
            if (trial - cur < cfg->tau) {
                cur = trial;
            } else {
                mask[e] = 1.0f;
                kept_before++;
            }
        }
        if (cfg->verbose && s->log)
            fprintf(s->log, "acdc: receiver %d (%s%s%s): %d of %d edges kept, loss %.5g\n", r,
                    g->nodes[v].name, g->nodes[v].kind == MD_CN_HEAD ? "<" : "",
                    g->nodes[v].kind == MD_CN_HEAD ? md_cgraph_slot_name(g->recv_slot[r]) : "",
                    kept_before, e1 - e0, cur);
    }
    // Edges out of nodes that ended up unreachable from the input are inert too; keep the
    // mask as ACDC leaves it, but recompute the loss of the final circuit from scratch.
    double fin;
    if (loss_of(&a, mask, 0, &fin, err)) goto done;
    forwards++;
    if (res) {
        res->forwards = forwards;
        res->edges_left = 0;
        for (int e = 0; e < g->n_edges; e++) res->edges_left += mask[e] != 0.0f;
        res->final_loss = fin;
        res->seconds = md_now() - t0;
    }
    rc = 0;
done:
    free(alive);
    return rc;
}
