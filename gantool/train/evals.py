"""In-training evaluation (`gantool train --eval-every N`) with `gantool evaluate`'s own code.

Every N steps the sampled G (the EMA's when the run keeps one, as `gantool sample` uses) draws
--eval-samples samples, and `gantool.metrics.evaluation.evaluate` scores them, exactly as
`gantool evaluate --checkpoint ... --n <samples> --seed 0` would:

- digit data (mnist-5k, mnist, stacked-mnist at 28x28): `fid,is,mode-coverage` in the shipped
  digit classifier's features, 1,000 samples by default. The real side is the training set:
  the shipped `mnist-5k` statistics for mnist-5k, else the statistics of (a seeded subset of at
  most 10,000 of) the training images, computed once when training starts and written to
  <run>/eval-reference.npz (evaluate's `--real-stats` takes it). Headline: FID, lower is better.
- 2-D mixtures with known modes (ring8, grid25): `mode-coverage`, 2,500 samples (the papers'
  protocol, what evaluate counts). Headline: modes hit, higher is better; at equal modes the
  share of high-quality samples decides.

Looking must not change the run: the samples come from their own seeded CPU generator, G is
put in eval mode and back, and the whole evaluation runs under a forked global RNG, so a run
with --eval-every trains bit for bit as one without. The best score so far is part of the
training state, so a resumed run keeps the same best.
"""

from __future__ import annotations

import torch

from gantool.errors import UsageError

DIGIT_SAMPLES = 1000  # 8-9 s per evaluation on one loaded CPU core (docs/train.md)
DIGIT_DATASETS = ("mnist-5k", "mnist", "stacked-mnist")
DIGIT_METRICS = ["fid", "is", "mode-coverage"]
MIXTURE_METRICS = ["mode-coverage"]
MIN_SAMPLES = 10  # IS's 10 splits need 10 samples
SEED = 0  # gantool evaluate's default --seed: the same samples as a later evaluate
REFERENCE_FILE = "eval-reference.npz"
# The digit classifier runs in float64 (evaluate's protocol): 10,000 images take ~90 s on one
# loaded CPU core, stacked-mnist's 50,000 x 3 digits would take 20 minutes.
REFERENCE_MAX = 10_000
SHIPPED_REFERENCE = "mnist-5k"  # gantool/weights/stats-mnist-5k-digits.npz


def eval_kind(dataset_name: str, dataset) -> str | None:
    """"digits", "mixture", or None when no in-training evaluation is defined for the data."""
    if getattr(dataset, "modes", None) is not None and not dataset.is_image:
        return "mixture"
    if (dataset_name in DIGIT_DATASETS and dataset.is_image
            and tuple(dataset.sample_shape[1:]) == (28, 28)):
        return "digits"
    return None


def refuse_undefined(dataset_name: str, dataset) -> None:
    shape = "x".join(map(str, dataset.sample_shape))
    kind = "images" if dataset.is_image else "points"
    raise UsageError(
        f"--eval-every: no in-training evaluation is defined for {dataset_name} ({shape} "
        f"{kind}); it is for digits at 28x28 (mnist-5k, mnist, stacked-mnist) and 2-D mixtures "
        "with known modes (ring8, grid25). Score this run afterwards with gantool evaluate")


def reference_source(dataset, name: str):
    """The training images for FID's real side: all of them, or a seeded REFERENCE_MAX."""
    from gantool.metrics.sources import Source

    data = dataset.data
    if len(data) > REFERENCE_MAX:  # its own generator: the training's RNG is left alone
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(SEED))
        data = data[pick[:REFERENCE_MAX].sort().values]
    label = f"{len(data):,} of the {len(dataset):,} {name} training images"

    def batches(size: int):
        for start in range(0, len(data), size):
            yield data[start:start + size]

    return Source(label, len(data), True, tuple(dataset.sample_shape), batches, name)


class TrainingEval:
    """Scores the sampled G every --eval-every steps and keeps the best score so far."""

    def __init__(self, dataset_name: str, dataset, samples: int | None, device,
                 batch_size: int = 500) -> None:
        self.kind = eval_kind(dataset_name, dataset)
        if self.kind is None:
            refuse_undefined(dataset_name, dataset)
        from gantool.metrics.mode_coverage import MIXTURE_SAMPLES

        default = DIGIT_SAMPLES if self.kind == "digits" else MIXTURE_SAMPLES
        self.samples = samples if samples is not None else default
        self.dataset_name, self.dataset = dataset_name, dataset
        self.device, self.batch_size = str(device), batch_size
        self.metrics = DIGIT_METRICS if self.kind == "digits" else MIXTURE_METRICS
        self.headline = "fid" if self.kind == "digits" else "modes"
        self.reference: str | None = None  # real statistics for FID (digits)
        self.best: dict | None = None  # {"step", "metric", "value", ...} of the best so far
        self.notes_shown = False

    def prepare(self, run_dir) -> list[str]:
        """The real side, once per process (digits): shipped statistics or the training set's."""
        if self.kind != "digits":
            return []
        if self.dataset_name == SHIPPED_REFERENCE and tuple(self.dataset.sample_shape) == (
                1, 28, 28):
            self.reference = SHIPPED_REFERENCE
            return []
        from gantool.metrics import evaluation

        path = str(run_dir / REFERENCE_FILE)
        real = reference_source(self.dataset, self.dataset_name)
        with torch.random.fork_rng(devices=self._rng_devices()):
            evaluation.evaluate(None, real, self._options(), save_stats_to=path)
        self.reference = path
        return [f"--eval-every: FID's real side is {real.label}, digit features saved in {path}"]

    def __call__(self, G, meta: dict) -> tuple[dict, list[str]]:
        """{metric: value} of G's samples, and evaluate's notes (shown once by the loop)."""
        from gantool.metrics import evaluation, sources

        notes: list[str] = []
        was_training = G.training
        G.eval()
        try:
            with torch.random.fork_rng(devices=self._rng_devices()):
                fake = sources.from_generator(G, meta, self.samples, seed=SEED,
                                              device=self.device)
                report = evaluation.evaluate(fake, None, self._options(),
                                             real_stats=self.reference, note=notes.append)
        finally:
            G.train(was_training)
        scores = {}
        for s in report.scores:
            scores[s.name] = s.value
            if s.std is not None:
                scores[f"{s.name}_std"] = s.std
            if s.total is not None:
                scores[f"{s.name}_total"] = s.total
        scores["samples"] = self.samples
        return scores, notes

    def improved(self, step: int, scores: dict) -> bool:
        """Whether `scores` beat the best so far (then they become the best)."""
        value = scores.get(self.headline)
        if value is None:
            return False
        if self.best is not None and not self._better(scores, self.best):
            return False
        self.best = {"step": step, "metric": self.headline, "value": value,
                     **({"high_quality": scores["high_quality"]}
                        if self.kind == "mixture" else {})}
        return True

    def _better(self, scores: dict, best: dict) -> bool:
        if self.kind == "digits":
            return scores["fid"] < best["value"]  # a tie keeps the earlier one
        if scores["modes"] != best["value"]:
            return scores["modes"] > best["value"]
        return scores["high_quality"] > best.get("high_quality", 0.0)

    def _options(self):
        from gantool.metrics.evaluation import Options

        return Options(metrics=self.metrics, batch_size=self.batch_size, device=self.device,
                       seed=SEED)

    def _rng_devices(self) -> list:
        return [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []

    def state_dict(self) -> dict:
        return {"best": self.best, "kind": self.kind, "samples": self.samples}

    def load_state_dict(self, state: dict) -> None:
        # A best measured on other data or another sample count is not comparable: start over.
        if state.get("kind") == self.kind and state.get("samples") == self.samples:
            self.best = state.get("best")
