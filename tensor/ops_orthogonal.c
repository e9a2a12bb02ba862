// Orthogonal matrices as products of Householder reflections, for DAS rotations.
// R = H_0 H_1 ... H_{k-1}, H_i = I - c_i v_i v_i^T, c_i = 2 / (v_i . v_i).
// Forward applies the reflections on the right one by one (O(k n^2)). Backward walks
// them in reverse, recovering each partial product by reflecting again (H_i H_i = I), so
// it needs O(n^2) memory instead of storing k partial products.
#include "tensor/ops.h"

#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"

// Parallel only when a matrix-vector product is big enough to repay a parallel region.
#define PAR_MIN_N 256

// y (n) = A (n, n) v (n), rows in parallel, each row summed in order (double)
static void matvec(double *y, const float *A, const float *v, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_N)
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += (double)A[i * n + j] * v[j];
        y[i] = s;
    }
}

// y (n) = A (n, n)^T x (n): columns in parallel, each summed over rows in order
static void matvec_t(double *y, const float *A, const double *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_N)
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)A[i * n + j] * x[i];
        y[j] = s;
    }
}

// A (n, n) -= c * w (n) v (n)^T
static void rank1_sub(float *A, double c, const double *w, const float *v, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_N)
    for (int64_t i = 0; i < n; i++) {
        double cw = c * w[i];
        for (int64_t j = 0; j < n; j++) A[i * n + j] = (float)((double)A[i * n + j] - cw * v[j]);
    }
}

static double dot_vv(const float *v, int64_t n) {
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += (double)v[j] * v[j];
    return s;
}

void md_householder_forward(float *R, const float *v, int64_t k, int64_t n) {
    // R (n, n), v (k, n)
    memset(R, 0, sizeof(float) * (size_t)(n * n));
    for (int64_t i = 0; i < n; i++) R[i * n + i] = 1.0f;
    double *w = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    MD_ASSERT(w != NULL);
    for (int64_t r = 0; r < k; r++) {
        const float *vr = v + r * n;
        double vv = dot_vv(vr, n);
        if (vv == 0.0) continue;  // a zero vector is no reflection
        matvec(w, R, vr, n);      // R H = R - c (R v) v^T
        rank1_sub(R, 2.0 / vv, w, vr, n);
    }
    free(w);
}

void md_householder_backward(float *dv, const float *dR, const float *R, const float *v,
                             int64_t k, int64_t n) {
    // dv (k, n) += ...; dR, R (n, n); v (k, n)
    const size_t nn = (size_t)(n * n);
    float *Rc = malloc(sizeof(float) * (nn ? nn : 1));  // the partial product after step r
    float *G = malloc(sizeof(float) * (nn ? nn : 1));   // dL / d(partial product)
    double *a = malloc(sizeof(double) * (size_t)(4 * n + 1));
    MD_ASSERT(Rc && G && a);
    double *b = a + n, *t1 = b + n, *t2 = t1 + n;
    memcpy(Rc, R, sizeof(float) * nn);
    memcpy(G, dR, sizeof(float) * nn);
    for (int64_t r = k - 1; r >= 0; r--) {
        const float *vr = v + r * n;
        double vv = dot_vv(vr, n);
        if (vv == 0.0) continue;
        double c = 2.0 / vv;
        matvec(a, Rc, vr, n);  // undo the reflection: R_prev = R_r H_r
        rank1_sub(Rc, c, a, vr, n);
        matvec(a, Rc, vr, n);  // a = R_prev v
        matvec(b, G, vr, n);   // b = G v
        double f = 0.0;
        for (int64_t j = 0; j < n; j++) f += a[j] * b[j];
        matvec_t(t1, Rc, b, n);  // R_prev^T G v
        matvec_t(t2, G, a, n);   // G^T R_prev v
        // L = <G, R_prev - c R_prev v v^T>:
        // dv = -c (R_prev^T G + G^T R_prev) v + (4 f / vv^2) v, f = v^T R_prev^T G v
        float *dvr = dv + r * n;
        for (int64_t j = 0; j < n; j++)
            dvr[j] += (float)(-c * (t1[j] + t2[j]) + 4.0 * f / (vv * vv) * vr[j]);
        rank1_sub(G, c, b, vr, n);  // gradient wrt R_prev: G H_r = G - c (G v) v^T
    }
    free(Rc);
    free(G);
    free(a);
}
