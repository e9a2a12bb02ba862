// Linear layers and embedding lookups: every matmul goes through md_sgemm /
// md_gemm_f32_bf16 (tensor/gemm.h), which is bit-identical for any thread count, so
// the weight-gradient reductions over rows are deterministic for free.
#include "tensor/ops.h"

#include "tensor/gemm.h"

// Rows below which a parallel region costs more than it saves.
#define PAR_MIN_ELEMS 32768

static void add_bias_rows(float *out, const float *bias, int64_t N, int64_t OC) {
    // out (N, OC) += bias (OC) broadcast over rows
    if (!bias) return;
#pragma omp parallel for schedule(static) if (N * OC > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        float *o = out + n * OC;
        for (int64_t j = 0; j < OC; j++) o[j] += bias[j];
    }
}

// dbias (OC) += column sums of dout (N, OC). Parallel over column blocks; each column
// adds its rows in order (double accumulator), so the sum never depends on threads.
static void colsum_accumulate(float *dbias, const float *dout, int64_t N, int64_t OC) {
    enum { CB = 64 };
    int64_t nblocks = (OC + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * OC > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        int64_t j0 = blk * CB, j1 = j0 + CB < OC ? j0 + CB : OC;
        double acc[CB] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *d = dout + n * OC;
            for (int64_t j = j0; j < j1; j++) acc[j - j0] += d[j];
        }
        for (int64_t j = j0; j < j1; j++) dbias[j] += (float)acc[j - j0];
    }
}

void md_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                       int64_t N, int64_t IC, int64_t OC) {
    // out (N, OC) = inp (N, IC) @ w (OC, IC)^T
    md_sgemm(MD_NOTRANS, MD_TRANS, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);
    add_bias_rows(out, bias, N, OC);
}

void md_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int64_t N, int64_t IC, int64_t OC) {
    // dinp (N, IC) += dout (N, OC) @ w (OC, IC)
    if (dinp) md_sgemm(MD_NOTRANS, MD_NOTRANS, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);
    // dw (OC, IC) += dout^T (OC, N) @ inp (N, IC)
    if (dw) md_sgemm(MD_TRANS, MD_NOTRANS, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (dbias) colsum_accumulate(dbias, dout, N, OC);
}

void md_linear_forward_bf16(float *out, const float *inp, const md_bf16 *w, const float *bias,
                            int64_t N, int64_t IC, int64_t OC) {
    // out (N, OC) = inp (N, IC) @ w (OC, IC)^T, inp rounded to bf16 inside the GEMM
    md_gemm_f32_bf16(MD_NOTRANS, MD_TRANS, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);
    add_bias_rows(out, bias, N, OC);
}

void md_linear_backward_bf16(float *dinp, float *dw, float *dbias, const float *dout,
                             const float *inp, const md_bf16 *w, int64_t N, int64_t IC,
                             int64_t OC) {
    // dinp (N, IC) += dout (N, OC) @ w (OC, IC): bf16 GEMM (dout rounded to bf16)
    if (dinp)
        md_gemm_f32_bf16(MD_NOTRANS, MD_NOTRANS, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp,
                         IC);
    // dw stays a full-precision master gradient: fp32 GEMM on fp32 activations
    if (dw) md_sgemm(MD_TRANS, MD_NOTRANS, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (dbias) colsum_accumulate(dbias, dout, N, OC);
}

void md_embedding_forward(float *out, const int32_t *ids, const float *table, int64_t N,
                          int64_t C) {
    // out (N, C) = table (V, C) [ids (N)]
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        const float *src = table + (int64_t)ids[n] * C;
        float *dst = out + n * C;
        for (int64_t c = 0; c < C; c++) dst[c] = src[c];
    }
}

void md_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t N,
                           int64_t C) {
    // dtable (V, C) += scatter(dout (N, C)). Threads own disjoint column blocks and walk
    // the tokens in order, so repeated ids accumulate in token order without races.
    enum { CB = 64 };
    int64_t nblocks = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        int64_t c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
        for (int64_t n = 0; n < N; n++) {
            float *dst = dtable + (int64_t)ids[n] * C;
            const float *src = dout + n * C;
            for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}
