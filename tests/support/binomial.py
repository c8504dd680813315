"""How far a sampled share may stray by chance: exact binomial tails, no SciPy."""

from __future__ import annotations

import math


def pmf(k: int, n: int, p: float) -> float:
    if p in (0.0, 1.0):
        return float(k == round(n * p))
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)
    return math.exp(log)


def interval(n: int, p: float, tail: float = 0.0005) -> tuple[int, int]:
    """The narrowest ``lo..hi`` with at most ``tail`` of Binomial(n, p) below ``lo`` and at most ``tail`` above ``hi``.

    With the default, a fair sampler lands outside it once in a thousand runs.
    """
    below = 0.0
    lo = 0
    while lo < n and below + pmf(lo, n, p) <= tail:
        below += pmf(lo, n, p)
        lo += 1
    above = 0.0
    hi = n
    while hi > 0 and above + pmf(hi, n, p) <= tail:
        above += pmf(hi, n, p)
        hi -= 1
    return lo, hi
