// The circuit toolkit: everything the experiments need to locate circuits, compare them
// across checkpoints and learn several of them, on top of the edge-masked forward
// (edge_forward.h) over the EAP-IG graph (graph.h) and a task batch (task_batch.h).
//
//   session     model + graph + workspace + task + ablation (this file, session.c)
//   ablation    zero, mean over a reference distribution by group (IOI: per-template
//               means over p_ABC) and position, or the corrupted run (ablation.c)
//   metrics     logit difference, accuracy, KL to the full model, binary CE over
//               [good, bad] (fidelity / completeness losses), with gradients (metrics.c);
//               circuit evaluation: faithfulness, completeness, minimality (evaluate.c);
//               direct logit attribution and head classes (heads.c)
//   methods     activation patching (patching.c), path patching (path_patching.c),
//               EAP and EAP-IG (eap.c), ACDC (acdc.c), learned edge masks with OASR as a
//               configuration (edge_mask.c)
//   circuits    edge/node sets, top-n, pruning, overlap (overlap.c), JSON / .npy /
//               Graphviz (circuit_io.c)
//
// Conventions. A metric is a mean over the task's rows. Attribution scores follow
// EAP-IG's sign: score(u -> v) = (out_u(ablated) - out_u(clean)) . d metric / d input_v,
// i.e. the first-order change of the metric when the edge is removed; circuits keep the
// top n by |score|. Edge masks are floats in [0, 1] (1 kept) over the graph's edges.
#ifndef MD_METHODS_CIRCUIT_H
#define MD_METHODS_CIRCUIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "experiments/methods/edge_forward.h"
#include "experiments/methods/graph.h"
#include "experiments/methods/task_batch.h"
#include "model/model.h"

// ---------------------------------------------------------------- metrics (metrics.c)
typedef enum md_metric {
    MD_METRIC_LD = 0,     // mean logit(good) - logit(bad)
    MD_METRIC_KL,         // mean KL(p_full || p) over the vocabulary at the answer position
    MD_METRIC_CE2,        // mean -log softmax([good, bad])[good] (fidelity loss)
    MD_METRIC_CE2_HALF,   // mean CE of softmax([good, bad]) against [0.5, 0.5]
    MD_METRIC_ACC,        // mean [logit(good) > logit(bad)] (no gradient)
    MD_METRIC_PROB,       // mean softmax over the vocabulary, probability of good
    MD_METRIC_COUNT
} md_metric;

const char *md_metric_name(md_metric m);
// "ld", "kl", "ce2", "ce2-half", "acc", "prob" -> metric; -1 with an error otherwise.
int md_metric_parse(const char *s, md_metric *m, md_error *err);

// The metric summed (not averaged) over R rows of logits (R, V); dlogits (R, V), if not
// NULL, receives scale * d(sum)/d logits (written, not accumulated). ref_logp (R, V) are
// the full model's log-probabilities (KL only).
double md_metric_sum(md_metric m, const float *logits, int R, int V, const int32_t *good,
                     const int32_t *bad, const float *ref_logp, float *dlogits, float scale);
// Log-softmax rows: out (R, V) = log softmax(logits (R, V)).
void md_log_softmax_rows(float *out, const float *logits, int64_t R, int64_t V);

// ---------------------------------------------------------------- ablation (ablation.c)
typedef enum md_ablation_kind {
    MD_ABL_ZERO = 0,
    MD_ABL_MEAN,          // per (group, position) mean over a reference set
    MD_ABL_CORRUPT,       // the corrupted run's outputs, row by row
} md_ablation_kind;

const char *md_ablation_name(md_ablation_kind k);
int md_ablation_parse(const char *s, md_ablation_kind *k, md_error *err);

typedef struct md_ablation {
    md_ablation_kind kind;
    int n_src, n_groups, T, C;
    float *mean;          // (n_src, n_groups, T, C) MEAN: per group and position
    float *mean_all;      // (n_src, T, C) over every group (rows whose group had none)
    int32_t *count;       // (n_groups, T) reference rows per group and position
} md_ablation;

void md_ablation_free(md_ablation *a);

// A random-init GPT-2 of the model organism's shape (4 layers, d_model 256, 8 heads,
// d_mlp 1024, ctx 128, vocab 4096): the stand-in for benchmarks and smoke runs before the
// organism exists.
int md_random_organism(md_model *m, uint64_t seed, md_error *err);

// ---------------------------------------------------------------- session (session.c)
typedef struct md_csession {
    const md_model *model;
    md_cgraph g;
    md_ef ef;
    const md_task_batch *task;
    int batch;            // rows per forward
    md_ablation abl;
    float *abl_buf;       // (n_src, batch * T, C) the current chunk's ablated outputs
    int abl_start, abl_n; // chunk abl_buf holds (-1: none)
    bool abl_default_ref; // the mean ablation was built over the task's corrupted rows
    float *ref_logp;      // (task n, V) full-model log-probabilities at the answer rows
                          //   (filled on first use by KL)
    float *ref_ld;        // (task n) full-model logit differences
    bool have_ref;
    float *dlogits;       // (batch, V) scratch
    FILE *log;            // progress lines, or NULL
} md_csession;

// A session over `task` (rows processed `batch` at a time; T = task->T) for model m.
int md_csession_init(md_csession *s, const md_model *m, const md_task_batch *task, int batch,
                     md_error *err);
void md_csession_free(md_csession *s);
// Chooses the ablation. MEAN takes its means over `ref` (NULL: the task's corrupted rows,
// i.e. p_ABC for IOI), grouped by ref->group, position by position.
int md_csession_set_ablation(md_csession *s, md_ablation_kind kind, const md_task_batch *ref,
                             bool ref_use_corrupt, md_error *err);
// The chunk [start, start + n) of the task: fills the ablated outputs (running the
// corrupted forward when needed; cached for the same chunk), then runs the masked forward
// on the clean rows (logits at the answer rows in s->ef.logits (n, V)). input_override
// (n, T, C) replaces the input node's output (EAP-IG), or NULL.
int md_csession_forward(md_csession *s, int start, int n, const float *mask,
                        const float *input_override, md_error *err);
// The same, recomputing only layers >= from_layer (the previous forward must be of the
// same chunk, with a mask agreeing on every edge into earlier layers).
int md_csession_forward_from(md_csession *s, int start, int n, const float *mask,
                             const float *input_override, int from_layer, md_error *err);
// Full-model references (log-probabilities and logit differences) for KL and
// faithfulness; computed once.
int md_csession_reference(md_csession *s, md_error *err);

// Metric of a mask over the whole task (mean over rows).
int md_csession_metric(md_csession *s, const float *mask, md_metric m, double *value,
                       md_error *err);

// ---------------------------------------------------------------- circuits (overlap.c)
typedef struct md_circuit {
    const md_cgraph *g;
    uint8_t *edge_in;     // (n_edges) 1 in the circuit
    uint8_t *node_in;     // (n_nodes)
    float *score;         // (n_edges) attribution scores, or NULL
} md_circuit;

int md_circuit_init(md_circuit *c, const md_cgraph *g, md_error *err);
void md_circuit_free(md_circuit *c);
// Nodes in = endpoints of edges in.
void md_circuit_update_nodes(md_circuit *c);
// The top n edges by |score| (ties: lower index first); copies score.
int md_circuit_top_n(md_circuit *c, const float *score, int n, md_error *err);
// Edges whose score is at least thr in absolute value.
int md_circuit_threshold(md_circuit *c, const float *score, float thr, md_error *err);
// Edges with mask > 0.5.
void md_circuit_from_mask(md_circuit *c, const float *mask);
// Removes edges that cannot matter: whose source has no path from input, or whose
// destination has no path to logits, through edges in the circuit. Returns edges left.
int md_circuit_prune(md_circuit *c);
// 1/0 mask (n_edges) of the circuit.
void md_circuit_to_mask(const md_circuit *c, float *mask);
int md_circuit_n_edges(const md_circuit *c);
int md_circuit_n_nodes(const md_circuit *c);

// Jaccard |A & B| / |A | B| of edge (or node) sets; 1 when both are empty.
double md_edge_iou(const md_circuit *a, const md_circuit *b);
double md_node_iou(const md_circuit *a, const md_circuit *b);
// Jaccard of two edge sets split by component: kind selects edges whose destination (or
// nodes) are attention heads (0), MLPs (1) or anything (2).
double md_edge_iou_kind(const md_circuit *a, const md_circuit *b, int kind);
double md_node_iou_kind(const md_circuit *a, const md_circuit *b, int kind);
// Expected IoU of two independent random sets of densities p and q: pq / (p + q - pq).
double md_chance_iou(double p, double q);
// |intersection| / |union| over K circuits.
double md_mutual_edge_iou(const md_circuit *cs, int K);
// Spearman rank correlation of two score vectors (average ranks for ties).
double md_spearman(const float *a, const float *b, int n);

// ---------------------------------------------------------------- I/O (circuit_io.c)
typedef struct md_circuit_meta {
    const char *method;   // "eap-ig", ...
    const char *model;    // model directory or name
    const char *task;
    const char *extra;    // free text (settings), or NULL
} md_circuit_meta;

// JSON in EAP-IG's layout: {"cfg": {n_layers, n_heads, parallel_attn_mlp},
// "nodes": {name: {"in_graph": bool}}, "edges": {name: {"score": x, "in_graph": bool}},
// "meta": {...}}.
int md_circuit_save_json(const md_circuit *c, const md_circuit_meta *meta, const char *path,
                         md_error *err);
// Reads such a file into c (initialised over g; the file's cfg must match g).
int md_circuit_load_json(md_circuit *c, const md_cgraph *g, const char *path, md_error *err);
// Scores as .npy float32 (n_edges).
int md_scores_save_npy(const float *score, int n, const char *path, md_error *err);
// Graphviz: writes DOT (nodes in the circuit, edges coloured by q/k/v, width by |score|).
int md_circuit_save_dot(const md_circuit *c, const char *title, const char *path, md_error *err);
// Runs `dot` (GRAPHVIZ_DOT or /usr/bin/dot) to write svg and png next to the .dot.
int md_circuit_render(const char *dot_path, const char *svg_path, const char *png_path,
                      md_error *err);

// ---------------------------------------------------------------- EAP / EAP-IG (eap.c)
typedef struct md_eap_config {
    md_metric metric;     // LD (default) or KL, CE2, PROB
    int ig_steps;         // 0: EAP (gradient at the clean input); m >= 1: EAP-IG inputs
                          //   variant, inputs corrupt + k/m (clean - corrupt), k = 0..m-1
    bool ig_right;        // k = 1..m instead (right Riemann sum: m = 1 is EAP at the clean
                          //   input with corrupted - clean differences)
} md_eap_config;
// score (n_edges): mean over the task. EAP uses the session's ablation as the
// counterfactual (abl - clean); EAP-IG always interpolates towards the corrupted run.
int md_eap_scores(md_csession *s, const md_eap_config *cfg, float *score, md_error *err);

// ---------------------------------------------------------------- ACDC (acdc.c)
typedef struct md_acdc_config {
    md_metric metric;     // KL (loss: KL(full || circuit)) or LD (loss: LD(full) - LD)
    double tau;           // remove an edge when loss(without it) - loss(now) < tau
    int max_rows;         // rows used (0: all of the task; they must fit one batch)
    bool verbose;
} md_acdc_config;
typedef struct md_acdc_result {
    int forwards;         // masked forwards run
    int edges_left;
    double final_loss;
    double seconds;
} md_acdc_result;
// mask (n_edges) receives the circuit (1 kept, 0 removed); score (n_edges, optional) the
// loss change measured when the edge was tried.
int md_acdc(md_csession *s, const md_acdc_config *cfg, float *mask, float *score,
            md_acdc_result *res, md_error *err);

// ---------------------------------------------------------------- patching (patching.c)
// Activation patching of node outputs: for every source node u (input, heads, MLPs), u's
// output is replaced by its ablated value (all of u's outgoing edges removed) and the
// metric recomputed. effect (n_src) = metric(patched) - metric(clean). With per_position,
// effect (n_src, T) patches one position at a time.
int md_activation_patching(md_csession *s, md_metric m, bool per_position, float *effect,
                           md_error *err);
// Path patching along direct edges: effect of the edges from `sender` into `receiver`
// (slots: bit 0 q, 1 k, 2 v for heads; ignored otherwise) being ablated, every other
// path clean. Returns metric(patched) - metric(clean).
int md_path_patch(md_csession *s, int sender, int receiver, int slots, md_metric m,
                  double *effect, md_error *err);
// Edge-level patching of an arbitrary set: metric with the edges in `removed` (1) ablated.
int md_patch_edges(md_csession *s, const uint8_t *removed, md_metric m, double *value,
                   md_error *err);

// ---------------------------------------------------------------- evaluation (evaluate.c)
typedef struct md_circuit_eval {
    double ld_full, ld_empty, ld_circuit;     // mean logit differences
    double acc_full, acc_circuit;
    double kl_circuit;                         // KL(full || circuit)
    double faithfulness;                       // (ld_C - ld_empty) / (ld_full - ld_empty)
    double ratio;                              // ld_C / ld_full (Wang's F(C)/F(M))
} md_circuit_eval;
int md_evaluate_circuit(md_csession *s, const float *mask, md_circuit_eval *ev, md_error *err);
// The smallest top-n circuit (by |score|) whose normalised faithfulness reaches target:
// doubling n from 8, then bisection (faithfulness need not be monotone in n; the result is
// the smallest n found above target on that path). *n_out = n_edges when none reaches it.
int md_search_top_n(md_csession *s, const float *score, double target, int *n_out,
                    double *faith_out, md_error *err);
// Completeness (Wang et al.): over n_samples random node subsets K of the circuit (each
// node kept with probability 1/2), |F(C \ K) - F(M \ K)| with F the mean LD. mean and max.
int md_completeness(md_csession *s, const md_circuit *c, int n_samples, uint64_t seed,
                    double *mean_gap, double *max_gap, md_error *err);
// Minimality: for each node v of the circuit (not input/logits), the relative change
// |F(C) - F(C \ v)| / |F(C)|; out (n_nodes), -1 for nodes outside.
int md_minimality(md_csession *s, const md_circuit *c, float *out, md_error *err);

// ---------------------------------------------------------------- heads (heads.c)
// Direct logit attribution of every head on the task: mean over rows of head h's result
// at the answer row through ln_final with the clean run's scale, onto
// W_U[good] - W_U[bad]. dla (L, H).
int md_head_dla(md_csession *s, float *dla, md_error *err);
// Attention-pattern scores on n random sequences of two copies of len random tokens
// (BOS first): prev (L, H) mean attention to t-1, dup (L, H) to the earlier copy of the
// current token, ind (L, H) to the token after it (second copy only).
int md_head_pattern_scores(const md_model *m, int n, int len, uint64_t seed, float *prev,
                           float *dup, float *ind, md_error *err);
// Name movers: attention from the answer position to the IO and S positions (needs
// task io_pos / s1_pos / s2_pos): att_io (L, H), att_s (L, H) means over rows.
int md_head_name_attention(md_csession *s, float *att_io, float *att_s, md_error *err);
// S-inhibition test: for every head u before layer `nm_layer`'s name mover heads, the
// change in the name movers' mean attention END -> S2 minus END -> IO when the edges
// u -> nm<q> are ablated (path patching into the queries). nm (count n_nm) are head node
// indices. out (n_nodes): the change, 0 for non-heads.
int md_s_inhibition_scores(md_csession *s, const int *nm, int n_nm, float *out, md_error *err);

// ---------------------------------------------------------------- learned masks (edge_mask.c)
typedef enum md_mask_kind { MD_MASK_GUMBEL_ST = 0, MD_MASK_HARD_CONCRETE } md_mask_kind;

typedef struct md_mask_config {
    md_mask_kind kind;
    int epochs;
    int batch;             // rows per step
    float lr, weight_decay;
    float init_mean, init_std;   // logits ~ N(mean, std)
    float tau;             // Gumbel-sigmoid temperature
    float hc_beta, hc_gamma, hc_zeta;  // hard concrete
    md_metric fidelity;    // CE2 (default) or KL
    float lambda_sparse;   // sparsity = mean sigmoid(l) (hard concrete: expected L0)
    float sparse_ramp;     // multiplier reached at sparse_ramp_frac of training (x20)
    float sparse_ramp_frac;  // 0.8
    float sparse_final;    // multiplier after the ramp (x0.01)
    float target_density;  // > 0: penalty lambda_sparse (density - target)^2 instead
    float lambda_overlap;  // overlap = sum over prior edges of sigmoid(l) / count
    float lambda_complete; // completeness CE of the complement against [0.5, 0.5]
    float complete_from;   // fraction of training after which the completeness step runs
    const uint8_t *prior;  // (n_edges) edges of earlier circuits, or NULL
    uint64_t seed;
    bool verbose;
} md_mask_config;

void md_mask_config_default(md_mask_config *c);
// OASR's settings (Chen et al.): AdamW lr 0.07, 40 epochs, init N(0.1, 0.01), lambda_s 1.0
// ramped x1 -> x20 over 80% then x0.01, lambda_overlap 1.04, lambda_complete 0.007, batch 32.
void md_mask_config_oasr(md_mask_config *c);

typedef struct md_mask_result {
    int steps;
    double fidelity, density, overlap, complete;  // last epoch means
    double seconds;
} md_mask_result;

// Learns edge logits (n_edges) on the session's task. The circuit is {e : logit_e > 0}
// (the noiseless mask: sigmoid > 1/2, or the hard-concrete gate > 1/2).
int md_mask_train(md_csession *s, const md_mask_config *cfg, float *logits, md_mask_result *res,
                  md_error *err);
// The deterministic mask of trained logits.
void md_mask_from_logits(const md_mask_config *cfg, const float *logits, int n, float *mask);

// OASR: K circuits ("sheaves") learned one after another; sheaf k's overlap penalty covers
// the edges of sheaves 1..k-1 (cfg->lambda_overlap 0 gives the seed-only control when the
// seeds differ). circuits (K) must be initialised over s->g.
int md_oasr(md_csession *s, const md_mask_config *cfg, int K, md_circuit *circuits,
            md_mask_result *res, md_error *err);

#endif
