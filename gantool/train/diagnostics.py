"""Watching for the lecture's three failure modes while training.

- Diminished gradient: D gets so good that D(G(z)) -> 0 and G's gradient norm collapses
  (with the minimax loss, log(1 - D(G(z))) is flat there), so G learns nothing.
- Non-convergence: the losses keep oscillating with no trend over a window of logged steps.
- Mode collapse: G's samples are far less diverse than the real data. For the 2-D mixtures
  (ring8, grid25) we count the modes hit; for images we compare the mean pairwise distance
  between samples with the real data's.

`FailureMonitor.observe(record)` adds its measurements and flags to a metrics record and
returns the warnings that just switched on (so a warning is shown when it appears, not every
log line). Every warning says what it means and what to try.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

WINDOW = 20  # logged steps over which non-convergence is judged
MIN_MODE_SHARE = 0.005  # a mode counts as hit when >= 0.5% of samples are within 3 std of it
COLLAPSE_DIVERSITY = 0.5  # images: collapse when diversity < 50% of the real data's

MEANING = {
    "diminished_gradient": "D rejects the fakes so confidently that G's gradient vanishes and "
                           "G learns almost nothing",
    "non_convergence": "the losses oscillate with no trend: G and D keep undoing each other "
                       "instead of settling",
    "mode_collapse": "G covers only part of the data (the lecture's mode collapse)",
}
TRY = {
    "diminished_gradient": ["--loss non-saturating", "a lower --lr-d", "--r1 10",
                            "--spectral-norm"],
    "non_convergence": ["lower learning rates (--lr-g/--lr-d 1e-4)", "--ema 0.999", "--r1 10",
                        "--spectral-norm"],
    "mode_collapse": ["--spectral-norm", "--loss wgan-gp --d-steps 5", "--r1 10",
                      "--lr-g as large as --lr-d"],
}


def advice(kind: str, loss: str = "", r1: float = 0.0) -> str:
    """What the failure means and what to try (leaving out what the run already does)."""
    tips = [t for t in TRY[kind] if t != f"--loss {loss}" and not (r1 and t == "--r1 10")]
    return f"{MEANING[kind]}. Try {', '.join(tips[:-1])} or {tips[-1]}."


def mode_coverage(points: torch.Tensor, modes: torch.Tensor, std: float) -> dict:
    """How generated 2-D points cover the modes of a mixture.

    modes_hit / high_quality: the literature's criterion (Unrolled GAN, VEEGAN): a sample is
    high quality within 3 std of a mode; a mode is hit by >= 0.5% of the samples.
    modes_near / near_share: a looser view for collapse: samples within a quarter of the
    smallest distance between modes count for their nearest mode; a mode is covered when it
    gets at least a quarter of an even share of them.
    """
    modes = modes.float().to(points.device)
    dist = torch.cdist(points.float(), modes)
    nearest, which = dist.min(dim=1)
    k, n = len(modes), len(points)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=k)
    hit = int((counts >= max(1, math.ceil(MIN_MODE_SHARE * n))).sum())
    near = nearest <= torch.pdist(modes).min() / 4 if k > 1 else nearest <= 3 * std
    near_counts = torch.bincount(which[near], minlength=k)
    covered = int((near_counts >= max(1.0, 0.25 * int(near.sum()) / k)).sum())
    return {"modes_hit": hit, "modes_total": k, "high_quality": float(good.float().mean()),
            "modes_near": covered, "near_share": float(near.float().mean())}


def pairwise_diversity(x: torch.Tensor) -> float:
    """Mean L2 distance between distinct samples (flattened)."""
    flat = x.reshape(len(x), -1).float()
    dist = torch.cdist(flat, flat)
    n = len(flat)
    return float(dist.sum() / max(1, n * (n - 1)))


@dataclass
class FailureMonitor:
    modes: torch.Tensor | None = None
    mode_std: float | None = None
    real_diversity: float | None = None
    history: dict[str, list[float]] = field(default_factory=lambda: {"loss_g": [], "loss_d": []})
    peak_grad_g: float = 0.0
    active: dict[str, bool] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    first_step: dict[str, int] = field(default_factory=dict)
    checks: int = 0
    peak_diversity: float = 0.0
    loss: str = ""
    r1: float = 0.0

    def measure_samples(self, fake: torch.Tensor, record: dict) -> None:
        """Diversity of a fixed batch of generated samples, added to `record`."""
        if self.modes is not None and self.mode_std is not None:
            record.update(mode_coverage(fake, self.modes, self.mode_std))
        elif self.real_diversity:
            record["diversity"] = pairwise_diversity(fake) / self.real_diversity

    def observe(self, record: dict) -> list[str]:
        """Judge one logged record; adds `diag` flags to it; returns newly raised warnings."""
        self.checks += 1
        flags = {
            "diminished_gradient": self._diminished(record),
            "non_convergence": self._oscillating(record),
            "mode_collapse": self._collapsed(record),
        }
        record["diag"] = flags
        raised = []
        for kind, on in flags.items():
            if on:
                self.counts[kind] = self.counts.get(kind, 0) + 1
                self.first_step.setdefault(kind, record["step"])
                if not self.active.get(kind):
                    raised.append(self.describe(kind, record))
            self.active[kind] = on
        return raised

    def _diminished(self, r: dict) -> bool:
        grad = r["grad_g"]
        self.peak_grad_g = max(self.peak_grad_g, grad)
        r["grad_g_rel"] = grad / self.peak_grad_g if self.peak_grad_g > 0 else 1.0
        if self.loss == "minimax":
            # d/dlogit log(1 - sigmoid(l)) = -sigmoid(l) = -D(G(z)): below 0.05, every gradient
            # G gets is scaled down 20-fold or more, whatever the size of D's own slopes.
            return r["d_fake"] < 0.05 and r["d_real"] > 0.9
        return r["d_fake"] < 0.05 and r["grad_g_rel"] < 0.1

    def _oscillating(self, r: dict) -> bool:
        for key in ("loss_g", "loss_d"):
            self.history[key] = ([*self.history[key], r[key]])[-WINDOW:]
        values = torch.tensor(self.history["loss_g"], dtype=torch.float64)
        if len(values) < WINDOW:
            return False
        t = torch.arange(len(values), dtype=torch.float64)
        t = t - t.mean()
        slope = float((t * (values - values.mean())).sum() / (t * t).sum())
        residual = values - values.mean() - slope * t
        swing = float(residual.std())
        trend = abs(slope) * len(values)
        scale = max(float(values.abs().mean()), 0.1)
        r["loss_g_swing"], r["loss_g_trend"] = swing, trend
        return swing > 0.25 * scale and trend < swing

    def _collapsed(self, r: dict) -> bool:
        if "modes_near" in r:
            # Collapse, not immaturity: most samples already sit near modes, yet a quarter or
            # more of the modes get (almost) none of them.
            return r["near_share"] >= 0.5 and r["modes_near"] < 0.75 * r["modes_total"]
        if "diversity" in r:
            # Collapse, not immaturity: diversity has fallen from what G already reached.
            self.peak_diversity = max(self.peak_diversity, r["diversity"])
            return (r["diversity"] < COLLAPSE_DIVERSITY
                    and r["diversity"] < 0.5 * self.peak_diversity)
        return False

    def describe(self, kind: str, r: dict) -> str:
        if kind == "diminished_gradient" and self.loss == "minimax":
            what = (f"diminished gradient at step {r['step']}: D(x) = {r['d_real']:.3f}, "
                    f"D(G(z)) = {r['d_fake']:.3f}, so the minimax loss log(1 - D(G(z))) is "
                    f"flat and scales G's gradient down to {100 * r['d_fake']:.1f}%")
        elif kind == "diminished_gradient":
            what = (f"diminished gradient at step {r['step']}: D(G(z)) = {r['d_fake']:.3f}, "
                    f"G's gradient norm is {100 * r['grad_g_rel']:.1f}% of its peak")
        elif kind == "non_convergence":
            what = (f"non-convergence at step {r['step']}: G's loss swings by "
                    f"{r['loss_g_swing']:.3f} over the last {WINDOW} logs with a trend of only "
                    f"{r['loss_g_trend']:.3f}")
        elif "modes_hit" in r:
            what = (f"mode collapse at step {r['step']}: {100 * r['near_share']:.0f}% of the "
                    f"samples sit near modes but cover only {r['modes_near']} of "
                    f"{r['modes_total']}")
        else:
            what = (f"mode collapse at step {r['step']}: sample diversity is "
                    f"{100 * r['diversity']:.0f}% of the real data's")
        return f"{what}: {advice(kind, self.loss, self.r1)}"

    def summary(self, last: dict | None) -> list[str]:
        """One line per failure mode for the end of training."""
        lines = []
        for kind, label in (("diminished_gradient", "diminished gradient"),
                            ("non_convergence", "non-convergence"),
                            ("mode_collapse", "mode collapse")):
            n = self.counts.get(kind, 0)
            if n:
                state = "still present at the end" if self.active.get(kind) else "cleared"
                lines.append(f"{label}: flagged in {n} of {self.checks} checks, first at step "
                             f"{self.first_step[kind]}, {state}: "
                             f"{advice(kind, self.loss, self.r1)}")
            else:
                lines.append(f"{label}: not seen in {self.checks} checks")
        if last and "modes_hit" in last:
            lines.append(f"final mode coverage: {last['modes_hit']} of {last['modes_total']} "
                         f"modes hit within 3 std, {100 * last['high_quality']:.0f}% "
                         f"high-quality samples; {last['modes_near']} modes covered by the "
                         f"{100 * last['near_share']:.0f}% of samples near a mode")
        elif last and "diversity" in last:
            lines.append(f"final sample diversity: {100 * last['diversity']:.0f}% of the "
                         "real data's")
        return lines

    def state_dict(self) -> dict:
        return {"history": self.history, "peak_grad_g": self.peak_grad_g, "active": self.active,
                "counts": self.counts, "first_step": self.first_step, "checks": self.checks,
                "peak_diversity": self.peak_diversity}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
