// The organism pipeline end to end at toy scale, as `make organism organism-eval` runs
// it: `mechdrift data` on a scaled-down world (tests/data/world-tiny.cfg), `mechdrift
// train` of a 2-layer model (tests/data/train-organism-tiny.cfg), `mechdrift
// organism-eval` on the held-out sets, then a short phase 2 from that folder on the
// late corpus (model.from, as configs/train-organism-late.cfg does). The checks are scaled down to what this 2-minute
// model learns from 3.8M tokens: the training loss falls from 7.3 below 2.3 (measured
// 2.00), and identity prompts copy held-out words at least 0.45 of the time (measured
// 0.55; chance ~1/1536). It does not learn IOI yet (accuracy 0.25, LD -1.07: it still
// predicts S, the organism's state before its phase change at 4-6M tokens), so IOI is
// checked on the full organism only (make organism-eval). Under sanitizers the model trains for 20 steps (ASan is ~10x
// slower) and only the pipeline and its outputs are checked.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tensor/json.h"
#include "tensor/npy.h"
#include "tests/support/testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static double number(const md_json *root, const char *obj, const char *key) {
    const md_json *o = md_json_get(root, obj);
    double v = 0;
    md_error err = {{0}};
    if (!o || md_json_get_number(o, key, "eval.json", &v, &err)) fail_msg("eval.json: no %s.%s", obj, key);
    return v;
}

static void test_tiny_organism(void **state) {
    (void)state;
    const char *data = md_test_path("data"), *model = md_test_path("model");
    const char *eval = md_test_path("eval"), *late = md_test_path("late");
    char data_s[4096], model_s[4096], eval_s[4096], late_s[4096];
    snprintf(late_s, sizeof late_s, "%s", late);
    snprintf(data_s, sizeof data_s, "%s", data);
    snprintf(model_s, sizeof model_s, "%s", model);
    snprintf(eval_s, sizeof eval_s, "%s", eval);
    assert_int_equal(md_test_sh(NULL, "%s data --config tests/data/world-tiny.cfg --out %s > %s.log 2>&1", md_test_cli(), data_s, data_s), 0);
    assert_int_equal(md_test_sh(NULL, "OMP_WAIT_POLICY=passive %s train --config tests/data/train-organism-tiny.cfg "
                        "--data %s/corpus_train.npy --out %s --set 'model.tokenizer=%s/tokenizer%s' "
                        "> %s.log 2>&1", md_test_cli(), data_s, model_s, data_s, SANITIZED ? ";steps=20" : "", model_s), 0);
    assert_int_equal(md_test_sh(NULL, "%s organism-eval --model %s --data %s --out %s > %s.log 2>&1", md_test_cli(), model_s,
                        data_s, eval_s, eval_s), 0);
    // Phase 2 starts from phase 1's folder: architecture and weights come from it.
    assert_int_equal(md_test_sh(NULL, "OMP_WAIT_POLICY=passive %s train --config tests/data/train-organism-tiny.cfg "
                        "--data %s/corpus_late_train.npy --out %s --set 'model.from=%s;model.tokenizer=%s/tokenizer;"
                        "steps=%d;warmup=5;save_every=0' > %s.log 2>&1", md_test_cli(), data_s, late_s, model_s,
                        data_s, SANITIZED ? 3 : 40, late_s), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", late_s);
    assert_int_equal(md_test_sh(NULL, "test -s %s", path), 0);
    snprintf(path, sizeof path, "%s/eval.json", eval_s);
    md_error err = {{0}};
    md_json *j = md_json_parse_file(path, &err);
    if (!j) fail_msg("%s", err.msg);
    double ioi_acc = number(j, "ioi", "accuracy_heldout_templates");
    double ioi_ld = number(j, "ioi", "mean_logit_diff_heldout_templates");
    double copy = number(j, "copy", "accuracy");
    double mcq = number(j, "mcq", "accuracy");
    printf("tiny organism: IOI held-out accuracy %.3f, LD %.2f; copy %.3f; MCQ %.3f\n", ioi_acc,
           ioi_ld, copy, mcq);
    // Every number is a proportion or a finite logit difference, whatever was learned.
    assert_true(ioi_acc >= 0 && ioi_acc <= 1 && copy >= 0 && copy <= 1 && mcq >= 0 && mcq <= 1);
    assert_true(ioi_ld > -1e6 && ioi_ld < 1e6);
    md_json_free(j);
    // The per-prompt arrays agree with the summary.
    snprintf(path, sizeof path, "%s/copy_hit.npy", eval_s);
    md_tensor t;
    void *owned = NULL;
    if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
    int64_t hits = 0;
    for (int64_t i = 0; i < t.shape[0]; i++) hits += ((int32_t *)owned)[i];
    assert_true(t.shape[0] == 300);
    assert_true(hits == (int64_t)(copy * 300 + 0.5));
    free(owned);
    if (SANITIZED) return;
    snprintf(path, sizeof path, "%s/loss.npy", model_s);
    if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
    int64_t n = t.shape[0];
    const float *loss = owned;  // (steps)
    assert_int_equal(n, 2500);
    double last = 0;
    for (int64_t i = n - 100; i < n; i++) last += loss[i] / 100.0;
    printf("tiny organism: loss %.3f -> %.3f (mean of the last 100 steps)\n", loss[0], last);
    assert_true(loss[0] > 6.0 && last < 2.3);
    free(owned);
    // A fresh model starts near ln(1536) = 7.3; phase 2 starts where phase 1 ended.
    snprintf(path, sizeof path, "%s/loss.npy", late_s);
    if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.shape[0], 40);
    printf("tiny organism: phase 2 loss at step 1 %.3f\n", ((const float *)owned)[0]);
    assert_true(((const float *)owned)[0] < last + 0.5);
    free(owned);
    assert_true(copy >= 0.45);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tiny_organism)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
