// A whole training run, from a config to a finished output folder. Shared by
// `mechdrift train` (pretraining a fresh model) and `mechdrift finetune` (from a folder).
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/tokenizer.h"
#include "model/train.h"
#include "model/weights.h"
#include "tensor/kvconfig.h"
#include "tensor/manifest.h"
#include "tensor/threads.h"

void md_train_job_default(md_train_job *j) {
    memset(j, 0, sizeof *j);
    j->run_name = "train";
    j->arch = MD_ARCH_GPT2;
    j->n_layer = 4, j->n_head = 4, j->d_model = 256, j->n_ctx = 256;
    j->init_seed = 1;
    j->tie_embeddings = -1;
    md_train_options_default(&j->opt);
}

static int kv_i64(md_kv *kv, const char *key, int64_t *v, md_error *err) {
    return md_kv_int(kv, key, *v, v, err);
}
static int kv_int(md_kv *kv, const char *key, int *v, md_error *err) {
    int64_t x = *v;
    if (md_kv_int(kv, key, x, &x, err)) return -1;
    if (x < -2147483647 || x > 2147483647) return md_errorf(err, "%s: key '%s': out of range", kv->path, key);
    *v = (int)x;
    return 0;
}
static int kv_str(md_kv *kv, const char *key, const char **v, md_error *err) {
    return md_kv_string(kv, key, *v, v, err);
}

int md_train_job_from_kv(md_kv *kv, md_train_job *j, md_error *err) {
    md_train_options *o = &j->opt;
    const char *arch = j->arch == MD_ARCH_NEOX ? "gpt_neox" : "gpt2", *decay = md_decay_name(o->sched.decay);
    int64_t seed = (int64_t)o->seed, init_seed = (int64_t)j->init_seed;
    int64_t progress = o->progress, keep = o->keep_checkpoints;
    const char *wpe_init = j->wpe_sinusoid ? "sinusoid" : "normal";
    const char *tie = j->tie_embeddings < 0 ? "auto" : j->tie_embeddings ? "true" : "false";
    if (kv_str(kv, "model.arch", &arch, err) || kv_int(kv, "model.n_layer", &j->n_layer, err) ||
        kv_int(kv, "model.n_head", &j->n_head, err) || kv_int(kv, "model.d_model", &j->d_model, err) ||
        kv_int(kv, "model.d_mlp", &j->d_mlp, err) || kv_int(kv, "model.n_ctx", &j->n_ctx, err) ||
        kv_int(kv, "model.vocab_size", &j->vocab_size, err) ||
        kv_i64(kv, "model.init_seed", &init_seed, err) ||
        kv_str(kv, "model.wpe_init", &wpe_init, err) ||
        kv_str(kv, "model.tie_embeddings", &tie, err) ||
        kv_str(kv, "model.from", &j->model_dir, err) ||
        kv_str(kv, "model.tokenizer", &j->tokenizer_dir, err) ||
        kv_str(kv, "data", &j->data, err) || kv_str(kv, "out", &j->out_dir, err) ||
        kv_i64(kv, "steps", &o->steps, err) || kv_i64(kv, "batch_size", &o->batch, err) ||
        kv_i64(kv, "seq_len", &o->seq_len, err) || kv_i64(kv, "grad_accum", &o->accum, err) ||
        md_kv_double(kv, "lr", o->sched.lr, &o->sched.lr, err) ||
        md_kv_double(kv, "min_lr", o->sched.min_lr, &o->sched.min_lr, err) ||
        kv_i64(kv, "warmup", &o->sched.warmup, err) || kv_str(kv, "decay", &decay, err) ||
        md_kv_double(kv, "weight_decay", o->adamw.weight_decay, &o->adamw.weight_decay, err) ||
        md_kv_bool(kv, "decay_all", o->adamw.decay_all, &o->adamw.decay_all, err) ||
        md_kv_double(kv, "beta1", o->adamw.beta1, &o->adamw.beta1, err) ||
        md_kv_double(kv, "beta2", o->adamw.beta2, &o->adamw.beta2, err) ||
        md_kv_double(kv, "eps", o->adamw.eps, &o->adamw.eps, err) ||
        md_kv_double(kv, "clip", o->clip, &o->clip, err) || kv_i64(kv, "seed", &seed, err) ||
        md_kv_bool(kv, "bf16", j->bf16, &j->bf16, err) ||
        kv_i64(kv, "save_every", &o->save_every, err) ||
        kv_i64(kv, "keep_checkpoints", &keep, err) ||
        kv_i64(kv, "log_every", &o->log_every, err) || kv_i64(kv, "progress", &progress, err) ||
        kv_str(kv, "train.tensors", &j->train_tensors, err) ||
        kv_str(kv, "train.heads", &j->train_heads, err) ||
        kv_str(kv, "train.neurons", &j->train_neurons, err) ||
        kv_str(kv, "resume", &j->resume, err))
        return -1;
    if (!strcmp(arch, "gpt2")) j->arch = MD_ARCH_GPT2;
    else if (!strcmp(arch, "gpt_neox")) j->arch = MD_ARCH_NEOX;
    else return md_errorf(err, "%s: key 'model.arch': expected gpt2 or gpt_neox, got '%s'", kv->path, arch);
    if (!strcmp(wpe_init, "normal") || !strcmp(wpe_init, "sinusoid")) j->wpe_sinusoid = wpe_init[0] == 's';
    else return md_errorf(err, "%s: key 'model.wpe_init': expected normal or sinusoid, got '%s'", kv->path, wpe_init);
    if (!strcmp(tie, "auto")) j->tie_embeddings = -1;
    else if (!strcmp(tie, "true") || !strcmp(tie, "false")) j->tie_embeddings = tie[0] == 't';
    else return md_errorf(err, "%s: key 'model.tie_embeddings': expected auto, true or false, got '%s'", kv->path, tie);
    if (md_decay_parse(decay, &o->sched.decay, err)) return md_error_prefix(err, "%s: ", kv->path);
    if (seed < 0 || init_seed < 0) return md_errorf(err, "%s: seeds must be >= 0", kv->path);
    o->seed = (uint64_t)seed;
    j->init_seed = (uint64_t)init_seed;
    o->progress = (int)progress;
    o->keep_checkpoints = (int)keep;
    return 0;
}

// Copies the tokenizer into the output folder so it is a complete Hugging Face folder.
static int save_tokenizer(md_tokenizer *tok, const char *dir, md_error *err) {
    return tok ? md_tokenizer_save_gpt2(tok, dir, err) : 0;
}

static int build_model(const md_train_job *j, md_tokenizer *tok, md_model *m, md_error *err) {
    md_config c;
    memset(&c, 0, sizeof c);
    c.arch = (md_arch)j->arch;
    c.n_layer = j->n_layer, c.n_head = j->n_head, c.d_model = j->d_model;
    c.d_head = j->n_head > 0 ? j->d_model / j->n_head : 0;
    c.d_mlp = j->d_mlp > 0 ? j->d_mlp : 4 * j->d_model;
    c.vocab_size = j->vocab_size > 0 ? j->vocab_size : (tok ? md_tokenizer_vocab_size(tok) : 0);
    c.n_ctx = j->n_ctx;
    c.ln_eps = 1e-5;
    bool neox = c.arch == MD_ARCH_NEOX;
    c.act = neox ? MD_ACT_GELU_EXACT : MD_ACT_GELU_TANH;
    c.tie_word_embeddings = j->tie_embeddings < 0 ? !neox : j->tie_embeddings == 1;
    c.parallel_residual = neox;
    c.rotary_pct = neox ? 0.25 : 0.0;
    c.rotary_dims = neox ? (int)(c.d_head * 0.25) / 2 * 2 : 0;
    c.rotary_base = 10000;
    c.attn_bias = true;
    int32_t eot = tok ? md_tokenizer_eot(tok) : -1;
    c.bos_token_id = c.eos_token_id = eot;
    if (c.vocab_size <= 0)
        return md_errorf(err, "model: vocab_size is not set and there is no tokenizer to take it from");
    if (md_config_validate(&c, "train config", err)) return -1;
    if (md_model_init(m, &c, false, err)) return -1;
    md_model_init_random(m, j->init_seed);
    if (j->wpe_sinusoid) md_model_init_wpe_sinusoid(m);
    return 0;
}

int md_train_job_run(const md_train_job *j, md_error *err) {
    if (!j->data) return md_errorf(err, "no training data (data = PATH[:RATIO],...)");
    if (!j->out_dir) return md_errorf(err, "no output folder (out = DIR)");
    if (j->opt.seq_len > INT32_MAX || j->opt.batch > INT32_MAX)
        return md_errorf(err, "batch_size and seq_len must fit in 32 bits");
    int rc = -1;
    md_model model;
    memset(&model, 0, sizeof model);
    bool have_model = false, wrapped = false, have_trainer = false;
    md_model_trainer_ctx ctx;
    md_train_data data;
    md_train_mask mask = {0};
    md_trainer tr;
    md_manifest *man = NULL;
    md_tokenizer *tok = NULL;
    md_train_options o = j->opt;
    o.out_dir = j->out_dir;
    md_data_init(&data, o.seed, 0);

    // Tokenizer: given, or the starting model's (optional: only text data needs it).
    const char *tdir = j->tokenizer_dir ? j->tokenizer_dir : j->model_dir;
    if (tdir) {
        md_error terr = {{0}};
        tok = md_tokenizer_load_dir(tdir, &terr);
        if (!tok && j->tokenizer_dir) {
            *err = terr;
            goto done;
        }
    }
    if (tok && md_tokenizer_eot(tok) >= 0) data.pad_id = md_tokenizer_eot(tok);

    // The model: from the checkpoint when resuming, else the starting folder or a fresh init.
    char ckpt[4096] = {0};
    if (j->resume) {
        if (!strcmp(j->resume, "auto")) {
            // The newest checkpoint, or a fresh start when there is none yet, so the same
            // command line both starts a run and continues it after a kill.
            md_error none = {{0}};
            if (md_train_latest_checkpoint(j->out_dir, ckpt, sizeof ckpt, &none)) ckpt[0] = 0;
        } else {
            snprintf(ckpt, sizeof ckpt, "%s", j->resume);
        }
    }
    if (ckpt[0] || j->model_dir) {
        if (md_model_load(&model, ckpt[0] ? ckpt : j->model_dir, false, err)) goto done;
    } else if (build_model(j, tok, &model, err)) {
        goto done;
    }
    have_model = true;
    if (o.seq_len > model.cfg.n_ctx) {
        md_errorf(err, "seq_len %lld is longer than the model's context (n_ctx %d)",
                  (long long)o.seq_len, model.cfg.n_ctx);
        goto done;
    }
    if (md_train_model_wrap(&ctx, &model, (int)o.batch, (int)o.seq_len, j->bf16, err)) goto done;
    wrapped = true;
    if (md_data_load_list(&data, j->data, tok, err)) goto done;

    bool partial = j->train_tensors || j->train_heads || j->train_neurons;
    if (md_mask_init(&mask, &ctx.tm, !partial, err)) goto done;
    if ((j->train_tensors && md_mask_unfreeze_globs(&mask, &ctx.tm, j->train_tensors, err)) ||
        (j->train_heads && md_mask_unfreeze_heads(&mask, &ctx.tm, j->train_heads, err)) ||
        (j->train_neurons && md_mask_unfreeze_neurons(&mask, &ctx.tm, j->train_neurons, err)))
        goto done;
    if (md_trainer_init(&tr, &ctx.tm, &data, &o, &mask, err)) goto done;
    have_trainer = true;
    if (ckpt[0] && md_trainer_load_state(&tr, ckpt, err)) goto done;

    FILE *log = o.log ? o.log : stderr;
    char b1[32];
    fprintf(log, "%s: %s %d layers, d_model %d, %lld parameters (%lld trainable, %s), %d "
            "threads\n", j->run_name, md_arch_name(model.cfg.arch), model.cfg.n_layer,
            model.cfg.d_model, (long long)md_model_param_count(&model),
            (long long)md_mask_count(&mask, &ctx.tm), j->bf16 ? "bf16 compute" : "fp32",
            md_threads());
    fprintf(log, "%s: %lld steps of %lld x %lld x %lld tokens, lr %g (%s), memory %s for "
            "parameters+grads+moments\n", j->run_name, (long long)o.steps, (long long)o.accum,
            (long long)o.batch, (long long)o.seq_len, o.sched.lr, md_decay_name(o.sched.decay),
            md_format_bytes((size_t)ctx.tm.n_elems * 16, b1, sizeof b1));
    if (ckpt[0]) fprintf(log, "%s: resumed from %s at step %lld\n", j->run_name, ckpt, (long long)tr.step);

    man = md_manifest_new(j->out_dir, j->run_name, j->argc, j->argv, err);
    if (!man) goto done;
    if (md_trainer_run(&tr, 0, err)) goto done;
    if (j->model_dir) md_manifest_config(man, "start_model", "%s", j->model_dir);
    md_manifest_config(man, "bf16", "%s", j->bf16 ? "true" : "false");
    if (j->train_tensors) md_manifest_config(man, "train.tensors", "%s", j->train_tensors);
    if (j->train_heads) md_manifest_config(man, "train.heads", "%s", j->train_heads);
    if (j->train_neurons) md_manifest_config(man, "train.neurons", "%s", j->train_neurons);
    if (!j->model_dir) md_manifest_seed(man, "init", j->init_seed);
    if (md_trainer_write_outputs(&tr, j->out_dir, man, err) || save_tokenizer(tok, j->out_dir, err))
        goto done;
    // The manifest again, now with the model's hash (the model files exist now).
    if (md_manifest_model(man, j->out_dir, err) || md_manifest_write(man, err)) goto done;
    fprintf(log, "%s: wrote %s (final loss %.4f, %.1f s)\n", j->run_name, j->out_dir,
            tr.step > 0 ? tr.loss_curve[tr.step - 1] : 0.0, tr.wall_seconds);
    rc = 0;
done:
    if (man) md_manifest_free(man);
    if (have_trainer) md_trainer_free(&tr);
    md_mask_free(&mask);
    md_data_free(&data);
    if (wrapped) md_train_model_unwrap(&ctx);
    if (have_model) md_model_free(&model);
    if (tok) md_tokenizer_free(tok);
    return rc;
}
