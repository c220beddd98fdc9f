"""Optimizers (SGD with momentum / Nesterov / weight decay, Adam) and learning-rate schedules.

Parameters and gradients are dicts ``{name: array}``; the optimizer updates the parameter arrays
in place, so the layers that own them see the new values. Per-parameter state lives in
``opt.state[name]`` as a dict of arrays of the parameter's shape, which sparse training needs to
read and reset entry by entry:

- ``reset(name, where)``: zero every state slot where the boolean ``where`` is True (new
  connections start with no momentum, docs/semantics.md "The RigL update" step 4);
- ``mask_state(name, mask)``: multiply every state slot by the mask, so momentum never revives a
  dropped weight (docs/semantics.md "Schedule").

The update rules follow PyTorch's ``torch.optim.SGD`` and ``torch.optim.Adam`` exactly (including
weight decay added to the gradient and the first momentum step), so a run can be cross-checked
against PyTorch and rigl-torch step by step.
"""
from __future__ import annotations

import math

from rigl_np import backend


class Optimizer:
    """What SGD and Adam share: the parameter dict, the learning rate and the state dict."""

    slots: tuple = ()

    def __init__(self, params: dict, lr: float):
        self.params = params
        self.lr = lr
        self.state = {name: {slot: backend.array_module(p).zeros_like(p) for slot in self.slots}
                      for name, p in params.items()}

    def reset(self, name: str, where) -> None:
        """Set every state slot of parameter ``name`` to 0 where the boolean ``where`` is True."""
        for buf in self.state[name].values():
            buf[where] = 0

    def mask_state(self, name: str, mask) -> None:
        """Multiply every state slot of parameter ``name`` by ``mask`` (0 where inactive)."""
        for buf in self.state[name].values():
            buf *= mask


class SGD(Optimizer):
    """SGD with momentum, Nesterov and L2 weight decay, as ``torch.optim.SGD`` (dampening 0).

    For each parameter p with gradient g:
      1. d = g + weight_decay * p
      2. buf = momentum * buf + d          (buf starts at 0, so the first step gives buf = d)
      3. d = d + momentum * buf if nesterov else buf
      4. p = p - lr * d
    Every step works in place in one scratch array per parameter: a fresh parameter-sized array
    per step would cost page faults that, for LeNet-300-100, add up to a fifth of the step.
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.slots = ("momentum",) if momentum else ()
        super().__init__(params, lr)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.scratch = {name: backend.array_module(p).empty_like(p) for name, p in params.items()}

    def step(self, grads: dict) -> None:
        for name, g in grads.items():
            p, d = self.params[name], self.scratch[name]
            xp = backend.array_module(p, g)
            xp.multiply(p, self.weight_decay, out=d)           # 1. d = g + wd * p
            d += g
            if self.momentum:
                buf = self.state[name]["momentum"]
                buf *= self.momentum                             # 2. buf = m * buf + d
                buf += d
                if self.nesterov:
                    d += self.momentum * buf                     # 3. d = d + m * buf
                    d *= self.lr
                else:
                    xp.multiply(buf, self.lr, out=d)             # 3. d = buf, times lr
            else:
                d *= self.lr
            p -= d                                               # 4. p = p - lr * d


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (L2 weight decay added to the gradient, bias-corrected).

    For each parameter p with gradient g, at step t (counted per optimizer):
      1. g = g + weight_decay * p
      2. m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2
      3. p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    A reset slot restarts its moments at 0; the step counter t is shared, as in PyTorch.
    """

    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.t = 0

    def step(self, grads: dict) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for name, g in grads.items():
            p, s = self.params[name], self.state[name]
            xp = backend.array_module(p, g)
            if self.weight_decay:
                g = g + self.weight_decay * p
            s["exp_avg"] *= b1
            s["exp_avg"] += (1 - b1) * g
            s["exp_avg_sq"] *= b2
            s["exp_avg_sq"] += (1 - b2) * g * g
            p -= (self.lr / c1) * s["exp_avg"] / (xp.sqrt(s["exp_avg_sq"] / c2) + self.eps)


LR_SCHEDULES = ("constant", "step", "cosine")    # what ``learning_rate`` computes
OPTIMIZERS = ("sgd", "adam")                     # ``SGD`` and ``Adam`` (rigl_np.train.make_optimizer)


def learning_rate(step: int, total_steps: int, base_lr: float, schedule: str = "cosine",
                  warmup_steps: int = 0, step_size: int = 0, gamma: float = 0.1) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    - ``constant``: base_lr;
    - ``step``: base_lr * gamma ** (step // step_size);
    - ``cosine``: linear warm-up from base_lr / warmup_steps to base_lr over ``warmup_steps``, then
      base_lr/2 * (1 + cos(pi * progress)) with progress from 0 to 1 over the remaining steps
      (the per-step version of ``torch.optim.lr_scheduler.CosineAnnealingLR`` with eta_min 0).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        if step_size < 1:
            raise ValueError("the step schedule needs step_size >= 1")
        return base_lr * gamma ** (step // step_size)
    if schedule == "cosine":
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * base_lr * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose one of {LR_SCHEDULES}")
