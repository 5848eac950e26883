import pickle

import cv2
import numpy as np
import pytest

from raycil.data import files, generated, synthetic
from raycil.data.protocol import ProtocolConfig, class_order, phase_contexts, phase_sizes, remap_labels

generate_unpatched = synthetic.generate


def test_default_class_order_is_numpy_seed_1993():
    np.random.seed(1993)
    expected = np.random.permutation(100)
    assert class_order(100).tolist() == expected.tolist()


def test_remapped_labels_put_the_first_classes_of_the_order_in_phase_one():
    order = class_order(10)
    labels = remap_labels(order[:3], order)
    assert labels.tolist() == [0, 1, 2]


def test_imagenet100_subset_is_the_seed_1993_permutation_of_sorted_synsets():
    synsets = [f"n{i:08d}" for i in range(1000)]
    np.random.seed(1993)
    expected = sorted(sorted(synsets)[i] for i in np.random.permutation(1000)[:100])
    assert files.imagenet100_synsets(list(reversed(synsets))) == expected


@pytest.mark.parametrize(
    "protocol, classes, sizes",
    [
        ({"kind": "lfs", "num_phases": 5}, 100, [20] * 5),
        ({"kind": "lfh", "num_phases": 5}, 100, [50] + [10] * 5),
        ({"kind": "lfh", "num_phases": 10}, 100, [50] + [5] * 10),
        ({"kind": "custom", "first": 4, "increment": 2}, 10, [4, 2, 2, 2]),
    ],
)
def test_phase_sizes(protocol, classes, sizes):
    got = phase_sizes(ProtocolConfig(**protocol), classes)
    assert got == sizes
    contexts = phase_contexts(ProtocolConfig(**protocol), classes)
    assert [len(c.new_classes) for c in contexts] == sizes
    assert [c.known for c in contexts] == [sum(sizes[:i]) for i in range(len(sizes))]
    assert contexts[0].is_first and contexts[-1].total == classes


def test_uneven_split_is_an_error():
    with pytest.raises(ValueError, match="protocol.num_phases"):
        phase_sizes(ProtocolConfig(kind="lfs", num_phases=3), 10)


def test_generated_data_is_deterministic_with_boxes_around_the_object():
    a = synthetic.generate(5, 4, 32, data_seed=7, split="train")
    b = synthetic.generate(5, 4, 32, data_seed=7, split="train")
    c = synthetic.generate(5, 4, 32, data_seed=8, split="train")
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert not (a[0] == c[0]).all()
    images, labels, boxes = a
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == np.repeat(np.arange(5), 4).tolist()
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    assert (boxes >= 0).all() and (boxes <= 32).all()
    # the box area is a real share of the image: objects are neither dots nor the whole frame
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / 32**2
    assert 0.03 < area.min() and area.max() < 0.9


def test_generated_data_is_drawn_once_and_read_back_identical(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(synthetic, "generate", lambda *a: drawn.append(a) or generate_unpatched(*a))
    first = generated.generated_split(5, 4, 32, 7, "train", str(tmp_path))
    second = generated.generated_split(5, 4, 32, 7, "train", str(tmp_path))
    other_seed = generated.generated_split(5, 4, 32, 8, "train", str(tmp_path))
    assert len(drawn) == 2  # the second call read the cache; another seed is another file
    reference = generate_unpatched(5, 4, 32, 7, "train")
    for got in (first, second):
        assert all(np.array_equal(x, y) for x, y in zip(got, reference, strict=True))
    assert not np.array_equal(other_seed[0], reference[0])
    assert sorted(p.name.count(".tmp") for p in tmp_path.iterdir()) == [0, 0, 0, 0]  # no temporary left


def test_a_torn_or_unwritable_generated_cache_is_drawn_again(tmp_path):
    reference = generate_unpatched(3, 2, 16, 0, "test")
    generated.generated_split(3, 2, 16, 0, "test", str(tmp_path))
    (images_file,) = [p for p in tmp_path.iterdir() if not p.name.endswith(".boxes.npy")]
    images_file.write_bytes(images_file.read_bytes()[:200])  # torn by a full disk
    again = generated.generated_split(3, 2, 16, 0, "test", str(tmp_path))
    assert all(np.array_equal(x, y) for x, y in zip(again, reference, strict=True))
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    in_memory = generated.generated_split(3, 2, 16, 0, "test", str(blocked / "cache"))
    assert all(np.array_equal(x, y) for x, y in zip(in_memory, reference, strict=True))


def test_generated_classes_are_distinct_combinations_up_to_100_and_beyond():
    attrs = synthetic.class_attributes()
    assert len(set(attrs[:100])) == 100 and synthetic.MAX_CLASSES >= 100
    images, labels, _ = synthetic.generate(100, 1, 64, 0, "test")
    assert images.shape == (100, 64, 64, 3)


def test_cifar100_from_local_pickles(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 4)):
        data = rng.integers(0, 255, (n, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / split, "wb") as fh:
            pickle.dump({"data": data, "fine_labels": list(range(n))}, fh)
    train, val, test = files.load_cifar100(str(tmp_path))  # validation: held out later (registry)
    assert train.images.shape == (6, 32, 32, 3) and val is None and test.labels.tolist() == [0, 1, 2, 3]


def _write_images(folder, n, colour, suffix=".png"):
    folder.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}{suffix}"), np.full((9, 7, 3), colour, np.uint8))


def test_imagenet_and_food101_layouts(tmp_path):
    synsets = [f"n{k:03d}" for k in range(100)]
    for split in ("train", "val"):
        for k, synset in enumerate(reversed(synsets)):
            _write_images(tmp_path / "inet" / split / synset, 1 + (k == 99), 40 * (k == 99))
    train, val, test = files.load_imagenet(str(tmp_path / "inet"), subset_100=True)  # val/ is the test set
    assert len(val) == 0 and len(test) == 101
    assert len(train) == 101 and train.labels.tolist()[:3] == [0, 0, 1]   # sorted synsets: n000 first
    assert train.images[0].shape == (9, 7, 3) and train.images[0][0, 0, 0] == 40
    with pytest.raises(ValueError, match="imagenet1000 needs 1000 synset folders .*name: imagefolder"):
        files.load_imagenet(str(tmp_path / "inet"), subset_100=False)

    food = tmp_path / "food"
    for cls in ("apple_pie", "bibimbap"):
        _write_images(food / "images" / cls, 3, 10, ".jpg")
    (food / "meta").mkdir()
    (food / "meta" / "train.txt").write_text("apple_pie/0\napple_pie/1\nbibimbap/0\n")
    (food / "meta" / "test.txt").write_text("bibimbap/2\n")
    tr, _, te = files.load_food101(str(food))
    assert tr.labels.tolist() == [0, 0, 1] and len(te) == 1 and te.images[0].shape == (9, 7, 3)


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        files.load_cifar100(str(tmp_path))
    with pytest.raises(ValueError, match="has no train/ folder"):
        files.load_imagenet(str(tmp_path), subset_100=False)
