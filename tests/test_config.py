import subprocess
import sys

import pytest

from raycil.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "yaml_text, overrides, message",
    [
        ("train: {epoch: 3}\n", [], r"train.epoch: unknown key \(did you mean 'epochs'\?\)"),
        ("method: {name: icarll}\n", [], r"method.name: 'icarll' is not allowed.*'icarl'"),
        ("dataset: {name: mnist}\n", [], r"dataset.name: 'mnist' is not allowed"),
        ("train: {batch_size: many}\n", [], r"train.batch_size: .*integer"),
        ("train: {lr: -1}\n", [], r"train.lr: .*greater than 0"),
        ("dataset: {name: cifar100, root: /nope/cifar}\n", [], r"dataset.root: directory '/nope/cifar'"),
        ("dataset: {name: food101}\n", [], r"^dataset.root is required"),
        ("dataset: {num_classes: 400}\n", [], r"^dataset.num_classes: 400 exceeds the 320 classes"),
        ("method: {name: lwf}\ncim: {boxes: cam}\n", [], r"cim.boxes: 'cam' compresses exemplars"),
        ("cim: {boxes: center, phase_wise_tau: true}\n", [], r"cim.phase_wise_tau needs cim.boxes"),
        ("cim: {tau: 1.5}\n", [], r"cim.tau: .*less than 1"),
        ("method: {name: ssil}\n", [], r"train.replay_batch_size must be >= 1"),
        ("protocol: {num_phases: 3}\n", [], r"protocol.num_phases: 20 classes do not split"),
        ("seed: 0\n", ["train.epochs=x"], r"train.epochs: .*integer"),
        ("seed: 0\n", ["trian.epochs=2"], r"trian: unknown key \(did you mean 'train'\?\)"),
        ("seed: 0\n", ["train.epochs"], r"expected key=value"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, yaml_text, overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, yaml_text), overrides=overrides)
    assert "\n" not in str(err.value)


def test_profiles_and_overrides_apply_in_order(tmp_path):
    path = write(tmp_path, "train: {epochs: 5}\nprofiles:\n  quick: {train.epochs: 2, seed: 4}\n")
    cfg = load_config(path, profile="quick", overrides=["train.epochs=1"])
    assert cfg.train.epochs == 1 and cfg.seed == 4
    with pytest.raises(ConfigError, match="unknown profile 'quik'.*did you mean 'quick'"):
        load_config(path, profile="quik")


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, "train: {epoch: 3}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "raycil.run", str(path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "train.epoch: unknown key" in proc.stderr
    assert not out.exists()


def test_extends_merges_sections_and_profiles(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "dataset: {num_classes: 10, train_per_class: 30}\ntrain: {epochs: 5, lr: 0.2}\n"
        "profiles:\n  smoke: {train.epochs: 1, dataset.num_classes: 5}\n  other: {seed: 7}\n")
    (tmp_path / "child.yaml").write_text(
        "extends: base.yaml\nmethod: {name: icarl}\ntrain: {lr: 0.05}\n"
        "profiles:\n  smoke: {dataset.train_per_class: 6}\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert (cfg.method.name, cfg.train.lr, cfg.train.epochs) == ("icarl", 0.05, 5)
    assert (cfg.dataset.num_classes, cfg.dataset.train_per_class) == (10, 30)
    smoke = load_config(tmp_path / "child.yaml", "smoke")
    assert (smoke.train.epochs, smoke.dataset.num_classes, smoke.dataset.train_per_class) == (1, 5, 6)
    assert load_config(tmp_path / "child.yaml", "other").seed == 7
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(tmp_path / "loop.yaml")
