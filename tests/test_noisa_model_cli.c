// The model commands end to end: `mechdrift info`, `logits`, `generate`, `cache` on a
// small saved model; outputs are compared with the library run in-process, and bad input
// gives a non-zero exit, a message naming the problem and no output file.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/generate.h"
#include "model/hooks.h"
#include "model/model.h"
#include "model/weights.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tests/support/testutil.h"

static char exe[2048];
static char model_dir[1024];
static md_model model;

static int setup(void **state) {
    const char *bin = getenv("BIN");
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    const char *cands[3] = {NULL, NULL, "bin/mechdrift"};
    char c0[1100], c1[1100];
    if (bin && *bin) snprintf(c0, sizeof c0, "%s/mechdrift", bin), cands[0] = c0;
    snprintf(c1, sizeof c1, "%s/../bin/mechdrift", self);
    cands[1] = c1;
    for (int i = 0; i < 3; i++)
        if (cands[i] && access(cands[i], X_OK) == 0) {
            snprintf(exe, sizeof exe, "%s", cands[i]);
            break;
        }
    if (!exe[0]) {
        fprintf(stderr, "mechdrift binary not found (set BIN)\n");
        return -1;
    }
    md_config c = {.arch = MD_ARCH_NEOX, .n_layer = 2, .n_head = 2, .d_model = 16, .d_head = 8,
                   .d_mlp = 32, .vocab_size = 50, .n_ctx = 24, .ln_eps = 1e-5,
                   .act = MD_ACT_GELU_EXACT, .tie_word_embeddings = false,
                   .parallel_residual = true, .rotary_dims = 4, .rotary_pct = 0.5,
                   .rotary_base = 10000, .attn_bias = true, .bos_token_id = -1,
                   .eos_token_id = -1};
    md_error err = {{0}};
    if (md_model_init(&model, &c, false, &err)) return -1;
    md_model_init_random(&model, 9);
    md_test_fill_uniform(model.params.wte, 50 * 16, 3, -1, 1);
    md_test_fill_uniform(model.params.unembed, 50 * 16, 4, -1, 1);
    snprintf(model_dir, sizeof model_dir, "%s", md_test_path("model"));
    return md_model_save(&model, model_dir, MD_F32, &err);
}

static int teardown(void **state) {
    md_model_free(&model);
    return 0;
}

// Runs exe with arguments; returns the exit status; stdout+stderr go to OUT.
static int run_cli(const char *args, const char *outfile) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", exe, args, outfile);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path) {
    char *s = NULL;
    size_t n;
    md_error err = {{0}};
    if (md_read_file(path, 0, &s, &n, &err)) fail_msg("%s", err.msg);
    return s;
}

static const int32_t toks[] = {3, 17, 42, 8, 8, 1, 49};
enum { NT = 7 };

static void test_info(void **state) {
    char args[2048];
    const char *out = md_test_path("info.txt");
    snprintf(args, sizeof args, "info --model '%s'", model_dir);
    assert_int_equal(run_cli(args, out), 0);
    char *s = slurp(out);
    assert_non_null(strstr(s, "gpt_neox"));
    assert_non_null(strstr(s, "gpt_neox.layers.1.attention.query_key_value.weight"));
    assert_non_null(strstr(s, "[48, 16]"));
    char want[64];
    snprintf(want, sizeof want, "parameters:   %lld", (long long)md_config_param_count(&model.cfg));
    assert_non_null(strstr(s, want));
    free(s);
}

static void test_logits(void **state) {
    char args[2048];
    const char *log = md_test_path("logits.txt"), *npy = md_test_path("logits.npy");
    snprintf(args, sizeof args, "logits --model '%s' --tokens 3,17,42,8,8,1,49 --out '%s'", model_dir, npy);
    assert_int_equal(run_cli(args, log), 0);
    md_tensor t;
    void *owned = NULL;
    md_error err = {{0}};
    if (md_npy_load(npy, &t, &owned, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], NT);
    assert_int_equal(t.shape[1], 50);
    assert_int_equal(md_model_forward(&model, toks, NULL, 1, NT, NULL, &err), 0);
    assert_memory_equal(t.data, model.acts.logits, sizeof(float) * NT * 50);
    free(owned);
    // Processed weights give the same log-probabilities (logits up to a constant).
    const char *npy2 = md_test_path("logits_processed.npy");
    snprintf(args, sizeof args, "logits --model '%s' --tokens 3,17,42,8,8,1,49 --out '%s' --process all",
             model_dir, npy2);
    assert_int_equal(run_cli(args, log), 0);
    // Errors: a token outside the vocabulary; no --out; an unknown processing option.
    const char *npy3 = md_test_path("never.npy");
    snprintf(args, sizeof args, "logits --model '%s' --tokens 3,50 --out '%s'", model_dir, npy3);
    assert_int_equal(run_cli(args, log), 1);
    char *s = slurp(log);
    assert_non_null(strstr(s, "[0, 50)"));
    free(s);
    assert_int_not_equal(access(npy3, F_OK), 0);
    snprintf(args, sizeof args, "logits --model '%s' --tokens 3", model_dir);
    assert_int_equal(run_cli(args, log), 2);
    snprintf(args, sizeof args, "logits --model '%s' --tokens 3 --out '%s' --process fold", model_dir, npy3);
    assert_int_equal(run_cli(args, log), 1);
    s = slurp(log);
    assert_non_null(strstr(s, "fold"));
    free(s);
    // A folder without a tokenizer cannot take --text.
    snprintf(args, sizeof args, "logits --model '%s' --text hello --out '%s'", model_dir, npy3);
    assert_int_equal(run_cli(args, log), 1);
    assert_int_not_equal(access(npy3, F_OK), 0);
}

static void test_generate(void **state) {
    char args[2048];
    const char *out = md_test_path("gen.txt");
    snprintf(args, sizeof args, "generate --model '%s' --tokens 3,17,42 --max-new-tokens 6 --ids", model_dir);
    assert_int_equal(run_cli(args, out), 0);
    char *s = slurp(out);
    int32_t ids[6];
    int n = 0;
    md_sample_opts o = {.max_new_tokens = 6, .stop_token = -1};
    md_error err = {{0}};
    assert_int_equal(md_generate(&model, toks, 3, &o, ids, &n, &err), 0);
    char want[256] = "";
    for (int i = 0; i < n; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "," : "", ids[i]);
    assert_non_null(strstr(s, want));
    free(s);
    // Sampling is reproducible from the seed.
    const char *o1 = md_test_path("gen1.txt"), *o2 = md_test_path("gen2.txt");
    snprintf(args, sizeof args, "generate --model '%s' --tokens 3 --max-new-tokens 20 --ids --temperature 1.5 --top-k 20 --seed 4", model_dir);
    assert_int_equal(run_cli(args, o1), 0);
    assert_int_equal(run_cli(args, o2), 0);
    char *a = slurp(o1), *b = slurp(o2);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_cache(void **state) {
    char args[2048];
    const char *log = md_test_path("cache.txt"), *dir = md_test_path("cache_out");
    snprintf(args, sizeof args,
             "cache --model '%s' --tokens 3,17,42,8,8,1,49 --hooks 'blocks.*.attn.hook_pattern,blocks.1.hook_resid_post' --out '%s' --grads",
             model_dir, dir);
    assert_int_equal(run_cli(args, log), 0);
    md_cache mem, grads;
    md_cache_init(&mem);
    md_cache_init(&grads);
    md_hooks h;
    md_hooks_init(&h);
    md_error err = {{0}};
    assert_int_equal(md_hooks_cache(&h, "blocks.*.attn.hook_pattern", &mem, &err), 0);
    assert_int_equal(md_hooks_cache(&h, "blocks.1.hook_resid_post", &mem, &err), 0);
    // The same hooks as the command registers (gradients at the patterns switch the
    // attention to its unfused path, which rounds differently from the fused one).
    assert_int_equal(md_hooks_grad_cache(&h, "blocks.*.attn.hook_pattern", &grads, &err), 0);
    assert_int_equal(md_hooks_grad_cache(&h, "blocks.1.hook_resid_post", &grads, &err), 0);
    int32_t tgt[NT];
    for (int i = 0; i < NT; i++) tgt[i] = i + 1 < NT ? toks[i + 1] : -1;
    assert_int_equal(md_model_alloc_grads(&model, &err), 0);
    assert_int_equal(md_model_forward(&model, toks, tgt, 1, NT, &h, &err), 0);
    assert_int_equal(md_model_backward(&model, &err), 0);
    assert_int_equal(mem.count, 3);
    for (int i = 0; i < mem.count; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s.npy", dir, mem.entries[i].name);
        md_tensor t;
        void *owned = NULL;
        if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
        assert_true(md_shape_equal(&t, &mem.entries[i].t));
        assert_memory_equal(t.data, mem.entries[i].t.data, md_nbytes(&t));
        free(owned);
    }
    char path[1400];
    snprintf(path, sizeof path, "%s/grad/blocks.1.hook_resid_post.npy", dir);
    md_tensor t;
    void *owned = NULL;
    if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
    const md_tensor *g = md_cache_get(&grads, "blocks.1.hook_resid_post");
    assert_non_null(g);
    assert_memory_equal(t.data, g->data, md_nbytes(&t));
    free(owned);
    snprintf(path, sizeof path, "%s/tokens.npy", dir);
    assert_int_equal(access(path, F_OK), 0);
    // An unknown hook name is an error naming it.
    snprintf(args, sizeof args, "cache --model '%s' --tokens 3,4 --hooks 'blocks.0.attn.hook_zz' --out '%s'",
             model_dir, md_test_path("cache_bad"));
    assert_int_equal(run_cli(args, log), 1);
    char *s = slurp(log);
    assert_non_null(strstr(s, "blocks.0.attn.hook_zz"));
    free(s);
    md_hooks_free(&h);
    md_cache_free(&mem);
    md_cache_free(&grads);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_logits),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
