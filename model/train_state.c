// The training-state file: training_state.safetensors beside the model's own files in a
// checkpoint folder. Tensors: "adamw.m.NAME" and "adamw.v.NAME" per parameter (fp32, the
// parameter's shape), "curve.loss", "curve.lr", "curve.grad_norm" (one per completed
// step). __metadata__ "mechdrift.train_state" holds JSON: format, step, seed, the data
// position (rows drawn overall and per source), tokens seen, wall time, and the options
// a resume must not change. The learning-rate schedule needs no state: it is a function
// of the step.
#include <stdlib.h>
#include <string.h>

#include "model/train.h"
#include "model/train_internal.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

#define STATE_FORMAT "mechdrift-train-state-1"
#define META_KEY "mechdrift.train_state"

static char *state_json(const md_trainer *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const md_train_options *o = &t->opt;
    md_json_writer w;
    md_jw_init(&w, f, false);
    md_jw_object_begin(&w);
    md_jw_key(&w, "format"), md_jw_string(&w, STATE_FORMAT);
    md_jw_key(&w, "step"), md_jw_int(&w, t->step);
    md_jw_key(&w, "adamw_step"), md_jw_int(&w, t->adamw.step);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    md_jw_key(&w, "seed"), md_jw_string(&w, seed);  // a string: JSON numbers lose 64-bit ints
    md_jw_key(&w, "steps"), md_jw_int(&w, o->steps);
    md_jw_key(&w, "batch_size"), md_jw_int(&w, o->batch);
    md_jw_key(&w, "seq_len"), md_jw_int(&w, o->seq_len);
    md_jw_key(&w, "grad_accum"), md_jw_int(&w, o->accum);
    md_jw_key(&w, "rows_drawn"), md_jw_int(&w, t->data->rows_drawn);
    md_jw_key(&w, "tokens_seen"), md_jw_int(&w, t->tokens_seen);
    md_jw_key(&w, "wall_seconds"), md_jw_number(&w, t->wall_seconds);
    md_jw_key(&w, "sources");
    md_jw_array_begin(&w);
    for (int s = 0; s < t->data->n_sources; s++) {
        const md_train_source *src = &t->data->src[s];
        md_jw_object_begin(&w);
        md_jw_key(&w, "name"), md_jw_string(&w, src->name);
        md_jw_key(&w, "kind"), md_jw_string(&w, src->kind == MD_SRC_STREAM ? "stream" : "sft");
        md_jw_key(&w, "n_tokens"), md_jw_int(&w, src->n_tokens);
        md_jw_key(&w, "n_examples"), md_jw_int(&w, src->n_examples);
        md_jw_key(&w, "ratio"), md_jw_number(&w, src->ratio);
        md_jw_key(&w, "drawn"), md_jw_int(&w, src->drawn);
        md_jw_object_end(&w);
    }
    md_jw_array_end(&w);
    md_jw_key(&w, "trainable_elements"), md_jw_int(&w, md_mask_count(&t->mask, t->model));
    md_jw_object_end(&w);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int md_train_state_write(const md_trainer *t, const char *path, md_error *err) {
    const md_train_model *m = t->model;
    md_safetensors_writer w;
    md_stw_init(&w);
    char *meta = state_json(t);
    int rc = -1;
    if (!meta) {
        md_errorf(err, "%s: cannot format the state metadata", path);
        goto done;
    }
    if (md_stw_meta(&w, META_KEY, meta, err)) goto done;
    for (int p = 0; p < m->n_params; p++) {
        const md_train_param *tp = &m->params[p];
        char name[200];
        snprintf(name, sizeof name, "adamw.m.%s", tp->name);
        if (md_stw_add(&w, name, MD_F32, tp->ndim, tp->shape, t->adamw.m + tp->offset, err)) goto done;
        snprintf(name, sizeof name, "adamw.v.%s", tp->name);
        if (md_stw_add(&w, name, MD_F32, tp->ndim, tp->shape, t->adamw.v + tp->offset, err)) goto done;
    }
    int64_t n = t->step;
    if (md_stw_add(&w, "curve.loss", MD_F32, 1, &n, t->loss_curve, err) ||
        md_stw_add(&w, "curve.lr", MD_F32, 1, &n, t->lr_curve, err) ||
        md_stw_add(&w, "curve.grad_norm", MD_F32, 1, &n, t->norm_curve, err))
        goto done;
    rc = md_stw_write(&w, path, err);
done:
    free(meta);
    md_stw_free(&w);
    return rc;
}

// Checks an integer field of the state equals what this run uses.
static int expect_same(const md_json *j, const char *key, int64_t want, const char *path,
                       md_error *err) {
    int64_t got;
    if (md_json_get_int(j, key, path, &got, err)) return -1;
    if (got != want)
        return md_errorf(err, "%s: the checkpoint was trained with %s = %lld, this run has %lld "
                         "(a resume must keep it to continue the same run)", path, key,
                         (long long)got, (long long)want);
    return 0;
}

static int load_curve(const md_safetensors *st, const char *name, int64_t n, float *dst,
                      md_error *err) {
    md_tensor v;
    if (md_safetensors_get(st, name, MD_F32, 1, (int64_t[]){n}, &v, err)) return -1;
    memcpy(dst, v.data, sizeof(float) * (size_t)n);
    return 0;
}

int md_trainer_load_state(md_trainer *t, const char *dir, md_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/training_state.safetensors", dir);
    md_safetensors st;
    if (md_safetensors_open(path, &st, err)) return -1;
    md_json *j = NULL;
    int rc = -1;
    const md_train_model *m = t->model;
    const md_train_options *o = &t->opt;
    md_train_data *d = t->data;
    const char *meta = md_safetensors_meta(&st, META_KEY);
    if (!meta) {
        md_errorf(err, "%s: no '%s' metadata: not a mechdrift training state", path, META_KEY);
        goto done;
    }
    j = md_json_parse(meta, strlen(meta), path, err);
    if (!j) goto done;
    const char *fmt, *seed_s;
    if (md_json_get_string(j, "format", path, &fmt, err) ||
        md_json_get_string(j, "seed", path, &seed_s, err))
        goto done;
    if (strcmp(fmt, STATE_FORMAT) != 0) {
        md_errorf(err, "%s: format '%s', expected '%s'", path, fmt, STATE_FORMAT);
        goto done;
    }
    char seed_now[32];
    snprintf(seed_now, sizeof seed_now, "%llu", (unsigned long long)o->seed);
    if (strcmp(seed_s, seed_now) != 0) {
        md_errorf(err, "%s: the checkpoint was trained with seed %s, this run has %s", path,
                  seed_s, seed_now);
        goto done;
    }
    if (expect_same(j, "steps", o->steps, path, err) ||
        expect_same(j, "batch_size", o->batch, path, err) ||
        expect_same(j, "seq_len", o->seq_len, path, err) ||
        expect_same(j, "grad_accum", o->accum, path, err) ||
        expect_same(j, "trainable_elements", md_mask_count(&t->mask, m), path, err))
        goto done;
    int64_t step, adamw_step, rows, tokens_seen;
    double wall;
    if (md_json_get_int(j, "step", path, &step, err) ||
        md_json_get_int(j, "adamw_step", path, &adamw_step, err) ||
        md_json_get_int(j, "rows_drawn", path, &rows, err) ||
        md_json_get_int(j, "tokens_seen", path, &tokens_seen, err) ||
        md_json_get_number(j, "wall_seconds", path, &wall, err))
        goto done;
    if (step < 0 || step > o->steps) {
        md_errorf(err, "%s: field 'step': expected 0..%lld, got %lld", path, (long long)o->steps,
                  (long long)step);
        goto done;
    }
    const md_json *srcs = md_json_get(j, "sources");
    if (!srcs || srcs->type != MD_JSON_ARRAY || (int)srcs->count != d->n_sources) {
        md_errorf(err, "%s: field 'sources': expected an array of %d data sources (this run's)",
                  path, d->n_sources);
        goto done;
    }
    int64_t drawn[MD_TRAIN_MAX_SOURCES];
    for (int s = 0; s < d->n_sources; s++) {
        const md_json *e = &srcs->items[s];
        const char *name;
        int64_t nt, ne;
        double ratio;
        if (md_json_get_string(e, "name", path, &name, err) ||
            md_json_get_int(e, "n_tokens", path, &nt, err) ||
            md_json_get_int(e, "n_examples", path, &ne, err) ||
            md_json_get_number(e, "ratio", path, &ratio, err) ||
            md_json_get_int(e, "drawn", path, &drawn[s], err))
            goto done;
        if (ratio != d->src[s].ratio) {
            md_errorf(err, "%s: data source %d ('%s') was mixed with ratio %g, this run uses %g",
                      path, s, name, ratio, d->src[s].ratio);
            goto done;
        }
        if (nt != d->src[s].n_tokens || ne != d->src[s].n_examples) {
            md_errorf(err, "%s: data source %d ('%s') had %lld tokens / %lld examples, this run's "
                      "'%s' has %lld / %lld: not the same data", path, s, name, (long long)nt,
                      (long long)ne, d->src[s].name, (long long)d->src[s].n_tokens,
                      (long long)d->src[s].n_examples);
            goto done;
        }
    }
    for (int p = 0; p < m->n_params; p++) {
        const md_train_param *tp = &m->params[p];
        for (int k = 0; k < 2; k++) {
            char name[200];
            snprintf(name, sizeof name, "adamw.%c.%s", k ? 'v' : 'm', tp->name);
            md_tensor v;
            if (md_safetensors_get(&st, name, MD_F32, tp->ndim, tp->shape, &v, err)) goto done;
            memcpy((k ? t->adamw.v : t->adamw.m) + tp->offset, v.data,
                   sizeof(float) * (size_t)tp->numel);
        }
    }
    if (load_curve(&st, "curve.loss", step, t->loss_curve, err) ||
        load_curve(&st, "curve.lr", step, t->lr_curve, err) ||
        load_curve(&st, "curve.grad_norm", step, t->norm_curve, err))
        goto done;
    t->step = step;
    t->adamw.step = adamw_step;
    t->tokens_seen = tokens_seen;
    t->wall_seconds = wall;
    d->rows_drawn = rows;
    for (int s = 0; s < d->n_sources; s++) d->src[s].drawn = drawn[s];
    rc = 0;
done:
    md_json_free(j);
    md_safetensors_close(&st);
    return rc;
}
