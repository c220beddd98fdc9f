"""The training loop, as numbered steps, and evaluation.

One optimizer step per mini-batch. Sparse training plugs in through a *method* object with two
hooks, so every place a mask touches the weights is one visible line here:

- ``method.before_step(step, grads) -> bool``: sees the dense gradients of batch ``step`` (counted
  from 1, SPEC "Schedule"); masks them, may update the masks; returns False on a RigL update batch,
  where the optimizer step is skipped;
- ``method.after_step(step)``: re-masks weights and momentum, or updates masks (SET, SNFS, pruning).

``method=None`` is plain dense training. The loop returns a ``History`` (per-epoch records).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from rigl_np import backend
from rigl_np.config import OptimConfig
from rigl_np.data import epoch_order, minibatches, num_batches
from rigl_np.functional import softmax_cross_entropy
from rigl_np.optim import SGD, Adam, learning_rate


EVAL_BATCH = 1000                    # examples per evaluation forward pass


@dataclass
class History:
    epochs: list = field(default_factory=list)   # one dict per epoch (see ``train``)

    @property
    def last(self) -> dict:
        return self.epochs[-1]


def make_optimizer(params: dict, cfg: OptimConfig):
    """SGD or Adam over ``params`` as ``cfg`` says."""
    if cfg.optimizer == "sgd":
        return SGD(params, cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                   weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return Adam(params, cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adam")


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
    # 1. forward and loss
    logits = model.forward(xb, train=True)                             # (B, classes)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    # 2. backward: dense gradients of every parameter
    model.backward(dlogits)
    grads = model.grads()
    # 3. the sparse method masks the gradients and may update the masks (RigL skips the step then)
    take_step = method is None or method.before_step(step, grads)
    # 4. optimizer step
    if take_step:
        optimizer.step(grads)
    # 5. re-mask weights and optimizer state; SET / SNFS / pruning update masks here
    if method is not None:
        method.after_step(step)
    return loss, (logits.argmax(axis=1) == yb).sum()


def train(model, data, cfg: OptimConfig, method=None, progress=None, on_epoch=None) -> History:
    """Train ``model`` on ``data`` (train_x/test_x float32 (N, C, H, W), labels int64), per ``cfg``.

    ``progress(epoch, batches, total)`` may wrap the batch iterator (a tqdm bar); ``on_epoch(record)`` is
    called after every epoch (logging, checkpoints). Each epoch's record
    holds epoch, lr, train_loss, train_accuracy, test_loss, test_accuracy, seconds, and the
    method's own summary (density, ...) when it has ``summary()``.
    """
    optimizer = make_optimizer(model.params(), cfg)
    if method is not None:
        method.attach(model, optimizer)
    n = len(data.train_y)
    per_epoch = num_batches(n, cfg.batch_size)
    total_steps = cfg.epochs * per_epoch
    warmup = int(cfg.warmup_epochs * per_epoch)
    history, step = History(), 0
    for epoch in range(cfg.epochs):
        start = time.perf_counter()
        loss_sum, correct = 0.0, 0                                  # stay on the device
        batches = minibatches(data.train_x, data.train_y, cfg.batch_size,
                              epoch_order(n, cfg.seed, epoch))
        for xb, yb in (progress(epoch, batches, per_epoch) if progress else batches):
            # 1. learning rate of this optimizer step (0-based for the schedule)
            optimizer.lr = learning_rate(step, total_steps, cfg.lr, cfg.lr_schedule, warmup)
            step += 1                                               # batches counted from 1
            # 2. the step itself
            loss, hits = train_step(model, optimizer, backend.asarray(xb), backend.asarray(yb),
                                    step, method)
            loss_sum = loss_sum + loss * len(yb)
            correct = correct + hits
        # 3. evaluate and record
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y)
        record = {"epoch": epoch + 1, "lr": optimizer.lr,
                  "train_loss": backend.to_scalar(loss_sum) / n,
                  "train_accuracy": backend.to_scalar(correct) / n, "test_loss": test_loss,
                  "test_accuracy": test_acc, "seconds": time.perf_counter() - start}
        if method is not None and hasattr(method, "summary"):
            record.update(method.summary())
        history.epochs.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history
