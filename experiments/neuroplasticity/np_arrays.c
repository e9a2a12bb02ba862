// The experiment's result arrays: allocation, the list the verification walks, and the
// .npy files (plus checkpoints.json naming every checkpoint) with their manifest lines.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/manifest.h"
#include "tensor/npy.h"

int np_results_alloc(np_results *r, int S, int K, int L, int H, int E, md_error *err) {
    memset(r, 0, sizeof *r);
    r->S = S, r->K = K, r->L = L, r->H = H, r->E = E;
    size_t SK = (size_t)S * K, LH = (size_t)L * H;
    float **scalars[] = {&r->ld, &r->acc, &r->faith, &r->faith_base, &r->ld_circuit,
                         &r->edge_iou, &r->node_iou, &r->dla_corr, &r->train_loss};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        *scalars[i] = malloc(SK * sizeof(float));
        if (*scalars[i])
            for (size_t j = 0; j < SK; j++) (*scalars[i])[j] = NAN;
    }
    for (int i = 0; i < 6; i++)
        if (!(r->heads[i] = calloc(SK * LH, sizeof(float)))) goto oom;
    for (int i = 0; i < 2; i++)
        if (!(r->cmap[i] = calloc(SK * LH, sizeof(float)))) goto oom;
    r->scores = calloc(SK * E, sizeof(float));
    r->overlap = calloc(SK * K, sizeof(float));
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (!*scalars[i]) goto oom;
    if (!r->scores || !r->overlap) goto oom;
    return 0;
oom:
    np_results_free(r);
    return md_errorf(err, "exp-neuroplasticity: out of memory for %d seeds x %d checkpoints", S, K);
}

void np_results_free(np_results *r) {
    free(r->ld);
    free(r->acc);
    free(r->faith);
    free(r->faith_base);
    free(r->ld_circuit);
    free(r->edge_iou);
    free(r->node_iou);
    free(r->dla_corr);
    free(r->train_loss);
    for (int i = 0; i < 6; i++) free(r->heads[i]);
    for (int i = 0; i < 2; i++) free(r->cmap[i]);
    free(r->scores);
    free(r->overlap);
    memset(r, 0, sizeof *r);
}

typedef struct array_spec {
    const char *file;
    float *data;
    int ndim_tail;        // axes after (seed, checkpoint)
    int64_t tail[3];
    const char *axes;
} array_spec;

static int specs(const np_results *r, array_spec *a) {
    int n = 0;
    a[n++] = (array_spec){"ld.npy", r->ld, 0, {0}, "seed, checkpoint: mean logit difference logit(IO) - logit(S) on the held-out test prompts"};
    a[n++] = (array_spec){"acc.npy", r->acc, 0, {0}, "seed, checkpoint: accuracy P(logit(IO) > logit(S))"};
    a[n++] = (array_spec){"faithfulness.npy", r->faith, 0, {0}, "seed, checkpoint: normalised faithfulness (LD_C - LD_empty) / (LD_full - LD_empty) of the checkpoint's top-n EAP-IG circuit, mean ablation over p_ABC"};
    a[n++] = (array_spec){"faithfulness_base_circuit.npy", r->faith_base, 0, {0}, "seed, checkpoint: normalised faithfulness of the BASE model's circuit evaluated on the checkpoint's model"};
    a[n++] = (array_spec){"ld_circuit.npy", r->ld_circuit, 0, {0}, "seed, checkpoint: LD of the checkpoint's circuit (every other edge mean-ablated)"};
    a[n++] = (array_spec){"edge_iou.npy", r->edge_iou, 0, {0}, "seed, checkpoint: edge Jaccard of the checkpoint's circuit with the base circuit"};
    a[n++] = (array_spec){"node_iou.npy", r->node_iou, 0, {0}, "seed, checkpoint: node Jaccard (heads and MLPs) with the base circuit"};
    a[n++] = (array_spec){"dla_corr.npy", r->dla_corr, 0, {0}, "seed, checkpoint: Pearson correlation of per-head DLA with the base model's"};
    a[n++] = (array_spec){"train_loss.npy", r->train_loss, 0, {0}, "seed, checkpoint: mean training loss over the epoch ending at the checkpoint (NaN for base)"};
    a[n++] = (array_spec){"dla.npy", r->heads[NP_HEAD_DLA], 2, {r->L, r->H}, "seed, checkpoint, layer, head: direct logit attribution onto W_U[IO] - W_U[S] (mean over test prompts)"};
    a[n++] = (array_spec){"attn_io.npy", r->heads[NP_HEAD_ATT_IO], 2, {r->L, r->H}, "seed, checkpoint, layer, head: attention from END to IO"};
    a[n++] = (array_spec){"attn_s.npy", r->heads[NP_HEAD_ATT_S], 2, {r->L, r->H}, "seed, checkpoint, layer, head: attention from END to S1 + S2"};
    a[n++] = (array_spec){"prev_token.npy", r->heads[NP_HEAD_PREV], 2, {r->L, r->H}, "seed, checkpoint, layer, head: attention to t-1 on repeated random tokens"};
    a[n++] = (array_spec){"duplicate_token.npy", r->heads[NP_HEAD_DUP], 2, {r->L, r->H}, "seed, checkpoint, layer, head: attention to the earlier copy of the current token"};
    a[n++] = (array_spec){"induction.npy", r->heads[NP_HEAD_IND], 2, {r->L, r->H}, "seed, checkpoint, layer, head: attention to the token after the earlier copy"};
    a[n++] = (array_spec){"cmap_into_base.npy", r->cmap[0], 2, {r->L, r->H}, "seed, checkpoint, layer, head: change of the BASE model's mean LD when this head's output (all positions) is taken from the checkpoint's model (CMAP)"};
    a[n++] = (array_spec){"cmap_from_base.npy", r->cmap[1], 2, {r->L, r->H}, "seed, checkpoint, layer, head: change of the checkpoint's mean LD when this head's output is taken from the base model (CMAP)"};
    a[n++] = (array_spec){"scores.npy", r->scores, 1, {r->E}, "seed, checkpoint, edge (EAP-IG graph order): EAP-IG score (LD change when the edge is ablated)"};
    a[n++] = (array_spec){"overlap.npy", r->overlap, 1, {r->K}, "seed, checkpoint, checkpoint: edge Jaccard between the two checkpoints' top-n circuits"};
    return n;
}

int np_results_arrays(const np_results *r, np_array_ref *out, int max) {
    array_spec a[24];
    int n = specs(r, a);
    for (int i = 0; i < n && i < max; i++) {
        int64_t per = 1;
        for (int j = 0; j < a[i].ndim_tail; j++) per *= a[i].tail[j];
        out[i] = (np_array_ref){a[i].file, a[i].data, per};
    }
    return n;
}

static int save(md_manifest *man, const char *dir, const char *file, md_tensor t,
                const char *axes, md_error *err) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    if (md_npy_save(p, &t, err)) return -1;
    if (man) md_manifest_array(man, file, &t, axes);
    return 0;
}

int np_results_save(const np_results *r, const np_plan *p, const char *dir, md_manifest *man,
                    md_error *err) {
    array_spec a[24];
    int n = specs(r, a);
    for (int i = 0; i < n; i++) {
        int64_t shape[4] = {r->S, r->K};
        for (int j = 0; j < a[i].ndim_tail; j++) shape[2 + j] = a[i].tail[j];
        md_tensor t = md_tensor_view(MD_F32, a[i].data, 2 + a[i].ndim_tail, shape);
        if (save(man, dir, a[i].file, t, a[i].axes, err)) return -1;
    }
    int K = p->n_ckpts;
    int32_t *stage = malloc((size_t)K * 3 * sizeof(int32_t));
    float *frac = malloc((size_t)K * sizeof(float));
    int rc = -1;
    if (!stage || !frac) {
        md_errorf(err, "exp-neuroplasticity: out of memory");
        goto done;
    }
    for (int k = 0; k < K; k++) {
        stage[k] = p->ckpts[k].stage;
        stage[K + k] = p->ckpts[k].variant;
        stage[2 * K + k] = p->ckpts[k].epoch;
        frac[k] = (float)p->ckpts[k].fraction;
    }
    if (save(man, dir, "ckpt_stage.npy", md_tensor_1d(MD_I32, stage, K), "checkpoint: 0 base, 1 clean, 2 toxic, 3 retrain", err) ||
        save(man, dir, "ckpt_variant.npy", md_tensor_1d(MD_I32, stage + K, K), "checkpoint: poisoning 0 none, 1 Subject Duplication (label S), 2 Name Moving (label a name not in the prompt)", err) ||
        save(man, dir, "ckpt_epoch.npy", md_tensor_1d(MD_I32, stage + 2 * K, K), "checkpoint: epochs into its stage (0 for base)", err) ||
        save(man, dir, "ckpt_fraction.npy", md_tensor_1d(MD_F32, frac, K), "checkpoint: poisoned fraction of the toxic run (or of the run retrained from)", err))
        goto done;
    // checkpoints.json: names in array order, for figures and readers.
    char path[2048];
    snprintf(path, sizeof path, "%s/checkpoints.json", dir);
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) goto done;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_array_begin(&w);
    for (int k = 0; k < K; k++) md_jw_string(&w, p->ckpts[k].name);
    md_jw_array_end(&w);
    fputc('\n', af.f);
    if (md_atomic_commit(&af, err)) goto done;
    if (man) md_manifest_config(man, "checkpoints.json", "the %d checkpoint names in array order", K);
    rc = 0;
done:
    free(stage);
    free(frac);
    return rc;
}
