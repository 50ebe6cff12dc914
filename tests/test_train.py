"""The training loop in-process: steps move the weights, losses are finite, config merging,
NaN stops cleanly, the run directory is complete, and a locked run is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gantool import registry
from gantool.errors import GantoolError, UsageError
from gantool.losses import NonSaturating
from gantool.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gantool.train.config import TrainConfig, build_config, read_toml, resume_config
from gantool.train.loop import train
from gantool.train.progress import Reporter
from gantool.train.rundir import RunLock


def quiet() -> Reporter:
    return Reporter(enabled=False)


def tiny(tmp_path, **options) -> TrainConfig:
    base = {"dataset": "ring8", "arch": "mlp2d", "steps": 6, "batch_size": 32,
            "log_every": 2, "sample_every": 3, "checkpoint_every": 3,
            "runs_root": str(tmp_path / "runs"), "name": "t", "device": "cpu"}
    return build_config({}, {**base, **options})


def test_a_few_steps_move_the_weights_and_write_the_run_directory(tmp_path):
    config = tiny(tmp_path, dataset="mnist-5k", arch="mlp", steps=4, sample_every=2)
    run = train(config, reporter=quiet())
    first = load_checkpoint(run / "checkpoints" / "step-000003.pt")
    last = load_checkpoint(latest_checkpoint(run))
    assert last["step"] == 4
    moved = [not torch.equal(first["G"][k], last["G"][k]) for k in last["G"]]
    assert any(moved), "G's weights did not change between steps 3 and 4"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for r in records:
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "grad_g", "grad_d", "img_per_s"):
            assert torch.isfinite(torch.tensor(r[key])), key
        assert set(r["diag"]) == {"diminished_gradient", "non_convergence", "mode_collapse"}
        assert r["diversity"] > 0
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-000000.png", "step-000002.png", "step-000004.png"]
    for name in ("config.json", "losses.png", "progress.gif", "summary.json"):
        assert (run / name).stat().st_size > 0, name
    saved = json.loads((run / "config.json").read_text())
    assert saved["options"]["steps"] == 4 and saved["seed"] == 0
    assert set(saved["versions"]) == {"gantool", "torch", "python"}
    assert (tmp_path / "runs" / "latest").resolve() == run.resolve()


def test_keep_last_prunes_old_checkpoints(tmp_path):
    run = train(tiny(tmp_path, steps=6, checkpoint_every=1, keep_last=2), reporter=quiet())
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [5, 6]
    assert (run / "checkpoints" / "last").read_text().strip() == "step-000006.pt"


def test_2d_runs_count_modes(tmp_path):
    run = train(tiny(tmp_path), reporter=quiet())
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["modes_total"] == 8 and 0 <= record["modes_hit"] <= 8


class NaNAfter(NonSaturating):
    """Finite for the first `calls` D losses, then NaN: a run that diverges on cue."""

    calls = 0

    def d_loss(self, real_logits, fake_logits):
        NaNAfter.calls += 1
        loss = super().d_loss(real_logits, fake_logits)
        return loss * float("nan") if NaNAfter.calls > 4 else loss


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    registry.register("loss", "nan-after-4", "test loss that turns NaN")(NaNAfter)
    NaNAfter.calls = 0
    config = tiny(tmp_path, loss="nan-after-4", steps=20, checkpoint_every=2, log_every=1)
    with pytest.raises(GantoolError, match=r"diverged.*step-000004\.pt"):
        train(config, reporter=quiet())
    run = tmp_path / "runs" / "t"
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [2, 4]
    state = load_checkpoint(latest_checkpoint(run))
    assert all(torch.isfinite(v).all() for v in state["G"].values())


def test_a_locked_run_is_refused(tmp_path):
    run = train(tiny(tmp_path), reporter=quiet())
    config = resume_config(json.loads((run / "config.json").read_text())["options"],
                           {"steps": 8}, run)
    with RunLock(run), pytest.raises(GantoolError, match="being trained by pid"):
        train(config, resume_dir=run, reporter=quiet())


def test_a_new_run_never_overwrites_an_old_one(tmp_path):
    train(tiny(tmp_path), reporter=quiet())
    with pytest.raises(UsageError, match="already holds a run"):
        train(tiny(tmp_path), reporter=quiet())


def test_toml_keys_are_option_names_and_flags_override_them(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('lr-g = 1e-4\nd-steps = 2\nloss = "minimax"\nema = 0.99\n')
    file_options = read_toml(path)
    config = build_config(file_options, {"lr_g": 3e-4})
    assert (config.lr_g, config.d_steps, config.loss, config.ema) == (3e-4, 2, "minimax", 0.99)
    def toml_value(v):  # JSON's scalars and lists are TOML's; a table is written inline
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {json.dumps(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    round_trip = tmp_path / "back.toml"
    round_trip.write_text("".join(f"{k.replace('_', '-')} = {toml_value(v)}\n"
                                  for k, v in config.to_dict().items() if v is not None))
    assert build_config(read_toml(round_trip), {}) == config


@pytest.mark.parametrize(("text", "message"), [
    ("learning-rate = 1\n", "unknown key 'learning-rate'"),
    ("steps = 'ten'\n", "must be an integer"),
    ("lr-d = true\n", "must be a number"),
    ("augment = 1\n", "must be true or false"),
    ("steps = [\n", "not valid TOML"),
])
def test_bad_toml_is_refused_with_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_toml(path)


@pytest.mark.parametrize(("options", "message"), [
    ({"batch_size": 0}, "--batch-size"),
    ({"lr_g": -1.0}, "--lr-g"),
    ({"ema": 1.0}, "--ema"),
    ({"steps": 5, "epochs": 2}, "not both"),
    ({"device": "tpu"}, "--device"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        build_config({}, options)


def test_resume_refuses_to_change_what_is_trained(tmp_path):
    saved = TrainConfig(steps=10).to_dict()
    with pytest.raises(UsageError, match="--loss cannot change"):
        resume_config(saved, {"loss": "hinge"}, tmp_path)
    assert resume_config(saved, {"steps": 20, "loss": saved["loss"]}, tmp_path).steps == 20


def test_resume_keeps_the_saved_architecture_options_when_the_defaults_change(tmp_path):
    # A run saved before dcgan's default gained g_width=64 has G at width 32: resuming it must
    # rebuild that G, not merge today's default options into the saved ones.
    saved = TrainConfig(arch="dcgan", arch_options={}, steps=10).to_dict()
    assert resume_config(saved, {"steps": 20}, tmp_path).arch_options == {}
    saved = TrainConfig(arch="dcgan", arch_options={"width": 48}, steps=10).to_dict()
    assert resume_config(saved, {}, tmp_path).arch_options == {"width": 48}


def test_epochs_count_whole_passes_over_the_data(tmp_path):
    config = tiny(tmp_path, dataset="mnist-5k", arch="mlp", image_size=8, batch_size=1000,
                  steps=None, epochs=2, log_every=5, checkpoint_every=100, sample_every=100)
    run = train(config, reporter=quiet())
    state = load_checkpoint(latest_checkpoint(run))
    assert state["step"] == 10  # 5,000 digits / 1,000 per batch = 5 steps per epoch
    assert json.loads((run / "config.json").read_text())["options"]["steps"] == 10


def _image_size(arch: str) -> int | None:
    # resnet is a 32 px architecture; r3gan takes powers of two
    return {"resnet": 32, "r3gan": 16}.get(arch)


# Small widths where an architecture's default would make this test slow on a CPU.
SMALL = {"r3gan": {"width": 8, "min_width": 4, "blocks": 1, "group_size": 4}}


@pytest.mark.parametrize("arch", [
    pytest.param(a, marks=pytest.mark.slow) if a == "resnet" else a  # ~30 s on a small CPU
    for a in registry.names("architecture") if a != "mlp2d"])
def test_every_image_architecture_trains_conditional_with_every_option(tmp_path, arch):
    config = tiny(tmp_path, dataset="mnist-5k", arch=arch, image_size=_image_size(arch),
                  arch_options=SMALL.get(arch), batch_size=8, steps=2, log_every=1, sample_every=2, checkpoint_every=2,
                  conditional=True, spectral_norm=True, r1=1.0, d_steps=2, ema=0.9,
                  augment=True)
    run = train(config, reporter=quiet())
    state = load_checkpoint(latest_checkpoint(run))
    assert state["arch"]["kwargs"]["num_classes"] == 10
    from gantool.sampling import class_labels, sample_array
    from gantool.train.checkpoint import load_generator

    G, _ = load_generator(run)
    images = sample_array(G, 4, labels=class_labels(G, 4, class_index=3))
    size = _image_size(arch) or 28
    assert images.shape == (4, size, size, 1) and images.dtype.name == "uint8"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["class_diversity"] >= 0 for r in records)  # judged within each class


@pytest.mark.parametrize("loss", registry.names("loss"))
def test_every_loss_trains_a_few_finite_steps(tmp_path, loss):
    run = train(tiny(tmp_path, loss=loss, steps=3, log_every=1), reporter=quiet())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor([r["loss_d"], r["loss_g"]])).all() for r in records)


def test_latest_falls_back_to_a_pointer_file_where_symlinks_fail(tmp_path, monkeypatch):
    from gantool.train import rundir

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(rundir.os, "symlink", no_symlinks)
    rundir.update_latest(tmp_path / "runs", run)
    latest = tmp_path / "runs" / "latest"
    assert latest.is_file() and not latest.is_symlink()
    assert rundir.resolve_run(None, tmp_path / "runs") == run.resolve()
    with pytest.raises(UsageError, match="does not exist"):
        rundir.resolve_run(None, tmp_path / "elsewhere")


def test_a_run_name_is_found_under_runs_root_even_beside_a_plain_folder(tmp_path, monkeypatch):
    from gantool.train import rundir

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "photos"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (tmp_path / "photos").mkdir()  # the user's images, not a run
    assert rundir.resolve_run("photos", "runs") == Path("runs") / "photos"
    (tmp_path / "other").mkdir()
    with pytest.raises(UsageError, match="other is not a gantool run directory"):
        rundir.resolve_run("other", "runs")


def test_subset_trains_on_a_seeded_pick_exactly_as_on_a_file_of_those_digits(tmp_path):
    import numpy as np

    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k")
    pick = np.random.default_rng(0).choice(len(digits), 50, replace=False)  # what --subset draws
    npz = tmp_path / "fifty.npz"
    np.savez(npz, images=digits.data[pick].numpy(), labels=digits.labels[pick].numpy())
    common = {"arch": "mlp", "steps": 3, "batch_size": 16, "seed": 4}
    subset = train(tiny(tmp_path, dataset="mnist-5k", subset=50, name="subset", **common),
                   reporter=quiet())
    from_file = train(tiny(tmp_path, dataset="array", data_root=str(npz), name="file", **common),
                      reporter=quiet())
    a, b = (load_checkpoint(latest_checkpoint(run)) for run in (subset, from_file))
    assert a["data_info"]["num_samples"] == 50
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
    assert json.loads((subset / "config.json").read_text())["options"]["subset"] == 50


@pytest.mark.parametrize("value, message", [
    ("6000", "Error: --subset 6000: dataset mnist-5k has 5000 samples; give 1 to 5000"),
    ("0", "Error: --subset must be at least 1 (samples to train on)"),
])
def test_a_subset_the_dataset_cannot_give_is_refused_and_nothing_is_created(tmp_path, value,
                                                                          message):
    from conftest import run_cli

    proc = run_cli("train", "--subset", value, "--steps", "1", "--runs-root",
                   str(tmp_path / "runs"), cwd=tmp_path)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in stderr and not (tmp_path / "runs").exists()
