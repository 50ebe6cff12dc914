"""The optimizers as batched update rules, and their linearisation at the equilibrium.

`run(game, z0, lr, steps)` advances B independent copies at once: z0 is (B, d), lr is (B,),
and the result is the trajectory (steps + 1, B, d). Running a batch of step sizes is how the
lr sweep is vectorised. `update_matrix(J, nx, lr)` is the optimizer's update on the linear game
v(z) = J z, as a (B, D, D) matrix on its state (D = d, or 2d for methods that remember the
previous step); its spectral radius says whether the iteration contracts near the equilibrium.
"""

from __future__ import annotations

import numpy as np

from gantool.game.fields import Game


def _batched(lr: np.ndarray, J: np.ndarray) -> np.ndarray:
    """lr * J for every step size: (B, d, d)."""
    return lr[:, None, None] * J[None]


def _eye(B: int, n: int) -> np.ndarray:
    return np.broadcast_to(np.eye(n), (B, n, n))


class Optimizer:
    name = "optimizer"
    note = ""  # one line on what the method changes, for summaries

    def __init__(self, **params):
        self.params = params

    def run(self, game: Game, z0: np.ndarray, lr: np.ndarray, steps: int) -> np.ndarray:
        z0 = np.asarray(z0, dtype=float)
        lr = np.asarray(lr, dtype=float)[:, None]
        traj = np.empty((steps + 1, *z0.shape))
        traj[0] = z0
        # Diverging runs overflow to inf on purpose; the analysis reports them as diverging.
        with np.errstate(over="ignore", invalid="ignore"):
            self._iterate(game, traj, lr)
        return traj

    def _iterate(self, game: Game, traj: np.ndarray, lr: np.ndarray) -> None:
        raise NotImplementedError

    def update_matrix(self, J: np.ndarray, nx: int, lr: np.ndarray) -> np.ndarray | None:
        return None

    def spectral_radius(self, J: np.ndarray | None, nx: int, lr: np.ndarray) -> np.ndarray | None:
        """Spectral radius of the linearised update for each step size, or None if undefined."""
        if J is None:
            return None
        M = self.update_matrix(J, nx, np.asarray(lr, dtype=float))
        if M is None:
            return None
        return np.abs(np.linalg.eigvals(M)).max(axis=-1)


class SimGD(Optimizer):
    name = "simgd"
    note = "both players step at once from the same point"

    def _iterate(self, game, traj, lr):
        for t in range(1, len(traj)):
            traj[t] = traj[t - 1] + lr * game.field(traj[t - 1])

    def update_matrix(self, J, nx, lr):
        return _eye(len(lr), len(J)) + _batched(lr, J)


class AltGD(Optimizer):
    name = "altgd"
    note = "x steps first, then y answers the new x"

    def _iterate(self, game, traj, lr):
        nx = game.nx
        for t in range(1, len(traj)):
            z = traj[t - 1].copy()
            z[..., :nx] += lr * game.field(z)[..., :nx]
            z[..., nx:] += lr * game.field(z)[..., nx:]
            traj[t] = z

    def update_matrix(self, J, nx, lr):
        B, d = len(lr), len(J)
        lrJ = _batched(lr, J)
        top = _eye(B, d)[:, :nx] + lrJ[:, :nx]  # x' = x + lr (Jxx x + Jxy y)
        # y' = y + lr (Jyx x' + Jyy y)
        bottom = _eye(B, d)[:, nx:] + lrJ[:, nx:, nx:] @ _eye(B, d)[:, nx:] + lrJ[:, nx:, :nx] @ top
        return np.concatenate([top, bottom], axis=1)


class Extragradient(Optimizer):
    name = "extragradient"
    note = "look ahead one step, then step with the gradient found there"

    def _iterate(self, game, traj, lr):
        for t in range(1, len(traj)):
            z = traj[t - 1]
            lookahead = z + lr * game.field(z)
            traj[t] = z + lr * game.field(lookahead)

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

    def _iterate(self, game, traj, lr):
        for t in range(1, len(traj)):
            z = traj[t - 1]
            v = game.field(z)
            grad_norm = np.einsum("...ij,...i->...j", game.jacobian(z), v)  # J^T v
            traj[t] = z + lr * (v - self.gamma * grad_norm)

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
            z[..., :nx] += lr * game.field(current)[..., :nx] + momentum[..., :nx]
            z[..., nx:] += lr * game.field(z)[..., nx:] + momentum[..., nx:]
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
    note = "the continuous-time limit dz/dt = v(z), sampled at t = lr * step"

    def run(self, game, z0, lr, steps):
        from scipy.integrate import solve_ivp

        z0 = np.asarray(z0, dtype=float)
        lr = np.asarray(lr, dtype=float)
        times = lr[:, None] * np.arange(steps + 1)  # (B, steps + 1)
        traj = np.full((steps + 1, *z0.shape), np.inf)
        starts, group = np.unique(z0, axis=0, return_inverse=True)
        group = np.asarray(group).reshape(-1)
        for g, start in enumerate(starts):
            rows = np.flatnonzero(group == g)
            wanted = times[rows]
            solution = solve_ivp(
                lambda _t, z: game.field(z), (0.0, float(wanted.max())), start,
                method="DOP853", rtol=1e-10, atol=1e-12, dense_output=True,
            )
            reached = wanted <= solution.t[-1]  # a blow-up stops the solver early
            values = solution.sol(wanted[reached]).T  # (n, d)
            block = np.full((*wanted.shape, len(start)), np.inf)
            block[reached] = values
            traj[:, rows] = block.transpose(1, 0, 2)
        return traj

    def spectral_radius(self, J, nx, lr):
        # The flow over time lr is exp(lr J), whose eigenvalues are exp(lr * eig(J)).
        if J is None:
            return None
        growth = np.linalg.eigvals(J).real.max()
        return np.exp(np.asarray(lr, dtype=float) * growth)
