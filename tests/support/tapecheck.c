#include "tests/support/tapecheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    md_tape *tp;
    md_tc_build build;
    void *ctx;
    md_tc_input *ins;
    int n_in;
    int64_t out_n;
} tc_state;

static md_var *build_on(tc_state *s, bool grad) {
    md_tape_reset(s->tp);
    md_tape_set_grad(s->tp, grad);
    md_var *vars[16];
    for (int i = 0; i < s->n_in; i++)
        vars[i] = md_tape_input(s->tp, s->ins[i].data, s->ins[i].ndim, s->ins[i].shape,
                                grad && s->ins[i].check);
    md_var *out = s->build(s->tp, vars, s->ctx);
    if (!out || md_tape_error(s->tp)) {
        fprintf(stderr, "tapecheck: graph failed: %s\n", md_tape_error(s->tp));
        abort();
    }
    return out;
}

static void tc_forward(void *p, float *out) {
    tc_state *s = p;
    md_var *o = build_on(s, false);
    memcpy(out, md_var_data(o), sizeof(float) * (size_t)s->out_n);
}

int64_t md_tape_gradcheck(md_tc_build build, void *ctx, md_tc_input *ins, int n_in,
                          uint64_t seed, const md_gradcheck *tol, int64_t max_checks,
                          float **grads_out) {
    md_tape tape;
    if (md_tape_init(&tape, (size_t)16 << 20, NULL) != 0) abort();
    tc_state s = {&tape, build, ctx, ins, n_in, 0};
    if (n_in > 16) abort();
    // gradients: build with grad on, seed r, backward, copy the inputs' gradients
    md_tape_reset(&tape);
    md_tape_set_grad(&tape, true);
    md_var *vars[16];
    for (int i = 0; i < n_in; i++)
        vars[i] = md_tape_input(&tape, ins[i].data, ins[i].ndim, ins[i].shape, ins[i].check);
    md_var *out = build(&tape, vars, ctx);
    if (!out) {
        fprintf(stderr, "tapecheck: graph failed: %s\n", md_tape_error(&tape));
        abort();
    }
    s.out_n = md_var_numel(out);
    float *r = md_gc_rand(s.out_n, seed);
    if (md_tape_backward_from(&tape, out, r) != 0) {
        fprintf(stderr, "tapecheck: backward failed: %s\n", md_tape_error(&tape));
        abort();
    }
    float *grads[16] = {0};
    for (int i = 0; i < n_in; i++) {
        if (!ins[i].check) continue;
        int64_t n = md_var_numel(vars[i]);
        grads[i] = md_gc_zeros(n);
        if (vars[i]->grad) memcpy(grads[i], vars[i]->grad, sizeof(float) * (size_t)n);
    }
    md_gradcheck g = tol ? *tol : md_gradcheck_default(tc_forward, &s, s.out_n, r);
    g.forward = tc_forward;
    g.ctx = &s;
    g.out_n = s.out_n;
    g.proj = r;
    g.max_checks = max_checks;
    int64_t fails = 0;
    for (int i = 0; i < n_in; i++) {
        if (!ins[i].check) continue;
        int64_t n = 1;
        for (int d = 0; d < ins[i].ndim; d++) n *= ins[i].shape[d];
        fails += md_gradcheck_input(&g, ins[i].data, n, grads[i], ins[i].name);
    }
    for (int i = 0; i < n_in; i++) {
        if (grads_out) grads_out[i] = grads[i];
        else free(grads[i]);
    }
    free(r);
    md_tape_free(&tape);
    return fails;
}
