#include "tasks/induction.h"

#include "tasks/text.h"

enum { STREAM_INDUCTION = 0x801 };

int md_induction_sets(uint64_t seed, const int64_t n[3], int len, const int32_t *candidates,
                      int ncand, int32_t bos, int32_t *out[3], md_error *err) {
    if (ncand < 2 || len < 1) return md_errorf(err, "induction: need >= 2 candidate tokens");
    md_hashset seen = {0};
    md_rng r = md_rng_init(seed, (uint64_t)STREAM_INDUCTION << 40);
    const int64_t W = 2 * (int64_t)len + 1;
    for (int s = 0; s < 3; s++) {
        for (int64_t i = 0; i < n[s]; i++) {
            int32_t *row = out[s] + i * W;
            int tries = 0;
            do {
                if (++tries > 1000) {
                    md_hashset_free(&seen);
                    return md_errorf(err, "induction: cannot draw distinct sequences (too few "
                                          "candidate tokens for the requested sizes)");
                }
                row[0] = bos;
                for (int k = 0; k < len; k++) row[1 + k] = candidates[md_pick(&r, ncand)];
            } while (!md_hashset_add(&seen, md_hash_bytes(row + 1, sizeof(int32_t) * (size_t)len)));
            for (int k = 0; k < len; k++) row[1 + len + k] = row[1 + k];
        }
    }
    md_hashset_free(&seen);
    return 0;
}
