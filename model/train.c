// The training loop: one optimizer step = accum micro-batches whose gradients are summed
// with the loss normalised by the number of counted target tokens over the whole step
// (so k micro-batches of b rows compute the gradient of one batch of k*b rows), then
// frozen gradients zeroed, the global norm taken, AdamW with the clip coefficient folded
// in, and the curves recorded. Checkpoints every save_every steps.
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/train.h"
#include "model/train_internal.h"
#include "tensor/fileio.h"
#include "tensor/threads.h"

void md_train_options_default(md_train_options *o) {
    memset(o, 0, sizeof *o);
    o->steps = 1000;
    o->batch = 8;
    o->seq_len = 128;
    o->accum = 1;
    o->sched = (md_schedule){.lr = 3e-4, .min_lr = 3e-5, .warmup = 100, .total = 1000,
                             .decay = MD_DECAY_COSINE};
    o->adamw = (md_adamw_config){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                 .weight_decay = 0.01, .decay_all = false};
    o->clip = 1.0;
    o->seed = 1234;
    o->save_every = 0;
    o->keep_checkpoints = 2;
    o->log_every = 10;
    o->progress = -1;
}

static int copy_mask(md_train_mask *dst, const md_train_mask *src, const md_train_model *m,
                     md_error *err) {
    if (md_mask_init(dst, m, true, err)) return -1;
    if (!src) return 0;
    if (src->n_params != m->n_params)
        return md_errorf(err, "train: freeze mask has %d tensors, the model %d", src->n_params,
                         m->n_params);
    for (int p = 0; p < m->n_params; p++) {
        dst->mode[p] = src->mode[p];
        if (src->mode[p] == MD_MASK_PARTIAL) {
            dst->elems[p] = malloc((size_t)m->params[p].numel);
            if (!dst->elems[p]) return md_errorf(err, "train: out of memory (mask)");
            memcpy(dst->elems[p], src->elems[p], (size_t)m->params[p].numel);
        }
    }
    return 0;
}

int md_trainer_init(md_trainer *t, md_train_model *m, md_train_data *d,
                    const md_train_options *o, const md_train_mask *mask, md_error *err) {
    memset(t, 0, sizeof *t);
    t->opt = *o;
    t->model = m;
    t->data = d;
    md_train_options *op = &t->opt;
    if (op->steps < 1) return md_errorf(err, "train: steps must be >= 1, got %lld", (long long)op->steps);
    if (op->batch < 1 || op->seq_len < 1 || op->accum < 1)
        return md_errorf(err, "train: batch_size, seq_len and grad_accum must be >= 1 (got %lld, %lld, %lld)",
                         (long long)op->batch, (long long)op->seq_len, (long long)op->accum);
    if (!(op->sched.lr >= 0) || !(op->sched.min_lr >= 0) || op->sched.warmup < 0)
        return md_errorf(err, "train: lr and min_lr must be >= 0 and warmup >= 0");
    if (!(op->adamw.beta1 >= 0 && op->adamw.beta1 < 1) || !(op->adamw.beta2 >= 0 && op->adamw.beta2 < 1))
        return md_errorf(err, "train: beta1 and beta2 must lie in [0, 1) (got %g, %g)",
                         op->adamw.beta1, op->adamw.beta2);
    if (!(op->adamw.eps > 0) || !(op->adamw.weight_decay >= 0) || !(op->clip >= 0))
        return md_errorf(err, "train: eps must be > 0, weight_decay and clip >= 0");
    op->sched.total = op->steps;
    if (md_data_validate(d, op->seq_len, m->vocab, err)) return -1;
    int64_t rows = op->accum * op->batch * op->seq_len;
    t->tokens = malloc(sizeof(int32_t) * (size_t)rows);
    t->targets = malloc(sizeof(int32_t) * (size_t)rows);
    t->loss_curve = calloc((size_t)op->steps, sizeof(float));
    t->lr_curve = calloc((size_t)op->steps, sizeof(float));
    t->norm_curve = calloc((size_t)op->steps, sizeof(float));
    if (!t->tokens || !t->targets || !t->loss_curve || !t->lr_curve || !t->norm_curve) {
        md_trainer_free(t);
        return md_errorf(err, "train: out of memory for batch buffers and curves");
    }
    if (copy_mask(&t->mask, mask, m, err) || md_adamw_init(&t->adamw, m->n_elems, err)) {
        md_trainer_free(t);
        return -1;
    }
    if (md_mask_count(&t->mask, m) == 0) {
        md_trainer_free(t);
        return md_errorf(err, "train: every parameter is frozen: nothing to train");
    }
    return 0;
}

void md_trainer_free(md_trainer *t) {
    free(t->tokens);
    free(t->targets);
    free(t->loss_curve);
    free(t->lr_curve);
    free(t->norm_curve);
    md_mask_free(&t->mask);
    md_adamw_free(&t->adamw);
    t->tokens = t->targets = NULL;
    t->loss_curve = t->lr_curve = t->norm_curve = NULL;
}

int md_trainer_step(md_trainer *t, double *loss_out, md_error *err) {
    md_train_model *m = t->model;
    const md_train_options *o = &t->opt;
    if (t->step >= o->steps)
        return md_errorf(err, "train: all %lld steps are done", (long long)o->steps);
    int64_t BT = o->batch * o->seq_len;
    for (int64_t a = 0; a < o->accum; a++)
        md_data_next(t->data, t->tokens + a * BT, t->targets + a * BT, o->batch, o->seq_len);
    int64_t count = 0;
    for (int64_t i = 0; i < o->accum * BT; i++) count += t->targets[i] >= 0;
    if (count == 0)
        return md_errorf(err, "train: step %lld has no target tokens", (long long)t->step);
    memset(m->grads, 0, sizeof(float) * (size_t)m->n_elems);
    // The loss of the step is the mean over every counted token of every micro-batch, so
    // each micro-batch's gradient is scaled by 1/count and the sums simply add up.
    double loss_sum = 0.0;
    for (int64_t a = 0; a < o->accum; a++) {
        double ls = 0.0;
        if (m->forward_backward(m->ctx, t->tokens + a * BT, t->targets + a * BT, o->batch,
                                o->seq_len, count, &ls, err))
            return md_error_prefix(err, "train step %lld: ", (long long)t->step);
        loss_sum += ls;
    }
    double loss = loss_sum / (double)count;
    if (!isfinite(loss))
        return md_errorf(err, "train step %lld: the loss is %g (diverged: lower the learning "
                         "rate or raise warmup)", (long long)t->step, loss);
    bool all = md_mask_all_trainable(&t->mask);
    if (!all) md_mask_zero_frozen_grads(&t->mask, m);
    double norm = md_grad_norm(m->grads, m->n_elems);
    float coef = md_clip_coef(norm, o->clip);
    double lr = md_schedule_lr(&o->sched, t->step);
    md_adamw_step(&t->adamw, &o->adamw, m, all ? NULL : &t->mask, lr, coef);
    if (m->weights_updated && m->weights_updated(m->ctx, err)) return -1;
    t->loss_curve[t->step] = (float)loss;
    t->lr_curve[t->step] = (float)lr;
    t->norm_curve[t->step] = (float)norm;
    t->step++;
    t->tokens_seen += count;
    if (loss_out) *loss_out = loss;
    return 0;
}

// Removes the files of a flat directory, then the directory.
int md_train_remove_dir(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dp);
    return rmdir(dir);
}

// Parses "checkpoint-N" -> N, or -1.
static int64_t checkpoint_step(const char *name) {
    if (strncmp(name, "checkpoint-", 11) != 0) return -1;
    char *end;
    long long n = strtoll(name + 11, &end, 10);
    return (*end || end == name + 11 || n < 0) ? -1 : n;
}

// Steps of the checkpoints in out_dir, ascending; returns the count (at most max).
static int list_checkpoints(const char *out_dir, int64_t *steps, int max) {
    DIR *dp = opendir(out_dir);
    if (!dp) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < max) {
        int64_t s = checkpoint_step(e->d_name);
        if (s >= 0) steps[n++] = s;
    }
    closedir(dp);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            int64_t x = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = x;
        }
    return n;
}

int md_train_latest_checkpoint(const char *out_dir, char *path, size_t n, md_error *err) {
    int64_t steps[4096];
    int k = list_checkpoints(out_dir, steps, 4096);
    if (k == 0) return md_errorf(err, "%s: no checkpoint-N folder to resume from", out_dir);
    snprintf(path, n, "%s/checkpoint-%lld", out_dir, (long long)steps[k - 1]);
    return 0;
}

int md_trainer_save_checkpoint(md_trainer *t, const char *dir, md_error *err) {
    // Everything goes into DIR.tmp-PID first; only a complete folder is renamed to DIR.
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid());
    md_train_remove_dir(tmp);
    if (md_mkdirs(tmp, err)) return -1;
    char state[4200];
    snprintf(state, sizeof state, "%s/training_state.safetensors", tmp);
    if (t->model->save(t->model->ctx, tmp, err) || md_train_state_write(t, state, err)) {
        md_train_remove_dir(tmp);
        return md_error_prefix(err, "checkpoint %s: ", dir);
    }
    md_train_remove_dir(dir);  // a checkpoint of the same step from an earlier attempt
    if (rename(tmp, dir) != 0) {
        md_train_remove_dir(tmp);
        return md_errorf(err, "checkpoint %s: cannot rename %s into place: %s", dir, tmp,
                         strerror(errno));
    }
    return 0;
}

static void prune_checkpoints(const char *out_dir, int keep) {
    if (keep <= 0) return;
    int64_t steps[4096];
    int k = list_checkpoints(out_dir, steps, 4096);
    char path[4096];
    for (int i = 0; i + keep < k; i++) {
        snprintf(path, sizeof path, "%s/checkpoint-%lld", out_dir, (long long)steps[i]);
        md_train_remove_dir(path);
    }
}

int md_trainer_run(md_trainer *t, int64_t until, md_error *err) {
    const md_train_options *o = &t->opt;
    if (until <= 0 || until > o->steps) until = o->steps;
    md_progress prog;
    md_progress_init(&prog, o->log ? o->log : stderr, t->step, o->steps, o->log_every);
    if (o->progress >= 0) md_progress_set_tty(&prog, o->progress == 1);
    double t0 = md_now();
    int64_t start = t->step, tokens_per_step = o->accum * o->batch * o->seq_len;
    const char *kill_env = getenv("MECHDRIFT_TEST_KILL_AT_STEP");
    int64_t kill_at = kill_env ? strtoll(kill_env, NULL, 10) : 0;
    int rc = 0;
    while (t->step < until) {
        double loss;
        if (md_trainer_step(t, &loss, err)) {
            rc = -1;
            break;
        }
        double el = md_now() - t0;
        double tps = el > 0 ? (double)((t->step - start) * tokens_per_step) / el : 0;
        if (!o->quiet) md_progress_update(&prog, t->step, loss, t->lr_curve[t->step - 1], tps);
        if (o->out_dir && o->save_every > 0 && t->step % o->save_every == 0 && t->step < o->steps) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/checkpoint-%lld", o->out_dir, (long long)t->step);
            if (md_trainer_save_checkpoint(t, dir, err)) {
                rc = -1;
                break;
            }
            prune_checkpoints(o->out_dir, o->keep_checkpoints);
            if (!o->quiet) md_progress_message(&prog, "saved %s", dir);
        }
        // For the kill-and-resume test of the CLI: a real SIGKILL at a chosen step.
        if (kill_at > 0 && t->step == kill_at) raise(SIGKILL);
    }
    if (!o->quiet) md_progress_finish(&prog);
    t->wall_seconds += md_now() - t0;
    return rc;
}
