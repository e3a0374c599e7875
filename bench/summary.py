"""Medians, spread and ratios of repeated measurements (no Django, no I/O)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def summarize(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min, max and relative spread ((max - min) / median) of `values`."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not clean:
        return {"n": 0, "median": None, "min": None, "max": None, "spread": None, "values": []}
    median = statistics.median(clean)
    lo, hi = min(clean), max(clean)
    return {
        "n": len(clean),
        "median": median,
        "min": lo,
        "max": hi,
        "spread": round((hi - lo) / median, 4) if median else 0.0,
        "values": clean,
    }


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline, or None when either is missing or the baseline is 0."""
    if ours is None or baseline is None or baseline == 0:
        return None
    return round(ours / baseline, 4)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` (0..1) percentile of `values` by linear interpolation."""
    data = sorted(float(v) for v in values)
    if not data:
        return None
    pos = (len(data) - 1) * share
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def metric(
    name: str,
    ours: Sequence[float | None],
    baseline: Sequence[float | None] | None = None,
    *,
    unit: str = "",
    better: str = "lower",
) -> dict[str, Any]:
    """One figure of a case: both sides summarised and the ratio of their medians."""
    o = summarize(ours)
    b = summarize(baseline) if baseline is not None else None
    return {
        "name": name,
        "unit": unit,
        "better": better,
        "ours": o,
        "baseline": b,
        "ratio": ratio(o["median"], b["median"]) if b is not None else None,
    }


def goal(text: str, value: float | None, target: float, *, at_most: bool = True) -> dict[str, Any]:
    """A goal of the issue: met when `value` <= target (or >= with at_most=False)."""
    if value is None:
        met = None
        miss = None
    else:
        met = value <= target if at_most else value >= target
        miss = None if met else round(value / target, 3) if target else None
    return {
        "text": text,
        "value": value,
        "target": target,
        "at_most": at_most,
        "met": met,
        "by": miss,
    }
