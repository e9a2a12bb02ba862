// Sparsity ops for sparse autoencoders: ReLU, per-row TopK and BatchTopK. Selection is
// deterministic (ties broken by the lower index) and independent of the thread count.
#include "tensor/ops.h"

#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"

#define PAR_MIN_ELEMS 32768

void md_relu_forward(float *out, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void md_relu_backward(float *dx, const float *x, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++)
        if (x[i] > 0.0f) dx[i] += dout[i];
}

// "a ranks above b": larger value, or equal value and lower index. NaN ranks lowest.
static inline int ranks_above(float va, int64_t ia, float vb, int64_t ib) {
    if (va > vb) return 1;
    if (va < vb) return 0;
    if (va == vb) return ia < ib;
    if (va != va && vb != vb) return ia < ib;  // both NaN: by index
    return vb != vb;                           // exactly one NaN: the number ranks above
}

void md_topk_forward(float *out, int32_t *idx, const float *x, int64_t rows, int64_t C,
                     int64_t k) {
    // out (rows, C), idx (rows, k), x (rows, C). k <= C. Per row: a size-k min-heap of
    // candidates (O(C log k)), then the kept columns are listed in increasing order.
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *o = out + r * C;
        int32_t *heap = idx + r * k;  // heap of column indices; root ranks lowest
        int64_t size = 0;
        for (int64_t c = 0; c < C && k > 0; c++) {
            if (size < k) {  // sift up
                int64_t i = size++;
                heap[i] = (int32_t)c;
                while (i > 0) {
                    int64_t p = (i - 1) / 2;
                    if (ranks_above(xr[heap[p]], heap[p], xr[heap[i]], heap[i])) {
                        int32_t t = heap[p]; heap[p] = heap[i]; heap[i] = t;
                        i = p;
                    } else break;
                }
            } else if (ranks_above(xr[c], c, xr[heap[0]], heap[0])) {
                heap[0] = (int32_t)c;  // replace the lowest, sift down
                int64_t i = 0;
                for (;;) {
                    int64_t l = 2 * i + 1, rr = l + 1, lo = i;
                    if (l < size && ranks_above(xr[heap[lo]], heap[lo], xr[heap[l]], heap[l])) lo = l;
                    if (rr < size && ranks_above(xr[heap[lo]], heap[lo], xr[heap[rr]], heap[rr])) lo = rr;
                    if (lo == i) break;
                    int32_t t = heap[lo]; heap[lo] = heap[i]; heap[i] = t;
                    i = lo;
                }
            }
        }
        // list the kept columns in increasing order (insertion sort: k is small)
        for (int64_t i = 1; i < k; i++) {
            int32_t v = heap[i];
            int64_t j = i - 1;
            while (j >= 0 && heap[j] > v) { heap[j + 1] = heap[j]; j--; }
            heap[j + 1] = v;
        }
        memset(o, 0, sizeof(float) * (size_t)C);
        for (int64_t i = 0; i < k; i++) o[heap[i]] = xr[heap[i]];
    }
}

void md_topk_backward(float *dx, const int32_t *idx, const float *dout, int64_t rows,
                      int64_t C, int64_t k) {
#pragma omp parallel for schedule(static) if (rows * k > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++) {
            int64_t c = idx[r * k + i];
            dx[r * C + c] += dout[r * C + c];
        }
}

// Quickselect over the flat indices in `ord` (values x): afterwards ord[0..m) holds the m
// top-ranked indices (unordered). Deterministic: pivots are medians of three positions.
static void select_top(int64_t *ord, const float *x, int64_t n, int64_t m) {
    int64_t lo = 0, hi = n;  // the boundary m lies in [lo, hi)
    while (hi - lo > 1 && m > lo && m < hi) {
        int64_t a = ord[lo], b = ord[lo + (hi - lo) / 2], c = ord[hi - 1], piv;
        // median of three by rank
        if (ranks_above(x[a], a, x[b], b)) {
            if (ranks_above(x[b], b, x[c], c)) piv = b;
            else piv = ranks_above(x[a], a, x[c], c) ? c : a;
        } else {
            if (ranks_above(x[a], a, x[c], c)) piv = a;
            else piv = ranks_above(x[b], b, x[c], c) ? c : b;
        }
        // three-way partition: [above pivot | pivot | below]
        int64_t i = lo, j = lo, k = hi;
        while (j < k) {
            int64_t e = ord[j];
            if (e == piv) { j++; continue; }
            if (ranks_above(x[e], e, x[piv], piv)) {
                ord[j] = ord[i]; ord[i] = e; i++; j++;
            } else {
                k--; ord[j] = ord[k]; ord[k] = e;
            }
        }
        // now [lo, i) above, [i, k) == pivot (exactly one element), [k, hi) below
        if (m <= i) hi = i;
        else if (m >= k) lo = k;
        else return;
    }
}

void md_batch_topk_forward(float *out, uint8_t *keep, const float *x, int64_t rows, int64_t C,
                           int64_t k) {
    // out (rows, C), keep (rows, C), x (rows, C): the rows*k top-ranked entries survive
    const int64_t n = rows * C > 0 ? rows * C : 0, m = rows * k < n ? rows * k : n;
    int64_t *ord = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    MD_ASSERT(ord != NULL);  // out of memory for the selection scratch
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    select_top(ord, x, n, m);
    memset(keep, 0, (size_t)n);
    for (int64_t i = 0; i < m; i++) keep[ord[i]] = 1;
    free(ord);
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = keep[i] ? x[i] : 0.0f;
}

void md_masked_backward(float *dx, const uint8_t *keep, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) dx[i] += dout[i];
}
