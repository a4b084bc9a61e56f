"""What retrainings say, as plain data: the confirmed comparison and the fidelity calibration.

* :func:`compare_confirmed`: the best confirmed found architecture against the best confirmed
  baseline (mean and sample sd over seeds), with the sentence the CLI and the report print:
  ``found is 1.2 ± 0.4 points above the best baseline (seeds' ranges do not overlap)``;
* :func:`calibration`: rank agreement between the search fidelity's score and the confirm
  protocol's test accuracy over the same candidates: Spearman's rho and Kendall's tau-b, each with a
  percentile bootstrap interval, and the top-k overlap; given the protocol's seed-to-seed noise
  (:func:`seed_noise`, from confirm runs of several seeds), also the noise ceiling
  (:func:`noise_ceiling`): the Kendall's tau a perfect score would reach against one-seed accuracies.

Used by ``mgsearch confirm`` / ``calibrate``, the report and ``export --best``; numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mgsearch.store.runs import RunGroup, RunRecord, run_groups

__all__ = ["ConfirmComparison", "compare_confirmed", "latest_protocol", "spearman", "kendall_tau_b",
           "Calibration", "calibration", "calibration_pairs", "SeedNoise", "seed_noise", "protocol_noise", "noise_ceiling",
           "BOOTSTRAP_SAMPLES"]

#: resamples of the bootstrap interval
BOOTSTRAP_SAMPLES = 1000


# --------------------------------------------------------------------------- confirm
def latest_protocol(runs: Sequence[RunRecord]) -> dict[str, Any] | None:
    """The protocol of the most recent finished run (the report and export show that protocol's runs)."""
    finished = [r for r in runs if r.finished and r.protocol is not None]
    return dict(max(finished, key=lambda r: r.number).protocol) if finished else None


@dataclass(frozen=True)
class ConfirmComparison:
    """The confirmed groups of one protocol, and the best found one against the best baseline."""

    groups: tuple[RunGroup, ...]
    found: RunGroup | None
    baseline: RunGroup | None

    @property
    def difference(self) -> float | None:
        """Mean test accuracy of the best found minus the best baseline's (fraction), or None."""
        if self.found is None or self.baseline is None:
            return None
        return self.found.mean - self.baseline.mean

    @property
    def difference_sd(self) -> float | None:
        """The standard error of that difference of means: sqrt(sd_f^2 / n_f + sd_b^2 / n_b)."""
        if self.found is None or self.baseline is None:
            return None
        f, b = self.found, self.baseline
        return math.sqrt(f.sd ** 2 / len(f.accs) + b.sd ** 2 / len(b.accs))

    @property
    def overlap(self) -> bool | None:
        """Whether the seeds' ranges [min, max] of the two overlap."""
        if self.found is None or self.baseline is None:
            return None
        return self.found.low <= self.baseline.high and self.baseline.low <= self.found.high

    def sentence(self) -> str:
        """``found is X ± Y points above the best baseline (seeds' ranges overlap)`` (or what is missing)."""
        if self.found is None:
            return "no confirmed found architecture yet: run mgsearch confirm"
        if self.baseline is None:
            return (f"found {self.found.label} is {100 * self.found.mean:.2f} ± {100 * self.found.sd:.2f} % "
                    "(no confirmed baseline to compare with: run mgsearch baseline, then mgsearch confirm)")
        d, sd = 100 * (self.difference or 0.0), 100 * (self.difference_sd or 0.0)
        side = "above" if d >= 0 else "below"
        ranges = "seeds' ranges overlap" if self.overlap else "seeds' ranges do not overlap"
        return f"found is {abs(d):.2f} ± {sd:.2f} points {side} the best baseline ({ranges})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the groups, the two compared, the difference in points and the sentence."""
        return {"groups": [g.to_dict() for g in self.groups],
                "found": self.found.to_dict() if self.found else None,
                "baseline": self.baseline.to_dict() if self.baseline else None,
                "difference_points": None if self.difference is None else 100 * self.difference,
                "difference_sd_points": None if self.difference_sd is None else 100 * self.difference_sd,
                "ranges_overlap": self.overlap, "sentence": self.sentence()}


def compare_confirmed(runs: Sequence[RunRecord], protocol: dict[str, Any] | None = None,
                      keys: set[str] | None = None) -> ConfirmComparison:
    """Group the finished confirm runs (of ``protocol``; default: :func:`latest_protocol`; only the
    runs whose ``run_key`` is in ``keys`` when given) and compare the best found group (highest
    mean) with the best baseline group."""
    chosen = [r for r in runs if keys is None or r.run_key in keys]
    protocol = protocol if protocol is not None else latest_protocol(chosen)
    groups = run_groups(chosen, protocol) if protocol is not None else []
    found = next((g for g in groups if g.role == "found"), None)
    base = next((g for g in groups if g.role == "baseline"), None)
    return ConfirmComparison(tuple(groups), found, base)


# --------------------------------------------------------------------------- rank statistics
def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of the (tie-averaged) ranks; nan when a side is constant."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx ** 2).sum() * (ry ** 2).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties corrected) over all pairs; nan when a side is constant."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    dx = np.sign(a[:, None] - a[None, :])
    dy = np.sign(b[:, None] - b[None, :])
    iu = np.triu_indices(len(a), 1)
    sx, sy = dx[iu], dy[iu]
    s = float((sx * sy).sum())
    nx, ny = float((sx != 0).sum()), float((sy != 0).sum())
    return s / math.sqrt(nx * ny) if nx > 0 and ny > 0 else float("nan")


def _bootstrap(x: np.ndarray, y: np.ndarray, stat: Any, samples: int, seed: int) -> tuple[float, float]:
    """The 2.5 / 97.5 % percentiles of ``stat`` over pairs resampled with replacement (resamples where
    the statistic is undefined, a constant side, are left out)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        idx = rng.integers(0, len(x), len(x))
        v = stat(x[idx], y[idx])
        if math.isfinite(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


#: the fewest candidates with both scores for which rank statistics are computed
MIN_PAIRS = 3


@dataclass(frozen=True)
class SeedNoise:
    """Seed-to-seed spread of test accuracy at one protocol: the pooled sample sd over networks each
    trained with several seeds (``networks`` of them, ``runs`` runs in all)."""

    sd: float
    networks: int
    runs: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"sd": self.sd, "networks": self.networks, "runs": self.runs}


def seed_noise(groups: Sequence[RunGroup]) -> SeedNoise | None:
    """The pooled seed sd of ``groups`` (confirm runs of one protocol, :func:`mgsearch.store.runs.run_groups`):
    ``sqrt(sum (k_i - 1) s_i^2 / sum (k_i - 1))`` over the groups with at least two seeds; None when no
    group has two."""
    multi = [g for g in groups if len(g.accs) >= 2]
    dof = sum(len(g.accs) - 1 for g in multi)
    if dof == 0:
        return None
    pooled = sum((len(g.accs) - 1) * g.sd ** 2 for g in multi) / dof
    return SeedNoise(sd=math.sqrt(pooled), networks=len(multi), runs=sum(len(g.accs) for g in multi))


def protocol_noise(runs: Sequence[RunRecord], protocol: dict[str, Any]) -> SeedNoise | None:
    """:func:`seed_noise` of the confirm runs in ``runs`` trained at ``protocol``."""
    return seed_noise(run_groups(runs, protocol))


def noise_ceiling(full: Sequence[float], seed_sd: float) -> float:
    """The Kendall's tau-b that a perfect score (each candidate's accuracy averaged over infinitely many
    seeds) would reach, in expectation, against one-seed accuracies like ``full``, when one run's
    accuracy is its network's true accuracy plus normal seed noise of sd ``seed_sd``.

    Model (method of moments): the true accuracies spread normally with variance
    ``var(full) - seed_sd^2``, so the true and the one-seed accuracies are bivariate normal with
    correlation ``rho = sqrt(1 - seed_sd^2 / var(full))``, and the sample tau is an unbiased estimate of
    the population's ``2 / pi * asin(rho)`` (Kendall 1938). 0 when the noise explains all of the
    observed spread; nan with fewer than :data:`MIN_PAIRS` accuracies or all of them equal. A
    calibration far below its ceiling says the score ranks poorly; one near a low ceiling says the
    one-seed accuracies cannot tell the candidates apart.
    """
    y = np.asarray(full, float)
    if len(y) < MIN_PAIRS or not math.isfinite(seed_sd) or seed_sd < 0:
        return float("nan")
    observed_var = float(y.var(ddof=1))
    if observed_var <= 0:
        return float("nan")
    rho = math.sqrt(max(0.0, 1.0 - seed_sd ** 2 / observed_var))
    return 2.0 / math.pi * math.asin(rho)


@dataclass(frozen=True)
class Calibration:
    """Rank agreement of the search fidelity's score (``cheap``) and the protocol's test accuracy (``full``)."""

    labels: tuple[str, ...]
    cheap: tuple[float, ...]
    full: tuple[float, ...]
    spearman: float
    spearman_ci: tuple[float, float]
    kendall: float
    kendall_ci: tuple[float, float]
    top_k: int
    #: None with fewer than :data:`MIN_PAIRS` candidates (no ranking to compare)
    top_k_overlap: int | None
    #: the protocol's seed-to-seed noise, when known (confirm runs of several seeds at that protocol)
    noise: SeedNoise | None = None

    @property
    def n(self) -> int:
        """Candidates with both scores."""
        return len(self.cheap)

    @property
    def ceiling(self) -> float | None:
        """:func:`noise_ceiling` of ``full`` under ``noise`` (None without it)."""
        return noise_ceiling(self.full, self.noise.sd) if self.noise is not None else None

    def text(self, *, ceiling: bool = True) -> str:
        """``Spearman 0.62 [0.10, 0.90], Kendall 0.45 [0.05, 0.75] over 12 candidates; top-3 overlap 2 of 3``,
        then ``; `` and :meth:`ceiling_text` where there is one and ``ceiling`` is true."""
        def f(v: float) -> str:
            return "-" if not math.isfinite(v) else f"{v:.2f}"

        if self.n < MIN_PAIRS:
            return (f"{self.n} candidate{'' if self.n == 1 else 's'} with both scores so far: too few for a rank "
                    f"correlation (at least {MIN_PAIRS})")
        text = (f"Spearman {f(self.spearman)} [{f(self.spearman_ci[0])}, {f(self.spearman_ci[1])}], "
                f"Kendall {f(self.kendall)} [{f(self.kendall_ci[0])}, {f(self.kendall_ci[1])}] (95 % bootstrap) "
                f"over {self.n} candidates; top-{self.top_k} overlap {self.top_k_overlap} of {self.top_k}")
        ceiling = self.ceiling_text() if ceiling else None
        return f"{text}; {ceiling}" if ceiling else text

    def ceiling_text(self) -> str | None:
        """``noise ceiling: a perfect score would reach Kendall 0.38 against one-seed accuracies (seed sd
        0.28 points from 2 networks x seeds at this protocol)``; None when the seed noise is unknown."""
        ceiling = self.ceiling
        if self.noise is None or ceiling is None or not math.isfinite(ceiling):
            return None
        return (f"noise ceiling: a perfect score would reach Kendall {ceiling:.2f} against one-seed "
                f"accuracies (seed sd {100 * self.noise.sd:.2f} points from {self.noise.networks} "
                f"network{'' if self.noise.networks == 1 else 's'} x seeds at this protocol)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (undefined statistics as None)."""
        def j(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"n": self.n, "spearman": j(self.spearman), "spearman_ci": [j(v) for v in self.spearman_ci],
                "kendall": j(self.kendall), "kendall_ci": [j(v) for v in self.kendall_ci],
                "top_k": self.top_k, "top_k_overlap": self.top_k_overlap,
                "seed_noise": self.noise.to_dict() if self.noise is not None else None,
                "noise_ceiling": j(ceiling) if (ceiling := self.ceiling) is not None else None,
                "candidates": [{"label": lb, "search_score": c, "confirm_test_acc": t}
                               for lb, c, t in zip(self.labels, self.cheap, self.full)],
                "text": self.text()}


def calibration_pairs(runs: Sequence[RunRecord], protocol: dict[str, Any] | None = None
                      ) -> list[tuple[str, float, float]]:
    """``[(label, search-fidelity val_acc, protocol test_acc)]`` per candidate with both runs finished
    (calibrate's ``search`` and ``confirm`` roles; of ``protocol`` for the latter when given)."""
    from mgsearch.store.runs import protocol_key

    want = protocol_key(protocol) if protocol is not None else None
    cheap: dict[int, float] = {}
    full: dict[int, float] = {}
    for r in runs:
        if not r.finished or r.source_trial is None:
            continue
        if r.role == "search":
            cheap[r.source_trial] = r.val_acc or 0.0
        elif r.role == "confirm" and (want is None or (r.protocol and protocol_key(r.protocol) == want)):
            full[r.source_trial] = r.test_acc or 0.0
    return [(f"candidate {i}", cheap[i], full[i]) for i in sorted(cheap) if i in full]


def calibration(pairs: Sequence[tuple[str, float, float]], *, top_k: int = 3,
                samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, noise: SeedNoise | None = None) -> Calibration:
    """Spearman / Kendall (with bootstrap intervals) and the top-k overlap of ``pairs``
    (:func:`calibration_pairs`), with the :func:`noise_ceiling` when the protocol's seed ``noise`` is
    given. Fewer than :data:`MIN_PAIRS` pairs give undefined (nan) statistics and no top-k overlap (None)."""
    labels = tuple(p[0] for p in pairs)
    x = np.array([p[1] for p in pairs], float)
    y = np.array([p[2] for p in pairs], float)
    k = max(1, min(top_k, len(pairs)))
    if len(pairs) < MIN_PAIRS:
        nan = float("nan")
        return Calibration(labels, tuple(x), tuple(y), nan, (nan, nan), nan, (nan, nan), k, None)
    top_x = set(np.argsort(-x, kind="mergesort")[:k].tolist())
    top_y = set(np.argsort(-y, kind="mergesort")[:k].tolist())
    return Calibration(
        labels, tuple(float(v) for v in x), tuple(float(v) for v in y),
        spearman(x, y), _bootstrap(x, y, spearman, samples, seed),
        kendall_tau_b(x, y), _bootstrap(x, y, kendall_tau_b, samples, seed + 1),
        k, len(top_x & top_y),
        noise=noise,
    )
