// The bit-identity check behind `make verify-neuroplasticity`: a rerun of the first
// seeds and the first checkpoints (a prefix of the plan) must reproduce the stored
// arrays' slices exactly (compared as bit patterns, so NaNs compare too).
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "tensor/npy.h"

int np_verify_against(const np_results *r, const char *dir, FILE *log, md_error *err) {
    np_array_ref a[24];
    int n = np_results_arrays(r, a, 24);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, a[i].file);
        md_tensor t;
        void *owned = NULL;
        if (md_npy_load(path, &t, &owned, err)) return -1;
        bool is_overlap = a[i].data == r->overlap;
        int64_t per = a[i].per_ckpt;
        // The stored array is (S0, K0, tail...); the overlap matrix's tail is K0.
        int64_t stored_per = 1;
        for (int d = 2; d < t.ndim; d++) stored_per *= t.shape[d];
        if (t.dtype != MD_F32 || t.ndim < 2 || t.shape[0] < r->S || t.shape[1] < r->K ||
            (!is_overlap && stored_per != per) || (is_overlap && (t.ndim != 3 || t.shape[2] < r->K))) {
            free(owned);
            return md_errorf(err, "%s: expected float32 (>= %d, >= %d, ...) matching this run's "
                                  "layout", path, r->S, r->K);
        }
        int64_t K0 = t.shape[1], diff = 0, total = 0;
        const float *st = t.data;
        for (int s = 0; s < r->S; s++)
            for (int k = 0; k < r->K; k++) {
                const float *mine = a[i].data + ((int64_t)s * r->K + k) * per;
                const float *theirs = st + ((int64_t)s * K0 + k) * stored_per;
                int64_t m = is_overlap ? r->K : per;
                for (int64_t j = 0; j < m; j++) diff += memcmp(&mine[j], &theirs[j], sizeof(float)) != 0;
                total += m;
            }
        free(owned);
        if (log)
            fprintf(log, "verify-neuroplasticity: %-32s %s (%lld values)\n", a[i].file,
                    diff ? "DIFFERS" : "bit-identical", (long long)total);
        if (diff) {
            if (log) fprintf(log, "verify-neuroplasticity:   %lld of %lld values differ\n", (long long)diff, (long long)total);
            bad++;
        }
    }
    if (bad) return md_errorf(err, "%d of %d arrays differ from %s", bad, n, dir);
    return 0;
}
