"""Batch normalisation (Ioffe & Szegedy 2015) for (N, C) and (N, C, H, W) inputs.

Statistics are per channel C, over the batch (and the spatial positions for 4-d inputs). The
behaviour matches torch.nn.BatchNorm1d/2d:
- train: normalise with the batch mean and the biased batch variance, and update the running
  statistics IN PLACE with running = (1 - momentum) * running + momentum * batch, where the
  running variance takes the UNBIASED batch variance (times count / (count - 1));
- eval: normalise with the running statistics, which are left alone.
gamma and beta are never sparsified (docs/semantics.md "Conventions": only Linear and Conv2d weights are).
"""
from rigl_np import backend


def _channel_axes(ndim):
    """Reduction axes for per-channel statistics and the shape that broadcasts a (C,) vector."""
    if ndim == 2:
        return (0,), (1, -1)
    return (0, 2, 3), (1, -1, 1, 1)


def batch_norm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, per channel.

    Inputs:  x (N, C) or (N, C, H, W); gamma, beta (C,); running_mean, running_var (C,), updated
             in place when train is True; train bool; momentum, eps floats.
    Output:  out, x's shape.
    Cache:   (x_hat (x's shape), gamma (C,), inv_std (C,), train bool).
    """
    xp = backend.array_module(x, gamma, beta, running_mean, running_var)
    axes, vec = _channel_axes(x.ndim)
    if train:
        count = x.size // x.shape[1]  # values per channel
        if count < 2:
            raise ValueError("batch norm in train mode needs more than one value per channel")
        mean = x.mean(axis=axes)  # (C,)
        var = x.var(axis=axes)  # (C,), biased: what the batch is normalised with
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * count / (count - 1) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / xp.sqrt(var + eps)  # (C,)
    x_hat = (x - mean.reshape(vec)) * inv_std.reshape(vec)  # x's shape
    out = gamma.reshape(vec) * x_hat + beta.reshape(vec)  # x's shape
    # x_hat: dgamma = sum(dout * x_hat), and in train mode dx needs it too; it is computed here
    #   anyway, so keeping it (x's size) is cheaper than keeping x and recomputing it.
    # inv_std (C,), gamma (C,): tiny, and both scale dx. train: the two modes differ in dx.
    cache = (x_hat, gamma, inv_std, train)
    return out, cache


def batch_norm_backward(dout, cache):
    """Gradients of batch_norm_forward, in the mode it ran in.

    Inputs:  dout, x's shape; cache from batch_norm_forward.
    Outputs: dx (x's shape); dgamma (C,); dbeta (C,).
    In train mode the batch mean and variance depend on x as well, which removes from dx its
    per-channel mean and its projection onto x_hat:
        dx = gamma * inv_std * (dout - mean(dout) - x_hat * mean(dout * x_hat)).
    """
    x_hat, gamma, inv_std, train = cache
    axes, vec = _channel_axes(x_hat.ndim)
    dbeta = dout.sum(axis=axes)  # (C,)
    dgamma = (dout * x_hat).sum(axis=axes)  # (C,)
    scale = (gamma * inv_std).reshape(vec)  # broadcasts over x's shape
    if not train:
        return dout * scale, dgamma, dbeta
    count = x_hat.size // x_hat.shape[1]
    centred = dout - (dbeta / count).reshape(vec) - x_hat * (dgamma / count).reshape(vec)
    return scale * centred, dgamma, dbeta
