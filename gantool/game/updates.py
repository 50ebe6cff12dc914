"""The optimizers as batched update rules, and their linearisation at the equilibrium.

`run(game, z0, lr, steps)` advances B independent copies at once: z0 is (B, d), lr is (B,)
(one step size for both players) or (B, d) (one per coordinate: --lr-x for x, --lr-y for y),
and the result is the trajectory (steps + 1, B, d). Running a batch of step sizes is how the
lr sweep is vectorised. `update_matrix(J, nx, lr)` is the optimizer's update on the linear game
v(z) = J z, as a (B, D, D) matrix on its state (D = d, or 2d for methods that remember the
previous step); its spectral radius says whether the iteration contracts near the equilibrium.
Rules whose next point depends on the current point only define `step`; lookahead wraps them.
"""

from __future__ import annotations

import numpy as np

from gantool import rules
from gantool.game.fields import Game


def _batched(lr: np.ndarray, J: np.ndarray) -> np.ndarray:
    """diag(lr) J for every step size: (B, d, d); row i of J is scaled by coordinate i's lr."""
    lr = np.asarray(lr, dtype=float)
    return (lr[:, None, None] if lr.ndim == 1 else lr[:, :, None]) * J[None]


def per_coordinate(lr: np.ndarray, d: int) -> np.ndarray:
    """Step sizes as (B, d): a (B,) array gives every coordinate the same one."""
    lr = np.asarray(lr, dtype=float)
    return np.repeat(lr[:, None], d, axis=1) if lr.ndim == 1 else lr


def _eye(B: int, n: int) -> np.ndarray:
    return np.broadcast_to(np.eye(n), (B, n, n))


class Optimizer:
    name = "optimizer"
    note = ""  # one line on what the method changes, for summaries

    def __init__(self, **params):
        self.params = params

    def run(self, game: Game, z0: np.ndarray, lr: np.ndarray, steps: int) -> np.ndarray:
        z0 = np.asarray(z0, dtype=float)
        lr = per_coordinate(lr, z0.shape[-1])
        traj = np.empty((steps + 1, *z0.shape))
        traj[0] = z0
        # Diverging runs overflow to inf on purpose; the analysis reports them as diverging.
        with np.errstate(over="ignore", invalid="ignore"):
            self._iterate(game, traj, lr)
        return traj

    def _iterate(self, game: Game, traj: np.ndarray, lr: np.ndarray) -> None:
        for t in range(1, len(traj)):
            traj[t] = self.step(game, traj[t - 1], lr)

    def step(self, game: Game, z: np.ndarray, lr: np.ndarray) -> np.ndarray:
        """The next point from z (rules that remember more than z override _iterate instead)."""
        raise NotImplementedError

    def update_matrix(self, J: np.ndarray, nx: int, lr: np.ndarray) -> np.ndarray | None:
        return None

    def eigenvalues(self, J: np.ndarray | None, nx: int, lr: np.ndarray) -> np.ndarray | None:
        """Eigenvalues of the linearised update at the equilibrium, (B, D) complex, or None."""
        if J is None:
            return None
        M = self.update_matrix(J, nx, np.asarray(lr, dtype=float))
        return None if M is None else np.linalg.eigvals(M)

    def spectral_radius(self, J: np.ndarray | None, nx: int, lr: np.ndarray) -> np.ndarray | None:
        """Spectral radius of the linearised update for each step size, or None if undefined."""
        eigenvalues = self.eigenvalues(J, nx, lr)
        return None if eigenvalues is None else np.abs(eigenvalues).max(axis=-1)


class SimGD(Optimizer):
    name = "simgd"
    note = "both players step at once from the same point"

    def step(self, game, z, lr):
        return z + lr * game.field(z)

    def update_matrix(self, J, nx, lr):
        return _eye(len(lr), len(J)) + _batched(lr, J)


class AltGD(Optimizer):
    name = "altgd"
    note = "x takes steps_x steps, then y answers the new x"

    def __init__(self, steps_x: int = 1):
        super().__init__(steps_x=steps_x)
        self.steps_x = steps_x

    def step(self, game, z, lr):
        nx = game.nx
        z = z.copy()
        for _ in range(self.steps_x):  # y is fixed meanwhile, so x's field changes only with x
            z[..., :nx] += lr[..., :nx] * game.field(z)[..., :nx]
        z[..., nx:] += lr[..., nx:] * game.field(z)[..., nx:]
        return z

    def update_matrix(self, J, nx, lr):
        # One player's step is I + P diag(lr) J, P keeping that player's rows; y's follows x's K.
        B, d = len(lr), len(J)
        lrJ = _batched(lr, J)
        x_step, y_step = _eye(B, d).copy(), _eye(B, d).copy()
        x_step[:, :nx] += lrJ[:, :nx]
        y_step[:, nx:] += lrJ[:, nx:]
        return y_step @ np.linalg.matrix_power(x_step, self.steps_x)


class Extragradient(Optimizer):
    name = "extragradient"
    note = "look ahead one step, then step with the gradient found there"

    def step(self, game, z, lr):
        ahead = z + lr * game.field(z)
        return z + lr * game.field(ahead)

    def update_matrix(self, J, nx, lr):
        lrJ = _batched(lr, J)
        return _eye(len(lr), len(J)) + lrJ + lrJ @ lrJ


class OGDA(Optimizer):
    name = "ogda"
    note = "step with 2 v(z_t) - v(z_{t-1}): extrapolates from the previous gradient"

    def _iterate(self, game, traj, lr):
        previous = game.field(traj[0])  # the first step is a plain simultaneous step
        for t in range(1, len(traj)):
            current = game.field(traj[t - 1])
            traj[t] = traj[t - 1] + lr * (2 * current - previous)
            previous = current

    def update_matrix(self, J, nx, lr):
        B, d = len(lr), len(J)
        lrJ = _batched(lr, J)
        top = np.concatenate([_eye(B, d) + 2 * lrJ, -lrJ], axis=2)
        bottom = np.concatenate([_eye(B, d), np.zeros((B, d, d))], axis=2)
        return np.concatenate([top, bottom], axis=1)


class Consensus(Optimizer):
    name = "consensus"
    note = "adds -gamma * grad(|v|^2 / 2): both players also shrink the gradient's norm"

    def __init__(self, gamma: float):
        super().__init__(gamma=gamma)
        self.gamma = gamma

    def step(self, game, z, lr):
        v = game.field(z)
        grad_norm = np.einsum("...ij,...i->...j", game.jacobian(z), v)  # J^T v
        return z + lr * (v - self.gamma * grad_norm)

    def update_matrix(self, J, nx, lr):
        return _eye(len(lr), len(J)) + _batched(lr, J - self.gamma * J.T @ J)


class NegativeMomentum(Optimizer):
    name = "negative-momentum"
    note = "alternating steps plus beta times the last move (beta < 0 damps the rotation)"

    def __init__(self, beta: float):
        super().__init__(beta=beta)
        self.beta = beta

    def _iterate(self, game, traj, lr):
        nx, beta = game.nx, self.beta
        previous = traj[0]
        for t in range(1, len(traj)):
            current = traj[t - 1]
            momentum = beta * (current - previous)
            z = current.copy()
            z[..., :nx] += lr[..., :nx] * game.field(current)[..., :nx] + momentum[..., :nx]
            z[..., nx:] += lr[..., nx:] * game.field(z)[..., nx:] + momentum[..., nx:]
            traj[t], previous = z, current

    def update_matrix(self, J, nx, lr):
        # State (z_t, z_{t-1}); x' = x + lr(Jxx x + Jxy y) + b(x - xp); y' uses x'.
        B, d, b = len(lr), len(J), self.beta
        lrJ, eye, zero = _batched(lr, J), _eye(B, d), np.zeros((B, d, d))
        current = eye + lrJ + b * eye  # the part acting on z_t, before y sees x'
        x_row = np.concatenate([current[:, :nx], -b * eye[:, :nx]], axis=2)
        y_own = np.concatenate([eye[:, nx:] + b * eye[:, nx:], -b * eye[:, nx:]], axis=2)
        y_own[:, :, nx:d] += lrJ[:, nx:, nx:]
        y_row = y_own + lrJ[:, nx:, :nx] @ x_row
        shift = np.concatenate([eye, zero], axis=2)  # z_t becomes the next z_{t-1}
        return np.concatenate([x_row, y_row, shift], axis=1)


class Adam(Optimizer):
    name = "adam"
    note = "per-coordinate adaptive steps with momentum (beta1 0.9, beta2 0.999, eps 1e-8)"

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(beta1=beta1, beta2=beta2, eps=eps)

    def _iterate(self, game, traj, lr):
        b1, b2, eps = self.params["beta1"], self.params["beta2"], self.params["eps"]
        m = np.zeros_like(traj[0])
        s = np.zeros_like(traj[0])
        for t in range(1, len(traj)):
            # Adam's step m/sqrt(s) is odd in the gradient, so stepping along v (ascent for x,
            # descent for y) is exactly Adam run by each player on its own loss.
            g = game.field(traj[t - 1])
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            step = (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
            traj[t] = traj[t - 1] + lr * step

    # Adam's step depends on its running statistics, not only on z: no fixed linear map.


class Flow(Optimizer):
    name = "flow"
    note = "the continuous-time limit dz/dt = diag(lr) v(z) / lr_x, sampled at t = lr_x * step"

    def run(self, game, z0, lr, steps):
        from scipy.integrate import solve_ivp

        z0 = np.asarray(z0, dtype=float)
        lr = per_coordinate(lr, z0.shape[-1])
        # Two step sizes (TTUR) make y's clock run lr_y / lr_x times as fast as x's.
        speed = lr / lr[:, :1]
        times = lr[:, :1] * np.arange(steps + 1)  # (B, steps + 1)
        traj = np.full((steps + 1, *z0.shape), np.inf)
        keys, group = np.unique(np.concatenate([z0, speed], axis=1), axis=0, return_inverse=True)
        group = np.asarray(group).reshape(-1)
        d = z0.shape[-1]
        for g, key in enumerate(keys):
            start, scale = key[:d], key[d:]
            rows = np.flatnonzero(group == g)
            wanted = times[rows]
            solution = solve_ivp(
                lambda _t, z, s=scale: s * game.field(z), (0.0, float(wanted.max())), start,
                method="DOP853", rtol=1e-10, atol=1e-12, dense_output=True,
            )
            reached = wanted <= solution.t[-1]  # a blow-up stops the solver early
            values = solution.sol(wanted[reached]).T  # (n, d)
            block = np.full((*wanted.shape, len(start)), np.inf)
            block[reached] = values
            traj[:, rows] = block.transpose(1, 0, 2)
        return traj

    def eigenvalues(self, J, nx, lr):
        # The flow over one step is exp(diag(lr) J), whose eigenvalues are exp(eig(diag(lr) J)).
        if J is None:
            return None
        return np.exp(np.linalg.eigvals(_batched(lr, J)))

    def spectral_radius(self, J, nx, lr):
        # |exp(w)| = exp(Re w), computed from the real parts so a rotation gives exactly 1.
        if J is None:
            return None
        return np.exp(np.linalg.eigvals(_batched(lr, J)).real.max(axis=-1))


def antisymmetric_part(J: np.ndarray) -> np.ndarray:
    return 0.5 * (J - np.swapaxes(J, -1, -2))


class SGA(Optimizer):
    name = "sga"
    note = "adds lambda * A v, A the antisymmetric part of the game's Jacobian"

    def __init__(self, lam: float, align: bool = rules.SGA_ALIGN):
        super().__init__(lam=lam, align=align)
        self.lam, self.align = lam, align

    def step(self, game, z, lr):
        # Balduzzi et al. adjust the players' loss gradient xi = -v to xi + lambda A_H^T xi with
        # A_H the antisymmetric part of d(xi)/dz = -J; in terms of v that is v + lambda A_J v.
        v, J = game.field(z), game.jacobian(z)
        adjustment = np.einsum("...ij,...j->...i", antisymmetric_part(J), v)
        return z + lr * (v + self._lambda(v, J, adjustment) * adjustment)

    def _lambda(self, v, J, adjustment):
        """Algorithm 1's lambda: lam, or with `align` lam sign(<xi, grad H> <A_H^T xi, grad H> / d
        + eps). Here xi = -v, grad H = H^T xi = J^T v and A_H^T xi = -A v: both factors change
        sign, so the product is <v, J^T v> <A v, J^T v>."""
        if not self.align:
            return self.lam
        grad_h = np.einsum("...ij,...i->...j", J, v)
        product = (v * grad_h).sum(-1) * (adjustment * grad_h).sum(-1)
        return self.lam * np.sign(product / v.shape[-1] + rules.SGA_EPSILON)[..., None]

    def update_matrix(self, J, nx, lr):
        # The product is quartic in z, so lambda is +lam around the equilibrium: the aligned
        # rule linearises to the fixed one.
        return _eye(len(lr), len(J)) + _batched(lr, J + self.lam * antisymmetric_part(J) @ J)


def off_diagonal_blocks(J: np.ndarray, nx: int) -> np.ndarray:
    """The players' interaction blocks J_xy and J_yx of J (the own-player blocks zeroed)."""
    off = np.array(J, dtype=float, copy=True)
    off[..., :nx, :nx] = 0.0
    off[..., nx:, nx:] = 0.0
    return off


class CGD(Optimizer):
    name = "cgd"
    note = "each player answers the other's step in the local bilinear game (exact on x*y)"

    def step(self, game, z, lr):
        # The Nash equilibrium of the local game: dx = lr_x (v_x + J_xy dy) and
        # dy = lr_y (v_y + J_yx dx), i.e. (I - diag(lr) J_off) dz = diag(lr) v.
        d = z.shape[-1]
        system = np.eye(d) - lr[..., :, None] * off_diagonal_blocks(game.jacobian(z), game.nx)
        move = np.linalg.solve(system, (lr * game.field(z))[..., None])[..., 0]
        return z + move

    def update_matrix(self, J, nx, lr):
        eye = _eye(len(lr), len(J))
        system = eye - _batched(lr, off_diagonal_blocks(J, nx))
        return eye + np.linalg.solve(system, _batched(lr, J))


class Lookahead(Optimizer):
    name = "lookahead"
    note = "k steps of a base rule, then move alpha of the way from the start to where they ended"

    def __init__(self, base: Optimizer, k: int, alpha: float):
        super().__init__(base=base.name, k=k, alpha=alpha, **base.params)
        self.base, self.k, self.alpha = base, k, alpha

    def step(self, game, z, lr):
        fast = z
        for _ in range(self.k):
            fast = self.base.step(game, fast, lr)
        return z + self.alpha * (fast - z)

    def update_matrix(self, J, nx, lr):
        base = self.base.update_matrix(J, nx, lr)
        if base is None:
            return None
        eye = _eye(len(lr), len(J))
        return (1 - self.alpha) * eye + self.alpha * np.linalg.matrix_power(base, self.k)
