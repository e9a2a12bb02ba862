// `mechdrift circuit`: locate, evaluate and draw circuits (experiments/methods/circuit.h).
//
//   mechdrift circuit --method eap|eap-ig|acdc|mask|oasr|patch|eval|heads
//                     --model DIR|random --task ioi|files|synthetic [--data DIR] --out DIR
//
// Writes into --out: circuit.json (EAP-IG's layout), scores.npy (per edge, the graph's
// edge order = the JSON's), eval.json (faithfulness etc.), circuit.dot/.svg/.png, and
// manifest.json; oasr writes sheaf_K.* and oasr.json; patch writes patch_effect.npy;
// heads writes dla.npy and pattern scores.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "experiments/methods/circuit.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/manifest.h"
#include "tensor/npy.h"
#include "tensor/threads.h"

static const char *usage =
    "usage: mechdrift circuit --method METHOD --model DIR|random --out DIR\n"
    "                         [--task ioi|files|synthetic] [--data DIR] [options]\n\n"
    "Circuit discovery on the EAP-IG graph (input, a{l}.h{h}, m{l}, logits; q/k/v edges):\n"
    "  eap      edge attribution patching (gradient at the clean input)\n"
    "  eap-ig   EAP with integrated gradients, inputs variant (--steps m)\n"
    "  acdc     ACDC (--tau, --metric kl|ld), corrupted ablation by default\n"
    "  mask     learned edge masks (--mask-kind gumbel|hard-concrete)\n"
    "  oasr     several circuits with an overlap penalty (--sheaves K; OASR's settings)\n"
    "  patch    activation patching of every node (--per-position)\n"
    "  eval     evaluate --circuit FILE.json (faithfulness, completeness, minimality)\n"
    "  heads    direct logit attribution and head classes\n"
    "Tasks: ioi = the data pipeline's arrays under --data (DATA/ioi/SPLIT_*.npy), or without\n"
    "--data IOI prompts tokenized with the model's tokenizer; files = a task-batch folder\n"
    "(--data: clean_tokens.npy, corrupt_tokens.npy, answer_pos.npy, good.npy, bad.npy, ...);\n"
    "synthetic = token-level IOI (any model). --model random = a random-init model of the\n"
    "organism's shape. Scores follow EAP-IG's sign: metric change when the edge is ablated.";

typedef struct opts {
    const char *method, *model, *task, *data, *split, *out, *ablation, *eval_ablation, *metric,
        *mask_kind, *circuit, *process, *good_file, *name_movers;
    int64_t n, batch, steps, top_n, acdc_rows, epochs, sheaves, seed, completeness_samples;
    double tau, lr, lambda_sparse, lambda_overlap, lambda_complete, target_density,
        target_faithfulness;
    bool per_position, no_render, prune, verbose, ig_right;
} opts;

// ---------------------------------------------------------------- helpers
static const char *path_in(const char *dir, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static int save_array(md_manifest *man, const char *dir, const char *file, md_tensor t,
                      const char *axes, md_error *err) {
    char p[2048];
    if (md_npy_save(path_in(dir, file, p, sizeof p), &t, err)) return -1;
    md_manifest_array(man, file, &t, axes);
    return 0;
}

// circuit.json + .dot/.svg/.png under dir with the given stem.
static int write_circuit(const opts *o, md_manifest *man, const md_circuit *c, const char *stem,
                         const char *title, md_error *err) {
    char p[2048], d[2048], sv[2048], pn[2048], name[256], extra[512];
    snprintf(extra, sizeof extra, "task=%s ablation=%s metric=%s n=%lld", o->task, o->ablation,
             o->metric, (long long)o->n);
    md_circuit_meta meta = {o->method, o->model, o->task, extra};
    snprintf(name, sizeof name, "%s.json", stem);
    if (md_circuit_save_json(c, &meta, path_in(o->out, name, p, sizeof p), err)) return -1;
    md_manifest_config(man, name, "circuit: %d edges, %d nodes (EAP-IG JSON)",
                       md_circuit_n_edges(c), md_circuit_n_nodes(c));
    snprintf(name, sizeof name, "%s.dot", stem);
    if (md_circuit_save_dot(c, title, path_in(o->out, name, d, sizeof d), err)) return -1;
    if (o->no_render) return 0;
    snprintf(name, sizeof name, "%s.svg", stem);
    path_in(o->out, name, sv, sizeof sv);
    snprintf(name, sizeof name, "%s.png", stem);
    path_in(o->out, name, pn, sizeof pn);
    return md_circuit_render(d, sv, pn, err);
}

static void jw_eval(md_json_writer *w, const md_circuit_eval *ev) {
    md_jw_key(w, "ld_full");
    md_jw_number(w, ev->ld_full);
    md_jw_key(w, "ld_empty");
    md_jw_number(w, ev->ld_empty);
    md_jw_key(w, "ld_circuit");
    md_jw_number(w, ev->ld_circuit);
    md_jw_key(w, "acc_full");
    md_jw_number(w, ev->acc_full);
    md_jw_key(w, "acc_circuit");
    md_jw_number(w, ev->acc_circuit);
    md_jw_key(w, "kl_circuit");
    md_jw_number(w, ev->kl_circuit);
    md_jw_key(w, "faithfulness");
    md_jw_number(w, ev->faithfulness);
    md_jw_key(w, "ratio");
    md_jw_number(w, ev->ratio);
}

// Evaluates c under the evaluation ablation and writes eval.json.
static int evaluate_and_write(const opts *o, md_manifest *man, md_csession *s,
                              md_ablation_kind eval_abl, const md_circuit *c, md_error *err) {
    const md_cgraph *g = &s->g;
    if (md_csession_set_ablation(s, eval_abl, NULL, true, err)) return -1;
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    if (!mask) return md_errorf(err, "out of memory");
    md_circuit_to_mask(c, mask);
    md_circuit_eval ev;
    int rc = -1;
    double mean_gap = NAN, max_gap = NAN;
    if (md_evaluate_circuit(s, mask, &ev, err)) goto done;
    if (o->completeness_samples > 0 &&
        md_completeness(s, c, (int)o->completeness_samples, (uint64_t)o->seed, &mean_gap, &max_gap, err))
        goto done;
    fprintf(stderr, "circuit: %d edges, %d nodes; LD full %.4f, empty %.4f, circuit %.4f; "
                    "normalised faithfulness %.4f (%s ablation); accuracy %.3f; KL %.4g\n",
            md_circuit_n_edges(c), md_circuit_n_nodes(c), ev.ld_full, ev.ld_empty, ev.ld_circuit,
            ev.faithfulness, md_ablation_name(eval_abl), ev.acc_circuit, ev.kl_circuit);
    char p[2048];
    md_atomic_file af;
    if (md_atomic_open(&af, path_in(o->out, "eval.json", p, sizeof p), err)) goto done;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "ablation");
    md_jw_string(&w, md_ablation_name(eval_abl));
    md_jw_key(&w, "edges");
    md_jw_int(&w, md_circuit_n_edges(c));
    md_jw_key(&w, "nodes");
    md_jw_int(&w, md_circuit_n_nodes(c));
    md_jw_key(&w, "edge_density");
    md_jw_number(&w, (double)md_circuit_n_edges(c) / g->n_edges);
    jw_eval(&w, &ev);
    md_jw_key(&w, "completeness_mean_gap");
    md_jw_number(&w, mean_gap);
    md_jw_key(&w, "completeness_max_gap");
    md_jw_number(&w, max_gap);
    md_jw_object_end(&w);
    fputc('\n', af.f);
    if (md_atomic_commit(&af, err)) goto done;
    md_manifest_config(man, "eval.faithfulness", "%.6f", ev.faithfulness);
    rc = 0;
done:
    free(mask);
    return rc;
}

static int load_task(const opts *o, const md_model *m, md_task_batch *t, md_error *err) {
    if (strcmp(o->task, "synthetic") == 0) {
        md_synth_ioi s = {.n = (int)o->n, .vocab = m->cfg.vocab_size, .n_names = 100,
                          .n_templates = 15, .min_len = 14, .max_len = 20, .seed = (uint64_t)o->seed};
        if (m->cfg.vocab_size < 164) s.n_names = m->cfg.vocab_size - 64 > 4 ? m->cfg.vocab_size - 64 : 4;
        return md_task_batch_synthetic_ioi(&s, t, err);
    }
    md_task_files f;
    if (strcmp(o->task, "files") == 0) {
        if (!o->data) return md_errorf(err, "--task files needs --data DIR");
        md_task_files_in(&f, o->data);
    } else if (strcmp(o->task, "ioi") == 0) {
        if (!o->data) {
            if (strcmp(o->model, "random") == 0)
                return md_errorf(err, "--task ioi without --data needs a model with a tokenizer "
                                      "(use --task synthetic with --model random)");
            md_tokenizer *tok = md_tokenizer_load_dir(o->model, err);
            if (!tok) return md_error_prefix(err, "--task ioi (tokenizing with the model's tokenizer): ");
            int split = strcmp(o->split, "train") == 0 ? 0 : strcmp(o->split, "val") == 0 ? 1 : 2;
            int rc = md_task_batch_ioi_text(tok, (int)o->n, split, t, err);
            md_tokenizer_free(tok);
            return rc;
        }
        md_task_files_ioi(&f, o->data, o->split);
    } else {
        return md_errorf(err, "--task '%s': expected ioi, files or synthetic", o->task);
    }
    if (o->good_file) f.good = o->good_file;
    if (md_task_batch_load(&f, t, err)) return -1;
    if (o->n > 0 && o->n < t->n) t->n = (int)o->n;
    return 0;
}

// ---------------------------------------------------------------- methods
static int run_scores(const opts *o, md_manifest *man, md_csession *s, md_metric metric,
                      md_ablation_kind eval_abl, md_error *err) {
    const md_cgraph *g = &s->g;
    float *score = malloc((size_t)g->n_edges * sizeof(float));
    md_circuit c = {0};
    int rc = -1;
    if (!score) return md_errorf(err, "out of memory");
    md_eap_config cfg = {.metric = metric,
                         .ig_steps = strcmp(o->method, "eap-ig") == 0 ? (int)o->steps : 0,
                         .ig_right = o->ig_right};
    double t0 = md_now();
    if (md_eap_scores(s, &cfg, score, err)) goto done;
    md_manifest_stage(man, o->method, md_now() - t0);
    fprintf(stderr, "circuit: %s scores for %d edges in %.2f s\n", o->method, g->n_edges,
            md_now() - t0);
    if (save_array(man, o->out, "scores.npy", md_tensor_1d(MD_F32, score, g->n_edges),
                   "edge (circuit.json order): metric change when the edge is ablated", err))
        goto done;
    if (md_circuit_init(&c, g, err)) goto done;
    int n = (int)o->top_n;
    if (o->target_faithfulness > 0) {
        if (md_csession_set_ablation(s, eval_abl, NULL, true, err)) goto done;
        double f;
        if (md_search_top_n(s, score, o->target_faithfulness, &n, &f, err)) goto done;
        fprintf(stderr, "circuit: top %d edges reach normalised faithfulness %.4f (target %.2f)\n",
                n, f, o->target_faithfulness);
        md_manifest_config(man, "top_n_found", "%d", n);
    }
    if (md_circuit_top_n(&c, score, n, err)) goto done;
    if (o->prune) md_circuit_prune(&c);
    char title[256];
    snprintf(title, sizeof title, "%s, top %d edges (%s)", o->method, md_circuit_n_edges(&c), o->model);
    if (write_circuit(o, man, &c, "circuit", title, err)) goto done;
    if (evaluate_and_write(o, man, s, eval_abl, &c, err)) goto done;
    rc = 0;
done:
    free(score);
    md_circuit_free(&c);
    return rc;
}

static int run_acdc(const opts *o, md_manifest *man, md_csession *s, md_metric metric,
                    md_ablation_kind eval_abl, md_error *err) {
    const md_cgraph *g = &s->g;
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    float *score = malloc((size_t)g->n_edges * sizeof(float));
    md_circuit c = {0};
    int rc = -1;
    if (!mask || !score) {
        md_errorf(err, "out of memory");
        goto done;
    }
    md_acdc_config cfg = {.metric = metric, .tau = o->tau, .max_rows = (int)o->acdc_rows,
                          .verbose = o->verbose};
    md_acdc_result res;
    if (md_acdc(s, &cfg, mask, score, &res, err)) goto done;
    md_manifest_stage(man, "acdc", res.seconds);
    fprintf(stderr, "circuit: ACDC kept %d of %d edges after %d forwards in %.1f s (loss %.4g)\n",
            res.edges_left, g->n_edges, res.forwards, res.seconds, res.final_loss);
    if (save_array(man, o->out, "scores.npy", md_tensor_1d(MD_F32, score, g->n_edges),
                   "edge (circuit.json order): ACDC loss change when the edge was tried", err))
        goto done;
    if (md_circuit_init(&c, g, err)) goto done;
    md_circuit_from_mask(&c, mask);
    c.score = score;
    score = NULL;
    if (o->prune) md_circuit_prune(&c);
    char title[256];
    snprintf(title, sizeof title, "ACDC tau=%g (%s)", o->tau, o->model);
    if (write_circuit(o, man, &c, "circuit", title, err)) goto done;
    if (evaluate_and_write(o, man, s, eval_abl, &c, err)) goto done;
    rc = 0;
done:
    free(mask);
    free(score);
    md_circuit_free(&c);
    return rc;
}

static void mask_config(const opts *o, md_mask_config *cfg) {
    if (strcmp(o->method, "oasr") == 0) md_mask_config_oasr(cfg);
    else md_mask_config_default(cfg);
    cfg->kind = strcmp(o->mask_kind, "hard-concrete") == 0 ? MD_MASK_HARD_CONCRETE : MD_MASK_GUMBEL_ST;
    if (o->epochs > 0) cfg->epochs = (int)o->epochs;
    if (o->lr > 0) cfg->lr = (float)o->lr;
    if (o->lambda_sparse >= 0) cfg->lambda_sparse = (float)o->lambda_sparse;
    if (o->lambda_overlap >= 0) cfg->lambda_overlap = (float)o->lambda_overlap;
    if (o->lambda_complete >= 0) cfg->lambda_complete = (float)o->lambda_complete;
    if (o->target_density > 0) cfg->target_density = (float)o->target_density;
    cfg->seed = (uint64_t)o->seed;
    cfg->verbose = o->verbose;
    if (o->batch > 0) cfg->batch = (int)o->batch;
}

static void manifest_mask_config(md_manifest *man, const md_mask_config *c) {
    md_manifest_config(man, "mask.kind", "%s", c->kind == MD_MASK_GUMBEL_ST ? "gumbel-st" : "hard-concrete");
    md_manifest_config(man, "mask.epochs", "%d", c->epochs);
    md_manifest_config(man, "mask.batch", "%d", c->batch);
    md_manifest_config(man, "mask.lr", "%g", c->lr);
    md_manifest_config(man, "mask.init", "N(%g, %g)", c->init_mean, c->init_std);
    md_manifest_config(man, "mask.lambda_sparse", "%g x%g over %g then x%g", c->lambda_sparse,
                       c->sparse_ramp, c->sparse_ramp_frac, c->sparse_final);
    md_manifest_config(man, "mask.lambda_overlap", "%g", c->lambda_overlap);
    md_manifest_config(man, "mask.lambda_complete", "%g from %g", c->lambda_complete, c->complete_from);
    md_manifest_config(man, "mask.target_density", "%g", c->target_density);
}

static int run_mask(const opts *o, md_manifest *man, md_csession *s, md_ablation_kind eval_abl,
                    md_error *err) {
    const md_cgraph *g = &s->g;
    md_mask_config cfg;
    mask_config(o, &cfg);
    manifest_mask_config(man, &cfg);
    float *logits = malloc((size_t)g->n_edges * sizeof(float));
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    md_circuit c = {0};
    int rc = -1;
    if (!logits || !mask) {
        md_errorf(err, "out of memory");
        goto done;
    }
    md_mask_result res;
    if (md_mask_train(s, &cfg, logits, &res, err)) goto done;
    md_manifest_stage(man, "mask", res.seconds);
    if (save_array(man, o->out, "scores.npy", md_tensor_1d(MD_F32, logits, g->n_edges),
                   "edge (circuit.json order): learned mask logit (in the circuit when > 0)", err))
        goto done;
    md_mask_from_logits(&cfg, logits, g->n_edges, mask);
    if (md_circuit_init(&c, g, err)) goto done;
    md_circuit_from_mask(&c, mask);
    c.score = logits;
    logits = NULL;
    char title[256];
    snprintf(title, sizeof title, "learned mask (%s)", o->model);
    if (write_circuit(o, man, &c, "circuit", title, err)) goto done;
    if (evaluate_and_write(o, man, s, eval_abl, &c, err)) goto done;
    rc = 0;
done:
    free(logits);
    free(mask);
    md_circuit_free(&c);
    return rc;
}

static int run_oasr(const opts *o, md_manifest *man, md_csession *s, md_error *err) {
    const md_cgraph *g = &s->g;
    int K = (int)o->sheaves;
    if (K < 1 || K > 256) return md_errorf(err, "--sheaves: expected 1..256, got %d", K);
    md_mask_config cfg;
    mask_config(o, &cfg);
    manifest_mask_config(man, &cfg);
    md_circuit *cs = calloc((size_t)K, sizeof *cs);
    md_mask_result *res = calloc((size_t)K, sizeof *res);
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    float *acc = calloc((size_t)K * 3, sizeof(float));  // (K, [accuracy, complement, density])
    float *iou = calloc((size_t)K * K * 2, sizeof(float));  // (2, K, K): edges, nodes
    int rc = -1;
    if (!cs || !res || !mask || !acc || !iou) {
        md_errorf(err, "out of memory");
        goto done;
    }
    for (int k = 0; k < K; k++)
        if (md_circuit_init(&cs[k], g, err)) goto done;
    double t0 = md_now();
    if (md_oasr(s, &cfg, K, cs, res, err)) goto done;
    md_manifest_stage(man, "oasr", md_now() - t0);
    for (int k = 0; k < K; k++) {
        double a, ca;
        md_circuit_to_mask(&cs[k], mask);
        if (md_csession_metric(s, mask, MD_METRIC_ACC, &a, err)) goto done;
        for (int e = 0; e < g->n_edges; e++) mask[e] = 1.0f - mask[e];
        if (md_csession_metric(s, mask, MD_METRIC_ACC, &ca, err)) goto done;
        acc[k * 3] = (float)a;
        acc[k * 3 + 1] = (float)ca;
        acc[k * 3 + 2] = (float)md_circuit_n_edges(&cs[k]) / g->n_edges;
        for (int j = 0; j < K; j++) {
            iou[k * K + j] = (float)md_edge_iou(&cs[k], &cs[j]);
            iou[K * K + k * K + j] = (float)md_node_iou(&cs[k], &cs[j]);
        }
        char stem[32], title[128];
        snprintf(stem, sizeof stem, "sheaf_%d", k + 1);
        snprintf(title, sizeof title, "OASR sheaf %d of %d (%s)", k + 1, K, o->model);
        if (write_circuit(o, man, &cs[k], stem, title, err)) goto done;
        fprintf(stderr, "oasr: sheaf %d: %d edges (density %.4f), accuracy %.4f, complement "
                        "accuracy %.4f\n", k + 1, md_circuit_n_edges(&cs[k]), acc[k * 3 + 2],
                acc[k * 3], acc[k * 3 + 1]);
    }
    if (save_array(man, o->out, "sheaf_stats.npy", md_tensor_2d(MD_F32, acc, K, 3),
                   "sheaf, [accuracy with only its edges, complement accuracy, edge density]", err) ||
        save_array(man, o->out, "iou.npy", md_tensor_3d(MD_F32, iou, 2, K, K),
                   "[edge IoU, node IoU], sheaf, sheaf", err))
        goto done;
    double mutual = md_mutual_edge_iou(cs, K);
    double chance = K >= 2 ? md_chance_iou(acc[2], acc[5]) : NAN;
    fprintf(stderr, "oasr: mutual edge IoU %.4f; sheaves 1-2: edge IoU %.4f (chance %.4f), node "
                    "IoU %.4f\n", mutual, K >= 2 ? iou[1] : NAN, chance, K >= 2 ? iou[K * K + 1] : NAN);
    md_manifest_config(man, "oasr.mutual_edge_iou", "%.6f", mutual);
    md_manifest_config(man, "oasr.chance_iou_1_2", "%.6f", chance);
    rc = 0;
done:
    if (cs)
        for (int k = 0; k < K; k++) md_circuit_free(&cs[k]);
    free(cs);
    free(res);
    free(mask);
    free(acc);
    free(iou);
    return rc;
}

static int run_patch(const opts *o, md_manifest *man, md_csession *s, md_metric metric,
                     md_error *err) {
    const md_cgraph *g = &s->g;
    int T = s->task->T;
    int np = o->per_position ? T : 1;
    float *eff = malloc((size_t)g->n_src * np * sizeof(float));
    if (!eff) return md_errorf(err, "out of memory");
    int rc = -1;
    double t0 = md_now();
    if (md_activation_patching(s, metric, o->per_position, eff, err)) goto done;
    md_manifest_stage(man, "patch", md_now() - t0);
    md_tensor t = o->per_position ? md_tensor_2d(MD_F32, eff, g->n_src, T)
                                  : md_tensor_1d(MD_F32, eff, g->n_src);
    char axes[128];
    snprintf(axes, sizeof axes, "node (input, a{l}.h{h}, m{l} in graph order)%s: %s change",
             o->per_position ? ", position" : "", md_metric_name(metric));
    if (save_array(man, o->out, "patch_effect.npy", t, axes, err)) goto done;
    for (int u = 0; u < g->n_src && !o->per_position; u++)
        fprintf(stderr, "patch %-8s %+.5f\n", g->nodes[u].name, eff[u]);
    rc = 0;
done:
    free(eff);
    return rc;
}

static int run_heads(const opts *o, md_manifest *man, md_csession *s, md_error *err) {
    const md_config *c = &s->model->cfg;
    int L = c->n_layer, H = c->n_head;
    float *buf = malloc((size_t)L * H * 6 * sizeof(float));
    if (!buf) return md_errorf(err, "out of memory");
    float *dla = buf, *prev = buf + L * H, *dup = buf + 2 * L * H, *ind = buf + 3 * L * H,
          *aio = buf + 4 * L * H, *as = buf + 5 * L * H;
    int rc = -1;
    int len = c->n_ctx >= 41 ? 20 : (c->n_ctx - 1) / 2;
    if (md_head_dla(s, dla, err) || md_head_pattern_scores(s->model, 32, len, (uint64_t)o->seed, prev, dup, ind, err))
        goto done;
    if (save_array(man, o->out, "dla.npy", md_tensor_2d(MD_F32, dla, L, H),
                   "layer, head: direct logit attribution onto W_U[good] - W_U[bad]", err) ||
        save_array(man, o->out, "prev_token.npy", md_tensor_2d(MD_F32, prev, L, H),
                   "layer, head: attention to t-1 on repeated random tokens", err) ||
        save_array(man, o->out, "duplicate_token.npy", md_tensor_2d(MD_F32, dup, L, H),
                   "layer, head: attention to the earlier copy of the current token", err) ||
        save_array(man, o->out, "induction.npy", md_tensor_2d(MD_F32, ind, L, H),
                   "layer, head: attention to the token after the earlier copy", err))
        goto done;
    // Name movers by patching: each head's direct effect (its edge into the logits ablated).
    float *direct = malloc((size_t)L * H * sizeof(float));
    if (!direct) {
        md_errorf(err, "out of memory");
        goto done;
    }
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            double eff;
            if (md_path_patch(s, md_cgraph_head(&s->g, l, h), md_cgraph_logits(&s->g), 0,
                              MD_METRIC_LD, &eff, err)) {
                free(direct);
                goto done;
            }
            direct[l * H + h] = (float)eff;
        }
    int drc = save_array(man, o->out, "direct_effect.npy", md_tensor_2d(MD_F32, direct, L, H),
                         "layer, head: logit difference change when the head's edge into the "
                         "logits is ablated (path patching; name movers are negative)", err);
    free(direct);
    if (drc) goto done;
    if (s->task->io_pos && s->task->s1_pos && s->task->s2_pos) {
        if (md_head_name_attention(s, aio, as, err)) goto done;
        if (save_array(man, o->out, "attn_io.npy", md_tensor_2d(MD_F32, aio, L, H),
                       "layer, head: attention from the answer position to IO", err) ||
            save_array(man, o->out, "attn_s.npy", md_tensor_2d(MD_F32, as, L, H),
                       "layer, head: attention from the answer position to S1 + S2", err))
            goto done;
    }
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            int i = l * H + h;
            fprintf(stderr, "a%d.h%d: DLA %+.3f prev %.2f dup %.2f ind %.2f\n", l, h, dla[i],
                    prev[i], dup[i], ind[i]);
        }
    if (o->name_movers) {
        // S-inhibition: path patching into the listed name movers' queries.
        int nm[256], n_nm = 0;
        char list[1024];
        snprintf(list, sizeof list, "%s", o->name_movers);
        for (char *tok = strtok(list, ","); tok && n_nm < 256; tok = strtok(NULL, ",")) {
            int v = md_cgraph_find_node(&s->g, tok);
            if (v < 0 || s->g.nodes[v].kind != MD_CN_HEAD) {
                md_errorf(err, "--name-movers: '%s' is not a head of this model (a{l}.h{h})", tok);
                goto done;
            }
            nm[n_nm++] = v;
        }
        float *sinh = malloc((size_t)s->g.n_nodes * sizeof(float));
        if (!sinh) {
            md_errorf(err, "out of memory");
            goto done;
        }
        int r2 = md_s_inhibition_scores(s, nm, n_nm, sinh, err);
        float *per_head = r2 ? NULL : malloc((size_t)L * H * sizeof(float));
        if (per_head) {
            for (int l = 0; l < L; l++)
                for (int h = 0; h < H; h++) per_head[l * H + h] = sinh[md_cgraph_head(&s->g, l, h)];
            r2 = save_array(man, o->out, "s_inhibition.npy", md_tensor_2d(MD_F32, per_head, L, H),
                            "layer, head: change of the name movers' attention (S - IO) when the "
                            "head's edges into their queries are ablated", err);
        } else if (!r2) {
            r2 = md_errorf(err, "out of memory");
        }
        free(per_head);
        free(sinh);
        if (r2) goto done;
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

static int run_eval(const opts *o, md_manifest *man, md_csession *s, md_ablation_kind eval_abl,
                    md_error *err) {
    if (!o->circuit) return md_errorf(err, "--method eval needs --circuit FILE.json");
    md_circuit c;
    if (md_circuit_load_json(&c, &s->g, o->circuit, err)) return -1;
    int rc = evaluate_and_write(o, man, s, eval_abl, &c, err);
    if (rc == 0) {
        float *mini = malloc((size_t)s->g.n_nodes * sizeof(float));
        rc = mini ? md_minimality(s, &c, mini, err) : md_errorf(err, "out of memory");
        if (rc == 0)
            rc = save_array(man, o->out, "minimality.npy", md_tensor_1d(MD_F32, mini, s->g.n_nodes),
                            "node (graph order): |F(C) - F(C without it)| / |F(C)|, -1 outside", err);
        free(mini);
    }
    md_circuit_free(&c);
    return rc;
}

// ---------------------------------------------------------------- entry
static int run(int argc, char **argv) {
    opts o = {.task = "ioi", .split = "test", .ablation = NULL, .eval_ablation = "mean",
              .metric = NULL, .mask_kind = "gumbel", .n = 200, .batch = 50, .steps = 5,
              .top_n = 200, .epochs = 0, .sheaves = 2, .seed = 1, .tau = 0.01, .lr = 0,
              .lambda_sparse = -1, .lambda_overlap = -1, .lambda_complete = -1};
    md_opt opt[] = {
        {"method", MD_OPT_STRING, &o.method, "eap|eap-ig|acdc|mask|oasr|patch|eval|heads", true, false},
        {"model", MD_OPT_STRING, &o.model, "DIR: Hugging Face folder, or 'random'", true, false},
        {"out", MD_OPT_STRING, &o.out, "DIR: output folder", true, false},
        {"task", MD_OPT_STRING, &o.task, "ioi|files|synthetic (default ioi)", false, false},
        {"data", MD_OPT_STRING, &o.data, "DIR: data pipeline output (ioi) or task-batch folder (files)", false, false},
        {"split", MD_OPT_STRING, &o.split, "train|val|test (default test)", false, false},
        {"good", MD_OPT_STRING, &o.good_file, "FILE.npy: other good tokens (e.g. poisoned labels)", false, false},
        {"n", MD_OPT_INT, &o.n, "N: prompts (default 200)", false, false},
        {"batch", MD_OPT_INT, &o.batch, "N: prompts per forward (default 50; ACDC uses one batch)", false, false},
        {"ablation", MD_OPT_STRING, &o.ablation, "zero|mean|corrupted for removed edges (default: corrupted; mask/oasr: zero)", false, false},
        {"eval-ablation", MD_OPT_STRING, &o.eval_ablation, "ablation for faithfulness (default mean)", false, false},
        {"metric", MD_OPT_STRING, &o.metric, "ld|kl|ce2|prob (default: ld; acdc: kl; mask: ce2)", false, false},
        {"steps", MD_OPT_INT, &o.steps, "M: EAP-IG interpolation steps (default 5)", false, false},
        {"ig-right", MD_OPT_FLAG, &o.ig_right, "EAP-IG at k/m for k = 1..m (default k = 0..m-1, EAP-IG's)", false, false},
        {"name-movers", MD_OPT_STRING, &o.name_movers, "'a9.h9,...': heads: S-inhibition test into these heads", false, false},
        {"top-n", MD_OPT_INT, &o.top_n, "N: edges kept by eap/eap-ig (default 200)", false, false},
        {"target-faithfulness", MD_OPT_DOUBLE, &o.target_faithfulness, "F: choose the smallest top-n reaching F instead", false, false},
        {"prune", MD_OPT_FLAG, &o.prune, "drop edges off every input->logits path", false, false},
        {"tau", MD_OPT_DOUBLE, &o.tau, "X: ACDC threshold (default 0.01)", false, false},
        {"acdc-rows", MD_OPT_INT, &o.acdc_rows, "N: prompts ACDC uses (default all; must fit --batch)", false, false},
        {"mask-kind", MD_OPT_STRING, &o.mask_kind, "gumbel|hard-concrete (default gumbel)", false, false},
        {"epochs", MD_OPT_INT, &o.epochs, "N: mask training epochs (default 20; oasr 40)", false, false},
        {"lr", MD_OPT_DOUBLE, &o.lr, "X: mask learning rate (default 0.05; oasr 0.07)", false, false},
        {"lambda-sparse", MD_OPT_DOUBLE, &o.lambda_sparse, "X: sparsity weight (default 1)", false, false},
        {"target-density", MD_OPT_DOUBLE, &o.target_density, "X: penalise (density - X)^2 instead", false, false},
        {"lambda-overlap", MD_OPT_DOUBLE, &o.lambda_overlap, "X: overlap weight (oasr 1.04; 0 = seed-only control)", false, false},
        {"lambda-complete", MD_OPT_DOUBLE, &o.lambda_complete, "X: completeness weight (oasr 0.007)", false, false},
        {"sheaves", MD_OPT_INT, &o.sheaves, "K: circuits learned by oasr (default 2)", false, false},
        {"per-position", MD_OPT_FLAG, &o.per_position, "patch: one position at a time", false, false},
        {"circuit", MD_OPT_STRING, &o.circuit, "FILE.json: circuit to evaluate (eval)", false, false},
        {"completeness", MD_OPT_INT, &o.completeness_samples, "N: random node subsets for completeness (default 0)", false, false},
        {"seed", MD_OPT_INT, &o.seed, "N: seed (masks, synthetic data, random model)", false, false},
        {"process", MD_OPT_STRING, &o.process, "LIST: weight processing (fold_ln,...)", false, false},
        {"no-render", MD_OPT_FLAG, &o.no_render, "write .dot only (no svg/png)", false, false},
        {"verbose", MD_OPT_FLAG, &o.verbose, "progress lines", false, false},
    };
    int nopt = (int)(sizeof opt / sizeof opt[0]);
    md_error err = {{0}};
    int prc = md_parse_opts(argc, argv, opt, nopt, usage, &err);
    if (prc) return prc > 0 ? 0 : md_cli_fail("circuit", &err, 2);
    static const char *const methods[] = {"eap", "eap-ig", "acdc", "mask", "oasr", "patch", "eval", "heads"};
    bool known = false;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) known |= strcmp(o.method, methods[i]) == 0;
    if (!known) {
        md_errorf(&err, "--method '%s': expected eap, eap-ig, acdc, mask, oasr, patch, eval or heads", o.method);
        return md_cli_fail("circuit", &err, 2);
    }
    bool masky = strcmp(o.method, "mask") == 0 || strcmp(o.method, "oasr") == 0;
    if (!o.ablation) o.ablation = masky ? "zero" : "corrupted";
    if (!o.metric) o.metric = strcmp(o.method, "acdc") == 0 ? "kl" : masky ? "ce2" : "ld";
    if (strcmp(o.mask_kind, "gumbel") != 0 && strcmp(o.mask_kind, "hard-concrete") != 0) {
        md_errorf(&err, "--mask-kind '%s': expected gumbel or hard-concrete", o.mask_kind);
        return md_cli_fail("circuit", &err, 2);
    }
    md_ablation_kind abl, eval_abl;
    md_metric metric;
    if (md_ablation_parse(o.ablation, &abl, &err) || md_ablation_parse(o.eval_ablation, &eval_abl, &err) ||
        md_metric_parse(o.metric, &metric, &err))
        return md_cli_fail("circuit", &err, 2);
    if (o.n <= 0 || o.batch <= 0 || o.top_n < 0 || o.steps < 0) {
        md_errorf(&err, "--n, --batch must be positive and --top-n, --steps non-negative");
        return md_cli_fail("circuit", &err, 2);
    }

    md_model m;
    bool random_model = strcmp(o.model, "random") == 0;
    if (random_model ? md_random_organism(&m, (uint64_t)o.seed, &err)
                     : md_cli_load_model(o.model, o.process, &m, &err))
        return md_cli_fail("circuit", &err, 1);
    md_task_batch task = {0};
    md_manifest *man = NULL;
    md_csession s = {0};
    int rc = 1;
    if (load_task(&o, &m, &task, &err)) goto done;
    if (strcmp(o.method, "acdc") == 0) {
        int rows = o.acdc_rows > 0 && o.acdc_rows < task.n ? (int)o.acdc_rows : task.n;
        if (rows > o.batch) o.batch = rows;  // ACDC works on one batch
    }
    if (md_mkdirs(o.out, &err)) goto done;
    man = md_manifest_new(o.out, "circuit", argc, argv, &err);
    if (!man) goto done;
    if (!random_model && md_manifest_model(man, o.model, &err)) goto done;
    md_manifest_config(man, "method", "%s", o.method);
    md_manifest_config(man, "model", "%s", random_model ? "random-init organism shape" : o.model);
    md_manifest_config(man, "task", "%s (%d prompts of %d tokens, %d groups)", o.task, task.n,
                       task.T, task.n_groups);
    md_manifest_config(man, "ablation", "%s", md_ablation_name(abl));
    md_manifest_config(man, "eval_ablation", "%s", md_ablation_name(eval_abl));
    md_manifest_config(man, "metric", "%s", md_metric_name(metric));
    md_manifest_config(man, "ig_steps", "%lld", (long long)o.steps);
    md_manifest_config(man, "top_n", "%lld", (long long)o.top_n);
    md_manifest_config(man, "tau", "%g", o.tau);
    md_manifest_config(man, "batch", "%lld", (long long)o.batch);
    md_manifest_seed(man, "seed", (uint64_t)o.seed);
    if (md_csession_init(&s, &m, &task, (int)o.batch, &err)) goto done;
    if (o.verbose) s.log = stderr;
    md_manifest_config(man, "graph", "%d nodes, %d edges", s.g.n_nodes, s.g.n_edges);
    fprintf(stderr, "circuit: %s on %s: %d prompts x %d tokens, %d edges, %s ablation, metric %s\n",
            o.method, random_model ? "a random-init organism-shaped model" : o.model, task.n,
            task.T, s.g.n_edges, md_ablation_name(abl), md_metric_name(metric));
    double t0 = md_now();
    if (md_csession_set_ablation(&s, abl, NULL, true, &err)) goto done;
    md_manifest_stage(man, "ablation", md_now() - t0);
    int mrc;
    if (strcmp(o.method, "eap") == 0 || strcmp(o.method, "eap-ig") == 0)
        mrc = run_scores(&o, man, &s, metric, eval_abl, &err);
    else if (strcmp(o.method, "acdc") == 0) mrc = run_acdc(&o, man, &s, metric, eval_abl, &err);
    else if (strcmp(o.method, "mask") == 0) mrc = run_mask(&o, man, &s, eval_abl, &err);
    else if (strcmp(o.method, "oasr") == 0) mrc = run_oasr(&o, man, &s, &err);
    else if (strcmp(o.method, "patch") == 0) mrc = run_patch(&o, man, &s, metric, &err);
    else if (strcmp(o.method, "heads") == 0) mrc = run_heads(&o, man, &s, &err);
    else mrc = run_eval(&o, man, &s, eval_abl, &err);
    if (mrc) goto done;
    md_manifest_config(man, "threads", "%d", md_threads());
    if (md_manifest_write(man, &err)) goto done;
    fprintf(stderr, "circuit: wrote %s/\n", o.out);
    rc = 0;
done:
    if (rc) md_cli_fail("circuit", &err, 1);
    md_csession_free(&s);
    md_task_batch_free(&task);
    md_manifest_free(man);
    md_model_free(&m);
    return rc;
}

const md_command md_cmd_circuit = {"circuit", "locate, evaluate and draw circuits (EAP, EAP-IG, ACDC, masks, OASR)", run};
