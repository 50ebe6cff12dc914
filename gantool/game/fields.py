"""The games as update fields v(z) = (+dV/dx, -dV/dy) on batched states z of shape (..., d).

Every method takes a batch so one call can advance a thousand step sizes at once (the lr sweep).
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _length(z: np.ndarray) -> np.ndarray:
    """Euclidean length along the last axis; np.hypot for planar games is ~10x faster than
    np.linalg.norm on a (steps, batch, 2) sweep and, like it, does not overflow early."""
    if z.shape[-1] == 2:
        return np.hypot(z[..., 0], z[..., 1])
    return np.linalg.norm(z, axis=-1)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + "; ".join(",".join(f"{v:g}" for v in row) for row in value) + "]"
    return str(value)


class Game:
    """A two-player game: x (the first `nx` coordinates) maximises, y (the rest) minimises."""

    name: str = "game"
    formula: str = ""
    x_label: str = "x"
    y_label: str = "y"
    # False where v is not differentiable at the equilibrium (then no linearisation exists).
    smooth_at_equilibrium: bool = True

    def __init__(self, nx: int, ny: int, params: dict):
        self.nx, self.ny, self.params = nx, ny, params

    @property
    def dim(self) -> int:
        return self.nx + self.ny

    @property
    def is_planar(self) -> bool:
        """One number per player: trajectories can be drawn in the (x, y) plane."""
        return self.nx == 1 and self.ny == 1

    def field(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        """dv/dz at each z, shape (..., d, d), by central differences (exact for linear games)."""
        z = np.asarray(z, dtype=float)
        h = 1e-6 * np.maximum(1.0, np.abs(z).max(axis=-1, keepdims=True))
        columns = []
        for j in range(self.dim):
            step = np.zeros_like(z)
            step[..., j] = h[..., 0]
            columns.append((self.field(z + step) - self.field(z - step)) / (2 * h))
        return np.stack(columns, axis=-1)

    def equilibrium_jacobian(self) -> np.ndarray | None:
        """The Jacobian of v at the equilibrium 0, or None where v is not differentiable there."""
        if not self.smooth_at_equilibrium:
            return None
        return self.jacobian(np.zeros(self.dim))

    def distance(self, z: np.ndarray) -> np.ndarray:
        """Distance from each z to the equilibrium (the origin for every built-in game)."""
        return _length(np.asarray(z, dtype=float))

    @property
    def label(self) -> str:
        """The formula with its parameters, for summaries and plot titles."""
        if not self.params:
            return self.formula
        values = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.formula} ({values})"

    def describe(self) -> dict:
        return {"name": self.name, "formula": self.formula, **self.params}


class LinearGame(Game):
    """A game whose update field is linear, v(z) = J z: bilinear, matrix and quadratic games."""

    def __init__(self, J, nx: int, ny: int, params: dict):
        super().__init__(nx, ny, params)
        self.J = np.asarray(J, dtype=float)
        self._JT = np.ascontiguousarray(self.J.T)
        # The stationary points form null(J); the distance to that set is the length of the
        # part of z in J's row space, so a singular matrix game is judged fairly.
        row_space = np.linalg.pinv(self.J) @ self.J
        full_rank = np.allclose(row_space, np.eye(len(self.J)), atol=1e-12)
        self._row_space = None if full_rank else row_space

    def field(self, z):
        return np.asarray(z, dtype=float) @ self._JT

    def jacobian(self, z):
        z = np.asarray(z, dtype=float)
        return np.broadcast_to(self.J, (*z.shape[:-1], self.dim, self.dim))

    def equilibrium_jacobian(self):
        return self.J.copy()

    def distance(self, z):
        z = np.asarray(z, dtype=float)
        return _length(z if self._row_space is None else z @ self._row_space.T)


def bilinear() -> LinearGame:
    game = LinearGame([[0.0, 1.0], [-1.0, 0.0]], 1, 1, {})
    game.name, game.formula = "bilinear", "V = x*y"
    return game


def matrix_game(A) -> LinearGame:
    A = np.asarray(A, dtype=float)
    m, n = A.shape
    J = np.block([[np.zeros((m, m)), A], [-A.T, np.zeros((n, n))]])
    game = LinearGame(J, m, n, {"matrix": A.tolist()})
    game.name, game.formula = "matrix", "V = x^T A y"
    return game


def quadratic(a: float, b: float, c: float, mix: float | None = None) -> LinearGame:
    # V = a/2 x^2 + b x y - c/2 y^2, so v = (dV/dx, -dV/dy) = (a x + b y, -b x + c y).
    params = {"a": a, "b": b, "c": c} if mix is None else {"mix": mix, "a": a, "b": b, "c": c}
    game = LinearGame([[a, b], [-b, c]], 1, 1, params)
    game.name, game.formula = "quadratic", "V = a/2 x^2 + b x y - c/2 y^2"
    return game


# Expectations over Gaussian instance noise use Gauss-Hermite quadrature: deterministic and,
# for these smooth integrands, exact to machine precision with a few dozen nodes.
@functools.cache
def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E g(N(0, 1)); built on first use, since importing
    numpy.polynomial costs a few ms of every game-sim start."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    return nodes, weights / weights.sum()


def _sigmoid_of_minus(t):
    """f'(t) for f(t) = -log(1 + exp(-t)), i.e. 1 / (1 + exp(t)), without overflow."""
    return 0.5 * (1.0 - np.tanh(0.5 * t))


class DiracGan(Game):
    """Mescheder, Geiger and Nowozin (2018): real data is a Dirac at 0, the generator a Dirac
    at theta, the discriminator D(s) = psi * s. Here x = psi (maximises), y = theta (minimises).

    The discriminator maximises L = E f(psi * fake) + E f(-psi * real) (minus its regularizer);
    the generator minimises E f(psi * fake), or with the non-saturating loss maximises
    E f(-psi * fake). f(t) = -log(1 + exp(-t)) (standard, non-saturating) or t (wasserstein).
    The relativistic pairing (rpgan, R3GAN's loss) plays L = E f(D(fake) - D(real)) instead.
    """

    name = "dirac-gan"
    x_label = "psi (discriminator)"
    y_label = "theta (generator)"

    def __init__(self, loss: str, regularizer: str, gamma: float, noise_std: float):
        super().__init__(1, 1, {"loss": loss, "regularizer": regularizer})
        self.loss, self.regularizer = loss, regularizer
        self.gamma, self.noise_std = gamma, noise_std
        if regularizer in ("r1", "r2", "r1+r2", "gradient-penalty"):
            self.params["gamma"] = gamma
        if regularizer == "instance-noise":
            self.params["noise_std"] = noise_std
        # The WGAN-GP penalty (|psi| - 1)^2 has a kink at psi = 0, the equilibrium.
        self.smooth_at_equilibrium = regularizer != "gradient-penalty"
        self.formula = "Dirac-GAN"

    def _fprime(self, t):
        return np.ones_like(t) if self.loss == "wasserstein" else _sigmoid_of_minus(t)

    def field(self, z):
        z = np.asarray(z, dtype=float)
        psi, theta = z[..., 0], z[..., 1]
        if self.loss == "rpgan":
            dpsi, dtheta = self._relativistic(psi, theta)
        elif self.regularizer == "instance-noise":
            nodes, weights = _quadrature()
            noise = self.noise_std * nodes  # (K,), broadcast against the batch
            fake = theta[..., None] + noise
            real = noise
            p = psi[..., None]
            dpsi = (fake * self._fprime(p * fake) - real * self._fprime(-p * real)) @ weights
            g_slope = self._fprime(-p * fake if self.loss == "non-saturating" else p * fake)
            dtheta = -psi * (g_slope @ weights)
        else:
            dpsi = theta * self._fprime(psi * theta)
            g_arg = -psi * theta if self.loss == "non-saturating" else psi * theta
            dtheta = -psi * self._fprime(g_arg)
        if self.regularizer in ("r1", "r2", "r1+r2"):
            # grad_s D(s) = psi for every s: R1 (on real) and R2 (on fake) are both gamma/2 psi^2.
            dpsi = dpsi - self.gamma * psi * (2 if self.regularizer == "r1+r2" else 1)
        elif self.regularizer == "gradient-penalty":
            dpsi = dpsi - self.gamma * (np.abs(psi) - 1.0) * np.sign(psi)
        return np.stack([dpsi, dtheta], axis=-1)


    def _relativistic(self, psi, theta):
        """v for L = E f(psi * (fake - real)): D ascends L, G descends it (zero-sum)."""
        if self.regularizer != "instance-noise":
            slope = self._fprime(psi * theta)
            return theta * slope, -psi * slope
        # fake - real with independent N(0, s^2) noise on each is theta + N(0, 2 s^2).
        nodes, weights = _quadrature()
        gap = theta[..., None] + math.sqrt(2) * self.noise_std * nodes
        slope = self._fprime(psi[..., None] * gap)
        return (gap * slope) @ weights, -psi * (slope @ weights)


def dirac_gan(loss: str, regularizer: str, gamma: float, noise_std: float) -> DiracGan:
    return DiracGan(loss, regularizer, gamma, noise_std)
