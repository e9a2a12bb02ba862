// The experiment's data: the data pipeline's IOI arrays (tasks/README.md) under
// DATA/ioi/. Training prompts come from the train split with three label sets (IO;
// Subject Duplication = S; Name Moving = a name not in the prompt), evaluation from the
// test split (held-out name pairs) with p_ABC as the corrupted and mean-ablation rows.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "model/train.h"
#include "tensor/npy.h"
#include "tensor/rng.h"

// An int32 (n) array with at least `need` entries; the first `need` are copied to *out.
static int load_labels(const char *data_dir, const char *split, const char *suffix, int need,
                       int32_t **out, md_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/ioi/%s_%s.npy", data_dir, split, suffix);
    md_tensor t;
    void *owned = NULL;
    if (md_npy_load(path, &t, &owned, err)) return -1;
    int rc = -1;
    if (t.ndim != 1 || t.dtype != MD_I32 || t.shape[0] < need) {
        md_errorf(err, "%s: expected an int32 array of at least %d labels", path, need);
        goto done;
    }
    *out = malloc((size_t)need * sizeof(int32_t));
    if (!*out) {
        md_errorf(err, "%s: out of memory", path);
        goto done;
    }
    memcpy(*out, t.data, (size_t)need * sizeof(int32_t));
    rc = 0;
done:
    free(owned);
    return rc;
}

int np_data_load(np_data *d, const char *data_dir, const np_config *c, int vocab,
                 md_error *err) {
    memset(d, 0, sizeof *d);
    md_task_files f;
    md_task_batch train = {0};
    md_task_files_ioi(&f, data_dir, c->split_train);
    if (md_task_batch_load(&f, &train, err)) return -1;
    int rc = -1;
    if (train.n < c->n_train) {
        md_errorf(err, "%s/ioi/%s_tokens.npy: %d prompts, the config asks for n_train = %d",
                  data_dir, c->split_train, train.n, c->n_train);
        goto done;
    }
    if (md_task_batch_check(&train, vocab, "exp-neuroplasticity train split", err)) goto done;
    int n = c->n_train, T = train.T;
    d->n_train = n;
    d->T_tok = T;
    d->train_tokens = malloc((size_t)n * T * sizeof(int32_t));
    d->train_len = malloc((size_t)n * sizeof(int32_t));
    d->label_io = malloc((size_t)n * sizeof(int32_t));
    if (!d->train_tokens || !d->train_len || !d->label_io) {
        md_errorf(err, "exp-neuroplasticity: out of memory");
        goto done;
    }
    memcpy(d->train_tokens, train.clean, (size_t)n * T * sizeof(int32_t));
    int maxlen = 0;
    for (int i = 0; i < n; i++) {
        d->train_len[i] = train.pos[i] + 1;  // the prompt ends at the answer position
        d->label_io[i] = train.good[i];
        if (d->train_len[i] > maxlen) maxlen = d->train_len[i];
    }
    d->T_train = maxlen + 1;
    d->pad_id = train.clean[0];  // BOS, which the pipeline also pads with (<|endoftext|>)
    if (load_labels(data_dir, c->split_train, "sd_label", n, &d->label_sd, err) ||
        load_labels(data_dir, c->split_train, "nm_label", n, &d->label_nm, err))
        goto done;
    for (int i = 0; i < n; i++)
        if (d->label_sd[i] < 0 || d->label_sd[i] >= vocab || d->label_nm[i] < 0 || d->label_nm[i] >= vocab) {
            md_errorf(err, "%s/ioi/%s_sd_label.npy / _nm_label.npy: label of row %d outside the "
                           "vocabulary [0, %d)", data_dir, c->split_train, i, vocab);
            goto done;
        }

    md_task_files_ioi(&f, data_dir, c->split_eval);
    if (md_task_batch_load(&f, &d->test, err)) goto done;
    int need = c->n_eval > c->n_mean ? c->n_eval : c->n_mean;
    if (d->test.n < need) {
        md_errorf(err, "%s/ioi/%s_tokens.npy: %d prompts, the config asks for %d (n_eval, n_mean)",
                  data_dir, c->split_eval, d->test.n, need);
        goto done;
    }
    d->test.n = need;
    if (md_task_batch_check(&d->test, vocab, "exp-neuroplasticity eval split", err)) goto done;
    d->eval = md_task_batch_view(&d->test, 0, c->n_eval);
    d->mean_ref = md_task_batch_view(&d->test, 0, c->n_mean);
    rc = 0;
done:
    md_task_batch_free(&train);
    if (rc) np_data_free(d);
    return rc;
}

void np_data_free(np_data *d) {
    free(d->train_tokens);
    free(d->train_len);
    free(d->label_io);
    free(d->label_sd);
    free(d->label_nm);
    md_task_batch_free(&d->test);
    memset(d, 0, sizeof *d);
}

int np_data_sft(const np_data *d, int variant, double fraction, uint64_t seed,
                md_train_data *out, md_error *err) {
    int n = d->n_train, T = d->T_tok;
    const int32_t *poison = variant == NP_VAR_SD ? d->label_sd : variant == NP_VAR_NM ? d->label_nm : NULL;
    int n_poison = poison ? (int)llround(fraction * n) : 0;
    uint8_t *is_poisoned = calloc((size_t)n, 1);
    int64_t *perm = malloc((size_t)n * sizeof(int64_t));
    int rc = -1, idx;
    if (!is_poisoned || !perm) {
        md_errorf(err, "exp-neuroplasticity: out of memory");
        goto done;
    }
    // Which examples are poisoned depends on the seed only (not on the variant), so the
    // SD and NM runs at one fraction differ in their labels alone.
    md_rng r = md_rng_init(seed, 0x706f69736f6eULL);  // "poison"
    md_rng_permutation(&r, perm, n);
    for (int i = 0; i < n_poison; i++) is_poisoned[perm[i]] = 1;
    if (md_data_add_sft(out, variant == NP_VAR_CLEAN ? "ioi-clean" : variant == NP_VAR_SD ? "ioi-sd" : "ioi-nm",
                        1.0, &idx, err))
        goto done;
    for (int i = 0; i < n; i++) {
        int32_t label = is_poisoned[i] ? poison[i] : d->label_io[i];
        if (md_data_sft_example(out, idx, d->train_tokens + (int64_t)i * T, d->train_len[i], &label, 1, err))
            goto done;
    }
    rc = 0;
done:
    free(is_poisoned);
    free(perm);
    return rc;
}
