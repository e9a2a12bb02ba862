// Means with t-based 95% intervals over seeds, and the Pearson correlation.
#include <math.h>

#include "experiments/neuroplasticity/np.h"

double np_t975(int df) {
    // Two-sided 95% quantiles of Student's t (t_{0.975, df}), df = 1..30.
    static const double t[30] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646,
                                 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448,
                                 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796,
                                 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484,
                                 2.0452, 2.0423};
    if (df < 1) return NAN;
    if (df <= 30) return t[df - 1];
    // Beyond the table: the normal quantile with the first Cornish-Fisher correction.
    double z = 1.959964;
    return z + (z * z * z + z) / (4.0 * df);
}

np_stat np_stat_of_d(const double *x, int n) {
    np_stat s = {NAN, NAN, NAN, 0};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) sum += x[i], s.n++;
    if (s.n == 0) return s;
    s.mean = sum / s.n;
    if (s.n < 2) {
        s.lo = s.hi = s.mean;
        return s;
    }
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) ss += (x[i] - s.mean) * (x[i] - s.mean);
    double half = np_t975(s.n - 1) * sqrt(ss / (s.n - 1) / s.n);
    s.lo = s.mean - half;
    s.hi = s.mean + half;
    return s;
}

np_stat np_stat_of(const float *x, int n, int stride) {
    double v[NP_MAX_SEEDS * 8];
    int m = n < (int)(sizeof v / sizeof v[0]) ? n : (int)(sizeof v / sizeof v[0]);
    for (int i = 0; i < m; i++) v[i] = x[(int64_t)i * stride];
    return np_stat_of_d(v, m);
}

double np_pearson(const float *a, const float *b, int n) {
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    if (saa <= 0 || sbb <= 0) return NAN;
    return sab / sqrt(saa * sbb);
}
