"""Watching for the lecture's three failure modes (and overfitting) while training.

- Diminished gradient: D wins so clearly that G's gradient vanishes and G learns nothing. What
  "D wins" means depends on the loss (`d_wins`): sigmoid probabilities for minimax and
  non-saturating, the critic's separation of real and fake scores for the unbounded losses.
- Non-convergence: the losses keep oscillating with no trend over a window of logged steps.
- Mode collapse: G's samples are far less diverse than the real data. 2-D mixtures (ring8,
  grid25): the modes covered. Digit data (mnist-5k, mnist, stacked-mnist): the shipped digit
  classifier names each probe sample's digit and the class histogram is compared with the
  data's. All images: the mean pairwise distance between samples against the real data's.
- Overfitting (with ADA): D is sure of every training image, ADA's r_t near 1 (the mean of the
  loss's overfit_sign: E[sign(D(x_real))] for the logistic losses, see gantool/train/ada.py).

`FailureMonitor.observe(record)` adds its measurements and flags to a metrics record and
returns the warnings that just switched on (so a warning is shown when it appears, not every
log line). Every warning says what it means and what to try. docs/howto/diagnostics.md has
each rule, its thresholds and what the loop must pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

WINDOW = 20  # logged steps over which non-convergence is judged
COLLAPSE_DIVERSITY = 0.5  # images: collapse when diversity < 50% of the real data's
# Digits: partial collapse when the top 3 digits make 75% or more of the 256 probe samples
# (30% in MNIST) and the class histogram is 0.65 nats or more from the data's (5 of 10 digits
# missing is 0.69), once G is past its untrained start. Set from measured runs
# (docs/howto/diagnostics.md): real digits 0.33 / 0.02; the default mlp run at steps 3000-5000
# 0.61-0.76 / 0.32-0.63; the `--ema 0.999` run (visibly 1s, 7s and 9s) 0.76-0.96 / 0.70-1.32
# from step 2000 on. The margin between the last two is small.
TOP3_COLLAPSE = 0.75
KL_COLLAPSE = 0.65
# An untrained G's samples are alike blobs that the classifier calls "8" (or "2", "3"): that is
# immaturity, not collapse. G counts as untrained until it has trained on WARMUP_IMAGES images
# (plus its EMA's lag), however diverse its blobs already are: the default dcgan run's step-100
# samples are blobs called 8, 2 and 3 at diversity 0.24, above the 0.2 once used here. Measured
# (docs/howto/diagnostics.md): blobs up to step 300 at batch 64 in the default mnist-5k and mnist
# runs (diversity 0.10-0.13); the mnist run is one visible shape from step 300 and stays there
# (diversity 0.14-0.16, all "8"), so diversity alone cannot tell the two apart, nor can the
# classifier's confidence (0.34-0.65 on blobs, 0.55-0.57 on the collapsed shape).
WARMUP_IMAGES = 25_600  # 400 steps at the default batch of 64
DIGIT_DATASETS = frozenset({"mnist-5k", "mnist", "stacked-mnist"})
# D "wins": a 95% confident D (sigmoid losses, relativistic), or real and fake critic scores
# 3 pooled standard deviations apart (wgan, wgan-gp, lsgan, unknown losses).
CONFIDENT = 0.05
SEPARATION = 3.0
FLAT_GRADIENT = 0.1  # G's gradient norm below 10% of its peak so far
OVERFIT_RT = 0.8  # ADA's r_t; ADA steers it to 0.6
# r_t in a record is measured over ADA's last interval (4 D steps, 256 images): noisy, and near 1
# at the very start, when D beats the untrained G before ADA has raised p. So overfitting needs
# the mean r_t of the last OVERFIT_WINDOW logs above OVERFIT_RT. Measured on `gantool train
# --ada --steps 1000 --log-every 50` (mnist-5k): single logs of 1.00 (step 50), 0.87 and 0.85,
# window means at most 0.76.
OVERFIT_WINDOW = 5

KINDS = ("diminished_gradient", "non_convergence", "mode_collapse", "overfitting")
LABELS = {"diminished_gradient": "diminished gradient", "non_convergence": "non-convergence",
          "mode_collapse": "mode collapse", "overfitting": "overfitting"}
MEANING = {
    "diminished_gradient": "D rejects the fakes so confidently that G's gradient vanishes and "
                           "G learns almost nothing",
    "non_convergence": "the losses oscillate with no trend: G and D keep undoing each other "
                       "instead of settling",
    "mode_collapse": "G covers only part of the data (the lecture's mode collapse)",
    "overfitting": "D has memorised the training images, so its verdicts stop teaching G "
                   "about the data",
}
TRY = {
    "diminished_gradient": ["--loss non-saturating", "a lower --lr-d", "--r1 10",
                            "--spectral-norm"],
    "non_convergence": ["lower learning rates (--lr-g/--lr-d 1e-4)", "--ema 0.999", "--r1 10",
                        "--spectral-norm"],
    "mode_collapse": ["--spectral-norm", "--loss wgan-gp --d-steps 5", "--r1 10",
                      "--lr-g as large as --lr-d"],
    "overfitting": ["--augment", "more training images", "--r1 10"],
}
# What the monitor needs in a record to judge each loss's "D wins" (beyond grad_g).
SIGMOID_LOSSES = frozenset({"minimax", "non-saturating"})
RELATIVISTIC_LOSSES = frozenset({"relativistic", "rpgan"})
LOGIT_KEYS = ("logit_real", "logit_fake", "logit_real_std", "logit_fake_std")


def advice(kind: str, loss: str = "", r1: float = 0.0, spectral_norm: bool = False) -> str:
    """What the failure means and what to try (leaving out what the run already does)."""
    done = {f"--loss {loss}"} | ({"--r1 10"} if r1 else set()) | (
        {"--spectral-norm"} if spectral_norm else set())
    tips = [t for t in TRY[kind] if t not in done]
    return f"{MEANING[kind]}. Try {', '.join(tips[:-1])} or {tips[-1]}."


def logit_stats(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """(mean, mean, std, std) of D's raw real and fake logits, for the record's LOGIT_KEYS.

    Stays on the device so the loop can sum it between logs without a host sync."""
    real, fake = real_logits.detach().float(), fake_logits.detach().float()
    return torch.stack([real.mean(), fake.mean(), real.std(correction=0),
                        fake.std(correction=0)])


def mode_coverage(points: torch.Tensor, modes: torch.Tensor, std: float) -> dict:
    """How generated 2-D points cover the modes of a mixture.

    modes_hit / high_quality: `gantool evaluate --metrics mode-coverage`'s own numbers (VEEGAN:
    a sample within 3 std of a mode is high quality; a mode is hit by >= 1 of them).
    modes_near / near_share: a looser view for judging collapse: samples within a quarter of
    the smallest distance between modes count for their nearest mode; a mode is covered when
    it gets at least a quarter of an even share of them.
    """
    from gantool.metrics.mode_coverage import ModeCoverage, nearest_modes

    metric = ModeCoverage(modes, std)
    metric.update(points.detach().cpu(), real=False)
    scores = {s.name: s.value for s in metric.compute()}
    modes = modes.to(torch.float64)
    which, nearest = nearest_modes(points.detach().cpu(), modes)
    k = len(modes)
    near = nearest <= torch.pdist(modes).min() / 4 if k > 1 else nearest <= 3 * std
    near_counts = torch.bincount(which[near], minlength=k)
    covered = int((near_counts >= max(1.0, 0.25 * int(near.sum()) / k)).sum())
    return {"modes_hit": int(scores["modes"]), "modes_total": k,
            "high_quality": float(scores["high_quality"]),
            "modes_near": covered, "near_share": float(near.float().mean())}


def pairwise_diversity(x: torch.Tensor) -> float:
    """Mean L2 distance between distinct samples (flattened)."""
    flat = x.reshape(len(x), -1).float()
    dist = torch.cdist(flat, flat)
    n = len(flat)
    return float(dist.sum() / max(1, n * (n - 1)))


def within_class_diversity(x: torch.Tensor, labels: torch.Tensor) -> float:
    """pairwise_diversity within each class, averaged over the classes with two or more
    samples (0 when none has)."""
    labels = labels.to(x.device)
    values = [pairwise_diversity(x[labels == c]) for c in labels.unique()
              if int((labels == c).sum()) > 1]
    return sum(values) / len(values) if values else 0.0


class DigitProbe:
    """Model-space images (N, C, H, W) in [-1, 1] -> the shipped digit classifier's
    probabilities (N, C, 10), one digit per channel (stacked-mnist has three).

    Runs in float32 (evaluate's extractor runs in float64 for batch-size independence, 3x
    slower): the monitor needs the argmax class of each probe sample, not 1e-12 agreement, and
    it runs at every log line."""

    def __init__(self, device: str = "cpu", weights: str | None = None) -> None:
        from gantool.metrics.digits import load_digit_classifier

        self.model = load_digit_classifier(weights, device)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        # The same [-1, 1] -> uint8 rounding as Dataset.from_model and saved sample files.
        pixels = ((images.detach().clamp(-1, 1) + 1) * 127.5).round()
        x = pixels.div_(255).reshape(n * c, 1, h, w).to(self.device, torch.float32)
        return self.model(x).softmax(1).reshape(n, c, -1).cpu()


def digit_histogram(labels: torch.Tensor, channels: int = 1) -> list[float]:
    """The data's digit shares from its labels (stacked-mnist: 100*d0 + 10*d1 + d2, pooled)."""
    labels = torch.as_tensor(labels).long()
    digits = torch.stack([labels // 10**i % 10 for i in range(channels)])
    counts = torch.bincount(digits.flatten(), minlength=10).double()
    return (counts / counts.sum()).tolist()


def class_measures(probabilities: torch.Tensor, data_hist: list[float] | None) -> dict:
    """Histogram of the predicted digits, its KL to the data's, and the top-3 digits' share."""
    counts = torch.bincount(probabilities.argmax(-1).flatten(), minlength=10)
    p = counts.double() / counts.sum()
    q = torch.tensor(data_hist or [0.1] * 10, dtype=torch.float64).clamp_min(1e-6)
    q = q / q.sum()
    top = torch.argsort(p, descending=True, stable=True)[:3]
    top = top[counts[top] > 0]  # name only digits that were drawn
    return {"digit_hist": counts.tolist(), "digit_kl": float(torch.xlogy(p, p / q).sum()),
            "digit_top3": top.tolist(), "digit_top3_share": float(p[top].sum()),
            "digit_top3_data": float(q[top].sum())}


def untrained_until(batch_size: int, ema: float = 0.0, ema_kimg: float = 0.0,
                    rampup: float = 0.05) -> int:
    """The step from which the G that the monitor samples has trained on WARMUP_IMAGES images.

    With an EMA the sampled G trails the trained one by the mean age of its weights:
    ema / (1 - ema) steps for a fixed decay (999 for 0.999), and at most rampup / ln 2 of the
    steps so far (7%) for StyleGAN2's ramped half-life (state.ema_beta)."""
    steps = math.ceil(WARMUP_IMAGES / batch_size)
    if ema:
        return steps + round(ema / (1 - ema))
    if ema_kimg:
        return math.ceil(steps / (1 - rampup / math.log(2)))
    return steps


def d_wins(loss: str, r: dict) -> str | None:
    """How D wins under `loss` in record `r` (a phrase for the warning), or None.

    Raises KeyError when the record lacks the raw-logit statistics the loss needs."""
    if loss in SIGMOID_LOSSES:
        if r["d_fake"] < CONFIDENT and (loss != "minimax" or r["d_real"] > 0.9):
            return f"D(x) = {r['d_real']:.3f}, D(G(z)) = {r['d_fake']:.3f}"
        return None
    real, fake, s_real, s_fake = (r[k] for k in LOGIT_KEYS)
    if loss in RELATIVISTIC_LOSSES:
        # D's probability that a real is more real than a fake: sigmoid(r - f).
        margin = real - fake
        if margin > math.log((1 - CONFIDENT) / CONFIDENT):
            return f"sigmoid(r - f) = {1 / (1 + math.exp(-margin)):.3f}"
        return None
    if loss == "hinge":
        # Hinge saturates: most reals beyond +1 and most fakes beyond -1 give D no gradient.
        if real - s_real > 1 and fake + s_fake < -1:
            return f"real scores {real:.2f} ± {s_real:.2f}, fakes {fake:.2f} ± {s_fake:.2f}, " \
                   "both past the hinge's margin"
        return None
    spread = math.sqrt((s_real**2 + s_fake**2) / 2)
    separation = (real - fake) / spread if spread > 0 else math.inf * (real > fake)
    if separation > SEPARATION:
        return f"real and fake scores {separation:.1f} standard deviations apart"
    return None


@dataclass
class FailureMonitor:
    """What the loop passes: `modes`/`mode_std` for 2-D mixtures, `real_diversity` (set after
    construction) for images, `loss` (its registry name) and `r1`; on digit data also
    `class_probs_fn` (e.g. DigitProbe()) and `data_class_hist` (digit_histogram of the labels);
    with ADA, `ada` (or `ada_p`/`ada_rt` in each record); for the unbounded losses, the
    LOGIT_KEYS in each record (logit_stats averaged over the logged steps)."""

    modes: torch.Tensor | None = None
    mode_std: float | None = None
    real_diversity: float | None = None
    # Conditional G on labelled images: the probe's labels and the real data's diversity within
    # a class (within_class_diversity), set after construction like real_diversity.
    probe_labels: torch.Tensor | None = None
    real_class_diversity: float | None = None
    loss: str = ""
    r1: float = 0.0
    spectral_norm: bool = False
    class_probs_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    data_class_hist: list[float] | None = None
    ada: object | None = None  # an AdaptiveAugment: its ada_p / ada_rt go into each record
    # The first step at which the sampled G no longer counts as untrained (untrained_until()).
    warmup_step: int = WARMUP_IMAGES // 64
    history: dict[str, list[float]] = field(default_factory=lambda: {"loss_g": [], "loss_d": []})
    peak_grad_g: float = 0.0
    active: dict[str, bool] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    first_step: dict[str, int] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)  # checks that had the inputs
    checks: int = 0
    peak_diversity: float = 0.0

    def measure_samples(self, fake: torch.Tensor, record: dict) -> None:
        """Coverage, digit classes and diversity of a fixed batch of samples, into `record`."""
        if self.modes is not None and self.mode_std is not None:
            record.update(mode_coverage(fake, self.modes, self.mode_std))
            return
        if self.real_diversity:
            record["diversity"] = pairwise_diversity(fake) / self.real_diversity
        if self.real_class_diversity and self.probe_labels is not None:
            record["class_diversity"] = (within_class_diversity(fake, self.probe_labels)
                                         / self.real_class_diversity)
        if self.class_probs_fn is not None:
            record.update(class_measures(self.class_probs_fn(fake), self.data_class_hist))

    def observe(self, record: dict) -> list[str]:
        """Judge one logged record; adds `diag` flags to it; returns newly raised warnings."""
        self.checks += 1
        if self.ada is not None:
            record.update(self.ada.log_values())
        verdicts = {
            "diminished_gradient": self._diminished(record),
            "non_convergence": self._oscillating(record),
            "mode_collapse": self._collapsed(record),
            "overfitting": self._overfitting(record),
        }
        record["diag"] = {kind: bool(v) for kind, v in verdicts.items() if v is not None}
        raised = []
        for kind, on in verdicts.items():
            if on is None:  # not measurable in this run
                continue
            self.judged[kind] = self.judged.get(kind, 0) + 1
            if on:
                self.counts[kind] = self.counts.get(kind, 0) + 1
                self.first_step.setdefault(kind, record["step"])
                if not self.active.get(kind):
                    raised.append(f"{on}: {advice(kind, self.loss, self.r1, self.spectral_norm)}")
            self.active[kind] = bool(on)
        return raised

    # Each judge returns None (cannot judge), "" (not seen) or the warning's first part.

    def _diminished(self, r: dict) -> str | None:
        grad = r["grad_g"]
        self.peak_grad_g = max(self.peak_grad_g, grad)
        r["grad_g_rel"] = grad / self.peak_grad_g if self.peak_grad_g > 0 else 1.0
        try:
            win = d_wins(self.loss, r)
        except KeyError:
            return None
        at = f"diminished gradient at step {r['step']}"
        if win and self.loss == "minimax":
            # d/dlogit log(1 - sigmoid(l)) = -sigmoid(l) = -D(G(z)): below 0.05, every gradient
            # G gets is scaled down 20-fold or more, whatever the size of D's own slopes.
            return (f"{at}: {win}, so the minimax loss log(1 - D(G(z))) is flat and scales "
                    f"G's gradient down to {100 * r['d_fake']:.1f}%")
        if win and r["grad_g_rel"] < FLAT_GRADIENT:
            # The other losses do not saturate in the logit: G's gradient only vanishes when
            # D is flat around the fakes, so D winning must come with a collapsed gradient.
            return f"{at}: {win}, G's gradient norm is {100 * r['grad_g_rel']:.1f}% of its peak"
        return ""

    def _oscillating(self, r: dict) -> str:
        for key in ("loss_g", "loss_d"):
            self.history[key] = ([*self.history[key], r[key]])[-WINDOW:]
        values = torch.tensor(self.history["loss_g"], dtype=torch.float64)
        if len(values) < WINDOW:
            return ""
        t = torch.arange(len(values), dtype=torch.float64)
        t = t - t.mean()
        slope = float((t * (values - values.mean())).sum() / (t * t).sum())
        residual = values - values.mean() - slope * t
        swing = float(residual.std())
        trend = abs(slope) * len(values)
        scale = max(float(values.abs().mean()), 0.1)
        r["loss_g_swing"], r["loss_g_trend"] = swing, trend
        if swing > 0.25 * scale and trend < swing:
            return (f"non-convergence at step {r['step']}: G's loss swings by {swing:.3f} over "
                    f"the last {WINDOW} logs with a trend of only {trend:.3f}")
        return ""

    def _collapsed(self, r: dict) -> str | None:
        at = f"mode collapse at step {r['step']}"
        if "modes_near" in r:
            # Collapse, not immaturity: most samples already sit near modes, yet a quarter or
            # more of the modes get (almost) none of them.
            if r["near_share"] >= 0.5 and r["modes_near"] < 0.75 * r["modes_total"]:
                return (f"{at}: {100 * r['near_share']:.0f}% of the samples sit near modes but "
                        f"cover only {r['modes_near']} of {r['modes_total']}")
            return ""
        if not {"digit_hist", "diversity", "class_diversity"} & r.keys():
            return None
        return (self._digits_collapsed(r, at) or self._class_diversity_low(r, at)
                or self._diversity_fell(r, at))

    def _digits_collapsed(self, r: dict, at: str) -> str:
        if "digit_hist" not in r or self._untrained(r):
            return ""
        if r["digit_top3_share"] < TOP3_COLLAPSE or r["digit_kl"] < KL_COLLAPSE:
            return ""
        missing = [d for d, n in enumerate(r["digit_hist"]) if n == 0]
        gone = f"; no {', '.join(map(str, missing))} at all" if missing else ""
        named = ", ".join(map(str, r["digit_top3"]))
        noun = "digits" if len(r["digit_top3"]) > 1 else "digit"
        verb = "make" if len(r["digit_top3"]) > 1 else "makes"
        return (f"{at}: {noun} {named} {verb} "
                f"{100 * r['digit_top3_share']:.0f}% of the samples (the data: "
                f"{100 * r['digit_top3_data']:.0f}%), KL to the data's digit histogram "
                f"{r['digit_kl']:.2f}{gone}")

    def _untrained(self, r: dict) -> bool:
        """Early in training: an untrained G's blobs, not a collapse."""
        return r["step"] < self.warmup_step

    def _diversity_fell(self, r: dict, at: str) -> str:
        if "diversity" not in r:
            return ""
        # Collapse, not immaturity: diversity has fallen from what G already reached.
        self.peak_diversity = max(self.peak_diversity, r["diversity"])
        if r["diversity"] < COLLAPSE_DIVERSITY and r["diversity"] < 0.5 * self.peak_diversity:
            return f"{at}: sample diversity is {100 * r['diversity']:.0f}% of the real data's"
        return ""

    def _class_diversity_low(self, r: dict, at: str) -> str:
        # An untrained G's samples are alike blobs (1% of the real data's diversity within a
        # class), so only a G past its untrained start is judged; measured on the conditional
        # default run (docs/howto/diagnostics.md): 13-15% from step 1000 on, one image per
        # class whatever z; a healthy G is near 100%.
        if "class_diversity" not in r or self._untrained(r):
            return ""
        if r["class_diversity"] < COLLAPSE_DIVERSITY:
            return (f"{at}: sample diversity within a class is {100 * r['class_diversity']:.0f}% "
                    "of the real data's: G draws nearly the same image for every z of a class")
        return ""

    def _overfitting(self, r: dict) -> str | None:
        if "ada_rt" not in r:
            return None
        window = [*self.history.get("ada_rt", []), r["ada_rt"]][-OVERFIT_WINDOW:]
        self.history["ada_rt"] = window
        mean = sum(window) / len(window)
        r["ada_rt_mean"] = mean
        if len(window) == OVERFIT_WINDOW and mean > OVERFIT_RT:
            p = f"; ADA's p is {r['ada_p']:.3f}" if "ada_p" in r else ""
            aim = f" (ADA aims at {self.ada.target:g})" if self.ada is not None else ""
            return (f"overfitting at step {r['step']}: r_t (D's certainty on the training "
                    f"images) averages {mean:.2f} over the last {OVERFIT_WINDOW} logs{aim}{p}")
        return ""

    def summary(self, last: dict | None) -> list[str]:
        """One line per failure mode for the end of training."""
        lines = []
        for kind in KINDS:
            n, judged = self.counts.get(kind, 0), self.judged.get(kind, 0)
            if n:
                state = "still present at the end" if self.active.get(kind) else "cleared"
                lines.append(f"{LABELS[kind]}: flagged in {n} of {judged} checks, first at step "
                             f"{self.first_step[kind]}, {state}: "
                             f"{advice(kind, self.loss, self.r1, self.spectral_norm)}")
            elif judged:
                lines.append(f"{LABELS[kind]}: not seen in {judged} checks{self._what(kind)}")
            elif kind == "diminished_gradient" and self.checks:
                lines.append(f"diminished gradient: not judged ({self.loss} needs the raw "
                             "logit statistics in the log)")
        lines += self._final_measures(last)
        return lines

    def _what(self, kind: str) -> str:
        if kind != "mode_collapse" or self.modes is not None:
            return ""
        measured = [m for m, on in (("digit classes", self.class_probs_fn is not None),
                                    ("diversity", bool(self.real_diversity)),
                                    ("diversity within a class",
                                     bool(self.real_class_diversity))) if on]
        return f" ({' and '.join(measured)})" if measured else ""

    @staticmethod
    def _final_measures(last: dict | None) -> list[str]:
        lines = []
        if last and "modes_hit" in last:
            lines.append(f"final mode coverage: {last['modes_hit']} of {last['modes_total']} "
                         f"modes hit by a sample within 3 std (as `gantool evaluate` counts), "
                         f"{100 * last['high_quality']:.0f}% high-quality samples; "
                         f"{last['modes_near']} modes covered by the "
                         f"{100 * last['near_share']:.0f}% of samples near a mode")
        if last and "diversity" in last:
            lines.append(f"final sample diversity: {100 * last['diversity']:.0f}% of the "
                         "real data's")
        if last and "class_diversity" in last:
            lines.append(f"final sample diversity within a class: "
                         f"{100 * last['class_diversity']:.0f}% of the real data's")
        if last and "digit_hist" in last:
            lines.append(f"final digit histogram of the probe samples (0-9): "
                         f"{last['digit_hist']}, KL to the data's {last['digit_kl']:.2f}")
        return lines

    def state_dict(self) -> dict:
        return {"history": self.history, "peak_grad_g": self.peak_grad_g, "active": self.active,
                "counts": self.counts, "first_step": self.first_step, "checks": self.checks,
                "peak_diversity": self.peak_diversity, "judged": self.judged}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
