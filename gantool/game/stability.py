"""Closed-form stable step sizes: for which lr the linearised update contracts at the equilibrium.

Each form is derived in docs/game-sim.md from the eigenvalues l of the game's Jacobian J:
a rule given by z' = z + lr J' z contracts iff |1 + lr l'| < 1 for every eigenvalue l' of J',
i.e. lr < -2 Re(l') / |l'|^2 with every Re(l') < 0. The other forms hold on bilinear games
(J has zero own-player blocks, so its eigenvalues are +/- i sigma for the singular values
sigma of the coupling). Where no closed form is derived the answer is None.
"""

from __future__ import annotations

import math

import numpy as np

from gantool.game import updates

ZERO = 1e-12  # eigenvalues this small count as zero (a line or plane of equilibria)


def _simgd_bound(J: np.ndarray) -> float:
    """sup of the lr that contract z' = z + lr J z: min over eigenvalues of -2 Re l / |l|^2."""
    eig = np.linalg.eigvals(J)
    if (eig.real >= -ZERO).any():
        return 0.0
    return float((-2 * eig.real / np.abs(eig) ** 2).min())


def _answer(lr_max: float | None, formula: str) -> dict:
    """lr_max None: every lr > 0 contracts; 0: none does."""
    if lr_max == 0 and formula.startswith("lr <"):
        formula = "an eigenvalue l has Re l >= 0, so |1 + lr l| >= 1"
    return {"lr_max": lr_max, "formula": formula}


def stable_lr(optimizer: updates.Optimizer, J: np.ndarray | None, nx: int) -> dict | None:
    """{"lr_max", "formula"}: the rule contracts near the equilibrium for 0 < lr < lr_max."""
    if J is None:
        return None
    eig = np.linalg.eigvals(J)
    if (np.abs(eig) < ZERO).any():
        return _answer(0.0, "J is singular: the radius stays 1 along the set of equilibria")
    if isinstance(optimizer, updates.SimGD):
        return _answer(_simgd_bound(J), "lr < min over eigenvalues l of J of -2 Re l / |l|^2")
    if isinstance(optimizer, updates.Consensus):
        return _answer(_simgd_bound(J - optimizer.gamma * J.T @ J),
                       "the simgd bound for J - gamma J^T J")
    if isinstance(optimizer, updates.SGA):
        return _answer(_simgd_bound(J + optimizer.lam * updates.antisymmetric_part(J) @ J),
                       "the simgd bound for J + lambda A J")
    if isinstance(optimizer, updates.Flow):
        stable = (eig.real < -ZERO).all()
        return _answer(None if stable else 0.0, "every lr iff every Re l < 0")
    bilinear = np.allclose(J, updates.off_diagonal_blocks(J, nx), rtol=0, atol=ZERO)
    if not bilinear:
        return None
    sigma = float(np.abs(eig).max())
    if isinstance(optimizer, updates.Extragradient):
        return _answer(1 / sigma, "lr < 1 / sigma_max")
    if isinstance(optimizer, updates.OGDA):
        return _answer(1 / (math.sqrt(3) * sigma), "lr < 1 / (sqrt(3) sigma_max)")
    if isinstance(optimizer, updates.CGD):
        return _answer(None, "every lr: |mu| = 1 / sqrt(1 + lr^2 sigma^2)")
    if isinstance(optimizer, updates.AltGD):
        return _answer(0.0, "none: det = 1, it cycles for steps_x lr^2 sigma_max^2 < 4")
    return None
