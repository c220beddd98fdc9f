"""Each method's own options (issue: methods assembled from parts): declared in the method's file,
merged into the CLI, config.json (group ``options``) and validation; ``compare`` gives every cell
only its method's options; config.json files from before the split still load."""
import dataclasses

import pytest

from rigl_np import config, methods
from rigl_np.cli import build_parser, main
from rigl_np.compare import grid
from rigl_np.options import ConfigError

RUN = ["--dataset", "synthetic", "--epochs", "1"]


def _cfgs(*argv):
    return config.from_namespace(build_parser().parse_args(["train", *RUN, *argv]))


def test_a_run_keeps_exactly_its_methods_options():
    cfgs = _cfgs("--method", "srigl", "--gamma-sal", "0.5", "--grad-accumulation", "4")
    assert cfgs["options"] == methods.get("srigl").Options(grad_accumulation=4, gamma_sal=0.5)
    saved = config.to_dict(cfgs)
    assert list(saved) == ["data", "model", "optim", "sparse", "options", "run"]
    assert saved["options"] == {"grad_accumulation": 4, "gamma_sal": 0.5}
    assert "gamma_sal" not in saved["sparse"] and "grad_accumulation" not in saved["sparse"]
    assert config.from_dict(saved) == cfgs
    assert config.to_dict(_cfgs("--method", "snfs"))["options"] == {}


@pytest.mark.parametrize("argv,message", [
    (["--method", "rigl", "--gamma-sal", "0.5"],
     "--gamma-sal is an option of srigl, not of --method rigl; leave it out"),
    (["--method", "static", "--grad-accumulation", "2"],
     "--grad-accumulation is an option of granet, rigl, srigl, not of --method static"),
    (["--method", "srigl", "--gamma-sal", "1.5"], "--gamma-sal must lie in [0, 1], got 1.5"),
    (["--method", "rigl", "--grad-accumulation", "0"], "--grad-accumulation must be at least 1"),
    (["--method", "srigl", "--grad-accumulation", "10", "--delta-t", "10"],
     "--grad-accumulation 10 must be below --delta-t 10"),
])
def test_an_option_the_method_cannot_use_is_refused_with_one_line(capsys, argv, message):
    assert main(["train", *RUN, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_help_names_the_methods_of_each_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--gamma-sal GAMMA_SAL srigl: neuron ablation threshold" in out
    assert "--grad-accumulation GRAD_ACCUMULATION granet, rigl, srigl: batches" in out


def test_compare_gives_each_cell_only_its_methods_options():
    base = config.from_namespace(build_parser().parse_args(["compare", *RUN]), options=False)
    cells = grid(base, ["lenet300"], [("rigl", "erk"), ("srigl", "erk"), ("snfs", "erk")],
                 [0.9], [0], options={"grad_accumulation": 4, "gamma_sal": 0.5})
    by_method = {c["sparse"].method: c["options"] for c in cells}
    assert by_method["rigl"] == methods.get("rigl").Options(grad_accumulation=4)
    assert by_method["srigl"] == methods.get("srigl").Options(grad_accumulation=4, gamma_sal=0.5)
    assert dataclasses.asdict(by_method["snfs"]) == {}


def test_compare_refuses_an_option_no_method_of_the_grid_has(capsys, tmp_path):
    code = main(["compare", *RUN, "--methods", "static,set", "--sparsities", "0.9", "--seeds", "0",
                 "--gamma-sal", "0.5", "--out", str(tmp_path / "grid")])
    err = capsys.readouterr().err
    assert code == 2 and "--gamma-sal is an option of srigl, and none of --methods has it" in err
    assert not (tmp_path / "grid").exists()


@pytest.mark.parametrize("method,options", [("rigl", {"grad_accumulation": 8}),
                                            ("srigl", {"grad_accumulation": 8, "gamma_sal": 0.6}),
                                            ("snfs", {})])
def test_a_config_json_from_before_the_split_still_loads(method, options):
    """Old files kept grad_accumulation and gamma_sal in "sparse" for every method."""
    saved = config.to_dict(_cfgs("--method", method))
    del saved["options"]
    saved["sparse"].update(grad_accumulation=8, gamma_sal=0.6)
    cfgs = config.from_dict(saved)
    assert cfgs["options"] == methods.get(method).Options(**options)    # the rest at defaults
    assert config.upgrade(config.to_dict(cfgs)) == config.to_dict(cfgs)      # today's: as is


def test_options_of_another_method_are_refused_in_a_notebook_too():
    cfgs = {**_cfgs("--method", "rigl"), "options": methods.get("srigl").Options()}
    with pytest.raises(ConfigError, match="not those of --method rigl"):
        config.check_together(cfgs)


def test_two_methods_may_share_an_option_only_with_the_same_type_and_default(monkeypatch):
    @dataclasses.dataclass
    class Clashing:
        gamma_sal: float = 0.9

    class Other(methods.Method):
        Options = Clashing

    monkeypatch.setitem(methods.REGISTRY, "zz-other", Other)
    with pytest.raises(TypeError, match="option 'gamma_sal'"):
        methods.option_fields()
