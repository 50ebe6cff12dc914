"""Update rules (registry kind "update"): how one training iteration orders the two players' moves.

A rule performs one iteration with the objective's backward passes (`d_backward`, `g_backward`)
and the state's optimiser steps (`step_d`, `step_g`); it returns the last D and G passes for
the log. Extra state a rule keeps (previous gradients, slow weights, ...) goes through its
`state_dict` / `load_state_dict` into every checkpoint, so a resumed run is exact.

    alternating   the lecture's algorithm: K D updates (fix G, train D), then one G update
                  (fix D, train G)

A plugin adds a rule with `@register("update", NAME, DESCRIPTION)` on a factory taking the
keyword options it needs (today `d_steps`), returning an `UpdateRule`.
"""

from __future__ import annotations

from gantool.errors import UsageError
from gantool.registry import register


class UpdateRule:
    name = ""

    def iterate(self, state, objective):
        """One training iteration; returns (last DPass, last GPass)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Alternating(UpdateRule):
    """Fix G, train D (`d_steps` times); fix D, train G. The last D update keeps G's graph on
    its fakes: G has not moved since they were drawn, so the G update reuses them."""

    name = "alternating"

    def __init__(self, d_steps: int = 1):
        if not isinstance(d_steps, int) or d_steps < 1:
            raise UsageError(f"--d-steps must be at least 1, got {d_steps!r}")
        self.d_steps = d_steps

    def iterate(self, state, objective):
        for k in range(self.d_steps):
            real, y_real = state.batches.next()
            d = objective.d_backward(real, y_real, state.noise, d_update=state.d_updates,
                                     keep_graph=k == self.d_steps - 1)
            state.step_d(objective)
        g = objective.g_backward(d, state.G, state.noise)
        state.step_g()
        return d, g


@register("update", "alternating", "K D updates, then one G update (the lecture's algorithm)")
def alternating(*, d_steps: int = 1) -> UpdateRule:
    return Alternating(d_steps)
