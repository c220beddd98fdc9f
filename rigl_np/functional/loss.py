"""Softmax cross-entropy loss, averaged over the batch, with its gradient.

loss = -(1/N) * sum_n log softmax(logits_n)[label_n]. Stable for any logit size: the row max is
subtracted before exp (log-sum-exp), so exp never overflows and the largest term is exp(0) = 1,
which keeps the log of the sum finite.
"""
from rigl_np import backend


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels under softmax(logits), and its gradient.

    Inputs:  logits (N, K) float; labels (N,) int in [0, K), on the logits' backend.
    Outputs: loss, a 0-d array of the logits' dtype (left on the device: converting it to a
             Python float is a device sync, so that is the caller's choice);
             dlogits (N, K) = (softmax(logits) - one_hot(labels)) / N.
    """
    xp = backend.array_module(logits, labels)
    n = logits.shape[0]
    rows = xp.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, K), row max is 0
    exp = xp.exp(shifted)  # (N, K), in (0, 1]
    total = exp.sum(axis=1, keepdims=True)  # (N, 1), in [1, K]
    # log softmax is needed only at the labels: shifted - log(total), one entry per row
    log_probs = shifted[rows, labels] - xp.log(total)[:, 0]  # (N,)
    loss = xp.asarray(-log_probs.mean())  # () a 0-d array on both backends
    dlogits = xp.divide(exp, total, out=exp)  # (N, K) softmax, in place: exp is not needed again
    dlogits[rows, labels] -= 1  # one entry per row, so no scatter-add is needed
    dlogits /= n
    return loss, dlogits
