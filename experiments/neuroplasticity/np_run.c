// The driver: loads the base model twice (a read-only reference and the working copy
// the trainer updates), evaluates the base, then per seed runs the clean fine-tuning,
// every toxic run from the final clean weights and the retraining right after each toxic
// run, evaluating at every checkpoint epoch. Weights move between stages by copying the
// trainer's flat arena, so nothing is written to disk but the results.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "model/train.h"
#include "tensor/fileio.h"
#include "tensor/manifest.h"
#include "tensor/threads.h"

typedef struct np_ctx {
    const np_config *cfg;
    const np_options *opt;
    const np_plan *plan;
    np_data data;
    md_model base, work;
    bool have_base, have_work, wrapped, have_eval;
    md_model_trainer_ctx tctx;
    np_evaluator ev;
    np_results *r;
    double t_train, t_eval;
} np_ctx;

static FILE *logf_of(const np_ctx *x) { return x->opt->log; }

// Trains the working model for run `ri` of the plan, evaluating at its checkpoint epochs.
static int train_run(np_ctx *x, int s, int ri, md_error *err) {
    const np_config *c = x->cfg;
    const np_run_desc *run = &x->plan->runs[ri];
    int64_t seed = c->seeds[s];
    int spe = c->n_train / c->batch;  // steps per epoch (validated: exact)
    int last_epoch = x->plan->ckpts[run->first_ckpt + run->n_ckpt - 1].epoch;
    // Data order: a stream per (seed, run); which examples are poisoned: per seed only.
    uint64_t data_seed = (uint64_t)seed * 1000003ULL + (uint64_t)ri;
    int variant = run->stage == NP_STAGE_TOXIC ? run->variant : NP_VAR_CLEAN;
    md_train_data d;
    md_data_init(&d, data_seed, x->data.pad_id);
    md_trainer tr;
    bool have_tr = false;
    int rc = -1;
    if (np_data_sft(&x->data, variant, run->fraction, (uint64_t)seed, &d, err)) goto done;
    md_train_options o;
    md_train_options_default(&o);
    o.steps = (int64_t)last_epoch * spe;
    o.batch = c->batch;
    o.seq_len = x->data.T_train;
    o.accum = 1;
    o.sched = (md_schedule){.lr = c->lr, .min_lr = c->lr, .warmup = c->warmup, .total = o.steps,
                            .decay = MD_DECAY_CONSTANT};
    o.adamw = (md_adamw_config){.beta1 = c->beta1, .beta2 = c->beta2, .eps = 1e-8,
                                .weight_decay = c->weight_decay, .decay_all = false};
    o.clip = c->clip;
    o.seed = data_seed;
    o.quiet = true;
    o.progress = 0;
    if (md_trainer_init(&tr, &x->tctx.tm, &d, &o, NULL, err)) goto done;
    have_tr = true;
    int next = 0;
    for (int64_t step = 0; step < o.steps; step++) {
        double t0 = md_now(), loss;
        if (md_trainer_step(&tr, &loss, err)) goto done;
        x->t_train += md_now() - t0;
        if ((step + 1) % spe) continue;
        int epoch = (int)((step + 1) / spe);
        int k = run->first_ckpt + next;
        if (next >= run->n_ckpt || x->plan->ckpts[k].epoch != epoch) continue;
        double sum = 0;
        for (int64_t i = step + 1 - spe; i <= step; i++) sum += tr.loss_curve[i];
        x->r->train_loss[(int64_t)s * x->r->K + k] = (float)(sum / spe);
        t0 = md_now();
        if (np_eval_work(&x->ev, &x->work, x->r, s, k, err))
            goto done;
        x->t_eval += md_now() - t0;
        int64_t sk = (int64_t)s * x->r->K + k;
        if (logf_of(x))
            fprintf(logf_of(x), "neuroplasticity: seed %lld %-22s loss %.4f  LD %+7.3f  acc %.3f  "
                                "faith %.3f  base-circuit faith %.3f  edge IoU %.3f  (%.1f s)\n",
                    (long long)seed, x->plan->ckpts[k].name, x->r->train_loss[sk], x->r->ld[sk],
                    x->r->acc[sk], x->r->faith[sk], x->r->faith_base[sk], x->r->edge_iou[sk],
                    md_now() - t0);
        next++;
    }
    rc = 0;
done:
    if (have_tr) md_trainer_free(&tr);
    md_data_free(&d);
    return rc;
}

// Edge IoU between every pair of a seed's checkpoint circuits.
static int overlap_matrix(np_ctx *x, int s, md_error *err) {
    np_results *r = x->r;
    int K = r->K;
    md_circuit *cs = calloc((size_t)K, sizeof *cs);
    int rc = -1;
    if (!cs) return md_errorf(err, "exp-neuroplasticity: out of memory");
    for (int k = 0; k < K; k++)
        if (md_circuit_init(&cs[k], &x->ev.base_s.g, err) ||
            md_circuit_top_n(&cs[k], r->scores + ((int64_t)s * K + k) * r->E, x->cfg->top_n, err))
            goto done;
    for (int a = 0; a < K; a++)
        for (int b = 0; b < K; b++)
            r->overlap[((int64_t)s * K + a) * K + b] = (float)md_edge_iou(&cs[a], &cs[b]);
    rc = 0;
done:
    for (int k = 0; k < K; k++) md_circuit_free(&cs[k]);
    free(cs);
    return rc;
}

static void copy_base_slot(np_results *r, int s) {
    np_array_ref a[24];
    int n = np_results_arrays(r, a, 24);
    for (int i = 0; i < n; i++) {
        if (a[i].per_ckpt == r->K && a[i].data == r->overlap) continue;  // computed per seed
        memcpy(a[i].data + (int64_t)s * r->K * a[i].per_ckpt, a[i].data,
               (size_t)a[i].per_ckpt * sizeof(float));
    }
}

static int run_seed(np_ctx *x, int s, float *w_base, float *w_clean, md_error *err) {
    const np_plan *p = x->plan;
    int64_t n = x->tctx.tm.n_elems;
    float *w = x->tctx.tm.weights;
    memcpy(w, w_base, (size_t)n * sizeof(float));
    if (p->n_runs == 0) return 0;
    if (train_run(x, s, 0, err)) return -1;
    memcpy(w_clean, w, (size_t)n * sizeof(float));
    for (int ri = 1; ri < p->n_runs; ri++) {
        if (p->runs[ri].stage != NP_STAGE_TOXIC) continue;
        memcpy(w, w_clean, (size_t)n * sizeof(float));
        if (train_run(x, s, ri, err)) return -1;
        for (int rj = ri + 1; rj < p->n_runs; rj++)
            if (p->runs[rj].stage == NP_STAGE_RETRAIN && p->runs[rj].parent == ri &&
                train_run(x, s, rj, err))
                return -1;
    }
    return 0;
}

int np_run(const np_config *c, const np_options *o, np_results *r, np_plan *plan,
           md_error *err) {
    if (np_config_validate(c, err)) return -1;
    double t_start = md_now();
    np_ctx x;
    memset(&x, 0, sizeof x);
    x.cfg = c;
    x.opt = o;
    x.plan = plan;
    x.r = r;
    memset(r, 0, sizeof *r);
    float *w_base = NULL, *w_clean = NULL;
    md_manifest *man = NULL;
    int rc = -1;
    if (np_plan_build(plan, c, o->max_stage, err)) return -1;
    if (md_model_load(&x.base, o->model_dir, false, err)) goto done;
    x.have_base = true;
    if (md_model_load(&x.work, o->model_dir, false, err)) goto done;
    x.have_work = true;
    if (np_data_load(&x.data, o->data_dir, c, x.base.cfg.vocab_size, err)) goto done;
    if (x.data.T_train > x.base.cfg.n_ctx || x.data.eval.T > x.base.cfg.n_ctx) {
        md_errorf(err, "exp-neuroplasticity: prompts of %d tokens exceed the model's context %d",
                  x.data.T_train, x.base.cfg.n_ctx);
        goto done;
    }
    if (md_train_model_wrap(&x.tctx, &x.work, c->batch, x.data.T_train, false, err)) goto done;
    x.wrapped = true;
    if (np_eval_init(&x.ev, c, &x.data, &x.base, &x.work, err)) goto done;
    x.have_eval = true;
    int S = o->seed_limit > 0 && o->seed_limit < c->n_seeds ? o->seed_limit : c->n_seeds;
    if (np_results_alloc(r, S, plan->n_ckpts, x.base.cfg.n_layer, x.base.cfg.n_head,
                         x.ev.base_s.g.n_edges, err))
        goto done;
    int64_t n = x.tctx.tm.n_elems;
    w_base = malloc((size_t)n * sizeof(float));
    w_clean = malloc((size_t)n * sizeof(float));
    if (!w_base || !w_clean) {
        md_errorf(err, "exp-neuroplasticity: out of memory for weight snapshots");
        goto done;
    }
    memcpy(w_base, x.tctx.tm.weights, (size_t)n * sizeof(float));
    if (o->log)
        fprintf(o->log, "neuroplasticity: %s: %d layers x %d heads, %d edges; %d seeds x %d "
                        "checkpoints; %d training prompts (%d steps/epoch), %d eval prompts; "
                        "%d threads\n", o->model_dir, r->L, r->H, r->E, S, r->K, c->n_train,
                c->n_train / c->batch, c->n_eval, md_threads());
    double t0 = md_now();
    if (np_eval_base(&x.ev, r, 0, err)) goto done;
    x.t_eval += md_now() - t0;
    if (o->log)
        fprintf(o->log, "neuroplasticity: base: LD %+.3f acc %.3f faith %.3f (%d edges) (%.1f s)\n",
                r->ld[0], r->acc[0], r->faith[0], c->top_n, md_now() - t0);
    for (int s = 1; s < S; s++) copy_base_slot(r, s);
    for (int s = 0; s < S; s++) {
        if (run_seed(&x, s, w_base, w_clean, err)) goto done;
        if (overlap_matrix(&x, s, err)) goto done;
    }
    if (o->log)
        fprintf(o->log, "neuroplasticity: training %.1f s, evaluation %.1f s, total %.1f s\n",
                x.t_train, x.t_eval, md_now() - t_start);
    if (o->out_dir) {
        if (md_mkdirs(o->out_dir, err)) goto done;
        man = md_manifest_new(o->out_dir, "neuroplasticity", o->argc, o->argv, err);
        if (!man) goto done;
        man->start = t_start;
        if (md_manifest_model(man, o->model_dir, err)) goto done;
        md_manifest_config(man, "model", "%s", o->model_dir);
        md_manifest_config(man, "data", "%s", o->data_dir);
        if (o->config_path) md_manifest_config(man, "config", "%s", o->config_path);
        np_config_manifest(c, man);
        md_manifest_config(man, "seeds_run", "%d", S);
        md_manifest_config(man, "max_stage", "%d", o->max_stage);
        md_manifest_config(man, "threads", "%d", md_threads());
        md_manifest_stage(man, "train", x.t_train);
        md_manifest_stage(man, "evaluate", x.t_eval);
        if (np_results_save(r, plan, o->out_dir, man, err)) goto done;
        if (o->write_report) {
            char path[2048];
            snprintf(path, sizeof path, "%s/report.md", o->out_dir);
            if (np_report_write(r, plan, c, path, o->model_dir, err)) goto done;
        }
        if (md_manifest_write(man, err)) goto done;
    }
    rc = 0;
done:
    if (rc) np_results_free(r);
    md_manifest_free(man);
    free(w_base);
    free(w_clean);
    if (x.have_eval) np_eval_free(&x.ev);
    if (x.wrapped) md_train_model_unwrap(&x.tctx);
    np_data_free(&x.data);
    if (x.have_work) md_model_free(&x.work);
    if (x.have_base) md_model_free(&x.base);
    return rc;
}
