"""The training loop, as numbered steps, and evaluation.

One optimizer step per mini-batch. The training method (``rigl_np.methods``) plugs in through
three hooks, called at one visible line each of ``train_step``; what they do to masks and weights
is in the method classes:

- ``method.forward_weights(step)``: the weights batch ``step`` computes its forward and backward
  passes with, when they are not the stored ones (None, the default: the stored W = W * M);

- ``method.before_step(step, grads) -> bool``: sees the dense gradients of batch ``step``
  (counted from 1, docs/semantics.md "Schedule"); masks them, may update the masks; returns False
  on a RigL update batch, where the optimizer step is skipped;
- ``method.after_step(step)``: re-masks weights and momentum, or updates masks (SET, SNFS,
  pruning).

``method=None`` is plain dense training (what ``rigl_np.methods.Dense`` also does). The loop
returns a ``TrainState`` (position and per-epoch records), which is also what a checkpoint stores
to resume a run exactly; it keeps the learning rate of the last step, so an epoch whose last batch
ran before a stop is recorded with the rate it was trained at. ``non_finite`` finds diverged
arrays (the check made before every checkpoint, on ``checkpoint.state_arrays``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rigl_np import backend
from rigl_np.config import OptimConfig
from rigl_np.errors import Failure
from rigl_np.data import epoch_order, minibatches, num_batches
from rigl_np.functional import softmax_cross_entropy
from rigl_np.optim import SGD, Adam, learning_rate


EVAL_BATCH = 1000                    # examples per evaluation forward pass
LR_STEPS = 3                         # the "step" schedule: x0.1 after each third of training


class NonFiniteLoss(Failure):
    """The training loss became inf or NaN; the run stops and keeps its last good checkpoint."""


@dataclass
class TrainState:
    """Where training stands: everything besides arrays that a checkpoint must hold to resume."""
    epoch: int = 0                 # current epoch, 0-based
    batch: int = 0                 # batches of this epoch already done
    step: int = 0                  # batches done in total: the schedule's t (counted from 1)
    loss_sum: float = 0.0          # sum of this epoch's per-example losses so far
    correct: int = 0               # this epoch's correct predictions so far
    seconds: float = 0.0           # wall time of this epoch so far
    history: list = field(default_factory=list)   # one record per finished epoch
    lr: float = None               # learning rate of the last step (None before the first)

    @property
    def last(self) -> dict:
        return self.history[-1]


def make_optimizer(params: dict, cfg: OptimConfig):
    """SGD or Adam over ``params`` as ``cfg`` says."""
    if cfg.optimizer == "sgd":
        return SGD(params, cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                   weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return Adam(params, cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adam")


def non_finite(arrays: dict) -> list:
    """The names of the floating-point arrays in ``arrays`` that hold an inf or a NaN.

    One dot product per array decides (x . x is finite exactly when every entry is, unless the
    sum overflows); only an array whose dot product is not finite gets the exact element check.
    """
    bad = []
    for name, a in arrays.items():
        if a.dtype.kind != "f" or a.size == 0:
            continue
        xp = backend.array_module(a)
        flat = a.ravel()                                               # (n,)
        if math.isfinite(backend.to_scalar(xp.vdot(flat, flat))):
            continue
        if not bool(xp.isfinite(a).all()):
            bad.append(name)
    return bad


def evaluate(model, x, y, batch_size: int = EVAL_BATCH):
    """Mean loss and accuracy of ``model`` (eval mode) on host arrays ``x`` (N, ...), ``y`` (N,)."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        xb = backend.asarray(x[start:start + batch_size])
        yb = backend.asarray(y[start:start + batch_size])
        logits = model.forward(xb, train=False)                        # (B, classes)
        loss, _ = softmax_cross_entropy(logits, yb)
        total_loss += backend.to_scalar(loss) * len(yb)
        correct += int(backend.to_scalar((logits.argmax(axis=1) == yb).sum()))
    return total_loss / len(y), correct / len(y)


def train_step(model, optimizer, xb, yb, step, method=None):
    """One mini-batch: forward, loss, backward, (masked) optimizer step. Returns (loss, correct)."""
    # 1. the weights this batch computes with: the stored ones, or the method's (Top-KAST's
    #    forward set, say); the stored ones are put back before the optimizer step
    stored = model.swap(method.forward_weights(step) or {}) if method is not None else {}
    # 2. forward and loss
    logits = model.forward(xb, train=True)                             # (B, classes)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    # 3. backward: dense gradients of every parameter
    model.backward(dlogits)
    grads = model.grads()
    model.swap(stored)
    # 4. the sparse method masks the gradients and may update the masks (RigL skips the step then)
    take_step = method is None or method.before_step(step, grads)
    # 5. optimizer step
    if take_step:
        optimizer.step(grads)
    # 6. re-mask weights and optimizer state; SET / SNFS / pruning update masks here
    if method is not None:
        method.after_step(step)
    return loss, (logits.argmax(axis=1) == yb).sum()


def train(model, optimizer, data, cfg: OptimConfig, method=None, state=None, progress=None,
          on_epoch=None, on_batch=None) -> TrainState:
    """Train ``model`` on ``data`` (train_x/test_x float32 (N, C, H, W), labels int64), per ``cfg``.

    ``method`` must already be attached to ``model`` and ``optimizer``. ``state`` resumes a run
    exactly where it stopped (the data order of an epoch is recomputed from (seed, epoch)).
    ``progress(epoch, batches, total)`` may wrap the batch iterator (a tqdm bar);
    ``on_epoch(record, state)`` runs after every epoch, ``on_batch(state)`` after every batch and
    may return True to stop (Ctrl-C); both are where checkpoints are written. Each epoch's record
    holds epoch, lr, train_loss, train_accuracy, test_loss, test_accuracy, seconds, and the
    method's own summary (density, ITOP rate, ...).
    """
    state = state or TrainState()
    n = len(data.train_y)
    per_epoch = num_batches(n, cfg.batch_size)
    total_steps = cfg.epochs * per_epoch
    warmup = int(cfg.warmup_epochs * per_epoch)
    step_size = -(-total_steps // LR_STEPS)                            # ceil: LR_STEPS - 1 decays
    while state.epoch < cfg.epochs:
        batches = minibatches(data.train_x, data.train_y, cfg.batch_size,
                              epoch_order(n, cfg.seed, state.epoch), start_batch=state.batch)
        started = time.perf_counter() - state.seconds
        for xb, yb in (progress(state.epoch, batches, per_epoch) if progress else batches):
            # 1. learning rate of this optimizer step (0-based for the schedule)
            optimizer.lr = learning_rate(state.step, total_steps, cfg.lr, cfg.lr_schedule, warmup,
                                         step_size)
            # 2. the step itself (batches counted from 1)
            loss, hits = train_step(model, optimizer, backend.asarray(xb), backend.asarray(yb),
                                    state.step + 1, method)
            loss = backend.to_scalar(loss)
            if not math.isfinite(loss):
                raise NonFiniteLoss(f"the training loss became {loss} at batch {state.step + 1}")
            # 3. bookkeeping, then the caller's hook (checkpoints, Ctrl-C)
            state.step, state.batch, state.lr = state.step + 1, state.batch + 1, optimizer.lr
            state.loss_sum += loss * len(yb)
            state.correct += int(backend.to_scalar(hits))
            state.seconds = time.perf_counter() - started
            if on_batch is not None and on_batch(state):
                return state
        # 4. evaluate and record the epoch
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y)
        record = {"epoch": state.epoch + 1, "lr": state.lr, "train_loss": state.loss_sum / n,
                  "train_accuracy": state.correct / n, "test_loss": test_loss,
                  "test_accuracy": test_acc, "seconds": time.perf_counter() - started}
        if method is not None:
            record.update(method.summary())
        state.history.append(record)
        state.epoch, state.batch, state.loss_sum, state.correct, state.seconds = state.epoch + 1, 0, 0.0, 0, 0.0
        if on_epoch is not None:
            on_epoch(record, state)
    return state
