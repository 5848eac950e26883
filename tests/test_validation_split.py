"""The validation split: held out of every dataset kind, never in a training batch or the memory,
the same for every trial seed, and reported beside the test metrics."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
from smoke_helpers import smoke_config
from tree_helpers import write_random_tree

from raycil.data.config import DatasetConfig
from raycil.data.imageset import decoded
from raycil.data.registry import load_dataset
from raycil.data.validation import held_out_count, validation_indices
from raycil.learner.learner import Learner
from raycil.learner.phases import run_phases
from raycil.plugins.assembly import make_learner, make_memory


def digests(images) -> set[str]:
    return {hashlib.sha1(np.ascontiguousarray(im).tobytes()).hexdigest() for im in decoded(images)}


def folder(root, **extra) -> dict:
    return {"name": "imagefolder", "root": str(root), "num_classes": None, "image_size": None,
            "cache_dir": str(root.parent / "cache"), **extra}


def write_cifar(root, per_class: int = 10, classes: int = 100) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        labels = np.repeat(np.arange(classes), per_class if split == "train" else 2)
        data = rng.integers(0, 255, (len(labels), 3 * 32 * 32), dtype=np.uint8)
        with open(folder / split, "wb") as fh:
            pickle.dump({"data": data, "fine_labels": labels.tolist()}, fh)


def dataset_kinds(tmp_path) -> dict[str, dict]:
    """One dataset section of each kind that holds out or draws its validation images."""
    write_cifar(tmp_path / "cifar")
    return {
        "synthetic": {"name": "synthetic", "num_classes": 4, "image_size": 16, "train_per_class": 20,
                      "test_per_class": 4},
        "tree train+test": folder(write_random_tree(tmp_path / "tt", ["a", "b", "c"], 10, (16, 16),
                                                    test="test")),
        "tree train+val+test": folder(write_random_tree(
            write_random_tree(tmp_path / "tvt", ["a", "b"], 6, (16, 16), test="test", seed=1), ["a", "b"], 3,
            (16, 16), test="val", seed=2)),
        "cifar100": {"name": "cifar100", "root": str(tmp_path / "cifar")},
    }


def test_every_dataset_kind_has_a_validation_split_disjoint_from_training(tmp_path):
    for kind, section in dataset_kinds(tmp_path).items():
        data = load_dataset(DatasetConfig.model_validate(section))
        assert len(data.val) > 0, kind
        assert not digests(data.val.images) & digests(data.train.images), kind
        assert sorted(set(data.val.labels)) == sorted(set(data.train.labels)), kind  # every class


def test_a_trees_own_val_folder_is_the_validation_split_and_test_stays_the_test(tmp_path):
    root = write_random_tree(tmp_path / "t", ["a", "b"], 6, (16, 16), test="test", seed=1)
    write_random_tree(root, ["a", "b"], 3, (16, 16), test="val", seed=2)  # (rewrites train/ the same)
    data = load_dataset(DatasetConfig.model_validate(folder(root)))
    assert (len(data.train), len(data.val), len(data.test)) == (12, 6, 12)
    # a tree with val/ only: val/ is its test set (ImageNet's layout), validation comes from train/
    only = write_random_tree(tmp_path / "v", ["a", "b"], 10, (16, 16), test="val")
    data = load_dataset(DatasetConfig.model_validate(folder(only)))
    assert (len(data.train), len(data.val), len(data.test)) == (18, 2, 20)


def test_the_split_depends_on_the_data_not_on_the_trial_seed_or_class_order(tmp_path):
    section = dataset_kinds(tmp_path)["tree train+test"]
    runs = [smoke_config(seed=s, dataset={**section, "class_order_seed": o})
            for s, o in ((0, 1993), (7, 1993), (0, 5))]
    vals = [digests(load_dataset(c.dataset).val.images) for c in runs]
    assert vals[0] == vals[1] == vals[2]
    other = smoke_config(dataset={**section, "data_seed": 3})  # the data's own seed draws another split
    assert digests(load_dataset(other.dataset).val.images) != vals[0]


def test_held_out_counts_and_the_generated_training_set_stays_as_drawn():
    assert [held_out_count(n, 0.1) for n in (1, 2, 10, 25, 100)] == [0, 1, 1, 2, 10]
    assert held_out_count(50, 0.0) == 0
    labels = np.repeat(np.arange(3), 10)
    assert len(validation_indices(labels, 0.2, 0)) == 6
    base = {"name": "synthetic", "num_classes": 4, "image_size": 16, "train_per_class": 20,
            "test_per_class": 4}
    with_val = load_dataset(DatasetConfig.model_validate(base))
    without = load_dataset(DatasetConfig.model_validate({**base, "val_fraction": 0}))
    assert np.array_equal(with_val.train.images, without.train.images) and len(without.val) == 0
    assert len(with_val.val) == 4 * 2


def test_a_disjoint_class_set_of_the_generated_data_shares_no_object(tmp_path):
    base = {"name": "synthetic", "num_classes": 4, "image_size": 16, "train_per_class": 4,
            "test_per_class": 2}
    wide = load_dataset(DatasetConfig.model_validate({**base, "num_classes": 8,
                                                      "class_order": list(range(8))}))
    upper = load_dataset(DatasetConfig.model_validate({**base, "class_offset": 4,
                                                       "class_order": [0, 1, 2, 3]}))
    # label c of the offset data is class 4 + c of the wider data, image for image
    assert np.array_equal(upper.train.images, wide.train.of_classes(range(4, 8)).images)
    with pytest.raises(ValueError, match="class_offset: only dataset 'synthetic'"):
        DatasetConfig.model_validate({"name": "cifar100", "root": str(tmp_path), "class_offset": 3})


@pytest.mark.parametrize("kind", ["synthetic", "tree train+test"])
def test_no_validation_image_is_trained_on_or_kept_in_memory(tmp_path, monkeypatch, kind):
    section = dataset_kinds(tmp_path)[kind]
    cfg = smoke_config(dataset=section, method={"name": "icarl"},
                       protocol={"num_phases": 2 if kind == "synthetic" else 3}, memory={"budget": 8})
    seen: set[str] = set()
    original = Learner.batches

    def recording(self, images, labels, train, cam=False):
        if train:
            seen.update(digests(images))
        return original(self, images, labels, train, cam)

    monkeypatch.setattr(Learner, "batches", recording)
    learner, memory = make_learner(cfg), make_memory(cfg)
    result = run_phases(cfg, learner, memory)
    val = digests(load_dataset(cfg.dataset).val.images)
    assert seen and not seen & val
    exemplars, _ = memory.exemplars()
    assert len(exemplars) and not digests(exemplars) & val
    last = result["phases"][-1]
    assert 0 <= last["val_top1"] <= 100 and "val_avg_inc_acc" in result["summary"]
