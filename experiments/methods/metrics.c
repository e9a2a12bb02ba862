// Task metrics on the logits at the answer positions, with their gradients.
#include <math.h>
#include <string.h>

#include "experiments/methods/circuit.h"

static const char *const metric_names[MD_METRIC_COUNT] = {"ld", "kl", "ce2", "ce2-half", "acc",
                                                          "prob"};

const char *md_metric_name(md_metric m) {
    return m >= 0 && m < MD_METRIC_COUNT ? metric_names[m] : "?";
}

int md_metric_parse(const char *s, md_metric *m, md_error *err) {
    for (int i = 0; i < MD_METRIC_COUNT; i++)
        if (strcmp(s, metric_names[i]) == 0) {
            *m = (md_metric)i;
            return 0;
        }
    return md_errorf(err, "metric '%s': expected ld, kl, ce2, ce2-half, acc or prob", s);
}

void md_log_softmax_rows(float *out, const float *logits, int64_t R, int64_t V) {
#pragma omp parallel for schedule(static) if (R * V > 65536)
    for (int64_t r = 0; r < R; r++) {
        const float *x = logits + r * V;
        float mx = x[0];
        for (int64_t v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
        double s = 0.0;
        for (int64_t v = 0; v < V; v++) s += exp((double)x[v] - mx);
        double lse = mx + log(s);
        for (int64_t v = 0; v < V; v++) out[r * V + v] = (float)((double)x[v] - lse);
    }
}

// log(1 + exp(x)) without overflow.
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double md_metric_sum(md_metric m, const float *logits, int R, int V, const int32_t *good,
                     const int32_t *bad, const float *ref_logp, float *dlogits, float scale) {
    if (dlogits) memset(dlogits, 0, (size_t)R * V * sizeof(float));
    double total = 0.0;
    for (int r = 0; r < R; r++) {
        const float *x = logits + (int64_t)r * V;
        float *d = dlogits ? dlogits + (int64_t)r * V : NULL;
        double lg = x[good[r]], lb = x[bad[r]], diff = lg - lb;
        switch (m) {
        case MD_METRIC_LD:
            total += diff;
            if (d) d[good[r]] += scale, d[bad[r]] -= scale;
            break;
        case MD_METRIC_ACC:
            total += diff > 0;
            break;
        case MD_METRIC_CE2: {
            total += softplus(-diff);
            double g = -(1.0 - sigmoid(diff));  // d loss / d diff
            if (d) d[good[r]] += (float)(scale * g), d[bad[r]] -= (float)(scale * g);
            break;
        }
        case MD_METRIC_CE2_HALF: {
            total += 0.5 * softplus(-diff) + 0.5 * softplus(diff);
            double g = sigmoid(diff) - 0.5;
            if (d) d[good[r]] += (float)(scale * g), d[bad[r]] -= (float)(scale * g);
            break;
        }
        case MD_METRIC_KL:
        case MD_METRIC_PROB: {
            float mx = x[0];
            for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
            double s = 0.0;
            for (int v = 0; v < V; v++) s += exp((double)x[v] - mx);
            double lse = mx + log(s);
            if (m == MD_METRIC_PROB) {
                double pg = exp(lg - lse);
                total += pg;
                if (d) {
                    for (int v = 0; v < V; v++) d[v] = (float)(-scale * pg * exp((double)x[v] - lse));
                    d[good[r]] += (float)(scale * pg);
                }
            } else {
                const float *pl = ref_logp + (int64_t)r * V;
                double kl = 0.0;
                for (int v = 0; v < V; v++) {
                    double lp = pl[v], lq = (double)x[v] - lse;
                    double p = exp(lp);
                    kl += p * (lp - lq);
                    if (d) d[v] = (float)(scale * (exp(lq) - p));
                }
                total += kl;
            }
            break;
        }
        default:
            break;
        }
    }
    return total;
}
