"""``verify`` dispatches through the method registry: the methods it checks are the registered ones
that declare a ``Verification``, each reproduced by the family of its mask structure, so a new
method is checked with no change to ``rigl_np/verify``; any other method in a file is bad input."""
import math
from pathlib import Path

import numpy as np
import pytest

from rigl_np.masks import Unstructured
from rigl_np.methods.base import REGISTRY, Method, Verification
from rigl_np.rigl import rigl_score, rigl_update
from rigl_np.verify import main, save_update, verify_paths
from rigl_np.verify.families import FAMILIES, family_of, verifiable
from rigl_np.verify.families.drop_grow import DropGrow
from rigl_np.verify.families.fan_in import FanIn

DOC = Path(__file__).resolve().parent.parent / "docs" / "verify.md"


def layer(seed=0, shape=(20, 30)):
    rng = np.random.default_rng(seed)
    m = rng.random(shape) < 0.2
    w = (rng.standard_normal(shape) * m).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return w, m, g


def test_verify_checks_the_registrys_verifiable_methods():
    declared = sorted(n for n, c in REGISTRY.items() if c.verification is not None)
    assert list(verifiable()) == declared
    assert {"rigl", "set", "snfs", "srigl"} <= set(declared)
    assert not {"dense", "small-dense", "static", "pruning"} & set(declared)
    assert {type(f) for _, f in FAMILIES} == {DropGrow, FanIn}
    assert isinstance(family_of(REGISTRY["srigl"]), FanIn)
    assert isinstance(family_of(REGISTRY["set"]), DropGrow)


def test_help_and_docs_list_the_verifiable_methods(capsys):
    with pytest.raises(SystemExit):
        main.main(["--help"])
    out = capsys.readouterr().out
    method_line = next(line for line in out.splitlines() if line.strip().startswith("method "))
    assert all(name in method_line for name in verifiable())
    doc_line = next(line for line in DOC.read_text().splitlines() if line.startswith("| `method`"))
    assert all(f"`{name}`" in doc_line for name in verifiable())


@pytest.fixture
def new_method():
    """A method declared here, registered only for the test."""
    class GradGrower(Method):
        name = "test-grad-grower"
        structure = Unstructured()
        verification = Verification("grad", "the dense gradient it grows by", rigl_score)
    try:
        yield GradGrower
    finally:
        REGISTRY.pop(GradGrower.name, None)


def test_a_new_method_is_verified_with_no_change_to_verify(tmp_path, new_method, capsys):
    w, m, g = layer()
    n = int(m.sum())
    right = rigl_update(w, m, g, 0.3)
    ceil = rigl_update(w, m, g, (math.ceil(0.3 * n) + 0.5) / n)          # k = ceil(f * n)
    for name, new in (("right", right.mask), ("ceil", ceil.mask)):
        save_update(tmp_path / f"{name}.npz", method=new_method.name, weight=w, mask=m, grad=g,
                    drop_fraction=0.3, new_mask=new)
    results, errors, _ = verify_paths([tmp_path])
    assert not errors
    assert [(r.method, r.verdict, r.causes) for r in results] == [
        (new_method.name, "explained", ["k_rounding"]), (new_method.name, "identical", [])]
    with pytest.raises(SystemExit):
        main.main(["--help"])
    assert new_method.name in capsys.readouterr().out


@pytest.mark.parametrize("name", ["dense", "pruning", "no-such-method"])
def test_a_method_verify_cannot_check_is_bad_input(tmp_path, capsys, name):
    w, m, g = layer()
    path = save_update(tmp_path / "u.npz", method=name, weight=w, mask=m, grad=g,
                       drop_fraction=0.3, new_mask=rigl_update(w, m, g, 0.3).mask)
    code = main.main([str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and repr(name) in err
    assert all(checked in err for checked in verifiable())


def test_a_structure_without_a_family_is_not_verifiable():
    class Elsewhere:
        """A structure verify has no family for."""

    class Odd(Method):
        name = "test-odd-structure"
        structure = Elsewhere()
        verification = Verification("grad", "the dense gradient", rigl_score)
    try:
        assert Odd.name not in verifiable()
        assert family_of(Odd) is None
    finally:
        REGISTRY.pop(Odd.name, None)
