"""`gantool train --eval-every N`: evaluate's numbers in metrics.jsonl, the best checkpoint kept
beside the last, an unchanged training course, resume, and refused inputs."""

from __future__ import annotations

import json

import pytest
import torch

from gantool.errors import UsageError
from gantool.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gantool.train.config import build_config, resume_config
from gantool.train.loop import train
from gantool.train.progress import Reporter


def quiet():
    return Reporter(enabled=False)


def digits_run(tmp_path, **options):
    """A tiny MLP on mnist-5k at its 28x28 (the digit evaluation needs 28x28 digits)."""
    base = {"dataset": "mnist-5k", "arch": "mlp", "arch_options": {"width": 8}, "steps": 6,
            "log_every": 3, "sample_every": 6, "checkpoint_every": 3, "device": "cpu",
            "runs_root": str(tmp_path), "name": "run", "tensorboard": False}
    return build_config({}, {**base, **options})


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_eval_every_leaves_the_training_bit_for_bit_unchanged(tmp_path):
    options = {"ema": 0.9, "steps": 6}
    plain = train(digits_run(tmp_path, name="plain", **options), reporter=quiet())
    looked = train(digits_run(tmp_path, name="looked", eval_every=2, eval_samples=20,
                              **options), reporter=quiet())
    a, b = (load_checkpoint(latest_checkpoint(r)) for r in (plain, looked))
    for part in ("G", "D", "G_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])
    # every eval step is logged, with evaluate's three digit metrics
    evals = [r for r in records(looked) if "eval" in r]
    assert [r["step"] for r in evals] == [2, 4, 6]
    assert {"fid", "is", "modes", "mode_kl", "samples", "best"} <= set(evals[0]["eval"])


def test_in_training_scores_are_gantool_evaluates_for_the_same_g(tmp_path, cli):
    run = train(digits_run(tmp_path, ema=0.9, eval_every=3, eval_samples=50), reporter=quiet())
    summary = json.loads((run / "summary.json").read_text())
    best = summary["best"]
    assert best["metric"] == "fid" and best["path"].endswith("checkpoints/best.pt")
    logged = next(r["eval"] for r in records(run) if r["step"] == best["step"])
    assert logged["best"] is True and logged["fid"] == best["value"]
    # the same G (EMA), samples and reference through the evaluate command
    proc = cli("evaluate", "--run", str(run), "--checkpoint", "best", "--n", "50",
               "--metrics", "fid,is,mode-coverage", "--real-stats", "mnist-5k", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    scores = {k: v["value"] for k, v in json.loads(proc.stdout)["metrics"].items()}
    for name in ("fid", "is", "modes", "mode_kl"):
        assert scores[name] == pytest.approx(logged[name], rel=1e-12, abs=1e-12), name
    sampled = cli("sample", "--run", str(run), "--checkpoint", "best", "--n", "4",
                  "--format", "npz", "--out", str(tmp_path / "best.npz"))
    assert sampled.returncode == 0, sampled.stderr.decode()


def test_the_best_checkpoint_is_never_pruned_and_survives_resume(tmp_path):
    options = {"eval_every": 2, "eval_samples": 20, "checkpoint_every": 2, "keep_last": 1}
    straight = train(digits_run(tmp_path, name="straight", steps=10, **options),
                     reporter=quiet())
    half = train(digits_run(tmp_path, name="half", steps=6, **options), reporter=quiet())
    assert [p.name for _, p in list_checkpoints(half / "checkpoints")] == ["step-000006.pt"]
    assert (half / "checkpoints" / "best.pt").is_file()
    saved = json.loads((half / "config.json").read_text())["options"]
    train(resume_config(saved, {"steps": 10}, half), resume_dir=half, reporter=quiet())
    a, b = (json.loads((r / "summary.json").read_text())["best"] for r in (straight, half))
    assert {**a, "path": None} == {**b, "path": None}
    kept = load_checkpoint(half / "checkpoints" / "best.pt")
    assert kept["step"] == b["step"] and kept["eval"]["value"] == b["value"]
    fids = [r["eval"]["fid"] for r in records(half) if "eval" in r]
    assert b["value"] == min(fids)


def test_mixtures_are_scored_by_evaluates_mode_coverage(tmp_path):
    from gantool.metrics import evaluation, sources
    from gantool.train.checkpoint import load_generator

    config = build_config({}, {"dataset": "ring8", "steps": 4, "log_every": 2,
                               "eval_every": 2, "eval_samples": 200, "device": "cpu",
                               "runs_root": str(tmp_path), "name": "ring",
                               "tensorboard": False})
    run = train(config, reporter=quiet())
    last = records(run)[-1]["eval"]
    G, meta = load_generator(run)  # the last checkpoint is step 4, the last evaluation
    report = evaluation.evaluate(sources.from_generator(G, meta, 200, seed=0, device="cpu"),
                                 None, evaluation.Options(metrics=["mode-coverage"]))
    scores = {s.name: s.value for s in report.scores}
    assert (last["modes"], last["high_quality"]) == (scores["modes"], scores["high_quality"])
    assert last["modes_total"] == 8
    from PIL import Image

    with Image.open(run / "losses.png") as image:  # a third panel: the evaluation's curves
        assert image.size[1] == 750


@pytest.mark.parametrize(("options", "message"), [
    ({"eval_every": 0}, "--eval-every must be at least 1"),
    ({"eval_every": -5}, "--eval-every must be at least 1"),
    ({"eval_every": 10, "eval_samples": 5}, "--eval-samples must be at least 10"),
    ({"eval_samples": 100}, "give --eval-every N too"),
])
def test_bad_eval_options_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        build_config({}, options)


def test_eval_every_on_data_without_an_evaluation_is_one_line_exit_2(tmp_path, cli):
    proc = cli("train", "--arch", "mlp", "--image-size", "16", "--eval-every", "100", "--steps", "2",
               "--name", "x", "--device", "cpu", cwd=tmp_path)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and proc.stdout == b""
    assert err[-1].startswith("Error: --eval-every: no in-training evaluation is defined for "
                              "mnist-5k (1x16x16 images)"), err
    assert "Traceback" not in proc.stderr.decode()
    assert not (tmp_path / "runs" / "x").exists()  # nothing left behind
    zero = cli("train", "--eval-every", "0", "--dry-run", cwd=tmp_path)
    assert zero.returncode == 2
    assert zero.stderr.decode().strip().splitlines() == [
        "Error: --eval-every must be at least 1 (evaluate every N steps), got 0; leave it out "
        "to train without in-training evaluation"]


def test_best_of_a_run_without_eval_every_is_explained(tmp_path, cli):
    run = train(digits_run(tmp_path, steps=3, log_every=3), reporter=quiet())
    proc = cli("sample", "--run", str(run), "--checkpoint", "best", "--out",
               str(tmp_path / "x.png"))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().splitlines() == [
        f"Error: {run} has no best checkpoint ({run}/checkpoints/best.pt): it is written by "
        "gantool train --eval-every N"]


def test_best_is_the_lowest_fid_or_the_most_modes_then_the_highest_quality():
    from gantool.data import load_dataset
    from gantool.train.evals import TrainingEval

    digits = TrainingEval("mnist-5k", load_dataset("mnist-5k"), 20, "cpu")
    marks = [digits.improved(step, {"fid": fid}) for step, fid in
             ((1, 50.0), (2, 60.0), (3, 40.0), (4, 40.0))]
    assert marks == [True, False, True, False] and digits.best["step"] == 3  # ties keep the first
    ring = TrainingEval("ring8", load_dataset("ring8"), None, "cpu")
    assert ring.samples == 2500 and ring.headline == "modes"
    marks = [ring.improved(step, {"modes": m, "high_quality": q}) for step, m, q in
             ((1, 6, 0.9), (2, 7, 0.1), (3, 7, 0.3), (4, 6, 0.99))]
    assert marks == [True, True, True, False] and ring.best["step"] == 3
    # a best measured on another sample count does not carry over a resume
    state = ring.state_dict()
    other = TrainingEval("ring8", load_dataset("ring8"), 1000, "cpu")
    other.load_state_dict(state)
    assert other.best is None
    same = TrainingEval("ring8", load_dataset("ring8"), None, "cpu")
    same.load_state_dict(state)
    assert same.best == ring.best


def test_eval_every_can_be_turned_on_or_changed_when_resuming(tmp_path):
    saved = build_config({}, {"steps": 100}).to_dict()
    config = resume_config(saved, {"steps": 200, "eval_every": 50, "eval_samples": 100},
                           tmp_path)
    assert (config.eval_every, config.eval_samples) == (50, 100)


def test_a_run_stopped_by_a_signal_is_scored_where_it_stopped(tmp_path, monkeypatch):
    """SIGINT at step 3 of a run that evaluates every 100: the stopped run's last record holds
    the evaluation of what it saved (gantool sweep ranks its stopped trials by it)."""
    import os
    import signal

    from gantool.train import loop

    step = loop.Reporter.advance

    def interrupt_at_3(self, at):
        step(self, at)
        if at == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(loop.Reporter, "advance", interrupt_at_3)
    with pytest.raises(loop.Interrupted):
        train(digits_run(tmp_path, steps=50, eval_every=100, eval_samples=20),
              reporter=quiet())
    run = tmp_path / "run"
    evals = [r for r in records(run) if "eval" in r]
    assert [r["step"] for r in evals] == [3]
    assert load_checkpoint(latest_checkpoint(run))["step"] == 3
