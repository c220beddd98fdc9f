"""``plot`` on run files that are valid JSON or zip but wrong inside (rigl_np.runcheck,
runfolder.read_finished): every count and size is bounded before a figure is sized by it, and
config.json, metrics.json and masks.npz must agree. Exit 2, one line naming the folder or file,
no figure drawn, no hang and no out-of-memory.
"""
import numpy as np
import pytest

from test_faults_common import (assert_clean, assert_unchanged, bad_npy_header,  # noqa: F401
                                copy_run, edit_json, edit_npz, finished, outcome, snapshot, within)


def _metrics(edit):
    return edit_json("metrics.json", edit)


def _set(key, value):
    return _metrics(lambda m: m.update({key: value}))


def _update(index, **fields):
    return _metrics(lambda m: m["mask_updates"][index].update(fields))


def _masks(edit):
    return edit_npz("masks.npz", edit)


def _rename_layer(arrays):
    for key in [k for k in arrays if k.startswith("fc1.weight@")]:
        arrays[key.replace("fc1.weight", "zz.weight")] = arrays.pop(key)


def _drop_step(step):
    return _masks(lambda a: [a.pop(k) for k in list(a) if k.endswith(f"@{step}")])


PLOTS = {
    "method facts that are text": (_set("method", "rigl"), "damaged method"),
    "method facts missing some": (_set("method", {"has_masks": True}), "damaged method"),
    "total_steps 10**10": (_set("total_steps", 10**10), "total_steps 10000000000 is not 2 epochs"),
    "total_steps 0": (_set("total_steps", 0), "damaged total_steps"),
    "a 10**12-pixel image": (_set("input_shape", [1, 10**6, 10**6]), "damaged input_shape"),
    "an image shape of no dimensions": (_set("input_shape", []), "damaged input_shape"),
    "a 3-channel image for synthetic": (_set("input_shape", [3, 28, 28]),
                                        "input_shape [3, 28, 28] is not synthetic's"),
    "0 classes": (_set("num_classes", 0), "damaged num_classes"),
    "10**9 classes": (_set("num_classes", 10**9), "damaged num_classes"),
    "an accuracy of 1.5": (_set("test_accuracy", 1.5), "damaged test_accuracy"),
    "a density of -1": (_set("global_density", -1), "damaged global_density"),
    "an empty history": (_set("history", []), "history has 0 epochs, config.json 2"),
    "layer densities of another model": (_set("layer_density", {"x.weight": 0.5}),
                                         "layer_density names layers that lenet300 does not have"),
    "an update record of text": (_metrics(lambda m: m["mask_updates"][0]["layers"].update(
        {"fc1.weight": "x"})), "damaged mask_updates"),
    "an update without its turnover": (_metrics(lambda m: m["mask_updates"][0].pop("turnover")),
                                       "damaged mask_updates"),
    "an update with a text drop fraction": (_update(0, drop_fraction="x"), "damaged mask_updates"),
    "an update of no layers": (_update(0, layers={}), "damaged mask_updates"),
    "updates naming different layers": (_metrics(lambda m: m["mask_updates"][1]["layers"].pop(
        "fc1.weight")), "damaged mask_updates"),
    "an update at step 0": (_update(0, step=0), "damaged mask_updates"),
    "an update past the last step": (_update(-1, step=10**6), "mask_updates has steps beyond"),
    "masks without the first snapshot": (_drop_step(0), "masks.npz has no snapshot at step 0"),
    "masks of a layer the run does not have": (_masks(_rename_layer),
                                              "masks.npz does not hold the same layers"),
    "masks of a 1-D shape": (_masks(lambda a: a.update({"fc1.weight@shape": np.array([235200])})),
                             "masks.npz holds masks of shapes lenet300's weights do not have"),
    "masks of a 3-D shape": (_masks(lambda a: a.update(
        {"fc1.weight@shape": np.array([300, 28, 28])})), "masks of shapes"),
    "a mask snapshot declaring 10**12 bytes": (lambda run: bad_npy_header(
        run / "masks.npz", "fc1.weight@0",
        b"{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000,), }\n"),
        "fc1.weight@0's size is 1000000000000"),
    "config.json of another model": (edit_json("config.json", lambda c: c["model"].update(
        model="lenet5")), "lenet5"),
    "config.json of other epochs": (edit_json("config.json", lambda c: c["optim"].update(
        epochs=3)), "optim.epochs: 2 when it was written, 3 now"),
}


@pytest.mark.parametrize("case", PLOTS)
def test_plot_of_a_run_file_wrong_inside_is_one_line(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run")
    damage, phrase = PLOTS[case]
    damage(run)
    before = snapshot(run)
    with within(120):
        code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, str(run), phrase)
    assert_unchanged(before, run)
    assert not list(run.glob("*.png"))
