#!/usr/bin/python3
"""Fits the polynomial behind the vectorised exact GELU (tensor/ops_vmath_avx2.c).

erfc(z) = exp(-z^2) * erfcx(z), and erfcx (the scaled complementary error function) is
smooth and slowly varying on [0, inf): it falls from 1 to ~1/(z sqrt(pi)). In
t = 1 / (1 + z/2), which maps [0, inf) onto (0, 1], it is close to a low polynomial.
We fit a degree-9 polynomial in t on z in [0, 10] (below exp(-100) every float
product is 0) by weighted least squares at Chebyshev nodes, reweighting towards the
worst points (Lawson's iteration) to approach the minimax relative error.

Prints the coefficients (constant term first) as C float literals and the maximum
relative error, in double and in float Horner evaluation.
"""
import math

import numpy as np

P = 0.5        # t = 1 / (1 + P z)
Z_MAX = 10.0
DEGREE = 9


def erfcx(z):
    return np.array([math.erfc(v) * math.exp(v * v) for v in z])


def fit():
    t_min = 1.0 / (1.0 + P * Z_MAX)
    k = np.arange(4000)
    t = (t_min + 1) / 2 + (1 - t_min) / 2 * np.cos(np.pi * (k + 0.5) / len(k))
    y = erfcx((1 / t - 1) / P)
    V = np.vander(t, DEGREE + 1, increasing=True)
    w = 1 / y  # relative error
    c, *_ = np.linalg.lstsq(V * w[:, None], y * w, rcond=None)
    for _ in range(30):
        e = np.abs(V @ c - y) / y
        w = w * (1 + e / e.max())
        c, *_ = np.linalg.lstsq(V * w[:, None], y * w, rcond=None)
    return c, t_min


def main():
    c, t_min = fit()
    t = np.linspace(t_min, 1, 200001)
    y = erfcx((1 / t - 1) / P)
    rel64 = np.abs(np.polyval(c[::-1], t) - y) / y
    c32, t32 = c.astype(np.float32), t.astype(np.float32)
    acc = np.full_like(t32, c32[-1])
    for cc in c32[-2::-1]:
        acc = (acc * t32 + cc).astype(np.float32)
    rel32 = np.abs(acc - y) / y
    for cc in c32:
        print("%.9ef" % cc)
    print("max relative error: %.2e (double), %.2e (float Horner)" % (rel64.max(), rel32.max()))


if __name__ == "__main__":
    main()
