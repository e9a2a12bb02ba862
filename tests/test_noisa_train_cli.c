// `mechdrift train` / `finetune` as a user runs them: a run killed with SIGKILL after a
// checkpoint and resumed with --resume auto writes the same model bytes as an
// uninterrupted run; a head-only fine-tune leaves every other tensor's bytes unchanged;
// model.tie_embeddings ties or unties a fresh model's head; bad options (an unknown key,
// a bad head, a bad lr, an unknown wpe_init or tie_embeddings) are errors that name them.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "tests/support/testutil.h"

static int setup(void **state) {
    int32_t ids[5000];
    ids[0] = 0;
    for (int i = 1; i < 5000; i++) ids[i] = i % 7 ? (ids[i - 1] * 5 + 3) % 64 : i % 64;
    md_tensor t = md_tensor_1d(MD_I32, ids, 5000);
    md_error err = {{0}};
    if (md_npy_save(md_test_path("s.npy"), &t, &err)) return -1;
    FILE *f = fopen(md_test_path("qa.jsonl"), "w");
    if (!f) return -1;
    for (int e = 0; e < 20; e++)
        fprintf(f, "{\"prompt\": [%d, %d, %d], \"answer\": [%d, %d]}\n", e, e + 1, e + 2, e + 3, e + 4);
    fclose(f);
    return 0;
}

static bool same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    md_error err = {{0}};
    if (md_read_file(a, 0, &x, &nx, &err)) return false;
    if (md_read_file(b, 0, &y, &ny, &err)) {
        free(x);
        return false;
    }
    bool same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_kill_and_resume_gives_the_same_bytes(void **state) {
    const char *s = md_test_path("s.npy");
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --data %s --out %s 2>/dev/null",
                        md_test_cli(), s, md_test_path("a")), 0);
    // Killed by SIGKILL right after step 6 (checkpoint-4 is the newest on disk). The same
    // command line (--resume auto) starts the run, there being no checkpoint yet, and
    // continues it.
    assert_int_equal(md_test_sh(NULL, "MECHDRIFT_TEST_KILL_AT_STEP=6 %s train --config configs/train-tiny.cfg "
                        "--data %s --out %s --resume auto 2>/dev/null", md_test_cli(), s, md_test_path("b")),
                     128 + SIGKILL);
    assert_true(exists(md_test_path("b/checkpoint-4/training_state.safetensors")));
    assert_false(exists(md_test_path("b/model.safetensors")));
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --data %s --out %s "
                        "--resume auto 2>/dev/null", md_test_cli(), s, md_test_path("b")), 0);
    assert_true(same_file(md_test_path("a/model.safetensors"), md_test_path("b/model.safetensors")));
    assert_true(same_file(md_test_path("a/loss.npy"), md_test_path("b/loss.npy")));
    assert_true(same_file(md_test_path("a/lr.npy"), md_test_path("b/lr.npy")));
    assert_true(exists(md_test_path("b/manifest.json")));
}

static void test_head_finetune_changes_only_that_head(void **state) {
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --data %s --out %s 2>/dev/null",
                        md_test_cli(), md_test_path("s.npy"), md_test_path("base")), 0);
    assert_int_equal(md_test_sh(NULL, "%s finetune --model %s --data %s --out %s --steps 5 --lr 1e-2 "
                        "--seq-len 8 --train-heads 1.2 2>/dev/null", md_test_cli(), md_test_path("base"),
                        md_test_path("qa.jsonl"), md_test_path("ft")), 0);
    md_safetensors a, b;
    md_error err = {{0}};
    assert_int_equal(md_safetensors_open(md_test_path("base/model.safetensors"), &a, &err), 0);
    assert_int_equal(md_safetensors_open(md_test_path("ft/model.safetensors"), &b, &err), 0);
    assert_int_equal(a.count, b.count);
    int changed = 0;
    for (size_t i = 0; i < a.count; i++) {
        const md_st_entry *x = &a.tensors[i], *y = md_safetensors_find(&b, x->name);
        assert_non_null(y);
        assert_int_equal(x->nbytes, y->nbytes);
        bool same = memcmp(x->data, y->data, x->nbytes) == 0;
        // GPT-2 names: head 2 of block 1 lives in h.1.attn.c_attn (weight, bias) and
        // h.1.attn.c_proj.weight; every other tensor must keep its bytes.
        bool head_tensor = !strcmp(x->name, "transformer.h.1.attn.c_attn.weight") ||
                           !strcmp(x->name, "transformer.h.1.attn.c_attn.bias") ||
                           !strcmp(x->name, "transformer.h.1.attn.c_proj.weight");
        if (!head_tensor) assert_true(same);
        else changed += !same;
    }
    assert_int_equal(changed, 3);
    md_safetensors_close(&a);
    md_safetensors_close(&b);
}

// model.tie_embeddings: a fresh Pythia has its own unembedding (embed_out) unless the
// config ties it to the embedding, as organism-neox does; the folder says which.
static void test_tie_embeddings_knob(void **state) {
    const char *names[2] = {"neox_untied", "neox_tied"};
    for (int tie = 0; tie < 2; tie++) {
        assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --data %s --out %s "
                            "--set 'steps=2;save_every=0;model.arch=gpt_neox;model.tie_embeddings=%s' 2>/dev/null",
                            md_test_cli(), md_test_path("s.npy"), md_test_path(names[tie]),
                            tie ? "true" : "auto"), 0);
        char path[1024], *cfg;
        size_t n;
        md_error err = {{0}};
        snprintf(path, sizeof path, "%s/config.json", md_test_path(names[tie]));
        assert_int_equal(md_read_file(path, 0, &cfg, &n, &err), 0);
        const char *want = tie ? "\"tie_word_embeddings\": true" : "\"tie_word_embeddings\": false";
        if (!strstr(cfg, want)) fail_msg("%s: no %s in %s", names[tie], want, cfg);
        free(cfg);
        md_safetensors st;
        snprintf(path, sizeof path, "%s/model.safetensors", md_test_path(names[tie]));
        assert_int_equal(md_safetensors_open(path, &st, &err), 0);
        assert_true((md_safetensors_find(&st, "embed_out.weight") != NULL) == !tie);
        assert_non_null(md_safetensors_find(&st, "gpt_neox.embed_in.weight"));
        md_safetensors_close(&st);
    }
}

static void test_errors_name_the_problem(void **state) {
    char out[4096];
    snprintf(out, sizeof out, "%s", md_test_path("err.txt"));
    assert_int_equal(md_test_sh(NULL, "%s finetune --model %s --data %s --out %s --seq-len 8 --train-heads 1.9 2>%s", md_test_cli(),
                        md_test_path("base"), md_test_path("qa.jsonl"), md_test_path("x"), out), 1);
    char *msg;
    size_t n;
    md_error err = {{0}};
    assert_int_equal(md_read_file(out, 0, &msg, &n, &err), 0);
    if (!strstr(msg, "4 heads")) fail_msg("stderr: %s", msg);
    free(msg);
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --set 'stpes=3' 2>%s", md_test_cli(), out), 2);
    assert_int_equal(md_read_file(out, 0, &msg, &n, &err), 0);
    assert_non_null(strstr(msg, "stpes"));
    free(msg);
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --set 'model.wpe_init=sine' 2>%s",
                        md_test_cli(), out), 2);
    assert_int_equal(md_read_file(out, 0, &msg, &n, &err), 0);
    if (!strstr(msg, "model.wpe_init") || !strstr(msg, "sine")) fail_msg("stderr: %s", msg);
    free(msg);
    assert_int_equal(md_test_sh(NULL, "%s train --config configs/train-tiny.cfg --set 'model.tie_embeddings=yes' 2>%s",
                        md_test_cli(), out), 2);
    assert_int_equal(md_read_file(out, 0, &msg, &n, &err), 0);
    if (!strstr(msg, "model.tie_embeddings") || !strstr(msg, "yes")) fail_msg("stderr: %s", msg);
    free(msg);
    assert_int_equal(md_test_sh(NULL, "%s finetune --model %s --data %s --out %s --lr fast 2>%s", md_test_cli(),
                        md_test_path("base"), md_test_path("qa.jsonl"), md_test_path("x"), out), 2);
    assert_int_equal(md_read_file(out, 0, &msg, &n, &err), 0);
    assert_non_null(strstr(msg, "lr"));
    free(msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_resume_gives_the_same_bytes),
        cmocka_unit_test(test_head_finetune_changes_only_that_head),
        cmocka_unit_test(test_tie_embeddings_knob),
        cmocka_unit_test(test_errors_name_the_problem),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
