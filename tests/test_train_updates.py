"""Training's update rules (gantool/train/updates.py) against game-sim's, and through the stack.

- exact: on a one-parameter-per-player "network" whose value is game-sim's bilinear or
  quadratic game (D holds x, the maximiser; G holds y), each rule with plain SGD as the
  per-player step follows game-sim's trajectory (gantool.game optimizers) step for step; with
  Adam, ExtraAdam and Optimistic Adam follow a numpy transcription of their papers' algorithms.
  These go through the real Objective and TrainingState (the fake parts are the networks, the
  loss and the data), so the optimiser steps, extrapolation and restores are the real ones;
- resumable: N steps straight equal N/2 steps + --resume to N, weights and rule state exactly;
- wired: `gantool train --update X` runs as a subprocess; bad combinations are one line, exit 2;
- one vocabulary: game-sim's and training's names of a rule are aliases of each other.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gantool import registry
from gantool.errors import UsageError
from gantool.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gantool.train.config import build_config, resume_config
from gantool.train.distributed import World
from gantool.train.loop import train
from gantool.train.objective import Objective
from gantool.train.progress import Reporter
from gantool.train.state import TrainingState

X0, Y0, LR = 1.0, 0.5, 0.1


# ---- a game as a GAN: V(x, y) = D's logit on G's one sample
class ScalarD(torch.nn.Module):
    """Logit of a sample s: b x s + a/2 x^2 - c/2 s^2; on G's sample s = y that is the
    quadratic game's V(x, y) (a = c = 0, b = 1: the bilinear x*y)."""

    def __init__(self, a: float, b: float, c: float):
        super().__init__()
        self.x = torch.nn.Parameter(torch.tensor(X0, dtype=torch.float64))
        self.a, self.b, self.c = a, b, c

    def forward(self, s, y=None):
        s = s.reshape(-1)
        return self.b * self.x * s + self.a / 2 * self.x**2 - self.c / 2 * s**2


class PointG(torch.nn.Module):
    """Every sample is the one number y."""

    z_dim = 1

    def __init__(self):
        super().__init__()
        self.y = torch.nn.Parameter(torch.tensor(Y0, dtype=torch.float64))

    def forward(self, z, y=None):
        return self.y.expand(len(z), 1)


class GameLoss:
    """D maximises V (minimises -V), G minimises V: game-sim's x and y."""

    weight_clip = None
    default_gp = None
    g_uses_real = False

    def d_loss(self, real_logits, fake_logits):
        return -fake_logits.mean()

    def g_loss(self, fake_logits, real_logits=None):
        return fake_logits.mean()


class OneBatch:
    def next(self):
        return torch.zeros(1, 1, dtype=torch.float64), None


def _train_on_game(rule, steps: int, *, a=0.0, b=1.0, c=0.0, optimiser="sgd",
                   betas=(0.5, 0.999)) -> np.ndarray:
    """(steps + 1, 2): (x, y) after each iteration of `rule` on the game."""
    D, G = ScalarD(a, b, c), PointG()
    make = ((lambda p: torch.optim.SGD(p, lr=LR)) if optimiser == "sgd"
            else (lambda p: torch.optim.Adam(p, lr=LR, betas=betas)))
    state = TrainingState(G=G, D=D, G_ema=None, opt_g=make(G.parameters()),
                          opt_d=make(D.parameters()), batches=OneBatch(), monitor=None,
                          log=None, rule=rule, noise=torch.Generator().manual_seed(0),
                          world=World(), device=torch.device("cpu"), seed=0)
    objective = Objective(GameLoss(), G_run=G, D_run=D, D=D, batch_size=1, rows=slice(0, 1),
                          z_dim=1, num_classes=0, device=torch.device("cpu"))
    points = [(D.x.item(), G.y.item())]
    for _ in range(steps):
        rule.iterate(state, objective)
        points.append((D.x.item(), G.y.item()))
    return np.array(points)


def _game_sim(name: str, steps: int, game: str, **options) -> np.ndarray:
    the_game = registry.create("game", game, **({"a": -0.5, "b": 1.0, "c": -0.5}
                                                if game == "quadratic" else {}))
    optimizer = registry.create("optimizer", name, **options)
    return optimizer.run(the_game, np.array([[X0, Y0]]), np.array([LR]), steps)[:, 0]


# (training rule and options, game-sim rule and options): the same rule under both names
PAIRS = [
    (("alternating", {}), ("altgd", {})),
    (("alternating", {"d_steps": 3}), ("altgd", {"steps_x": 3})),
    (("simultaneous", {}), ("simgd", {})),
    (("extragradient", {}), ("extragradient", {})),
    (("optimistic", {}), ("ogda", {})),
    (("consensus", {"gamma": 0.3}), ("consensus", {"gamma": 0.3})),
    (("sga", {"lam": 0.7}), ("sga", {"lam": 0.7})),
    (("lookahead", {"k": 3, "alpha": 0.4}), ("lookahead", {"k": 3, "alpha": 0.4})),
    (("lookahead", {"base": "extragradient", "k": 4}),
     ("lookahead", {"base": "extragradient", "k": 4})),
    (("lookahead", {"base": "alternating", "d_steps": 2}),
     ("lookahead", {"base": "altgd", "steps_x": 2})),
    (("lookahead", {"base": "consensus", "gamma": 0.5}),
     ("lookahead", {"base": "consensus", "gamma": 0.5})),
]


@pytest.mark.parametrize("game", ["bilinear", "quadratic"])
@pytest.mark.parametrize(("train_rule", "game_rule"), PAIRS,
                         ids=[f"{t[0]}{t[1] or ''}" for t, _ in PAIRS])
def test_each_rule_with_sgd_is_game_sims_rule_step_for_step(train_rule, game_rule, game):
    steps = 40
    coefficients = {"a": -0.5, "b": 1.0, "c": -0.5} if game == "quadratic" else {}
    rule = registry.create("update", train_rule[0], **train_rule[1])
    # game-sim's lookahead step is k base steps and the jump; training's iteration is one
    # base step (so a checkpoint can fall mid-cycle): compare every k-th point.
    k = getattr(rule, "k", 1)
    ours = _train_on_game(rule, steps * k, **coefficients)[::k]
    theirs = _game_sim(game_rule[0], steps, game, **game_rule[1])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.abs(ours[-1] - ours[0]).max() > 1e-2  # the players did move


@pytest.mark.parametrize("align", [True, False])
def test_sga_sign_alignment_with_sgd_is_game_sims_and_the_closed_form(align):
    """On V = s/2 x^2 + x y - s/2 y^2 with s > 0 (a repelling equilibrium; see
    tests/test_game_rules.py) from (1, 0.5): Algorithm 1's product is -s |xi|^4 / 2 = -0.169,
    below -eps = -0.1, so the aligned rule steps with lambda = -lam and moves away (w multiplied
    by 1 + lr (s + lam) - i lr (1 - lam s)); the fixed rule keeps +lam and is drawn in. Both
    with d = 2 parameters, the exact double-backward HVPs and the same eps as game-sim."""
    s, lam, steps = 0.2, 0.7, 30
    rule = registry.create("update", "sga", lam=lam, align=align)
    ours = _train_on_game(rule, steps, a=s, b=1.0, c=s)
    game = registry.create("game", "quadratic", a=s, b=1.0, c=s)
    theirs = registry.create("optimizer", "sga", lam=lam, align=align).run(
        game, np.array([[X0, Y0]]), np.array([LR]), steps)[:, 0]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    sign = -1.0 if align else 1.0
    factor = 1 + LR * (s - sign * lam) - 1j * LR * (1 + sign * lam * s)
    np.testing.assert_allclose(ours[:, 0] + 1j * ours[:, 1],
                               (X0 + 1j * Y0) * factor ** np.arange(steps + 1), rtol=1e-9)


def test_lookahead_between_cycles_the_players_hold_the_slow_weights():
    """What sampling, the EMA and checkpoints read between iterations is the slow weights
    (Chavdarova et al. report those): they move only at the end of each cycle of k steps."""
    points = _train_on_game(registry.create("update", "lookahead", k=3, alpha=0.4), 7)
    for t in (1, 2):
        np.testing.assert_array_equal(points[t], points[0])
    for t in (4, 5):
        np.testing.assert_array_equal(points[t], points[3])
    assert (points[3] != points[0]).all() and (points[6] != points[3]).all()
    np.testing.assert_allclose(points[::3], _game_sim("lookahead", 2, "bilinear", k=3,
                                                      alpha=0.4), rtol=0, atol=1e-12)


def test_a_non_finite_fast_weight_mid_cycle_stops_the_checkpoint():
    """Mid-cycle the fast weights live in the rule's state, not in G and D: the finiteness
    check before a checkpoint must see them too."""
    rule = registry.create("update", "lookahead", k=3)
    D, G = ScalarD(0.0, 1.0, 0.0), PointG()
    state = TrainingState(G=G, D=D, G_ema=None, opt_g=torch.optim.SGD(G.parameters(), lr=LR),
                          opt_d=torch.optim.SGD(D.parameters(), lr=LR), batches=OneBatch(),
                          monitor=None, log=None, rule=rule,
                          noise=torch.Generator().manual_seed(0), world=World(),
                          device=torch.device("cpu"), seed=0)
    objective = Objective(GameLoss(), G_run=G, D_run=D, D=D, batch_size=1, rows=slice(0, 1),
                          z_dim=1, num_classes=0, device=torch.device("cpu"))
    rule.iterate(state, objective)
    assert state.weights_finite()
    nan = [torch.tensor(math.nan, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)]
    rule.load_state_dict({**rule.state_dict(), "fast": nan})
    assert not state.weights_finite()


def test_lookahead_resumes_a_checkpoint_that_saved_the_slow_weights_in_its_state():
    """Checkpoints written before the players held the slow weights have the fast weights in
    G and D and {"slow": ...} in the rule's state; resumed mid-cycle they continue the same."""
    def game_state(rule):
        D, G = ScalarD(0.0, 1.0, 0.0), PointG()
        state = TrainingState(G=G, D=D, G_ema=None,
                              opt_g=torch.optim.SGD(G.parameters(), lr=LR),
                              opt_d=torch.optim.SGD(D.parameters(), lr=LR), batches=OneBatch(),
                              monitor=None, log=None, rule=rule,
                              noise=torch.Generator().manual_seed(0), world=World(),
                              device=torch.device("cpu"), seed=0)
        objective = Objective(GameLoss(), G_run=G, D_run=D, D=D, batch_size=1,
                              rows=slice(0, 1), z_dim=1, num_classes=0,
                              device=torch.device("cpu"))
        return state, objective

    straight = registry.create("update", "lookahead", k=3, alpha=0.4)
    state, objective = game_state(straight)
    straight.iterate(state, objective)  # one step into the cycle
    slow = [state.D.x.detach().clone(), state.G.y.detach().clone()]
    old = {"base": {}, "count": 1, "slow": slow}
    resumed = registry.create("update", "lookahead", k=3, alpha=0.4)
    resumed.load_state_dict(old)
    state2, objective2 = game_state(resumed)
    with torch.no_grad():  # the old layout: the fast weights in the players
        state2.D.x.copy_(straight.fast[0])
        state2.G.y.copy_(straight.fast[1])
    for _ in range(5):
        straight.iterate(state, objective)
        resumed.iterate(state2, objective2)
        assert (state.D.x.item(), state.G.y.item()) == (state2.D.x.item(), state2.G.y.item())


class _CountingBatches(OneBatch):
    def __init__(self):
        self.drawn = 0

    def next(self):
        self.drawn += 1
        return super().next()


@pytest.mark.parametrize(("train_rule", "game_rule"), PAIRS,
                         ids=[f"{t[0]}{t[1] or ''}" for t, _ in PAIRS])
def test_each_rule_declares_the_batches_it_draws(train_rule, game_rule):
    """img_per_s counts `batches_per_iteration` batches per step: it must be what the rule
    draws (extragradient two, alternating K, lookahead its base's)."""
    rule = registry.create("update", train_rule[0], **train_rule[1])
    D, G = ScalarD(0.0, 1.0, 0.0), PointG()
    batches = _CountingBatches()
    state = TrainingState(G=G, D=D, G_ema=None, opt_g=torch.optim.SGD(G.parameters(), lr=LR),
                          opt_d=torch.optim.SGD(D.parameters(), lr=LR), batches=batches,
                          monitor=None, log=None, rule=rule,
                          noise=torch.Generator().manual_seed(0), world=World(),
                          device=torch.device("cpu"), seed=0)
    objective = Objective(GameLoss(), G_run=G, D_run=D, D=D, batch_size=1, rows=slice(0, 1),
                          z_dim=1, num_classes=0, device=torch.device("cpu"))
    for _ in range(5):
        rule.iterate(state, objective)
    assert batches.drawn == 5 * rule.batches_per_iteration


# ---- Adam: the papers' algorithms, transcribed in numpy
class _Adam:
    """torch.optim.Adam's move for one scalar player (bias-corrected, eps outside the root)."""

    def __init__(self, b1, b2, eps=1e-8):
        self.b1, self.b2, self.eps, self.t, self.m, self.v = b1, b2, eps, 0, 0.0, 0.0

    def move(self, g: float) -> float:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat, v_hat = self.m / (1 - self.b1**self.t), self.v / (1 - self.b2**self.t)
        return -LR * m_hat / (math.sqrt(v_hat) + self.eps)


def _xi(x: float, y: float) -> tuple[float, float]:
    return -y, x  # the players' loss gradients on x*y: d(-xy)/dx, d(xy)/dy


def test_extragradient_with_adam_is_extra_adam_moments_updated_twice_per_iteration():
    """Gidel et al.'s Algorithm 4 (ExtraAdam): the extrapolation is an Adam step that updates
    the moments with xi(z); the update from z updates them again with xi(z')."""
    betas, steps = (0.5, 0.9), 30
    ax, ay = _Adam(*betas), _Adam(*betas)
    x, y, expected = X0, Y0, [(X0, Y0)]
    for _ in range(steps):
        gx, gy = _xi(x, y)
        xh, yh = x + ax.move(gx), y + ay.move(gy)
        gx, gy = _xi(xh, yh)
        x, y = x + ax.move(gx), y + ay.move(gy)
        expected.append((x, y))
    ours = _train_on_game(registry.create("update", "extragradient"), steps, optimiser="adam",
                          betas=betas)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_optimistic_with_adam_is_optimistic_adam():
    """Daskalakis et al.'s Algorithm 1: theta -= 2 lr m_t/sqrt(v_t) - lr m_(t-1)/sqrt(v_(t-1));
    the first iteration is a plain step."""
    betas, steps = (0.5, 0.9), 30
    ax, ay = _Adam(*betas), _Adam(*betas)
    x, y, expected, last = X0, Y0, [(X0, Y0)], None
    for _ in range(steps):
        gx, gy = _xi(x, y)
        u = (ax.move(gx), ay.move(gy))
        previous = last or u
        x, y = x + 2 * u[0] - previous[0], y + 2 * u[1] - previous[1]
        expected.append((x, y))
        last = u
    ours = _train_on_game(registry.create("update", "optimistic"), steps, optimiser="adam",
                          betas=betas)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


# ---- through the training stack
def _run(tmp_path, name, steps, **options):
    config = build_config({}, {"dataset": "ring8", "arch": "mlp2d", "steps": steps,
                               "name": name, "runs_root": str(tmp_path), "device": "cpu",
                               "log_every": 2, "sample_every": 100, "checkpoint_every": 100,
                               "tensorboard": False, **options})
    return train(config, reporter=Reporter(enabled=False))


def _resume(run, steps):
    saved = json.loads((run / "config.json").read_text())["options"]
    return train(resume_config(saved, {"steps": steps}, run), resume_dir=run,
                 reporter=Reporter(enabled=False))


def _same(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _same(u, v, f"{where}[{i}]")
    else:
        assert a == b, where


RESUMED = [
    {"update": "simultaneous"},
    {"update": "extragradient"},
    {"update": "optimistic"},
    {"update": "optimistic", "optimizer": "sgd", "lr_d": 0.01, "lr_g": 0.01},
    {"update": "consensus", "update_options": {"gamma": 0.5}},
    {"update": "sga", "update_options": {"lam": 0.5}},
    # k = 3 does not divide the 5 steps before the resume: it happens mid-cycle
    {"update": "lookahead", "update_options": {"k": 3, "base": "optimistic"}},
]


@pytest.mark.parametrize("options", RESUMED, ids=lambda o: "-".join(
    str(v) for v in (o["update"], *(o.get("update_options") or {}).values(),
                     o.get("optimizer", ""))).rstrip("-"))
def test_n_steps_equal_half_then_resume_bit_for_bit(tmp_path, options):
    straight = load_checkpoint(latest_checkpoint(_run(tmp_path, "straight", 10, **options)))
    half = _run(tmp_path, "half", 5, **options)
    resumed = load_checkpoint(latest_checkpoint(_resume(half, 10)))
    assert straight["step"] == resumed["step"] == 10
    for part in ("G", "D", "opt_g", "opt_d", "update_rule"):
        _same(straight[part], resumed[part], part)
    if options["update"] in ("optimistic", "lookahead"):
        assert straight["update_rule"]  # the rule's own state is in the checkpoint


def test_lookahead_samples_averages_and_saves_the_slow_generator(tmp_path):
    """Mid-cycle the checkpoint's G (what `gantool sample` loads without EMA) and the EMA
    (what the grids and `gantool sample` use with it) follow the slow weights, which move only
    at the end of a cycle of k = 3."""
    run = _run(tmp_path, "slow", 5, update="lookahead", update_options={"k": 3}, ema=0.5,
               checkpoint_every=1, keep_last=10)
    saved = {step: load_checkpoint(path)
             for step, path in list_checkpoints(run / "checkpoints")}
    assert sorted(saved) == [1, 2, 3, 4, 5]
    start, jumped = saved[1]["G"], saved[3]["G"]
    _same(saved[2]["G"], start, "G at step 2")
    _same(saved[4]["G"], jumped, "G at step 4")
    _same(saved[5]["G"], jumped, "G at step 5")
    assert any(not torch.equal(start[k], jumped[k]) for k in start)
    # The EMA of a point that has not moved is that point; at the jump it moves half way.
    _same(saved[2]["G_ema"], start, "G_ema at step 2")
    for k, w in jumped.items():
        expected = saved[2]["G_ema"][k] + 0.5 * (w - saved[2]["G_ema"][k])
        torch.testing.assert_close(saved[3]["G_ema"][k], expected)


@pytest.mark.parametrize(("options", "batches"), [
    ({"update": "extragradient"}, 2),
    ({"update": "lookahead", "update_options": {"base": "extragradient"}}, 2),
    ({"update": "alternating", "d_steps": 3}, 3),
    ({"update": "simultaneous"}, 1),
], ids=["extragradient", "lookahead-extragradient", "alternating-3", "simultaneous"])
def test_img_per_s_counts_every_batch_the_rule_draws(tmp_path, monkeypatch, options, batches):
    """Extragradient draws a batch for each of its two gradients: twice the images per step."""
    from gantool.train.batches import BatchStream
    from gantool.train.metrics_log import MetricsLog

    drawn = []
    draw = BatchStream.next
    monkeypatch.setattr(BatchStream, "next", lambda self: drawn.append(1) or draw(self))
    monkeypatch.setattr(MetricsLog, "seconds_since_reset", lambda self: 1.0)  # no clock
    run = _run(tmp_path, "speed", 4, batch_size=16, log_every=2, **options)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(drawn) == 4 * batches
    assert [r["img_per_s"] for r in records] == [16 * 2 * batches] * 2


RULES = ["simultaneous", "extragradient", "optimistic", "consensus", "sga", "lookahead"]

LOSSES = ["minimax", "non-saturating", "wgan", "wgan-gp", "hinge", "lsgan", "relativistic",
          "rpgan"]


@pytest.mark.parametrize(("rule", "options"), [
    *[("consensus", {"loss": loss}) for loss in LOSSES],
    ("sga", {"loss": "relativistic"}),  # G's loss reads D's real logits: part of the field
    ("sga", {"r1": 1.0}), ("sga", {"r2": 1.0}), ("consensus", {"gp": 1.0, "reg_every": 2}),
    ("extragradient", {"loss": "wgan"}), ("optimistic", {"loss": "wgan-gp"}),
], ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_every_loss_and_penalty_trains_with_the_rules(tmp_path, rule, options):
    """The double-backward rules differentiate through every loss and penalty (a third
    derivative with R1/R2/GP); WGAN's clipping follows every D move."""
    run = _run(tmp_path, "run", 2, update=rule, **options)
    state = load_checkpoint(latest_checkpoint(run))
    assert all(torch.isfinite(w).all() for part in ("G", "D") for w in state[part].values())
    if options.get("loss") == "wgan":
        assert max(float(w.abs().max()) for w in state["D"].values()) <= 0.01


def test_a_batch_norm_discriminator_is_differentiated_twice(tmp_path):
    """dcgan's D and G have BatchNorm: consensus differentiates the batch's loss through it."""
    config = build_config({}, {"dataset": "mnist-5k", "arch": "dcgan", "batch_size": 4,
                               "steps": 1, "update": "consensus", "name": "bn",
                               "runs_root": str(tmp_path), "device": "cpu", "log_every": 1,
                               "sample_every": 100, "tensorboard": False})
    state = load_checkpoint(latest_checkpoint(train(config, reporter=Reporter(enabled=False))))
    assert all(torch.isfinite(w).all() for w in state["D"].values())


def test_train_help_lists_the_rules(tmp_path):
    done = _gantool(tmp_path, "train", "--help")
    text = " ".join(done.stdout.split())
    for word in (*RULES, "--update-opt", "--optimizer", "simgd"):
        assert word in text


def _gantool(cwd, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "gantool", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("rule", RULES)
def test_gantool_train_update_runs_with_finite_losses(tmp_path, rule):
    done = _gantool(tmp_path, "train", "--dataset", "ring8", "--update", rule, "--steps", "12",
                    "--log-every", "4", "--sample-every", "12", "--no-tensorboard",
                    "--name", rule)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"runs/{rule}"
    records = [json.loads(line)
               for line in (tmp_path / "runs" / rule / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 8, 12]
    assert all(math.isfinite(r[key]) for r in records for key in ("loss_d", "loss_g"))
    config = json.loads((tmp_path / "runs" / rule / "config.json").read_text())
    assert config["options"]["update"] == rule


@pytest.mark.parametrize(("args", "message"), [
    (["--update", "simultaneous", "--d-steps", "2"], "--d-steps applies to --update alternating"),
    (["--update", "lookahead", "--d-steps", "2"], "--d-steps applies to lookahead over alt"),
    (["--update", "consensus", "--compile"], "drop --compile"),
    (["--update", "lookahead", "--update-opt", "base=sga", "--compile"], "drop --compile"),
    (["--update", "consensus", "--update-opt", "gamma=-1"], "--update-opt gamma must be"),
    (["--update", "sga", "--update-opt", "lam=nan"], "--update-opt lam must be a finite"),
    (["--update", "lookahead", "--update-opt", "k=0"], "--update-opt k must be at least 1"),
    (["--update", "lookahead", "--update-opt", "alpha=2"], "--update-opt alpha must be"),
    (["--update", "lookahead", "--update-opt", "base=lookahead"], "cannot be lookahead"),
    (["--update", "lookahead", "--update-opt", "base=nope"], "unknown update 'nope'"),
    (["--update", "simultaneous", "--update-opt", "gamma=1"], "has no option 'gamma'"),
    (["--update", "consensus", "--update-opt", "d_steps=2"], "with --d-steps"),
    (["--update", "consensus", "--update-opt", "gamma"], "--update-opt takes KEY=VALUE"),
    (["--optimizer", "rmsprop"], "--optimizer must be one of: adam, sgd"),
    (["--update", "extragradiant"], "Did you mean 'extragradient'"),
])
def test_a_bad_rule_option_or_combination_is_one_line_exit_2(tmp_path, args, message):
    done = _gantool(tmp_path, "train", "--dataset", "ring8", "--steps", "2", "--name", "bad",
                    *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: "), done.stderr
    assert message in done.stderr
    assert not (tmp_path / "runs" / "bad").exists()


@pytest.mark.parametrize("rule", ["consensus", "sga"])
def test_double_backward_rules_are_refused_under_torchrun(rule):
    from gantool.train.setup import _update_rule

    config = build_config({}, {"dataset": "ring8", "update": rule})
    with pytest.raises(UsageError, match="not supported under torchrun"):
        _update_rule(config, World(rank=0, size=2))
    _update_rule(config, World())  # one process: fine


# ---- one vocabulary
def test_game_sim_and_training_names_of_a_rule_are_aliases_of_each_other():
    for train_name, game_name in (("simultaneous", "simgd"), ("alternating", "altgd"),
                                  ("optimistic", "ogda")):
        assert registry.get("update", game_name).name == train_name
        assert registry.get("optimizer", train_name).name == game_name
        assert game_name in registry.get("update", train_name).aliases
    for shared in ("extragradient", "consensus", "sga", "lookahead"):
        assert registry.get("update", shared).name == registry.get("optimizer", shared).name
    assert build_config({}, {"dataset": "ring8", "update": "simgd"}).update == "simultaneous"


def test_gantool_list_shows_the_other_spelling(tmp_path):
    done = _gantool(tmp_path, "list", "update", "--json")
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(RULES) | {"alternating"} <= set(rows)
    assert rows["simultaneous"]["aliases"] == ["simgd"]
    game = {row["name"]: row for row in json.loads(_gantool(tmp_path, "list", "optimizer",
                                                            "--json").stdout)}
    assert game["ogda"]["aliases"] == ["optimistic"]


def test_game_sim_takes_trainings_names_for_the_same_rule(tmp_path):
    short = _gantool(tmp_path, "game-sim", "-u", "simgd,ogda", "--format", "json", "--steps", "5")
    long = _gantool(tmp_path, "game-sim", "-u", "simultaneous,optimistic", "--format", "json",
                    "--steps", "5")
    old = _gantool(tmp_path, "game-sim", "--optimizer", "simultaneous", "--format", "json",
                   "--steps", "5")
    assert short.returncode == long.returncode == old.returncode == 0, long.stderr
    assert short.stdout == long.stdout
    base = _gantool(tmp_path, "game-sim", "-u", "lookahead", "--lookahead-base",
                    "alternating", "--format", "json", "--steps", "5")
    same = _gantool(tmp_path, "game-sim", "-u", "lookahead", "--lookahead-base", "altgd",
                    "--format", "json", "--steps", "5")
    assert base.returncode == 0, base.stderr
    assert base.stdout == same.stdout


# ---- under torchrun (two CPU processes, gloo)
def _torchrun(tmp_path, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gantool", "train", "--dataset", "ring8", "--device", "cpu", "--steps", "6",
         "--log-every", "3", "--sample-every", "6", "--no-tensorboard", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


@pytest.mark.slow
def test_first_order_rules_under_torchrun_match_one_process(tmp_path):
    """Extrapolation, the optimistic move and lookahead's jump all act on all-reduced
    gradients and identical weights, so two processes follow one (within float reordering)."""
    options = {"update": "lookahead", "update_options": {"base": "extragradient", "k": 2}}
    two = _torchrun(tmp_path, "--update", "lookahead", "--update-opt", "base=extragradient",
                    "--update-opt", "k=2", "--name", "two")
    assert two.returncode == 0, two.stderr[-3000:]
    state = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "two"))
    assert torch.equal(state["rank_checksums"][0], state["rank_checksums"][1])
    one = load_checkpoint(latest_checkpoint(_run(tmp_path, "one", 6, log_every=3, **options)))
    difference = max(float((state[part][k] - one[part][k]).abs().max())
                     for part in ("G", "D") for k in one[part])
    assert difference < 1e-4


@pytest.mark.slow
def test_consensus_under_torchrun_is_refused_with_one_error_line(tmp_path):
    done = _torchrun(tmp_path, "--update", "consensus", "--name", "refused")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert errors and all("not supported under torchrun" in line for line in errors)
    assert not (tmp_path / "runs" / "refused").exists()
