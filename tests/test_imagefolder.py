"""``dataset.name: imagefolder``: a user's own tree at its own size, decoded once, with true boxes
from a file, and every data error refused before anything is trained or written."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from smoke_helpers import smoke_config
from tree_helpers import write_random_tree

from raycil import run as run_cli
from raycil.config import load_config
from raycil.data import decoded
from raycil.data.export_tree import export_tree
from raycil.data.registry import load_dataset
from raycil.learner.batches import BatchSource
from raycil.models.backbones import build_backbone
from raycil.run import run_experiment
from raycil.sweep import cli as sweep_cli

TIMING = {"train_seconds", "images_per_s"}


def folder(root, **dataset):
    """The smoke experiment's dataset section for the tree at ``root``."""
    return {"name": "imagefolder", "root": str(root), "num_classes": None, "image_size": None, **dataset}


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.slow
def test_a_tree_of_the_generated_images_gives_the_generated_runs_metrics(tmp_path):
    """PNG files of the built-in data, with their boxes in a CSV: the same metrics, phase by
    phase, as the arrays themselves, CIM's box IoUs against the file's boxes included."""
    tree = export_tree(tmp_path / "tree", 6, 20, 10)
    plugin = {"cim": {"boxes": "cim"}}
    arrays = run_experiment(smoke_config(**plugin), None, verbose=False)
    files = run_experiment(smoke_config(dataset=folder(tree, boxes=str(tree / "boxes.csv"),
                                                       cache_dir=str(tmp_path / "cache")), **plugin),
                           None, verbose=False)
    assert files["classes"] == [f"c{k:02d}" for k in np.random.RandomState(1993).permutation(6)]
    for a, b in zip(arrays["phases"], files["phases"], strict=True):
        assert set(a) == set(b)
        assert all(same(a[k], b[k]) for k in set(a) - TIMING), {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert "cim_iou" in files["phases"][-1] and 0 < files["phases"][-1]["cam_iou"] <= 1


def test_jpeg_tree_at_a_configured_side_scales_images_and_boxes(tmp_path):
    tree = write_random_tree(tmp_path / "t", ["b", "a", "c"], 3, (40, 56), ".jpg", test="test")
    (tree / "boxes.csv").write_text("path,x0,y0,x1,y1\n" + "".join(
        f"train/{c}/{i}.jpg,7,10,35,30\n" for c in "abc" for i in range(3)))
    cfg = smoke_config(dataset=folder(tree, image_size=28, boxes=str(tree / "boxes.csv"),
                                      cache_dir=str(tmp_path / "cache")), protocol={"num_phases": 3})
    data = load_dataset(cfg.dataset)
    # one image of each class's three held out for validation, with its box (a training image's)
    assert data.train.images.shape == (6, 28, 28, 3) and data.val.images.shape == (3, 28, 28, 3)
    assert data.test.images.shape == (9, 28, 28, 3) and data.val.boxes is not None
    assert data.image_size == 28 and data.augment == "pad_crop_flip"
    # x scales by 28/56, y by 28/40; the scaled box covers the original
    assert data.train.boxes.tolist()[0] == [3, 7, 18, 21] and data.test.boxes is None
    default = smoke_config(dataset=folder(tree, cache_dir=str(tmp_path / "cache")),
                           protocol={"num_phases": 3})
    assert default.dataset.image_size == 56  # the first image's larger side
    assert type(build_backbone("auto", data.image_size)).__name__ == "SmallImageResNet"


def test_large_trees_train_with_table_s2s_resized_crop(tmp_path):
    tree = write_random_tree(tmp_path / "t", ["a", "b"], 2, (64, 64))
    cfg = smoke_config(dataset=folder(tree, cache_dir=str(tmp_path / "cache"), val_fraction=0),
                       protocol={"num_phases": 2})
    data = load_dataset(cfg.dataset)
    assert data.augment == "resized_crop" and type(build_backbone("auto", 64)).__name__ == "ResNet18"

    def batch(seed: int, train: bool = True) -> torch.Tensor:
        source = BatchSource(data.train.images, data.train.labels, torch.device("cpu"), train,
                             torch.Generator().manual_seed(seed), augment=data.augment)
        return source.take(torch.arange(4))[0]

    assert batch(0).shape == (4, 3, 64, 64) and torch.equal(batch(0), batch(0))
    assert not torch.equal(batch(0), batch(1))
    plain = BatchSource(data.train.images, data.train.labels, torch.device("cpu"), False,
                        torch.Generator(), cam=True, augment=data.augment).take(torch.arange(4))[0]
    assert not torch.equal(batch(0, train=False), plain)  # evaluation: Table S2's centre crop


def test_the_tree_is_decoded_once_and_again_when_a_file_changes(tmp_path, monkeypatch):
    tree = write_random_tree(tmp_path / "t", ["a", "b"], 2, (20, 20))
    cache = tmp_path / "cache"
    first = decoded.decoded_split(tree, ["train/a/0.png", "train/b/1.png"], 20, cache)[0]
    assert len(list(cache.glob("*.npy"))) == 2  # images + original sizes

    def refuse(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(decoded, "decode_square", refuse)
    again = decoded.decoded_split(tree, ["train/a/0.png", "train/b/1.png"], 20, cache)[0]
    assert np.array_equal(first, again)
    os.utime(tree / "train/a/0.png", ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        decoded.decoded_split(tree, ["train/a/0.png", "train/b/1.png"], 20, cache)


def last_error(stderr: str, prog: str) -> str:
    """The one error line, last on stderr (after at most the decoding notice)."""
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith(f"{prog}: error: "), stderr
    assert all(line.startswith("raycil: decoding ") for line in lines[:-1]), stderr
    return lines[-1]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _spoil(tree, what):
    """Each data error of the issue, made on a good 3-class tree; returns extra dataset keys."""
    if what == "no class folders":
        for d in (tree / "train").iterdir():
            for f in d.iterdir():
                f.unlink()
            d.rmdir()
    elif what == "empty class":
        for f in (tree / "val" / "b").iterdir():
            f.unlink()
    elif what == "val-only class":
        (tree / "val" / "zebra").mkdir()
        (tree / "val" / "a" / "0.png").rename(tree / "val" / "zebra" / "0.png")
    elif what == "truncated png":
        _truncate(tree / "train" / "b" / "1.png")
    elif what == "not an image":
        (tree / "train" / "c" / "0.png").write_text("hello")
    elif what == "no val folder":
        for f in (tree / "val").rglob("*.png"):
            f.unlink()
        for d in sorted((tree / "val").rglob("*"), reverse=True):
            d.rmdir()
        (tree / "val").rmdir()
    elif what == "missing box":
        (tree / "boxes.csv").write_text("path,x0,y0,x1,y1\ntrain/a/0.png,0,0,4,4\n")
        return {"boxes": str(tree / "boxes.csv")}
    elif what == "stray box":
        rows = "".join(f"train/{c}/{i}.png,0,0,4,4\n" for c in "abc" for i in range(2))
        (tree / "boxes.csv").write_text("path,x0,y0,x1,y1\n" + rows + "train/a/9.png,0,0,4,4\n")
        return {"boxes": str(tree / "boxes.csv")}
    elif what == "box outside":
        rows = "".join(f"train/{c}/{i}.png,0,0,{40 if c == 'c' else 4},4\n" for c in "abc" for i in range(2))
        (tree / "boxes.csv").write_text("path,x0,y0,x1,y1\n" + rows)
        return {"boxes": str(tree / "boxes.csv")}
    elif what == "bad box header":
        (tree / "boxes.csv").write_text("file,left,top,right,bottom\n")
        return {"boxes": str(tree / "boxes.csv")}
    elif what == "class order length":
        return {"class_order": [0, 1]}
    elif what == "class order name":
        return {"class_order": ["a", "b", "dog"]}
    elif what == "class count":
        return {"num_classes": 10}
    elif what == "imagenet100 on a small tree":
        return {"name": "imagenet100"}
    return {}


DATA_ERRORS = [
    ("no class folders", [], r"holds no class folders"),
    ("empty class", [], r"class 'b' has no image in '.*val'"),
    ("val-only class", [], r"class folder '.*zebra' is not in"),
    ("truncated png", [], r"cannot decode image '.*train/b/1.png' \(unreadable or truncated"),
    ("not an image", [], r"cannot decode image '.*train/c/0.png'"),
    ("no val folder", [], r"has no val/ or test/ folder"),
    ("missing box", [], r"no box for 5 of 6 training images \(first: 'train/a/1.png'\)"),
    ("stray box", [], r"names 'train/a/9.png', which is not an image of the tree"),
    ("box outside", [], r"the box of 'train/c/0.png' \(0, 0, 40, 4\) leaves its 16x16 image"),
    ("bad box header", [], r"must have the header path,x0,y0,x1,y1"),
    ("class order length", [], r"class_order must be a permutation of 0..2"),
    ("class order name", [], r"class_order: 'dog' is not a class of the tree"),
    ("class count", [], r"num_classes: 10 given, but the tree .* has 3 classes"),
    ("more phases than classes", ["protocol.num_phases=5"], r"protocol.num_phases: 3 classes do not split"),
    ("custom does not fit", ["protocol.kind=custom", "protocol.first=2", "protocol.increment=2"],
     r"protocol: first=2, increment=2 do not tile 3 classes"),
    ("imagenet100 on a small tree", [],
     r"imagenet100 needs 100 synset folders .* use dataset.name: imagefolder"),
]


@pytest.mark.parametrize("what,overrides,message", DATA_ERRORS, ids=[e[0] for e in DATA_ERRORS])
def test_every_data_error_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, what, overrides, message):
    tree = write_random_tree(tmp_path / "tree", ["a", "b", "c"], 2, (16, 16))
    extra = _spoil(tree, what)
    dataset = {"name": "imagefolder", "root": str(tree), **extra}
    if dataset["name"] == "imagefolder":
        dataset["cache_dir"] = str(tmp_path / "cache")
    config = tmp_path / "exp.yaml"
    config.write_text(json.dumps({"dataset": dataset, "protocol": {"num_phases": 3},
                                  "train": {"epochs_first": 1, "epochs": 1}}))
    out = tmp_path / "out"
    sets = [a for o in overrides for a in ("--set", o)]
    assert run_cli.main([str(config), "--out", str(out), *sets]) == 2
    err = last_error(capsys.readouterr().err, "raycil.run")
    assert re.search(message, err), err
    assert not out.exists()


def test_a_sweep_refuses_a_bad_image_before_ray_starts(tmp_path, capsys):
    tree = write_random_tree(tmp_path / "tree", ["a", "b"], 2, (16, 16))
    _truncate(tree / "val" / "a" / "1.png")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(json.dumps({
        "name": "bad_tree", "storage_path": str(tmp_path / "runs"), "seeds": [0],
        "experiment": {"dataset": {"name": "imagefolder", "root": str(tree),
                                   "cache_dir": str(tmp_path / "c")},
                       "protocol": {"num_phases": 2}}}))
    assert sweep_cli.main([str(sweep), "--no-dashboard"]) == 2
    err = last_error(capsys.readouterr().err, "raycil.sweep")
    assert "val/a/1.png" in err and "truncated" in err, err
    assert not (tmp_path / "runs").exists()


def test_naming_another_dataset_replaces_the_dataset_section(tmp_path, monkeypatch):
    """configs/icarl.yaml sets the generated data's 20 classes: a file extending it, or --set
    dataset.name, with a tree takes the tree's classes instead of refusing the inherited count."""
    monkeypatch.chdir(tmp_path)
    export_tree(tmp_path / "data" / "shapes10", 10, 2, 1)
    repo = Path(__file__).resolve().parents[1]
    example = load_config(repo / "examples" / "own_data.yaml")
    assert (example.dataset.name, example.num_classes, example.dataset.boxes) == (
        "imagefolder", 10, "data/shapes10/boxes.csv")
    overridden = load_config(repo / "configs" / "icarl.yaml", None,
                             ["dataset.root=data/shapes10", "dataset.name=imagefolder"])
    assert (overridden.num_classes, overridden.dataset.image_size) == (10, 32)
    assert overridden.method.name == "icarl"
    same_data = load_config(repo / "configs" / "icarl.yaml", None, ["dataset.name=synthetic"])
    assert same_data.num_classes == 20  # the same dataset named again keeps its section
