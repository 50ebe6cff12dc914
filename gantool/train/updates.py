"""Update rules (registry kind "update"): how one training iteration moves the two players.

A rule performs one iteration with the objective's passes (`d_backward` / `g_backward` fill
gradients, `d_loss` / `g_loss` give the losses with their graphs) and the state's optimiser
steps (`step_d`, `step_g`, and the look-ahead `extrapolate_d` / `extrapolate_g`); it returns the
last D and G passes for the log. Extra state a rule keeps (previous moves, slow weights, ...)
goes through its `state_dict` / `load_state_dict` into every checkpoint, so a resumed run is
exact. The per-player step is the state's optimiser (`--optimizer adam|sgd`); with plain SGD
each rule is exactly game-sim's rule of the same name (gantool/rules.py, docs/train.md):

    alternating    K D updates (fix G, train D), then one G update (fix D, train G)
    simultaneous   both gradients at the same point, then both players step
    extragradient  step both from where one simultaneous step would lead (ExtraAdam with Adam)
    optimistic     each player moves twice this step's move minus the previous one (OMD)
    consensus      each player also descends gamma/2 ||xi||^2, xi the joint gradient field
    sga            xi + lambda A^T xi, A the antisymmetric part of xi's Jacobian (exact HVPs),
                   lambda's sign fixed or chosen by alignment (Algorithm 1; option align)
    lookahead      k steps of a base rule, then both players' slow weights move alpha of the
                   way to the fast ones, and the fast weights restart from there; between
                   iterations the players hold the slow weights (sampled, averaged, saved)

Signs: xi = (dL_D/dD, dL_G/dG) is the joint gradient of the losses each player minimises
(Balduzzi et al.'s xi; game-sim's field is v = -xi, D being its maximising player x).

A plugin adds a rule with `@register("update", NAME, DESCRIPTION)` on a factory taking the
keyword options it needs (`--update-opt KEY=VALUE`, and `d_steps` from --d-steps), returning
an `UpdateRule`.
"""

from __future__ import annotations

import torch

from gantool import registry, rules
from gantool.errors import UsageError
from gantool.registry import register


class UpdateRule:
    name = ""
    # Rules that differentiate the gradient field (a double backward): refused with
    # torch.compile'd modules and under torchrun (see setup.check_update_rule).
    double_backward = False
    # Batches of real data one iteration draws: the log's img_per_s counts them.
    batches_per_iteration = 1

    def iterate(self, state, objective):
        """One training iteration; returns (last DPass, last GPass)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return list(module.parameters())


def gradients_at_one_point(state, objective):
    """D's and G's gradients at the same weights, before either moves. The D pass keeps G's
    graph on its fakes, so G's gradient is taken on them: G has not moved since."""
    real, y_real = state.batches.next()
    d = objective.d_backward(real, y_real, state.noise, d_update=state.d_updates,
                             keep_graph=True)
    g = objective.g_backward(d, state.G, state.noise)
    return d, g


class Alternating(UpdateRule):
    """Fix G, train D (`d_steps` times); fix D, train G. The last D update keeps G's graph on
    its fakes: G has not moved since they were drawn, so the G update reuses them."""

    name = "alternating"

    def __init__(self, d_steps: int = 1):
        if not isinstance(d_steps, int) or d_steps < 1:
            raise UsageError(f"--d-steps must be at least 1, got {d_steps!r}")
        self.d_steps = self.batches_per_iteration = d_steps

    def iterate(self, state, objective):
        for k in range(self.d_steps):
            real, y_real = state.batches.next()
            d = objective.d_backward(real, y_real, state.noise, d_update=state.d_updates,
                                     keep_graph=k == self.d_steps - 1)
            state.step_d(objective)
        g = objective.g_backward(d, state.G, state.noise)
        state.step_g()
        return d, g


class Simultaneous(UpdateRule):
    """z <- z - lr * xi(z): both gradients first, then both steps (game-sim's simgd)."""

    name = "simultaneous"

    def iterate(self, state, objective):
        d, g = gradients_at_one_point(state, objective)
        state.step_d(objective)
        state.step_g()
        return d, g


class Extragradient(UpdateRule):
    """z' = z - lr xi(z), then z <- z - lr xi(z') (Korpelevich; Gidel et al. 2019).

    With Adam this is ExtraAdam as Gidel et al.'s Algorithm 4 and their code
    (Variational-Inequality-GAN, optim/extragradient.py) run it: the extrapolation is a full
    Adam step from z, so it updates the moments and the step count with xi(z), and the update
    from the restored z is a second Adam step with xi(z'), updating them again: two moment
    updates and two bias-correction counts per iteration. Each gradient evaluation draws its
    own batch (the reference samples a new minibatch for each)."""

    name = "extragradient"
    batches_per_iteration = 2

    def iterate(self, state, objective):
        start = [p.detach().clone() for p in (*_params(state.D), *_params(state.G))]
        gradients_at_one_point(state, objective)
        state.extrapolate_d(objective)
        state.extrapolate_g()
        d, g = gradients_at_one_point(state, objective)
        with torch.no_grad():  # back to z: the update starts where the extrapolation did
            for p, p0 in zip((*_params(state.D), *_params(state.G)), start, strict=True):
                p.copy_(p0)
        state.step_d(objective)
        state.step_g()
        return d, g


class Optimistic(UpdateRule):
    """Each player moves 2 u_t - u_{t-1}, u_t being the move its optimiser proposes now.

    With SGD, u_t = -lr g_t: the update is -lr (2 g_t - g_{t-1}), optimistic gradient descent
    (game-sim's ogda). With Adam, u_t = -lr m_t / (sqrt(v_t) + eps): Daskalakis et al.'s
    Optimistic Adam (Algorithm 1), whose update is twice this step's Adam move minus the last
    one, not Adam fed 2 g_t - g_{t-1}. The first iteration has no previous move and takes a
    plain step (as game-sim's ogda does). Both players' gradients come from the same point.
    The previous moves are in the checkpoint."""

    name = "optimistic"

    def __init__(self):
        self.previous: dict[str, list[torch.Tensor] | None] = {"D": None, "G": None}

    def iterate(self, state, objective):
        d, g = gradients_at_one_point(state, objective)
        state.step_d(objective, move=lambda: self._move("D", state.opt_d, state.D))
        state.step_g(move=lambda: self._move("G", state.opt_g, state.G))
        return d, g

    @torch.no_grad()
    def _move(self, player: str, optimiser, module) -> None:
        params = _params(module)
        before = [p.detach().clone() for p in params]
        optimiser.step()
        moves = [p - b for p, b in zip(params, before, strict=True)]
        previous = self.previous[player] or moves
        for p, u, u_last in zip(params, moves, previous, strict=True):
            p.add_(u - u_last.to(p.device))  # p = before + u  ->  before + 2u - u_last
        self.previous[player] = moves

    def state_dict(self):
        return {"previous": self.previous}

    def load_state_dict(self, state):
        if state:
            self.previous = dict(state["previous"])


def _vjp(outputs, inputs, vectors, **options):
    """sum_i vectors_i . d outputs_i / d inputs (zeros where an input is not reached), skipping
    outputs that carry no graph (a parameter the loss does not use)."""
    pairs = [(o, v) for o, v in zip(outputs, vectors, strict=True) if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(x) for x in inputs]
    grads = torch.autograd.grad([o for o, _ in pairs], inputs, [v for _, v in pairs],
                                allow_unused=True, **options)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]


class _JointField(UpdateRule):
    """Rules built on xi(z) = (dL_D/dD, dL_G/dG) with its graph, at one point."""

    double_backward = True

    def iterate(self, state, objective):
        real, y_real = state.batches.next()
        d_loss, d = objective.d_loss(real, y_real, state.noise, d_update=state.d_updates,
                                     keep_graph=True, joint=True)
        g_loss, g = objective.g_loss(d, state.noise, joint=True)
        d_params, g_params = _params(state.D), _params(state.G)
        params = d_params + g_params
        xi = (_vjp([d_loss], d_params, [torch.ones_like(d_loss)], create_graph=True)
              + _vjp([g_loss], g_params, [torch.ones_like(g_loss)], create_graph=True))
        for p, grad in zip(params, self.adjusted(xi, params), strict=True):
            p.grad = grad.detach()
        state.step_d(objective)
        state.step_g()
        return d, g

    def adjusted(self, xi, params):
        raise NotImplementedError


class Consensus(_JointField):
    """Each player descends its loss + gamma/2 ||xi||^2 (Mescheder et al. 2017):
    grad = xi + gamma H^T xi, H = dxi/dz, H^T xi from one double backward."""

    name = "consensus"

    def __init__(self, gamma: float):
        self.gamma = gamma

    def adjusted(self, xi, params):
        half_norm = 0.5 * sum((x * x).sum() for x in xi)
        toward_small = _vjp([half_norm], params, [torch.ones_like(half_norm)])
        return [x + self.gamma * r for x, r in zip(xi, toward_small, strict=True)]


class SGA(_JointField):
    """xi + lambda A^T xi with A = (H - H^T)/2, H = dxi/dz (Balduzzi et al. 2018, Algorithm 1;
    game-sim's sga). A^T xi = (H^T xi - H xi)/2, both exact: H^T xi is a vector-Jacobian
    product, H xi the double-vjp trick H u = d/dw [(H^T w) . u]. lambda is `lam`, or with
    `align` lam sign(<xi, grad H> <A^T xi, grad H> / d + eps): H^T xi is grad H for the
    Hamiltonian H = |xi|^2 / 2, d the number of parameters (gantool/rules.py)."""

    name = "sga"

    def __init__(self, lam: float, align: bool = rules.SGA_ALIGN):
        self.lam, self.align = lam, align

    def adjusted(self, xi, params):
        plain = [x.detach() for x in xi]
        ht_xi = _vjp(xi, params, plain, retain_graph=True)
        w = [torch.zeros_like(x, requires_grad=True) for x in xi]
        ht_w = _vjp(xi, params, w, create_graph=True)
        h_xi = _vjp(ht_w, w, plain)
        at_xi = [0.5 * (a - b) for a, b in zip(ht_xi, h_xi, strict=True)]
        lam = self._lambda(plain, ht_xi, at_xi)
        return [x + lam * a for x, a in zip(xi, at_xi, strict=True)]

    def _lambda(self, xi, grad_h, at_xi):
        if not self.align:
            return self.lam
        # A device tensor, not a Python number: no host sync per step.
        product = _dot(xi, grad_h) * _dot(at_xi, grad_h)
        d = sum(x.numel() for x in xi)
        return self.lam * torch.sign(product / d + rules.SGA_EPSILON)


def _dot(us, vs) -> torch.Tensor:
    return sum((u * v).sum() for u, v in zip(us, vs, strict=True))


class Lookahead(UpdateRule):
    """Lookahead-minmax (Chavdarova et al. 2021): every k-th iteration of the base rule, the
    slow weights of both players move alpha of the way to the fast ones, phi <- phi +
    alpha (theta - phi), and the fast weights restart from them. The optimisers' moments carry
    on (the authors' code does not reset them).

    The slow weights are the result (the paper reports them), so between iterations the
    players hold them: sample grids, the log's probe, evaluations and checkpoints' G see them,
    and the EMA averages them (once per iteration, after they are back; the base's G steps
    move the fast weights and leave the EMA alone). The fast weights of a cycle in progress
    and the count are the rule's state, in the checkpoint, so a run resumed mid-cycle is
    exact."""

    name = "lookahead"

    def __init__(self, base: UpdateRule, k: int, alpha: float):
        self.base, self.k, self.alpha = base, k, alpha
        self.double_backward = base.double_backward
        self.batches_per_iteration = base.batches_per_iteration
        self.count = 0
        self.fast: list[torch.Tensor] | None = None  # mid-cycle only
        # From a checkpoint written when the players held the fast weights between iterations.
        self.legacy_slow: list[torch.Tensor] | None = None

    @torch.no_grad()
    def iterate(self, state, objective):
        params = _params(state.D) + _params(state.G)
        slow = [p.detach().clone() for p in params]
        if self.legacy_slow is not None:  # G and D were loaded with the fast weights
            slow = [s.to(p.device) for s, p in zip(self.legacy_slow, params, strict=True)]
            self.legacy_slow = None
        elif self.fast is not None:
            for p, f in zip(params, self.fast, strict=True):
                p.copy_(f)
        ema, state.G_ema = state.G_ema, None
        try:
            with torch.enable_grad():
                d, g = self.base.iterate(state, objective)
        finally:
            state.G_ema = ema
        self.count += 1
        if self.count % self.k == 0:
            for p, s in zip(params, slow, strict=True):
                s.add_(p - s, alpha=self.alpha)
            self.fast = None
        else:
            self.fast = [p.detach().clone() for p in params]
        for p, s in zip(params, slow, strict=True):
            p.copy_(s)
        state.update_ema()
        return d, g

    def state_dict(self):
        return {"base": self.base.state_dict(), "count": self.count, "fast": self.fast}

    def load_state_dict(self, state):
        if state:
            self.base.load_state_dict(state["base"])
            self.count, self.fast = state["count"], state.get("fast")
            if "slow" in state and self.count % self.k:
                self.fast, self.legacy_slow = None, state["slow"]


def _register(name: str, description: str):
    return register("update", name, description, aliases=rules.aliases("update", name))


@_register("alternating", "K D updates, then one G update (the lecture's algorithm)")
def alternating(*, d_steps: int = 1) -> UpdateRule:
    return Alternating(d_steps)


@_register("simultaneous", "both players step from the same point")
def simultaneous() -> UpdateRule:
    return Simultaneous()


@_register("extragradient", "step from where one step would lead; ExtraAdam (Gidel et al. 2019)")
def extragradient() -> UpdateRule:
    return Extragradient()


@_register("optimistic", "move 2u_t - u_(t-1); Optimistic Adam (Daskalakis et al. 2018)")
def optimistic() -> UpdateRule:
    return Optimistic()


@_register("consensus", "also descend gamma/2 |xi|^2, option gamma (Mescheder et al. 2017)")
def consensus(*, gamma: float = rules.CONSENSUS_GAMMA) -> UpdateRule:
    return Consensus(rules.consensus_gamma(gamma, "--update-opt gamma"))


@_register("sga", "symplectic gradient adjustment, options lam, align (Balduzzi et al. "
           "2018)")
def sga(*, lam: float = rules.SGA_LAMBDA, align: bool = rules.SGA_ALIGN) -> UpdateRule:
    return SGA(rules.sga_lambda(lam, "--update-opt lam"),
               rules.sga_align(align, "--update-opt align"))


@_register("lookahead", "k base steps, then alpha of the way there; options base, k, alpha "
           "(Chavdarova et al. 2021)")
def lookahead(*, base: str = "simultaneous", k: int = rules.LOOKAHEAD_K,
              alpha: float = rules.LOOKAHEAD_ALPHA, d_steps: int | None = None,
              gamma: float | None = None, lam: float | None = None,
              align: bool | None = None) -> UpdateRule:
    if not isinstance(base, str):
        raise UsageError(f"--update-opt base must be a rule name, got {base!r}")
    base = registry.get("update", base).name
    if base == "lookahead":
        raise UsageError("--update-opt base cannot be lookahead itself")
    if d_steps is not None and "d_steps" not in registry.get("update", base).options():
        raise UsageError(f"--d-steps applies to lookahead over alternating (--update-opt "
                         f"base=alternating); its base {base} moves each player once per step")
    inner = registry.create("update", base, d_steps=d_steps, gamma=gamma, lam=lam,
                            align=align)
    return Lookahead(inner, rules.lookahead_k(k, "--update-opt k"),
                     rules.lookahead_alpha(alpha, "--update-opt alpha"))
