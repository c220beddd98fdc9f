"""Connectivity of a sparse network: which units still lie on a path from the input to the output.

A sparse network can disconnect: a layer whose masks leave no path from any input to any output
makes the model a constant, whatever its weights (a LeNet-5 at 99 % with uniform densities: the
bottleneck layers keep a handful of weights each). docs/semantics.md "Connectivity" says what is
measured; runs record it at every mask update (metrics.json), and ``verify`` for a masks file.

The network is read as a chain of its sparsifiable layers in order (``nn.Sequential``): a layer's
weight (out, in[, kh, kw]) connects input unit i to output unit o when any of its kernel taps is
active (a conv's units are channels); a Linear after a conv reads each channel as in // C
consecutive inputs (the flattening). Pooling, activations and norms keep every unit's paths.

- ``connectivity(masks, shapes)``: per layer, the outputs with no fan-in, the inputs with no
  fan-out, and the units on an input-output path ("alive"); the fraction of the network's inputs
  with a path to the output; the layers with no alive unit ("collapsed": all of them once the
  network is cut) and the layer that cuts it ("cut": the first whose outputs no input reaches,
  else the last whose inputs reach no output; None while a path is left). None when the shapes
  do not chain (a model that is not a plain sequence).
"""
from __future__ import annotations

from rigl_np import backend


def _links(mask):
    """(out, in) bool: unit i feeds unit o through any kernel tap."""
    return mask.reshape(mask.shape[0], mask.shape[1], -1).any(axis=2)


def _to_inputs(units, n_in: int):
    """A previous layer's (C,) output flags spread over this layer's ``n_in`` inputs."""
    return units.repeat(n_in // units.size) if units.size != n_in else units


def _to_units(inputs, n_units: int):
    """This layer's (n_in,) input flags gathered back onto the previous layer's outputs."""
    return inputs.reshape(n_units, -1).any(axis=1) if inputs.size != n_units else inputs


def connectivity(masks: dict, shapes: dict):
    """``{"input_path_fraction", "collapsed": [layers], "cut": layer or None, "layers": {name:
    {"units", "alive", "no_fan_in", "no_fan_out"}}}`` for the sparsifiable layers ``shapes`` (in
    order) under ``masks`` (a layer without a mask is dense); None when the shapes do not
    chain."""
    names = list(shapes)
    xp = backend.array_module(*masks.values()) if masks else backend.xp()
    links = {n: _links(masks[n]) if n in masks else xp.ones(shapes[n][:2], dtype=bool)
             for n in names}
    for prev, name in zip(names, names[1:]):
        n_out, n_in = shapes[prev][0], shapes[name][1]
        if n_in % n_out:
            return None
    # 1. forward: the units some input reaches (every input of the first layer is live)
    reached, live = {}, xp.ones(shapes[names[0]][1], dtype=bool)
    for name in names:
        live = (links[name] & _to_inputs(live, shapes[name][1])[None, :]).any(axis=1)  # (out,)
        reached[name] = live
    # 2. backward: the units that reach some output (every output of the last layer counts)
    reaching, back, cut = {}, xp.ones(shapes[names[-1]][0], dtype=bool), None
    for i in range(len(names) - 1, -1, -1):
        name = names[i]
        reaching[name] = back
        into = (links[name] & back[:, None]).any(axis=0)                              # (in,)
        if cut is None and not bool(into.any()):
            cut = name
        back = _to_units(into, shapes[names[i - 1]][0]) if i else into
    cut = next((n for n in names if not bool(reached[n].any())), cut)
    # 3. per layer: units on a path, and the dangling ones
    layers = {}
    for name in names:
        alive = int(xp.count_nonzero(reached[name] & reaching[name]))
        layers[name] = {"units": int(shapes[name][0]), "alive": alive,
                        "no_fan_in": int(xp.count_nonzero(~links[name].any(axis=1))),
                        "no_fan_out": int(xp.count_nonzero(~links[name].any(axis=0)))}
    return {"input_path_fraction": float(xp.count_nonzero(back)) / back.size,
            "collapsed": [n for n, v in layers.items() if v["alive"] == 0], "cut": cut,
            "layers": layers}
