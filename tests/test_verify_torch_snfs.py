"""``verify`` on an SNFS written in PyTorch the way public SNFS code is (issue 20), independent of
rigl_np: masks drawn per position with probability d; k = ceil(f * nnz) removed by zeroing the
first n_zeros + k of one sort of |W| over all positions; the total removed regrown across layers
by each layer's mean |momentum| (rounded up), by |momentum| among the free positions; momentum
kept dense (never masked: the growth signal) or masked with the weights. The whole model is
dumped at every update with ``save_update``, as a researcher would.

verify must explain every layer update by named conventions, never call one ``differs``, and
pass once those conventions are selected (the last layer fills up and is then updated as a dense
layer: ``--dense-layers update``); a count it cannot check (growth landing on positions already
active) is said (``count_unchecked``), never passed quietly.
"""
import math

import numpy as np
import pytest

from rigl_np.verify import save_update, verify_paths
from rigl_np.verify.report import summary

torch = pytest.importorskip("torch")
CONVENTIONS = {"k_rounding": "ceil", "grow_count": "redistribute", "state": "dense",
               "dense_layers": "update"}


def snfs_run(folder, dense_momentum: bool, prune_rate=0.5, every=8, batches=32):
    """Train LeNet-300-100 on random data with a sparselearning-style SNFS; one dump per update."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    params = {n: p for n, p in model.named_parameters() if p.dim() == 2}
    masks = {n: (torch.rand(p.shape) < 0.1).float() for n, p in params.items()}   # per position
    for n, p in params.items():
        p.data *= masks[n]
    x, y = torch.randn(batches * 16, 784), torch.randint(0, 10, (batches * 16,))

    def momentum(n):
        return opt.state[params[n]]["momentum_buffer"]

    for step in range(1, batches + 1):
        # 1. an ordinary step, then the mask on the weights (and on momentum, unless dense)
        loss = torch.nn.functional.cross_entropy(model(x[step * 16 - 16:step * 16]),
                                                 y[step * 16 - 16:step * 16])
        opt.zero_grad()
        loss.backward()
        opt.step()
        for n, p in params.items():
            p.data *= masks[n]
            if not dense_momentum:
                momentum(n).mul_(masks[n])
        if step % every:
            continue
        before = {n: dict(weight=p.detach().clone(), mask=masks[n].bool().clone(),
                          grad=momentum(n).clone(), state={"momentum": momentum(n).clone()})
                  for n, p in params.items()}
        # 2. death: zero the first n_zeros + ceil(rate * nnz) of one sort over all positions
        removed, share = {}, {}
        for n, p in params.items():
            nnz = int(masks[n].sum())
            k = masks[n].numel() - nnz + math.ceil(prune_rate * nnz)
            order = torch.argsort(p.data.abs().flatten())
            masks[n].view(-1)[order[:k]] = 0
            removed[n] = nnz - int(masks[n].sum())
            share[n] = momentum(n)[before[n]["mask"]].abs().mean().item()
        # 3. growth: the total removed, by momentum share, largest |momentum| among free positions
        for n, p in params.items():
            regrowth = math.ceil(share[n] / sum(share.values()) * sum(removed.values()))
            free = momentum(n).abs() * (masks[n] == 0)
            masks[n].view(-1)[torch.argsort(free.flatten(), descending=True)[:regrowth]] = 1
            p.data *= masks[n]
            p.data[masks[n].bool() & ~before[n]["mask"]] = 0
            if not dense_momentum:
                momentum(n).mul_(masks[n])
            before[n].update(new_mask=masks[n].bool(), new_weight=p.detach(),
                             new_state={"momentum": momentum(n)})
        save_update(folder / f"step_{step:04d}.npz", method="snfs", drop_fraction=prune_rate,
                    step=step, **before)
    return folder


@pytest.mark.parametrize("dense_momentum", [True, False])
def test_an_snfs_in_torch_is_explained_by_its_conventions(tmp_path, dense_momentum):
    folder = snfs_run(tmp_path, dense_momentum)
    results, errors, n = verify_paths([folder])
    assert not errors and n == 4 and len(results) == 12
    assert "differs" not in {r.verdict for r in results}
    assert summary(results, [], n)["exit_code"] == 1               # conventions not selected
    assert any("grow_count" in r.causes for r in results)
    assert any("state_dense" in r.causes for r in results) == dense_momentum
    selected, _, _ = verify_paths([folder], CONVENTIONS)
    for r in selected:                              # passes, or says it could not check a count
        assert r.accepted or "count_unchecked" in r.causes, (r.path, r.layer, r.detail)
    checked = [r for r in selected if r.applied.get("grow_count") == "redistribute"]
    assert checked and all("follows SNFS's momentum share" in r.detail for r in checked)
    random = {**CONVENTIONS, "grow_count": "random"}
    unchecked = [r for r in selected if "count_unchecked" in r.causes]
    again, _, _ = verify_paths(sorted({r.path for r in unchecked}), random)
    assert all(r.accepted for r in again if "count_unchecked" in r.causes)
    assert np.all([r.verdict != "identical" for r in selected if r.layer != "4.weight"])
