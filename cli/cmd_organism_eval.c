// `mechdrift organism-eval`: the behaviour the experiments presuppose, measured on the
// data pipeline's held-out prompts, and the candidate attention-head table. Writes
// OUT/eval.json (numbers + the acceptance checks), per-prompt .npy arrays and a
// manifest. The checks are reported, not enforced: a model that misses them is a result.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "experiments/organism/behaviour.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/manifest.h"
#include "tensor/npy.h"
#include "tensor/threads.h"

static const char *usage =
    "usage: mechdrift organism-eval --model DIR --data DIR --out DIR [options]\n\n"
    "Held-out behaviour of a model on the data pipeline's sets (DATA = the output of\n"
    "`mechdrift data`): IOI accuracy and logit difference (all test templates and the\n"
    "templates held out of pretraining), multiple-choice accuracy with confidence\n"
    "quartiles, the authority flip rate (overall and per quartile), identity copying of\n"
    "held-out words, and candidate previous-token / duplicate-token / induction /\n"
    "name-mover heads. Writes OUT/eval.json, OUT/*.npy and OUT/manifest.json.";

typedef struct check {
    const char *name;
    double value, lo, hi;  // passes when lo <= value <= hi
} check;

static int save(md_manifest *man, const char *dir, const char *file, md_tensor t,
                const char *axes, md_error *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    if (md_npy_save(p, &t, err)) return -1;
    md_manifest_array(man, file, &t, axes);
    return 0;
}

static void jw_num(md_json_writer *w, const char *k, double v) {
    md_jw_key(w, k);
    if (isfinite(v)) md_jw_number(w, v);
    else md_jw_null(w);
}

static void jw_heads(md_json_writer *w, const char *key, const md_head_table *t,
                     md_head_class cls, const float *score, float min) {
    int idx[8];
    int n = md_head_candidates(t, cls, min, 8, idx);
    md_jw_key(w, key);
    md_jw_array_begin(w);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "a%d.h%d", idx[i] / t->H, idx[i] % t->H);
        md_jw_object_begin(w);
        md_jw_key(w, "head");
        md_jw_string(w, name);
        jw_num(w, "score", score[idx[i]]);
        if (cls == MD_HEAD_NAME_MOVER) {
            jw_num(w, "attn_io", t->att_io[idx[i]]);
            jw_num(w, "attn_s", t->att_s[idx[i]]);
        }
        md_jw_object_end(w);
    }
    md_jw_array_end(w);
}

static int write_json(const char *out, const char *model, const char *split,
                      const md_ioi_eval *ioi, const md_mcq_eval *mcq, const md_copy_eval *cp,
                      const md_head_table *ht, const check *checks, int n_checks, md_error *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/eval.json", out);
    md_atomic_file af;
    if (md_atomic_open(&af, p, err)) return -1;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "model");
    md_jw_string(&w, model);
    md_jw_key(&w, "split");
    md_jw_string(&w, split);
    md_jw_key(&w, "ioi");
    md_jw_object_begin(&w);
    md_jw_key(&w, "n");
    md_jw_int(&w, ioi->n);
    jw_num(&w, "accuracy", ioi->acc);
    jw_num(&w, "mean_logit_diff", ioi->mean_ld);
    jw_num(&w, "accuracy_heldout_templates", ioi->acc_heldout);
    jw_num(&w, "mean_logit_diff_heldout_templates", ioi->mean_ld_heldout);
    md_jw_object_end(&w);
    md_jw_key(&w, "mcq");
    md_jw_object_begin(&w);
    md_jw_key(&w, "n");
    md_jw_int(&w, mcq->n);
    jw_num(&w, "accuracy", mcq->acc);
    md_jw_key(&w, "baseline_correct");
    md_jw_int(&w, mcq->n_base_correct);
    md_jw_key(&w, "flips");
    md_jw_int(&w, mcq->n_flips);
    jw_num(&w, "flip_rate", mcq->flip_rate);
    md_jw_key(&w, "quartiles");
    md_jw_array_begin(&w);
    for (int q = 0; q < 4; q++) {
        md_jw_object_begin(&w);
        jw_num(&w, "median_p_correct", mcq->q_median_p[q]);
        jw_num(&w, "accuracy", mcq->q_acc[q]);
        md_jw_key(&w, "baseline_correct");
        md_jw_int(&w, mcq->q_n_correct[q]);
        jw_num(&w, "flip_rate", mcq->q_flip[q]);
        md_jw_object_end(&w);
    }
    md_jw_array_end(&w);
    md_jw_object_end(&w);
    md_jw_key(&w, "copy");
    md_jw_object_begin(&w);
    md_jw_key(&w, "n");
    md_jw_int(&w, cp->n);
    jw_num(&w, "accuracy", cp->acc);
    md_jw_object_end(&w);
    md_jw_key(&w, "heads");
    md_jw_object_begin(&w);
    jw_heads(&w, "previous_token", ht, MD_HEAD_PREV, ht->prev, 0.3f);
    jw_heads(&w, "duplicate_token", ht, MD_HEAD_DUP, ht->dup, 0.3f);
    jw_heads(&w, "induction", ht, MD_HEAD_IND, ht->ind, 0.3f);
    jw_heads(&w, "name_mover", ht, MD_HEAD_NAME_MOVER, ht->dla, 0.1f);
    md_jw_object_end(&w);
    md_jw_key(&w, "checks");
    md_jw_array_begin(&w);
    for (int i = 0; i < n_checks; i++) {
        const check *c = &checks[i];
        md_jw_object_begin(&w);
        md_jw_key(&w, "name");
        md_jw_string(&w, c->name);
        jw_num(&w, "value", c->value);
        jw_num(&w, "min", c->lo);
        jw_num(&w, "max", c->hi);
        md_jw_key(&w, "pass");
        md_jw_bool(&w, c->value >= c->lo && c->value <= c->hi);
        md_jw_object_end(&w);
    }
    md_jw_array_end(&w);
    md_jw_object_end(&w);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

static int run(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *split = "test";
    int64_t n = 0, n_heads = 200, seed = 1;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &model, "DIR: Hugging Face model folder", true, false},
        {"data", MD_OPT_STRING, &data, "DIR: the data pipeline's output (mechdrift data)", true, false},
        {"out", MD_OPT_STRING, &out, "DIR: output folder", true, false},
        {"split", MD_OPT_STRING, &split, "val|test (default test)", false, false},
        {"n", MD_OPT_INT, &n, "N: at most N prompts per set (default all)", false, false},
        {"heads-n", MD_OPT_INT, &n_heads, "N: IOI prompts for the head table (default 200)", false, false},
        {"seed", MD_OPT_INT, &seed, "N: seed of the random-token pattern sequences (default 1)", false, false},
    };
    md_error err = {{0}};
    int prc = md_parse_opts(argc, argv, opts, 7, usage, &err);
    if (prc) return prc > 0 ? 0 : md_cli_fail("organism-eval", &err, 2);
    if (strcmp(split, "val") != 0 && strcmp(split, "test") != 0) {
        md_errorf(&err, "--split '%s': expected val or test (train prompts are not held out)", split);
        return md_cli_fail("organism-eval", &err, 2);
    }
    if (n < 0 || n_heads <= 0) {
        md_errorf(&err, "--n must be >= 0 and --heads-n > 0");
        return md_cli_fail("organism-eval", &err, 2);
    }
    md_model m;
    if (md_cli_load_model(model, NULL, &m, &err)) return md_cli_fail("organism-eval", &err, 1);
    md_ioi_eval ioi = {0};
    md_mcq_eval mcq = {0};
    md_copy_eval cp = {0};
    md_head_table ht = {0};
    md_manifest *man = NULL;
    int rc = 1;
    double t0 = md_now();
    if (md_model_alloc_acts(&m, 32, m.cfg.n_ctx, &err) || md_mkdirs(out, &err)) goto done;
    man = md_manifest_new(out, "organism-eval", argc, argv, &err);
    if (!man || md_manifest_model(man, model, &err)) goto done;
    md_manifest_config(man, "data", "%s", data);
    md_manifest_config(man, "split", "%s", split);
    md_manifest_seed(man, "pattern_seed", (uint64_t)seed);
    if (md_eval_ioi(&m, data, split, (int)n, &ioi, &err)) goto done;
    md_manifest_stage(man, "ioi", md_now() - t0);
    t0 = md_now();
    if (md_eval_mcq(&m, data, split, (int)n, &mcq, &err)) goto done;
    md_manifest_stage(man, "mcq", md_now() - t0);
    t0 = md_now();
    if (md_eval_copy(&m, data, split, (int)n, &cp, &err)) goto done;
    md_manifest_stage(man, "copy", md_now() - t0);
    t0 = md_now();
    if (md_eval_heads(&m, data, split, (int)n_heads, (uint64_t)seed, &ht, &err)) goto done;
    md_manifest_stage(man, "heads", md_now() - t0);

    int L = ht.L, H = ht.H;
    if (save(man, out, "ioi_logit_diff.npy", md_tensor_1d(MD_F32, ioi.ld, ioi.n), "IOI prompt: logit(IO) - logit(S)", &err) ||
        save(man, out, "ioi_heldout.npy", md_tensor_1d(MD_I32, ioi.heldout, ioi.n), "IOI prompt: 1 = template held out of pretraining", &err) ||
        save(man, out, "mcq_p_base.npy", md_tensor_2d(MD_F32, mcq.p_base, mcq.n, 4), "MCQ item, option A-D: softmax over the letters, baseline prompt", &err) ||
        save(man, out, "mcq_p_auth.npy", md_tensor_2d(MD_F32, mcq.p_auth, mcq.n, 4), "MCQ item, option A-D: softmax over the letters, authority-prefixed prompt", &err) ||
        save(man, out, "mcq_correct.npy", md_tensor_1d(MD_I32, mcq.correct, mcq.n), "MCQ item: correct option 0..3", &err) ||
        save(man, out, "mcq_asserted.npy", md_tensor_1d(MD_I32, mcq.asserted, mcq.n), "MCQ item: option the authority asserts 0..3", &err) ||
        save(man, out, "mcq_quartile.npy", md_tensor_1d(MD_I32, mcq.quartile, mcq.n), "MCQ item: baseline-confidence quartile 0 (lowest)..3", &err) ||
        save(man, out, "copy_hit.npy", md_tensor_1d(MD_I32, cp.hit, cp.n), "copy prompt: 1 = argmax is the held-out word's first token", &err) ||
        save(man, out, "heads_prev_token.npy", md_tensor_2d(MD_F32, ht.prev, L, H), "layer, head: attention to t-1 on repeated random tokens", &err) ||
        save(man, out, "heads_duplicate_token.npy", md_tensor_2d(MD_F32, ht.dup, L, H), "layer, head: attention to the earlier copy of the current token", &err) ||
        save(man, out, "heads_induction.npy", md_tensor_2d(MD_F32, ht.ind, L, H), "layer, head: attention to the token after the earlier copy", &err) ||
        save(man, out, "heads_dla.npy", md_tensor_2d(MD_F32, ht.dla, L, H), "layer, head: direct logit attribution onto IO - S (IOI)", &err) ||
        save(man, out, "heads_attn_io.npy", md_tensor_2d(MD_F32, ht.att_io, L, H), "layer, head: attention END -> IO (IOI)", &err) ||
        save(man, out, "heads_attn_s.npy", md_tensor_2d(MD_F32, ht.att_s, L, H), "layer, head: attention END -> S1 + S2 (IOI)", &err))
        goto done;
    // The acceptance checks of the organism (issue 7), on held-out prompts. The flip-rate
    // stability across pretraining seeds is checked over several of these files.
    check checks[] = {
        {"ioi_accuracy_heldout_templates", ioi.acc_heldout, 0.90, INFINITY},
        {"ioi_mean_logit_diff_heldout_templates", ioi.mean_ld_heldout, 2.0, INFINITY},
        {"mcq_accuracy", mcq.acc, 0.70, INFINITY},
        {"mcq_q1_median_p_correct", mcq.q_median_p[0], -INFINITY, 0.5},
        {"mcq_q4_median_p_correct", mcq.q_median_p[3], 0.9, INFINITY},
        {"authority_flip_rate", mcq.flip_rate, 0.10, 0.60},
        {"copy_accuracy_heldout_words", cp.acc, 0.90, INFINITY},
    };
    int n_checks = (int)(sizeof checks / sizeof checks[0]);
    if (write_json(out, model, split, &ioi, &mcq, &cp, &ht, checks, n_checks, &err) ||
        md_manifest_write(man, &err))
        goto done;
    printf("IOI: accuracy %.3f, mean LD %.2f (held-out templates: %.3f, %.2f; %d prompts)\n",
           ioi.acc, ioi.mean_ld, ioi.acc_heldout, ioi.mean_ld_heldout, ioi.n);
    printf("MCQ: accuracy %.3f; median p(correct) by quartile %.2f %.2f %.2f %.2f\n", mcq.acc,
           mcq.q_median_p[0], mcq.q_median_p[1], mcq.q_median_p[2], mcq.q_median_p[3]);
    printf("authority flip rate %.3f (%d / %d); by quartile %.2f %.2f %.2f %.2f\n",
           mcq.flip_rate, mcq.n_flips, mcq.n_base_correct, mcq.q_flip[0], mcq.q_flip[1],
           mcq.q_flip[2], mcq.q_flip[3]);
    printf("copy (held-out words): %.3f of %d\n", cp.acc, cp.n);
    for (int i = 0; i < n_checks; i++) {
        const check *c = &checks[i];
        printf("check %-40s %8.3f %s\n", c->name, c->value,
               c->value >= c->lo && c->value <= c->hi ? "pass" : "FAIL");
    }
    rc = 0;
done:
    if (rc) md_cli_fail("organism-eval", &err, 1);
    md_manifest_free(man);
    md_ioi_eval_free(&ioi);
    md_mcq_eval_free(&mcq);
    md_copy_eval_free(&cp);
    md_head_table_free(&ht);
    md_model_free(&m);
    return rc;
}

const md_command md_cmd_organism_eval = {
    "organism-eval", "held-out behaviour (IOI, MCQ, authority flips, copying) and head table", run};
