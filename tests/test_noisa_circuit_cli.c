// `mechdrift circuit` end to end on the planted model (tests/circuit_planted.h) saved as a
// Hugging Face folder with its task as a task-batch folder: ACDC and EAP-IG (with the
// top-n search by faithfulness) return the planted edges in circuit.json, eval.json says
// the circuit is faithful, the figure is drawn, the manifest lists the arrays; bad input
// exits non-zero with a message naming the problem.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "experiments/methods/circuit.h"
#include "model/weights.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/npy.h"
#include "tests/circuit_planted.h"

static char exe[2048], model_dir[1024], data_dir[1024];
static md_model model;
static md_cgraph graph;

static int setup(void **state) {
    (void)state;
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
    md_error err = {{0}};
    planted_model(&model);
    snprintf(model_dir, sizeof model_dir, "%s", md_test_path("planted"));
    snprintf(data_dir, sizeof data_dir, "%s", md_test_path("task"));
    md_task_batch t;
    planted_task(&t, 24, 3);
    int rc = md_model_save(&model, model_dir, MD_F32, &err) || md_task_batch_save(&t, data_dir, &err) ||
             md_cgraph_build(&graph, 2, PL_H, false, &err);
    md_task_batch_free(&t);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    return rc ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    md_model_free(&model);
    md_cgraph_free(&graph);
    return 0;
}

static int run_cli(const char *args, const char *logfile) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2>&1", exe, args, logfile);
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

static bool exists(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

// The circuit in DIR/circuit.json is exactly the planted one.
static void expect_planted(const char *dir) {
    char p[2048];
    snprintf(p, sizeof p, "%s/circuit.json", dir);
    md_circuit c;
    md_error err = {{0}};
    if (md_circuit_load_json(&c, &graph, p, &err)) fail_msg("%s", err.msg);
    const char *want[3] = {"input->a0.h0<v>", "a0.h0->a1.h1<v>", "a1.h1->logits"};
    assert_int_equal(md_circuit_n_edges(&c), 3);
    for (int i = 0; i < 3; i++) assert_true(c.edge_in[md_cgraph_find_edge_name(&graph, want[i])]);
    md_circuit_free(&c);
}

static double eval_field(const char *dir, const char *key) {
    char p[2048];
    snprintf(p, sizeof p, "%s/eval.json", dir);
    md_error err = {{0}};
    md_json *j = md_json_parse_file(p, &err);
    if (!j) fail_msg("%s", err.msg);
    double v;
    if (md_json_get_number(j, key, p, &v, &err)) fail_msg("%s", err.msg);
    md_json_free(j);
    return v;
}

static void test_acdc(void **state) {
    (void)state;
    char args[4096];
    const char *out = md_test_path("acdc"), *log = md_test_path("acdc.log");
    snprintf(args, sizeof args,
             "circuit --method acdc --model '%s' --task files --data '%s' --out '%s' --tau 0.001 "
             "--eval-ablation corrupted --n 24", model_dir, data_dir, out);
    int st = run_cli(args, log);
    char *s = slurp(log);
    if (st != 0) fail_msg("exit %d: %s", st, s);
    assert_non_null(strstr(s, "ACDC kept 3 of 46 edges"));
    free(s);
    expect_planted(out);
    assert_true(eval_field(out, "faithfulness") > 0.9999);
    assert_true(exists(out, "circuit.svg") && exists(out, "circuit.png") && exists(out, "circuit.dot"));
    assert_true(exists(out, "scores.npy") && exists(out, "manifest.json"));
    char *man = slurp(md_test_path("acdc/manifest.json"));
    assert_non_null(strstr(man, "scores.npy"));
    assert_non_null(strstr(man, "\"method\""));
    free(man);
}

static void test_eap_ig_target_faithfulness(void **state) {
    (void)state;
    char args[4096];
    const char *out = md_test_path("eapig"), *log = md_test_path("eapig.log");
    snprintf(args, sizeof args,
             "circuit --method eap-ig --model '%s' --task files --data '%s' --out '%s' "
             "--target-faithfulness 0.8 --eval-ablation corrupted --batch 8 --no-render",
             model_dir, data_dir, out);
    int st = run_cli(args, log);
    char *s = slurp(log);
    if (st != 0) fail_msg("exit %d: %s", st, s);
    assert_non_null(strstr(s, "top 3 edges reach"));
    free(s);
    expect_planted(out);
    assert_true(eval_field(out, "faithfulness") > 0.9999);
    assert_false(exists(out, "circuit.png"));
}

static void test_patch_and_heads(void **state) {
    (void)state;
    char args[4096];
    const char *out = md_test_path("patch"), *log = md_test_path("patch.log");
    snprintf(args, sizeof args,
             "circuit --method patch --model '%s' --task files --data '%s' --out '%s'", model_dir,
             data_dir, out);
    assert_int_equal(run_cli(args, log), 0);
    assert_true(exists(out, "patch_effect.npy"));
    out = md_test_path("heads");
    snprintf(args, sizeof args,
             "circuit --method heads --model '%s' --task files --data '%s' --out '%s'", model_dir,
             data_dir, out);
    assert_int_equal(run_cli(args, log), 0);
    assert_true(exists(out, "dla.npy") && exists(out, "induction.npy"));
    // The output head a1.h1 is the one "name mover": its direct path carries the answer.
    md_tensor t;
    void *owned = NULL;
    md_error err = {{0}};
    char p[2048];
    snprintf(p, sizeof p, "%s/direct_effect.npy", out);
    if (md_npy_load(p, &t, &owned, &err)) fail_msg("%s", err.msg);
    const float *d = t.data;
    assert_true(d[3] < -1.0f);
    assert_true(fabsf(d[0]) < 1e-4f && fabsf(d[1]) < 1e-4f && fabsf(d[2]) < 1e-4f);
    free(owned);
}

static void test_errors(void **state) {
    (void)state;
    char args[4096];
    const char *log = md_test_path("err.log");
    snprintf(args, sizeof args, "circuit --method magic --model '%s' --out '%s'", model_dir,
             md_test_path("x"));
    assert_int_equal(run_cli(args, log), 2);
    char *s = slurp(log);
    assert_non_null(strstr(s, "--method 'magic'"));
    free(s);
    snprintf(args, sizeof args, "circuit --method eap --model '%s' --task files --data '%s' --out '%s'",
             model_dir, md_test_path("nowhere"), md_test_path("y"));
    assert_int_equal(run_cli(args, log), 1);
    s = slurp(log);
    assert_non_null(strstr(s, "clean_tokens.npy"));
    free(s);
    assert_false(exists(md_test_path("y"), "circuit.json"));
    // A task whose tokens the model cannot take.
    snprintf(args, sizeof args, "circuit --method eap --model '%s' --task synthetic --out '%s'",
             model_dir, md_test_path("z"));
    assert_int_equal(run_cli(args, log), 1);
    s = slurp(log);
    assert_non_null(strstr(s, "synthetic IOI"));
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acdc),
        cmocka_unit_test(test_eap_ig_target_faithfulness),
        cmocka_unit_test(test_patch_and_heads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
