"""Defects of the v1 training loop, each reproduced: NaN checkpoints, penalties with BatchNorm,
the relativistic G step, foreign checkpoints, resume on another device or to fewer steps, the
log after a resume, and the objective's penalties (augmented reals, paired labels)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gantool import registry
from gantool.errors import GantoolError, UsageError
from gantool.losses import Minimax
from gantool.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gantool.train.config import build_config, resume_config
from gantool.train.distributed import World
from gantool.train.loop import Diverged, Interrupted, _StopSignals, train
from gantool.train.objective import Objective
from gantool.train.progress import Reporter


def quiet():
    return Reporter(enabled=False)


def config(tmp_path, **options):
    base = {"dataset": "ring8", "steps": 6, "device": "cpu", "runs_root": str(tmp_path),
            "name": "run", "log_every": 2, "sample_every": 1000, "checkpoint_every": 3}
    return build_config({}, {**base, **options})


def finite(state: dict) -> bool:
    return all(torch.isfinite(t).all() for part in ("G", "D") for t in state[part].values()
               if torch.is_floating_point(t))


class NanAfter(Minimax):
    """A loss that turns NaN from its 5th D step on (a run that explodes between logs)."""

    name = "test-nan-after-4"
    calls = 0

    def d_loss(self, real_logits, fake_logits):
        type(self).calls += 1
        loss = super().d_loss(real_logits, fake_logits)
        return loss * float("nan") if type(self).calls > 4 else loss


def test_no_checkpoint_with_non_finite_weights_is_ever_written(tmp_path):
    NanAfter.calls = 0
    registry.register("loss", NanAfter.name, "test")(NanAfter)
    c = config(tmp_path, loss=NanAfter.name, steps=20, checkpoint_every=3, log_every=10)
    with pytest.raises(GantoolError, match="diverged") as caught:
        train(c, reporter=quiet())
    run = tmp_path / "run"
    saved = list_checkpoints(run / "checkpoints")
    assert saved, "the step-3 checkpoint (before the NaN) is kept"
    assert all(finite(load_checkpoint(path)) for _, path in saved)
    # The message names a checkpoint only if it really is finite.
    assert str(saved[-1][1]) in str(caught.value)


def test_penalties_on_a_batchnorm_discriminator_are_refused_with_the_fix(tmp_path):
    c = config(tmp_path, dataset="mnist-5k", arch="dcgan", loss="wgan-gp", batch_size=8,
               steps=1, spectral_norm=False)  # the paper's dcgan: BatchNorm in D
    with pytest.raises(UsageError, match="BatchNorm.*d_batch_norm=false"):
        train(c, reporter=quiet())
    assert not (tmp_path / "run").exists()  # refused before anything was written
    ok = config(tmp_path, dataset="mnist-5k", arch="dcgan", loss="wgan-gp", batch_size=8,
                steps=1, spectral_norm=False, arch_options={"d_batch_norm": False, "width": 4})
    train(ok, reporter=quiet())


def test_a_run_directory_with_another_runs_checkpoints_is_refused(tmp_path):
    foreign = tmp_path / "run" / "checkpoints" / "step-009999.pt"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's checkpoint")
    with pytest.raises(UsageError, match="already holds checkpoints"):
        train(config(tmp_path, steps=6, checkpoint_every=1, keep_last=1), reporter=quiet())
    assert foreign.read_bytes() == b"someone else's checkpoint"
    assert [p.name for p in foreign.parent.iterdir()] == ["step-009999.pt"]


def _resume(run, **overrides):
    saved = json.loads((run / "config.json").read_text())["options"]
    return train(resume_config(saved, overrides, run), resume_dir=run, reporter=quiet())


def test_resume_to_fewer_steps_is_refused_and_changes_nothing(tmp_path):
    run = train(config(tmp_path, steps=6), reporter=quiet())
    before = {p.name: p.read_bytes() for p in (run / "config.json", run / "metrics.jsonl")}
    for steps in (4, 6):
        with pytest.raises(UsageError, match="already at step 6"):
            _resume(run, steps=steps)
    assert {p.name: p.read_bytes() for p in (run / "config.json", run / "metrics.jsonl")} == \
        before


def test_resume_on_another_kind_of_device_continues(tmp_path, capsys):
    run = train(config(tmp_path, steps=6), reporter=quiet())
    path = latest_checkpoint(run)
    state = torch.load(path, weights_only=True)
    # What a CUDA run writes: a Philox generator state (16 bytes), not a CPU Mersenne one.
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)
    state["rng"]["noise_device"] = "cuda"
    torch.save(state, path)
    saved = json.loads((run / "config.json").read_text())["options"]
    log = Reporter(enabled=True)
    train(resume_config(saved, {"steps": 9}, run), resume_dir=run, reporter=log)
    assert load_checkpoint(latest_checkpoint(run))["step"] == 9
    assert "noise stream was reseeded" in capsys.readouterr().err


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no final log line, no pictures)."""


def test_the_log_after_a_resume_equals_the_uninterrupted_log(tmp_path, monkeypatch):
    # Checkpoints at 3, 6, 9 fall between log lines (every 5): the running sums must resume.
    straight = train(config(tmp_path, name="straight", steps=15, log_every=5), reporter=quiet())
    from gantool.train import checkpoint

    save = checkpoint.save_checkpoint

    def save_then_die_at_9(ckpt_dir, step, state, keep_last):
        path = save(ckpt_dir, step, state, keep_last)
        if step == 9:
            raise Killed
        return path

    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_die_at_9)
    with pytest.raises(Killed):
        train(config(tmp_path, name="half", steps=15, log_every=5), reporter=quiet())
    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    half = tmp_path / "half"
    _resume(half, steps=15)

    def losses(run):
        return [{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert losses(half) == losses(straight)


def test_batch_smaller_than_the_world_is_refused(tmp_path):
    with pytest.raises(UsageError, match="smaller than the 2 processes"):
        train(config(tmp_path, batch_size=1), reporter=quiet(), world=World(0, 2, 0))


def test_a_second_signal_stops_at_once():
    import signal

    with _StopSignals() as stop:
        stop._handle(signal.SIGINT, None)
        assert stop.signum == signal.SIGINT
        with pytest.raises(Interrupted, match="second SIGINT") as caught:
            stop._handle(signal.SIGINT, None)
    assert caught.value.exit_code == 130


def test_a_failed_first_run_leaves_no_runs_directory(tmp_path):
    root = tmp_path / "fresh-root"
    c = build_config({}, {"dataset": "ring8", "steps": 2, "device": "cpu",
                          "runs_root": str(root), "arch": "mlp", "name": "x"})
    with pytest.raises(UsageError):
        train(c, reporter=quiet())  # mlp takes images, ring8 is points: fails in setup
    assert not root.exists()


# ---- the objective on hand-made networks
class LinearD(torch.nn.Module):
    """D(x) = <w, x> (+ a per-class table): input gradients are known in closed form."""

    def __init__(self, dim, classes=0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1.0, 1.0, dim))
        self.table = torch.nn.Parameter(torch.zeros(max(classes, 1)))

    def forward(self, x, y=None):
        out = x.flatten(1) @ self.w
        return out if y is None else out + self.table[y]


class ZeroLoss(Minimax):
    """The adversarial loss at weight 0: what d_backward returns is the penalty alone."""

    def d_loss(self, real_logits, fake_logits):
        return 0.0 * (real_logits.sum() + fake_logits.sum())


def objective(D, G, loss, **options):
    return Objective(loss, G_run=G, D_run=D, D=D, batch_size=4, rows=slice(0, 4), z_dim=3,
                     num_classes=options.pop("num_classes", 0), device=torch.device("cpu"),
                     **options)


def test_r1_penalises_what_d_sees_through_the_augmentation():
    from gantool.train.augment import diff_augment

    D = LinearD(1 * 4 * 4)
    G = lambda z, y=None: torch.tanh(z[:, :1, None, None].expand(-1, 1, 4, 4))  # noqa: E731
    real = torch.rand(4, 1, 4, 4) * 2 - 1
    noise = torch.Generator().manual_seed(0)
    obj = objective(D, G, ZeroLoss(), r1=2.0, augment=diff_augment)
    penalty = obj.d_backward(real, None, noise, d_update=0, keep_graph=False).loss
    # The same draws by hand: z, then the augmentation of the reals (then of the fakes).
    replay = torch.Generator().manual_seed(0)
    torch.randn(4, 3, generator=replay)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(diff_augment(x, replay)).sum(), x)
    expected = 0.5 * 2.0 * grad.flatten(1).pow(2).sum(1).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)
    # Cutout hides part of every image, so this is less than the un-augmented R1 = ||w||^2.
    assert expected.item() < D.w.pow(2).sum().item()


def test_lazy_regularisation_runs_every_nth_update_at_n_times_the_weight():
    D = LinearD(2)
    G = lambda z, y=None: z[:, :2]  # noqa: E731
    real = torch.randn(4, 2)
    obj = objective(D, G, ZeroLoss(), r1=1.0, reg_every=4)
    noise = torch.Generator().manual_seed(0)
    on = obj.d_backward(real, None, noise, d_update=8, keep_graph=False).loss.item()
    off = obj.d_backward(real, None, noise, d_update=9, keep_graph=False).loss.item()
    assert on == pytest.approx(4 * 0.5 * D.w.pow(2).sum().item())
    assert off == 0.0


def test_r2_is_the_same_penalty_on_fakes():
    D = LinearD(2)
    G = lambda z, y=None: z[:, :2] * 3  # noqa: E731
    obj = objective(D, G, ZeroLoss(), r2=1.0)
    penalty = obj.d_backward(torch.randn(4, 2), None, torch.Generator().manual_seed(0),
                             d_update=0, keep_graph=False).loss.item()
    assert penalty == pytest.approx(0.5 * D.w.pow(2).sum().item())


def test_gradient_penalty_pairs_each_real_with_a_fake_of_its_class():
    D = LinearD(2, classes=3)
    drawn = []

    def G(z, y=None):
        drawn.append(y)
        return z[:, :2]

    obj = objective(D, G, ZeroLoss(), gp=10.0, num_classes=3)
    y_real = torch.tensor([0, 1, 2, 1])
    d = obj.d_backward(torch.randn(4, 2), y_real, torch.Generator().manual_seed(0),
                       d_update=0, keep_graph=False)
    assert torch.equal(drawn[0], y_real) and torch.equal(d.y_fake, y_real)


def test_penalties_leave_spectral_norm_state_alone():
    from gantool.models.base import apply_spectral_norm

    def make():
        torch.manual_seed(0)
        D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        apply_spectral_norm(D)
        return lambda x, y=None: D(x).squeeze(1), D

    G = lambda z, y=None: z[:, :2]  # noqa: E731
    buffers = []
    for gp in (0.0, 10.0):
        fn, module = make()
        obj = Objective(Minimax(), G_run=G, D_run=fn, D=_Wrap(module), batch_size=4,
                        rows=slice(0, 4), z_dim=3, num_classes=0,
                        device=torch.device("cpu"), gp=gp)
        obj.d_backward(torch.randn(4, 2, generator=torch.Generator().manual_seed(1)), None,
                       torch.Generator().manual_seed(0), d_update=0, keep_graph=False)
        buffers.append([b.clone() for b in module.buffers()])
    assert all(torch.equal(a, b) for a, b in zip(*buffers, strict=True))


class _Wrap(torch.nn.Module):
    """A module taking (x, y=None), as gantool's networks do."""

    def __init__(self, module, squeeze=True):
        super().__init__()
        self.module, self.squeeze = module, squeeze

    def forward(self, x, y=None):
        out = self.module(x)
        return out.squeeze(1) if self.squeeze else out


def test_relativistic_g_step_uses_the_updated_d_on_both_sides():
    loss = registry.create("loss", "relativistic")
    torch.manual_seed(0)
    D = LinearD(2)
    G = _Wrap(torch.nn.Linear(3, 2), squeeze=False)
    obj = objective(D, G, loss)
    opt = torch.optim.SGD(D.parameters(), lr=0.5)
    noise = torch.Generator().manual_seed(0)
    real = torch.randn(4, 2)
    d = obj.d_backward(real, None, noise, d_update=0, keep_graph=True)
    opt.step()  # D moves; the G step must see the moved D on the reals too
    g = obj.g_backward(d, G, noise)
    with torch.no_grad():
        fake = G(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
        expected = torch.nn.functional.softplus(D(real) - D(fake)).mean()
    assert g.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert not math.isclose(g.loss.item(), torch.nn.functional.softplus(
        d.real_logits - D(fake).detach()).mean().item(), rel_tol=1e-6)


def test_diverged_is_a_gantool_error():
    assert issubclass(Diverged, GantoolError)
