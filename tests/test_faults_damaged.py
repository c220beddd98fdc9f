"""Damage that is bad input, never our bug: a run folder whose checkpoint, config.json or other
files are valid zip or JSON but wrong inside, or are not files at all (rigl_np.reading,
checkpoint, runcheck, runfolder). Every case: exit 2, one line naming the file, files unchanged;
a FIFO never hangs the command.
"""
import json
import os

import numpy as np
import pytest

from test_faults_common import (TOKENIZER, assert_clean, assert_unchanged,  # noqa: F401
                                bad_npy_header, copy_run, edit_checkpoint, edit_json, edit_meta,
                                finished, outcome, patch_zip, python_m, snapshot)


def _zip(field, value):
    return lambda run: patch_zip(run / "checkpoint.npz", field, value)


def _state(**fields):
    return edit_checkpoint(edit_meta(lambda m: m["state"].update(fields)))


def _epoch(index, **fields):
    return edit_checkpoint(edit_meta(lambda m: m["state"]["history"][index].update(fields)))


def _epoch_without(key):
    return edit_checkpoint(edit_meta(lambda m: m["state"]["history"][0].pop(key)))


CHECKPOINT = {
    "a member compressed by a method zip cannot read": (_zip("method", 99),
                                                        "That compression method is not supported"),
    "a member compressed by deflate64": (_zip("method", 9), "compression method is not supported"),
    "an encrypted member": (_zip("flags", 1), "is encrypted"),
    "a newer zip version": (_zip("version", 127), "zip file version 12.7"),
    "a .npy header the tokenizer cannot read": (
        lambda run: bad_npy_header(run / "checkpoint.npz", "param/fc1.bias", TOKENIZER),
        "checkpoint.npz is damaged (TokenError"),
    "an epoch record without seconds": (_epoch_without("seconds"), "training-state history"),
    "an epoch record without lr": (_epoch_without("lr"), "training-state history"),
    "a text loss in an epoch record": (_epoch(0, train_loss="low"), "training-state history"),
    "an accuracy of 3 in an epoch record": (_epoch(1, test_accuracy=3.0),
                                            "training-state history"),
    "epochs recorded out of order": (_epoch(0, epoch=2), "training-state history"),
    "a negative time in an epoch record": (_epoch(0, seconds=-5.0), "training-state history"),
    "a text loss sum": (_state(loss_sum="x"), "training-state loss_sum is 'x'"),
    "an infinite loss sum": (_state(loss_sum=float("inf")), "training-state loss_sum is inf"),
    "a text learning rate": (_state(lr="fast"), "training-state lr is 'fast'"),
    "10**30 correct answers": (_state(correct=10**30), "training-state correct"),
    "a negative epoch time": (_state(seconds=-1.0), "training-state seconds is -1.0"),
}


@pytest.mark.parametrize("case", CHECKPOINT)
def test_a_checkpoint_damaged_inside_is_bad_input(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    damage, phrase = CHECKPOINT[case]
    damage(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, "checkpoint.npz", phrase)
    assert_unchanged(before, run)


# --- config.json changed outside rigl_np -----------------------------------------------------

def test_a_learning_rate_edited_by_hand_is_refused_not_used(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    edit_json("config.json", lambda c: c["optim"].update(lr=0.5))(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, "config.json was changed after the checkpoint was written",
                 "optim.lr: 0.05 when it was written, 0.5 now", "--resume DIR --lr X")
    assert_unchanged(before, run)


def _change(**entry):
    base = {"step": 20, "option": "lr", "from": 0.05, "to": 0.05}
    return edit_json("config.json", lambda c: c.update(changes=[{**base, **entry}]))


CHANGES = {
    "another option": (_change(option="momentum"), "changes 'momentum'; a resume changes only lr"),
    "a negative step": (_change(step=-3), "has step -3"),
    "a text step": (_change(step="ten"), "has step 'ten'"),
    "a text rate": (_change(to="fast"), "from and to must be positive learning rates"),
    "a zero rate": (_change(**{"from": 0.0}), "from and to must be positive learning rates"),
    "a last rate that is not the run's": (_change(to=0.01), "the last sets lr 0.01, but the "
                                          "run's lr is 0.05"),
    "an extra key": (edit_json("config.json", lambda c: c.update(changes=[
        {"step": 2, "option": "lr", "from": 0.05, "to": 0.05, "why": "x"}])), "entry 0 must be"),
    "steps going back": (edit_json("config.json", lambda c: c.update(changes=[
        {"step": 9, "option": "lr", "from": 0.05, "to": 0.1},
        {"step": 4, "option": "lr", "from": 0.1, "to": 0.05}])), "entry 1 has step 4"),
    "a chain that does not join": (edit_json("config.json", lambda c: c.update(changes=[
        {"step": 2, "option": "lr", "from": 0.05, "to": 0.1},
        {"step": 4, "option": "lr", "from": 0.2, "to": 0.05}])), "but the one before set 0.1"),
}


@pytest.mark.parametrize("case", CHANGES)
def test_nonsense_changes_are_refused(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    damage, phrase = CHANGES[case]
    damage(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, "config.json: 'changes'", phrase)
    assert_unchanged(before, run)


def test_plot_refuses_a_run_with_nonsense_changes(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run")
    _change(option="epochs")(run)
    before = snapshot(run)
    code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, "config.json: 'changes'", "a resume changes only lr")
    assert_unchanged(before, run)


# --- not a file: a FIFO where a run file should be ---------------------------------------------

FIFOS = {
    "metrics.json, plot": ("metrics.json", lambda run: ["plot", run]),
    "config.json, plot": ("config.json", lambda run: ["plot", run]),
    "masks.npz, plot": ("masks.npz", lambda run: ["plot", run]),
    "config.json, --resume": ("config.json", lambda run: ["train", "--resume", run]),
    "checkpoint.npz, --resume": ("checkpoint.npz", lambda run: ["train", "--resume", run]),
}


@pytest.mark.parametrize("case", FIFOS)
def test_a_fifo_in_a_run_folder_is_refused_without_hanging(tmp_path, finished, case):
    name, argv = FIFOS[case]
    run = copy_run(finished, tmp_path / "run", stopped="resume" in case)
    (run / name).unlink()
    os.mkfifo(run / name)
    proc = python_m(*argv(run))
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert_clean(proc.returncode, err, 2, f"{name} is a named pipe (FIFO), not a regular file")


def test_a_fifo_named_results_csv_is_refused_without_hanging(tmp_path, finished):
    out = tmp_path / "grid"
    (out / "runs").mkdir(parents=True)
    copy_run(finished, out / "runs" / "lenet300-rigl-erk-0.8-seed0")
    os.mkfifo(out / "results.csv")
    proc = python_m("plot", out)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert_clean(proc.returncode, err, 2, "results.csv is a named pipe (FIFO)")


def test_a_json_file_nested_past_the_parser_is_damaged_not_a_bug(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run")
    (run / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, "metrics.json is not valid JSON (RecursionError")


def test_a_checkpoint_is_opened_by_name_once(tmp_path, capsys, finished, monkeypatch):
    """The checkpoint is opened once and read from that open file: a checkpoint swapped for a
    FIFO between its checks and its reading cannot hang the resume."""
    import rigl_np.viz

    monkeypatch.setattr(rigl_np.viz, "plot_runs", lambda *args, **kwargs: [])   # not tested here
    run = copy_run(finished, tmp_path / "run", stopped=True)
    loaded, real = [], np.load
    monkeypatch.setattr(np, "load", lambda f, *a, **k: (loaded.append(f), real(f, *a, **k))[1])
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert code == 0, err
    assert loaded and not any(isinstance(f, (str, os.PathLike)) for f in loaded)
    assert json.loads((run / "metrics.json").read_text())["history"]


@pytest.mark.parametrize("group,key,value", [("optim", "lr", 0.5), ("sparse", "delta_t", 8),
                                             ("run", "checkpoint_every", 7)])
def test_plot_refuses_a_finished_runs_config_edited_by_hand(tmp_path, capsys, finished, group,
                                                            key, value):
    run = copy_run(finished, tmp_path / "run")
    edit_json("config.json", lambda c: c[group].update({key: value}))(run)
    before = snapshot(run)
    code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, "config.json was changed after the checkpoint was written",
                 f"{group}.{key}")
    assert_unchanged(before, run)
