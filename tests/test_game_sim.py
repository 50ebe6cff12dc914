"""game-sim's mathematics, checked against closed forms derived in docs/game-sim.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gantool import registry
from gantool.errors import UsageError
from gantool.game import analysis, fields, parse, simulate, updates

START = np.array([2.0, 2.0])


def run(game, optimizer, lr, steps, start=START):
    with np.errstate(over="ignore", invalid="ignore"):
        z0 = np.asarray(start, dtype=float)[None]
        return optimizer.run(game, z0, np.array([lr]), steps)[:, 0]


def ratios(traj):
    d = np.linalg.norm(traj, axis=-1)
    return d[1:] / d[:-1]


# ---- the lecture's game, V = x*y ----

def test_lecture_first_steps_are_the_gradient_steps_by_hand():
    # dx = +lr dV/dx = lr*y, dy = -lr dV/dy = -lr*x, from (2, 2) with lr 0.1.
    traj = run(fields.bilinear(), updates.SimGD(), 0.1, 2)
    np.testing.assert_allclose(traj[1], [2.2, 1.8], rtol=0, atol=1e-15)
    np.testing.assert_allclose(traj[2], [2.2 + 0.1 * 1.8, 1.8 - 0.1 * 2.2], rtol=0, atol=1e-15)


@pytest.mark.parametrize("lr", [0.01, 0.1, 0.5, 1.0])
def test_simgd_distance_grows_by_exactly_sqrt_1_plus_lr2(lr):
    game = fields.bilinear()
    traj = run(game, updates.SimGD(), lr, 200)
    np.testing.assert_allclose(ratios(traj), math.sqrt(1 + lr * lr), rtol=1e-12)
    radius = updates.SimGD().spectral_radius(game.J, 1, np.array([lr]))[0]
    assert radius == pytest.approx(math.sqrt(1 + lr * lr), rel=1e-12)


@pytest.mark.parametrize("lr", [0.05, 0.3, 1.0, 1.9])
def test_altgd_keeps_its_conserved_quantity_and_stays_bounded(lr):
    # x' = x + lr y, y' = y - lr x' keeps Q = x^2 + y^2 + lr x y (positive definite for lr < 2).
    traj = run(fields.bilinear(), updates.AltGD(), lr, 20_000)
    x, y = traj[:, 0], traj[:, 1]
    Q = x * x + y * y + lr * x * y
    np.testing.assert_allclose(Q, Q[0], rtol=1e-9)
    bound = math.sqrt(Q[0] / (1 - lr / 2))  # |z|^2 (1 - lr/2) <= Q
    assert np.linalg.norm(traj, axis=-1).max() <= bound * (1 + 1e-9)
    radius = updates.AltGD().spectral_radius(fields.bilinear().J, 1, np.array([lr]))[0]
    assert radius == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("lr", [0.1, 0.5, 0.9, 1.2])
def test_extragradient_scales_distance_by_sqrt_1_minus_lr2_plus_lr4(lr):
    traj = run(fields.bilinear(), updates.Extragradient(), lr, 200)
    factor = math.sqrt(1 - lr**2 + lr**4)
    np.testing.assert_allclose(ratios(traj), factor, rtol=1e-12)
    radius = updates.Extragradient().spectral_radius(fields.bilinear().J, 1, np.array([lr]))[0]
    assert radius == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(("lr", "converges"), [(0.1, True), (0.4, True), (0.57, True),
                                                (0.59, False), (0.8, False)])
def test_ogda_converges_exactly_for_lr_below_one_over_sqrt3(lr, converges):
    # Schur-Cohn on mu^2 - (1 + 2i lr) mu + i lr: both roots lie inside the unit circle
    # iff lr^2 < 1/3.
    game = fields.bilinear()
    radius = updates.OGDA().spectral_radius(game.J, 1, np.array([lr]))[0]
    assert (radius < 1) == converges
    with np.errstate(over="ignore"):
        d = np.linalg.norm(run(game, updates.OGDA(), lr, 3000), axis=-1)
    assert (d[-1] < 1e-3) == converges
    # After the transient the distance shrinks or grows by the spectral radius per step.
    assert (d[300] / d[200]) ** (1 / 100) == pytest.approx(radius, rel=1e-3)


def test_ogda_at_half_has_the_double_root_one_over_sqrt2():
    # At lr = 1/2 the roots coincide at (1 + i)/2; eigenvalues of a defective matrix are only
    # accurate to about sqrt(machine epsilon).
    radius = updates.OGDA().spectral_radius(fields.bilinear().J, 1, np.array([0.5]))[0]
    assert radius == pytest.approx(1 / math.sqrt(2), rel=1e-7)


@pytest.mark.parametrize(("gamma", "lr"), [(1.0, 0.1), (1.0, 0.99), (1.0, 1.01), (0.2, 0.3),
                                            (0.2, 0.4)])
def test_consensus_factor_and_threshold(gamma, lr):
    # On x*y, J^T J = I: z' = ((1 - lr gamma) I + lr J) z, a factor sqrt((1-lr g)^2 + lr^2);
    # it converges iff lr < 2 gamma / (1 + gamma^2).
    traj = run(fields.bilinear(), updates.Consensus(gamma), lr, 100)
    factor = math.sqrt((1 - lr * gamma) ** 2 + lr * lr)
    np.testing.assert_allclose(ratios(traj), factor, rtol=1e-11)
    assert (factor < 1) == (lr < 2 * gamma / (1 + gamma * gamma))


def test_negative_momentum_converges_where_plain_alternating_cycles():
    game = fields.bilinear()
    lr = 0.5
    damped = updates.NegativeMomentum(-0.5)
    plain = updates.NegativeMomentum(0.0)
    assert damped.spectral_radius(game.J, 1, np.array([lr]))[0] < 0.99
    assert plain.spectral_radius(game.J, 1, np.array([lr]))[0] == pytest.approx(1.0, abs=1e-9)
    assert np.linalg.norm(run(game, damped, lr, 2000)[-1]) < 1e-6
    # beta = 0 is exactly altgd.
    np.testing.assert_allclose(run(game, plain, lr, 50), run(game, updates.AltGD(), lr, 50))


def test_flow_keeps_the_radius_and_matches_the_rotation():
    lr, steps = 0.1, 300
    traj = run(fields.bilinear(), updates.Flow(), lr, steps)
    np.testing.assert_allclose(np.linalg.norm(traj, axis=-1), math.sqrt(8), rtol=1e-8)
    # dx/dt = y, dy/dt = -x: a clockwise rotation by t.
    t = lr * np.arange(steps + 1)
    expected = np.stack([2 * np.cos(t) + 2 * np.sin(t), 2 * np.cos(t) - 2 * np.sin(t)], axis=-1)
    np.testing.assert_allclose(traj, expected, atol=1e-8)
    assert updates.Flow().spectral_radius(fields.bilinear().J, 1, np.array([lr]))[0] == 1.0


# ---- linearisation agrees with the implemented updates ----

@pytest.mark.parametrize("name", ["simgd", "altgd", "ogda", "extragradient", "consensus",
                                  "negative-momentum"])
def test_update_matrix_is_the_update_on_linear_games(name):
    rng = np.random.default_rng(0)
    optimizer = registry.create("optimizer", name)
    for game in (fields.matrix_game(rng.normal(size=(2, 3))), fields.quadratic(-0.3, 1.2, 0.4)):
        lrs = np.array([0.05, 0.2])
        z0 = rng.normal(size=game.dim)
        traj = optimizer.run(game, np.broadcast_to(z0, (2, game.dim)), lrs, 15)
        M = optimizer.update_matrix(game.J, game.nx, lrs)
        state = np.concatenate([z0, z0]) if M.shape[-1] == 2 * game.dim else z0
        predicted = (np.linalg.matrix_power(M, 15) @ state)[:, : game.dim]
        scale = np.abs(predicted).max()
        np.testing.assert_allclose(traj[-1], predicted, rtol=0, atol=1e-12 * scale)


# ---- Dirac-GAN ----

def test_dirac_gan_unregularised_simgd_does_not_converge():
    game = fields.DiracGan("standard", "none", 1.0, 1.0)
    J = game.equilibrium_jacobian()
    np.testing.assert_allclose(J, [[0, 0.5], [-0.5, 0]], atol=1e-9)  # f'(0) = 1/2
    radius = updates.SimGD().spectral_radius(J, 1, np.array([0.1]))[0]
    assert radius == pytest.approx(math.sqrt(1 + 0.1**2 / 4), rel=1e-8)
    d = game.distance(run(game, updates.SimGD(), 0.1, 3000, start=[1.0, 1.0]))
    assert d[-1] > d[0]
    assert analysis.verdicts(d[:, None], 1e-3)[0] != "converges"


@pytest.mark.parametrize("regularizer", ["r1", "r2"])
@pytest.mark.parametrize("loss", ["standard", "non-saturating", "wasserstein"])
def test_dirac_gan_r1_and_r2_make_simgd_converge(loss, regularizer):
    game = fields.DiracGan(loss, regularizer, 1.0, 1.0)
    J = game.equilibrium_jacobian()
    slope = 1.0 if loss == "wasserstein" else 0.5
    np.testing.assert_allclose(J, [[-1.0, slope], [-slope, 0]], atol=1e-9)
    assert np.linalg.eigvals(J).real.max() < 0
    d = game.distance(run(game, updates.SimGD(), 0.1, 3000, start=[1.0, 1.0]))
    assert d[-1] < 1e-6


def test_dirac_gan_r1_gamma_zero_is_unregularised():
    plain = fields.DiracGan("standard", "none", 1.0, 1.0)
    zero = fields.DiracGan("standard", "r1", 0.0, 1.0)
    z = np.random.default_rng(1).normal(size=(10, 2))
    np.testing.assert_allclose(zero.field(z), plain.field(z))


def test_dirac_gan_wasserstein_is_the_bilinear_game():
    z = np.random.default_rng(2).normal(size=(10, 2))
    np.testing.assert_allclose(fields.DiracGan("wasserstein", "none", 1, 1).field(z),
                               fields.bilinear().field(z))


def test_dirac_gan_instance_noise_damps_the_discriminator():
    # E over the noise gives d(psi')/d(psi) = 2 sigma^2 f''(0) = -sigma^2 / 2 at the equilibrium.
    sigma = 0.7
    game = fields.DiracGan("standard", "instance-noise", 1.0, sigma)
    np.testing.assert_allclose(game.equilibrium_jacobian(),
                               [[-sigma**2 / 2, 0.5], [-0.5, 0]], atol=1e-8)
    d = game.distance(run(game, updates.SimGD(), 0.1, 5000, start=[1.0, 1.0]))
    assert d[-1] < 1e-3


def test_dirac_gan_non_saturating_settles_on_a_cycle_not_the_equilibrium():
    game = fields.DiracGan("non-saturating", "none", 1.0, 1.0)
    d = game.distance(run(game, updates.SimGD(), 0.1, 20_000, start=[1.0, 1.0]))
    assert d[-5000:].min() > 0.3 and d[-5000:].max() < 0.6  # a limit cycle of radius ~0.45
    assert analysis.verdicts(d[:, None], 1e-3)[0] == "cycles"
    # Over a short run it is still shrinking towards that cycle; the equilibrium repels
    # (spectral radius > 1), so the verdict still is not "converges".
    sim = simulate.simulate(game, [("simgd", updates.SimGD())], np.array([1.0, 1.0]), 0.1, 2000,
                            1e-3)
    assert sim.runs[0].spectral_radius > 1
    assert sim.runs[0].verdict == "cycles"


def test_dirac_gan_non_saturating_has_the_same_linearisation():
    standard = fields.DiracGan("standard", "none", 1, 1).equilibrium_jacobian()
    ns = fields.DiracGan("non-saturating", "none", 1, 1).equilibrium_jacobian()
    np.testing.assert_allclose(ns, standard, atol=1e-9)
    z = np.array([0.8, 1.5])  # away from 0 the generator's field differs
    assert not np.allclose(fields.DiracGan("non-saturating", "none", 1, 1).field(z),
                           fields.DiracGan("standard", "none", 1, 1).field(z))


def test_dirac_gan_gradient_penalty_has_no_linearisation_and_does_not_converge():
    game = fields.DiracGan("wasserstein", "gradient-penalty", 1.0, 1.0)
    assert game.equilibrium_jacobian() is None
    d = game.distance(run(game, updates.SimGD(), 0.05, 4000, start=[0.5, 0.5]))
    assert d[-1] > 0.1


# ---- games, distances, verdicts ----

def test_singular_matrix_game_measures_distance_to_the_equilibrium_set():
    # A = [[1, 1], [1, 1]]: every (x, y) with x1 = -x0 and y1 = -y0 is an equilibrium.
    game = fields.matrix_game([[1.0, 1.0], [1.0, 1.0]])
    assert game.distance(np.array([3.0, -3.0, 5.0, -5.0])) == pytest.approx(0.0, abs=1e-12)
    assert game.distance(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(math.sqrt(2))


def test_quadratic_field_is_the_gradient_of_its_formula():
    a, b, c = -0.4, 1.3, 0.25
    game = fields.quadratic(a, b, c)
    x, y, h = 0.7, -1.1, 1e-6

    def V(x, y):
        return a / 2 * x * x + b * x * y - c / 2 * y * y

    dVdx = (V(x + h, y) - V(x - h, y)) / (2 * h)
    dVdy = (V(x, y + h) - V(x, y - h)) / (2 * h)
    np.testing.assert_allclose(game.field(np.array([x, y])), [dVdx, -dVdy], rtol=1e-7)


def test_verdicts():
    t = np.arange(101)
    settles = 0.5 + 0.5 * 0.8**t  # shrinks, then goes round a limit cycle of radius 0.5
    shrinks_then_grows = np.r_[0.97 ** t[:60], 0.97**59 * 1.05 ** t[1:42]]
    d = np.stack([0.99**t, 1.01**t, 1 + 0.01 * np.sin(t), np.r_[1.0, np.full(100, np.inf)],
                  settles, shrinks_then_grows], 1)
    assert list(analysis.verdicts(d, 1e-9)) == [
        "converges", "diverges", "cycles", "diverges", "cycles", "diverges"]
    assert analysis.steps_to_tol(0.5**t, 0.1) == 4
    assert analysis.steps_to_tol(np.ones(5), 0.1) is None
    assert analysis.growth_per_step(1.01**t) == pytest.approx(1.01)


@pytest.mark.parametrize("name", ["simgd", "altgd", "ogda", "extragradient", "consensus",
                                  "negative-momentum", "adam", "flow"])
def test_sweep_equals_the_runs_one_by_one(name):
    game = fields.bilinear()
    [(_, optimizer)] = simulate.build_optimizers([name], {})
    lrs = np.array([0.05, 0.3, 0.9])
    [row] = simulate.sweep(game, [(name, optimizer)], START, lrs, 60, 1e-3)
    for i, lr in enumerate(lrs):
        sim = simulate.simulate(game, [(name, optimizer)], START, float(lr), 60, 1e-3)
        assert row.final_distance[i] == pytest.approx(sim.runs[0].distances[-1], rel=1e-7)
        assert row.verdicts[i] == sim.runs[0].verdict


def test_default_run_summary_says_simgd_does_not_converge():
    game = simulate.build_game("bilinear", {})
    sim = simulate.simulate(game, simulate.build_optimizers(["simgd"], {}), START, 0.1, 100, 1e-3)
    [result] = sim.runs
    assert result.verdict == "diverges"
    assert result.distances[-1] == pytest.approx(math.sqrt(8) * 1.01**50, rel=1e-12)
    assert "sqrt(1 + lr^2) = 1.00499" in sim.summary
    assert "does not converge" in sim.summary


@pytest.mark.parametrize("name", registry.names("game"))
def test_every_registered_game_runs_with_every_optimizer(name):
    game = simulate.build_game(name, {})
    start = simulate.start_point(game, "1", "-1")
    optimizers = simulate.build_optimizers(registry.names("optimizer"), {})
    sim = simulate.simulate(game, optimizers, start, 0.05, 20, 1e-3)
    assert {r.verdict for r in sim.runs} <= set(analysis.VERDICTS)
    assert all(np.isfinite(r.trajectory).all() for r in sim.runs)


# ---- parsing ----

@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "abc", "", "1,,2"])
def test_bad_numbers_are_refused(text):
    with pytest.raises(UsageError):
        parse.number_list(text, "--x")


def test_matrix_and_sweep_parsing():
    assert parse.matrix("1,2;3,4") == [[1, 2], [3, 4]]
    with pytest.raises(UsageError, match="same length"):
        parse.matrix("1,2;3")
    assert parse.sweep_spec("0.01:1:100") == parse.SweepSpec(0.01, 1.0, 100)
    for bad in ("0.1:1", "0:1:5", "1:0.5:5", "0.1:1:0", "0.1:1:x", "0.1:0.2:1"):
        with pytest.raises(UsageError):
            parse.sweep_spec(bad)


def test_option_that_does_not_apply_is_refused():
    with pytest.raises(UsageError, match="--matrix does not apply"):
        simulate.build_game("bilinear", {"matrix": "1,2;3,4"})
    with pytest.raises(UsageError, match="--beta applies only to optimizer negative-momentum"):
        simulate.build_optimizers(["simgd"], {"beta": -0.3})
    with pytest.raises(UsageError, match="Did you mean 'extragradient'"):
        simulate.build_optimizers(["extragradeint"], {})
