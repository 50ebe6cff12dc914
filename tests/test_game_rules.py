"""The rules added for the course (cgd, sga, lookahead, two step sizes, K steps of x), each
checked step for step on V = x*y against its closed form in docs/game-sim.md; the stable
step-size ranges; rpgan with r1+r2 on Dirac-GAN; the quadratic mix; phase diagrams."""

from __future__ import annotations

import numpy as np
import pytest

from gantool import registry
from gantool.errors import UsageError
from gantool.game import fields, parse, phase, simulate, stability, updates

START = np.array([2.0, 2.0])


def run(optimizer, lr, steps, game=None):
    game = game or fields.bilinear()
    lr = np.atleast_1d(np.asarray(lr, dtype=float))[None]
    with np.errstate(over="ignore", invalid="ignore"):
        return optimizer.run(game, START[None], lr, steps)[:, 0]


def as_complex(traj):
    # On x*y, J z = (y, -x) is w -> -i w for w = x + i y: rules of the form a I + b J are
    # multiplication by a - i b, so the closed form is w_t = (a - i b)^t w_0.
    return traj[:, 0] + 1j * traj[:, 1]


def powers(factor, steps):
    return (2 + 2j) * factor ** np.arange(steps + 1)


@pytest.mark.parametrize("lr", [0.05, 0.3, 1.0, 3.0])
def test_cgd_is_the_implicit_step_on_x_times_y(lr):
    # z' = (I - lr J)^{-1} z, i.e. w' = w / (1 + i lr): |z| shrinks by 1/sqrt(1 + lr^2).
    np.testing.assert_allclose(as_complex(run(updates.CGD(), lr, 40)),
                               powers(1 / (1 + 1j * lr), 40), rtol=1e-12)


@pytest.mark.parametrize(("lr", "lam"), [(0.1, 1.0), (0.5, 0.3), (0.9, 2.0)])
def test_sga_on_x_times_y_is_a_damped_rotation(lr, lam):
    # A = J on x*y and J^2 = -I, so z' = z + lr (J - lam I) z: w' = (1 - lr lam - i lr) w.
    np.testing.assert_allclose(as_complex(run(updates.SGA(lam), lr, 40)),
                               powers(1 - lr * lam - 1j * lr, 40), rtol=1e-12)


@pytest.mark.parametrize(("lr", "lam"), [(0.1, 1.0), (0.5, 0.3)])
def test_aligned_sga_on_x_times_y_keeps_the_sign_of_lambda(lr, lam):
    # On x*y the potential part S is 0, so <xi, grad H> = xi^T S xi = 0 and Algorithm 1's sign is
    # sign(0 + eps) = +1: the aligned rule is the fixed one's damped rotation.
    np.testing.assert_allclose(as_complex(run(updates.SGA(lam, align=True), lr, 40)),
                               powers(1 - lr * lam - 1j * lr, 40), rtol=1e-12)


def _sga_from(start, lam, align, lr=0.1, steps=30, s=0.2):
    game = fields.quadratic(s, 1.0, s)
    traj = updates.SGA(lam, align=align).run(game, np.array([start]), np.array([lr]), steps)
    return traj[:, 0, 0] + 1j * traj[:, 0, 1]


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_aligned_sga_turns_lambda_away_from_a_repelling_equilibrium(lam):
    """Balduzzi et al.'s Algorithm 1 on V = s/2 x^2 + x y - s/2 y^2, s > 0 (J = s I + A: the
    equilibrium repels). In w = x + i y, J is s - i and A is -i; with v = J z,
    <xi, grad H> <A^T xi, grad H> = (v^T S v)((A v) . (J^T v)) = -s |v|^4, so
    lambda = lam sign(-s |v|^4 / 2 + 0.1) (d = 2). Far out it is -lam and
    z' = z + lr (J - lam A J) z multiplies w by 1 + lr (s + lam) - i lr (1 - lam s): away from
    the repelling point, where fixed-lambda SGA (1 + lr (s - lam) - i lr (1 + lam s)) is drawn
    in. Near it (s |v|^4 < 0.2) the eps keeps +lam, as the fixed rule."""
    lr, s, steps = 0.1, 0.2, 30
    far, near = 2 + 2j, 0.3 + 0.3j  # |v| = sqrt(1 + s^2) |z|: 2.88 (flips) and 0.43 (keeps)
    t = np.arange(steps + 1)
    away = 1 + lr * (s + lam) - 1j * lr * (1 - lam * s)
    drawn_in = 1 + lr * (s - lam) - 1j * lr * (1 + lam * s)
    np.testing.assert_allclose(_sga_from([2.0, 2.0], lam, True), far * away**t, rtol=1e-12)
    np.testing.assert_allclose(_sga_from([2.0, 2.0], lam, False), far * drawn_in**t,
                               rtol=1e-12)
    np.testing.assert_allclose(_sga_from([0.3, 0.3], lam, True), near * drawn_in**t,
                               rtol=1e-12)
    assert abs(away) > 1 > abs(drawn_in)


def test_aligned_sga_linearises_to_the_fixed_rule_at_the_equilibrium():
    # The sign is +1 wherever |xi|^4 is small against eps, i.e. around the equilibrium, so the
    # update matrix (and the stable step sizes game-sim prints) is the fixed rule's for both.
    game = fields.quadratic(0.2, 1.0, 0.2)
    lr = np.array([0.1])
    for lam in (0.3, 1.0):
        np.testing.assert_array_equal(updates.SGA(lam, align=True).update_matrix(game.J, 1, lr),
                                      updates.SGA(lam, align=False).update_matrix(game.J, 1, lr))


@pytest.mark.parametrize(("k", "alpha", "lr"), [(5, 0.5, 0.1), (2, 0.3, 0.8), (1, 1.0, 0.2)])
def test_lookahead_of_simgd_on_x_times_y(k, alpha, lr):
    # k simgd steps multiply w by (1 - i lr)^k; the slow step keeps 1 - alpha of the start.
    factor = 1 - alpha + alpha * (1 - 1j * lr) ** k
    optimizer = updates.Lookahead(updates.SimGD(), k, alpha)
    np.testing.assert_allclose(as_complex(run(optimizer, lr, 30)), powers(factor, 30),
                               rtol=1e-12)


def test_lookahead_of_cgd_multiplies_the_cgd_factor():
    factor = 0.5 + 0.5 * (1 / (1 + 0.4j)) ** 3
    optimizer = updates.Lookahead(updates.CGD(), 3, 0.5)
    np.testing.assert_allclose(as_complex(run(optimizer, 0.4, 25)), powers(factor, 25),
                               rtol=1e-12)


@pytest.mark.parametrize(("lr_x", "lr_y"), [(0.1, 0.3), (0.5, 0.05), (1.0, 1.5)])
def test_two_step_sizes_scale_the_invariant_of_simgd_and_cgd(lr_x, lr_y):
    # Q = lr_y x^2 + lr_x y^2 grows by (1 + lr_x lr_y) per simgd step, shrinks by that per cgd.
    for optimizer, factor in ((updates.SimGD(), 1 + lr_x * lr_y),
                              (updates.CGD(), 1 / (1 + lr_x * lr_y))):
        traj = run(optimizer, [lr_x, lr_y], 30)
        x, y = traj[:, 0], traj[:, 1]
        q = lr_y * x * x + lr_x * y * y
        np.testing.assert_allclose(q, q[0] * factor ** np.arange(31), rtol=1e-11)
    x, y = run(updates.SimGD(), [lr_x, lr_y], 1)[1]
    assert (x, y) == pytest.approx((2 + lr_x * 2, 2 - lr_y * 2), abs=1e-15)


@pytest.mark.parametrize(("k", "lr_x", "lr_y"), [(1, 0.2, 0.2), (3, 0.1, 0.4), (5, 0.05, 0.3)])
def test_altgd_with_k_steps_of_x_step_for_step(k, lr_x, lr_y):
    # y is fixed while x steps, so K steps move x by K lr_x y; then y answers the new x.
    # The map has determinant 1 and keeps Q = lr_y x^2 + K lr_x y^2 + K lr_x lr_y x y.
    traj = run(updates.AltGD(k), [lr_x, lr_y], 200)
    x, y = 2.0, 2.0
    for t in range(1, 201):
        x = x + k * lr_x * y
        y = y - lr_y * x
        assert traj[t] == pytest.approx((x, y), rel=1e-12, abs=1e-12)
    X, Y = traj[:, 0], traj[:, 1]
    q = lr_y * X * X + k * lr_x * Y * Y + k * lr_x * lr_y * X * Y
    np.testing.assert_allclose(q, q[0], rtol=1e-10)


@pytest.mark.parametrize("name", ["cgd", "sga", "lookahead", "altgd", "ogda", "negative-momentum",
                                  "extragradient", "consensus"])
def test_update_matrix_is_the_update_with_two_step_sizes(name):
    rng = np.random.default_rng(1)
    optimizer = registry.create("optimizer", name)
    for game in (fields.matrix_game(rng.normal(size=(2, 3))), fields.quadratic(-0.3, 1.2, 0.4)):
        lrs = np.array([[0.05] * game.nx + [0.15] * game.ny, [0.2] * game.dim])
        z0 = rng.normal(size=game.dim)
        traj = optimizer.run(game, np.broadcast_to(z0, (2, game.dim)), lrs, 12)
        M = optimizer.update_matrix(game.J, game.nx, lrs)
        state = np.concatenate([z0, z0]) if M.shape[-1] == 2 * game.dim else z0
        predicted = (np.linalg.matrix_power(M, 12) @ state)[:, : game.dim]
        np.testing.assert_allclose(traj[-1], predicted, rtol=0,
                                   atol=1e-12 * np.abs(predicted).max())


def test_flow_with_two_step_sizes_is_the_rescaled_rotation():
    # dx/dt = lr_x y, dy/dt = -lr_y x over one unit per step: an ellipse of frequency
    # sqrt(lr_x lr_y), keeping lr_y x^2 + lr_x y^2.
    lr_x, lr_y = 0.1, 0.4
    traj = run(updates.Flow(), [lr_x, lr_y], 50)
    q = lr_y * traj[:, 0] ** 2 + lr_x * traj[:, 1] ** 2
    np.testing.assert_allclose(q, q[0], rtol=1e-8)
    w = np.sqrt(lr_x * lr_y) * np.arange(51)
    x = 2 * np.cos(w) + 2 * np.sqrt(lr_x / lr_y) * np.sin(w)
    np.testing.assert_allclose(traj[:, 0], x, atol=1e-8)


# ---- the closed-form stable step sizes ----

def _radius(optimizer, J, nx, lr):
    return optimizer.spectral_radius(J, nx, np.array([lr]))[0]


@pytest.mark.parametrize("name", ["simgd", "consensus", "sga", "extragradient", "ogda"])
@pytest.mark.parametrize("J", [fields.bilinear().J, fields.matrix_game([[2.0, 0.5], [0, 1]]).J,
                               fields.quadratic(-0.3, 1.2, -0.4).J, fields.quadratic(-1, 0, -1).J])
def test_stable_lr_is_where_the_spectral_radius_crosses_one(name, J):
    optimizer = registry.create("optimizer", name)
    nx = len(J) // 2
    answer = stability.stable_lr(optimizer, J, nx)
    if answer is None:  # extragradient and ogda: closed form on bilinear games only
        assert name in ("extragradient", "ogda") and J[0, 0] != 0
        return
    lr_max = answer["lr_max"]
    if lr_max == 0:
        assert all(_radius(optimizer, J, nx, lr) >= 1 - 1e-12 for lr in (1e-3, 0.1, 1.0))
        return
    assert _radius(optimizer, J, nx, lr_max * (1 - 1e-6)) < 1
    assert _radius(optimizer, J, nx, lr_max * (1 + 1e-6)) > 1


def test_stable_lr_of_cgd_altgd_and_flow_on_bilinear_games():
    J = fields.matrix_game([[2.0, 0.5], [0, 1]]).J
    assert stability.stable_lr(updates.CGD(), J, 2)["lr_max"] is None
    assert all(_radius(updates.CGD(), J, 2, lr) < 1 for lr in (0.01, 1.0, 100.0))
    assert stability.stable_lr(updates.AltGD(), J, 2)["lr_max"] == 0
    assert stability.stable_lr(updates.Flow(), J, 2)["lr_max"] == 0
    assert stability.stable_lr(updates.Flow(), fields.quadratic(-1, 1, -1).J, 1)["lr_max"] is None
    assert stability.stable_lr(updates.Adam(), J, 2) is None


# ---- games ----

def test_rpgan_alone_rotates_and_r1_r2_make_it_converge():
    # R3GAN's claim on Dirac-GAN: RpGAN's Jacobian at the equilibrium is a pure rotation
    # (eigenvalues +/- i/2), so simgd spirals out; R1 + R2 add -2 gamma on psi and it converges.
    plain = simulate.build_game("dirac-gan", {"loss": "rpgan"})
    np.testing.assert_allclose(np.linalg.eigvals(plain.equilibrium_jacobian()).real, 0,
                               atol=1e-9)
    both = simulate.build_game("dirac-gan", {"loss": "rpgan", "regularizer": "r1+r2",
                                             "gamma": 0.5})
    np.testing.assert_allclose(both.equilibrium_jacobian(), [[-1.0, 0.5], [-0.5, 0]],
                               atol=1e-8)
    start = np.array([0.5, 0.5])
    optimizers = simulate.build_optimizers(["simgd"], {})
    [a] = simulate.simulate(plain, optimizers, start, 0.2, 300, 1e-3).runs
    [b] = simulate.simulate(both, optimizers, start, 0.2, 300, 1e-3).runs
    assert a.verdict == "diverges" and a.spectral_radius > 1
    assert b.verdict == "converges" and b.spectral_radius < 1


def test_rpgan_with_instance_noise_pairs_the_noise():
    # With noise on both sides, fake - real is theta + N(0, 2 s^2): the field at psi = 0 is
    # (E[fake - real] f'(0), 0) = (theta / 2, 0) whatever the noise.
    game = simulate.build_game("dirac-gan", {"loss": "rpgan", "regularizer": "instance-noise",
                                             "noise_std": 0.7})
    np.testing.assert_allclose(game.field(np.array([0.0, 0.6])), [0.3, 0.0], atol=1e-12)
    # D's part of the Jacobian is -2 s^2 f''-like damping: Re of every eigenvalue < 0.
    assert (np.linalg.eigvals(game.equilibrium_jacobian()).real < 0).all()


@pytest.mark.parametrize("mix", [0.0, 0.3, 1.0])
def test_quadratic_mix_splits_into_potential_and_rotation(mix):
    game = simulate.build_game("quadratic", {"mix": mix})
    J = game.equilibrium_jacobian()
    np.testing.assert_allclose(0.5 * (J + J.T), -(1 - mix) * np.eye(2))
    np.testing.assert_allclose(0.5 * (J - J.T), mix * np.array([[0, 1], [-1, 0]]))
    with pytest.raises(UsageError, match="either --mix or"):
        simulate.build_game("quadratic", {"mix": mix, "a": 1.0})


# ---- phase diagrams ----

def _build(options):
    game = simulate.build_game("quadratic", {"mix": options["mix"]})
    optimizers = simulate.build_optimizers(["simgd", "cgd"], {})
    return game, optimizers, simulate.start_point(game, "1", "1")


def test_phase_diagram_cells_are_the_single_runs():
    axes = parse.sweep_axes("lr=0.1:1.5:4,mix=0:1:3")
    options = {"lr": 0.1, "lr-x": None, "lr-y": None, "mix": None}
    _, grids = phase.phase_diagram(_build, options, axes, 60, 1e-3)
    for grid in grids:
        for i, lr in enumerate(axes[0].values):
            for j, mix in enumerate(axes[1].values):
                g, optimizers, start = _build({"mix": mix})
                one = dict(optimizers)[grid.name]
                [single] = simulate.simulate(g, [(grid.name, one)], start, lr, 60, 1e-3).runs
                assert grid.verdicts[i, j] == single.verdict
                assert grid.spectral_radius[i, j] == pytest.approx(single.spectral_radius)
                assert grid.final_distance[i, j] == pytest.approx(single.distances[-1])
    simgd = next(g for g in grids if g.name == "simgd")
    assert simgd.verdicts[0, 0] == "converges"  # pure potential, small step
    assert simgd.verdicts[0, -1] == "diverges"  # pure rotation


@pytest.mark.parametrize("text", ["lr=0.1:1:5", "lr=0.1:1:5,lr=0.2:1:5", "speed=0:1:3,lr=0.1:1:2",
                                  "lr=0:1:5,mix=0:1:2", "lr=0.1:1:5,steps-x=1:2:3",
                                  "lr=0.1:1:5,mix=1:0:3", "lr=0.1:1:5000,mix=0:1:3"])
def test_bad_sweeps_are_refused(text):
    with pytest.raises(UsageError):
        parse.sweep_axes(text)
