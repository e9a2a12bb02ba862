// The final outputs of a run: the model as a Hugging Face folder, the curves as .npy
// (one value per completed step) and the run manifest.
#include <stdio.h>

#include "model/train.h"
#include "tensor/manifest.h"
#include "tensor/npy.h"

int md_trainer_write_outputs(md_trainer *t, const char *dir, struct md_manifest *man,
                             md_error *err) {
    if (md_mkdirs(dir, err) || t->model->save(t->model->ctx, dir, err)) return -1;
    const md_train_options *o = &t->opt;
    struct {
        const char *file;
        float *data;
        const char *axes;
    } curves[] = {
        {"loss.npy", t->loss_curve, "step: mean cross-entropy (nats) over the step's counted target tokens"},
        {"lr.npy", t->lr_curve, "step: learning rate used by the step"},
        {"grad_norm.npy", t->norm_curve, "step: global gradient L2 norm before clipping"},
    };
    for (int i = 0; i < 3; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, curves[i].file);
        md_tensor v = md_tensor_1d(MD_F32, curves[i].data, t->step);
        if (md_npy_save(path, &v, err)) return -1;
        if (man) md_manifest_array(man, curves[i].file, &v, curves[i].axes);
    }
    if (!man) return 0;
    md_manifest_config(man, "steps", "%lld", (long long)o->steps);
    md_manifest_config(man, "batch_size", "%lld", (long long)o->batch);
    md_manifest_config(man, "seq_len", "%lld", (long long)o->seq_len);
    md_manifest_config(man, "grad_accum", "%lld", (long long)o->accum);
    md_manifest_config(man, "lr", "%.17g", o->sched.lr);
    md_manifest_config(man, "min_lr", "%.17g", o->sched.min_lr);
    md_manifest_config(man, "warmup", "%lld", (long long)o->sched.warmup);
    md_manifest_config(man, "decay", "%s", md_decay_name(o->sched.decay));
    md_manifest_config(man, "beta1", "%.17g", o->adamw.beta1);
    md_manifest_config(man, "beta2", "%.17g", o->adamw.beta2);
    md_manifest_config(man, "eps", "%.17g", o->adamw.eps);
    md_manifest_config(man, "weight_decay", "%.17g", o->adamw.weight_decay);
    md_manifest_config(man, "decay_all", "%s", o->adamw.decay_all ? "true" : "false");
    md_manifest_config(man, "clip", "%.17g", o->clip);
    md_manifest_config(man, "trainable_elements", "%lld",
                       (long long)md_mask_count(&t->mask, t->model));
    md_manifest_config(man, "tokens_seen", "%lld", (long long)t->tokens_seen);
    for (int s = 0; s < t->data->n_sources; s++) {
        char key[64];
        snprintf(key, sizeof key, "data.%d", s);
        md_manifest_config(man, key, "%s (ratio %g, %s)", t->data->src[s].name,
                           t->data->src[s].ratio,
                           t->data->src[s].kind == MD_SRC_STREAM ? "token stream" : "prompt/answer");
    }
    if (o->config_text) md_manifest_config(man, "config_text", "%s", o->config_text);
    md_manifest_seed(man, "data", o->seed);
    md_manifest_stage(man, "train", t->wall_seconds);
    return md_manifest_write(man, err);
}
