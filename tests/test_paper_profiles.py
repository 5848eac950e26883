"""The paper profiles: a ``configs/<method>.yaml`` profile named after the dataset a paper ran on
(``cifar100``, ``imagenet100``, ``imagenet``, ``food101``) runs the method as the paper states it,
its authors' code deciding where the paper is silent, with nothing rescaled. One table per
profile: dotted setting -> the paper's value, with where the paper states it; each test loads the
profile and compares. Derived entries: ``phases`` (new classes per phase), ``*.milestone_epochs``
(the epochs at which the lr drops, from the schedule's fractions). Config loading only."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from raycil.config import ExperimentConfig, load_config
from raycil.data.protocol import phase_sizes
from raycil.sweep.settings import flatten

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"cifar100": "cifar100", "imagenet100": "imagenet100", "imagenet": "imagenet1000",
            "food101": "food101"}  # profile name -> dataset.name
MINIATURES = {"local", "smoke"}

# LUCIR (Hou et al., CVPR 2019) on CIFAR-100: its implementation details, and its code
# (hshustc/CVPR19_Incremental_Learning, class_incremental_cosine_cifar100.py) where it is silent
LUCIR_CIFAR100: dict[str, Any] = {
    "dataset.name": "cifar100",
    "dataset.val_fraction": 0.0,  # the 500 training images per class
    "protocol.kind": "lfh",
    "phases": [50, 10, 10, 10, 10, 10],  # 50 classes first, then N = 5 phases
    "memory.mode": "growing",  # 20 exemplars per class
    "memory.budget": 20,
    "memory.selection": "herding",
    "model.backbone": "resnet32",  # a 32-layer ResNet
    "method.name": "lucir",
    "method.lucir.lambda_base": 5.0,  # λ_base
    "method.lucir.hard_negatives": 2,  # K
    "method.lucir.margin": 0.5,  # m
    "method.lucir.imprint": True,  # the code's --imprint_weights
    "train.epochs_first": 160,
    "train.epochs": 160,
    "train.lr_first": 0.1,
    "train.lr": 0.1,
    "train.schedule.kind": "multistep",
    "train.milestone_epochs": [80, 120],  # lr / 10 at epochs 80 and 120
    "train.milestone_epochs_first": [80, 120],
    "train.schedule.gamma": 0.1,
    "train.batch_size": 128,
    "train.momentum": 0.9,
    "train.weight_decay": 5e-4,
    "train.weight_decay_first": None,  # the same in every phase
    "train.balanced_finetune.epochs": 20,  # the code's cb_finetune: ft_epochs 20,
    "train.balanced_finetune.lr": 0.01,  # ft_base_lr 0.01,
    "train.balanced_finetune.milestone_epochs": [10],  # ft_lr_strat [10]
    "train.balanced_finetune.head_only": True,  # ft_flag 2: the embeddings only
}

# Mnemonics (Liu et al., CVPR 2020), §7.1 on CIFAR-100: LUCIR's model level (as above, which §7.1
# states too: ResNet-32, SGD momentum 0.9, weight decay 5e-4, lr 0.1 / 10 at 80 and 120 of 160)
MNEMONICS_CIFAR100: dict[str, Any] = {
    **LUCIR_CIFAR100,
    "memory.selection": "random",  # §4.3: E_i starts as a random subset S of D_i
    "model.weight_transfer": True,  # §7.1: the weight transfer operations
    "mnemonics.enabled": True,
    "mnemonics.unroll": 50,  # §7.1: Θ′ trained in 50 epochs (Eq. 8)
    "mnemonics.alpha2": 0.01,  # §7.1: α2
    "mnemonics.epochs": 50,  # §7.1: E_i and E_0:i-1 updated in 50 epochs (Eq. 9, 10)
    "mnemonics.beta1": 0.01,  # §7.1: β1 = β2 = 0.01,
    "mnemonics.beta2": 0.01,
    "mnemonics.halve_every": 10,  # halved every 10 epochs
    "mnemonics.momentum": 0.9,  # §7.1: SGD, momentum 0.9,
    "mnemonics.weight_decay": 5e-4,  # weight decay 5e-4
    "mnemonics.train_new": True,  # Eq. 9
    "mnemonics.adjust_old": True,  # Eq. 10
    "mnemonics.rescale": False,
}

# CIM (Luo et al., CVPR 2023) on FOSTER, §5.1 and supplementary §1 (Tables 1 and 3, LFS N = 10)
CIM_COMMON: dict[str, Any] = {
    "method.name": "foster",
    "dataset.val_fraction": 0.0,
    "protocol.kind": "lfs",
    "memory.mode": "fixed",  # §5.1: the fixed setting in LFS
    "memory.selection": "herding",  # §3: herding
    "model.backbone": "resnet18",  # §5.1: an 18-layer ResNet
    "train.epochs_first": 200,  # §5.1: 200 epochs in the first phase,
    "train.epochs": 170,  # 170 in the later ones
    "train.lr_first": 0.1,  # §5.1: lr 0.1, cosine annealing to zero
    "train.lr": 0.1,
    "train.schedule.kind": "cosine",
    "train.momentum": 0.9,  # §5.1: SGD momentum 0.9,
    "train.weight_decay": 5e-4,  # weight decay 5e-4
    "train.batch_size": 128,  # not stated: FOSTER's code (PyCIL exps/foster.json)
    "cim.boxes": "cim",  # Table 3 row 9, BOP
    "cim.mask_learning": "bilevel",  # Algorithm 1
    "cim.artifact_aug": True,
    "cim.artifact_refresh_epochs": 40,  # supplementary §1: boxes updated every 40 epochs,
    "cim.artifact_step_epochs": 40,  # the share + 0.1 every 40 epochs
    "cim.artifact_step": 0.1,
    "cim.artifact_rescale": False,  # in every phase, the 200-epoch first one too
    "cim.tau": 0.6,  # §5.1: τ
    "cim.eta": 4.0,  # §5.1: η
    "cim.beta1": 0.1,  # §5.1: β1, β2
    "cim.beta2": 0.01,
    "cim.mu": 0.1,  # §5.1: μ, μ′
    "cim.mu_prime": 0.2,
    "cim.phi_grad_clip": 1.0,  # §5.1: φ's gradient norm at most 1
}
CIM_IMAGENET100: dict[str, Any] = {
    **CIM_COMMON,
    "dataset.name": "imagenet100",  # §5.1: ImageNet-1000's classes drawn with NumPy seed 1993
    "phases": [10] * 10,  # LFS, N = 10
    "memory.budget": 2000,  # §5.1: 2,000 samples for ImageNet-100
}
CIM_FOOD101: dict[str, Any] = {
    **CIM_COMMON,
    "dataset.name": "food101",
    "protocol.kind": "custom",
    "phases": [11] + [10] * 9,  # LFS, N = 10 of 101 classes
    "memory.budget": 2020,  # §5.1: 2,020 samples for Food-101
}

# MFGR (Xin et al.), §6.2 on CIFAR-100 (Table 2, Figure 6: 5 phases); where §6.2 is silent the
# authors' code (xmengxin/MFGR, train_mfgr.py, run.sh)
MFGR_CIFAR100: dict[str, Any] = {
    "dataset.name": "cifar100",
    "dataset.val_fraction": 0.0,  # §6.1: 500 training images per class
    "phases": [20] * 5,  # §6.3 / Figure 6: task 2 is classes 20-39
    "memory.mode": "none",  # memory-free
    "model.backbone": "resnet32",  # the departure: §6.2's ResNet-34 is not a raycil backbone
    "method.name": "lwf",
    "method.lwf.adaptive": True,  # Eq. 8: λ4 = t / (t + 1)
    "train.epochs_first": 150,  # §6.2: the initial state at batch 128, lr 0.01, 150 epochs
    "train.lr_first": 0.01,
    "train.batch_size": 128,
    "train.epochs": 150,  # §6.2: each classification model lr 0.01, 150 epochs
    "train.lr": 0.01,
    "train.schedule.kind": "cosine",  # the code: CosineAnnealingWarmRestarts over the phase
    "train.momentum": 0.9,  # the code: custom_momentum
    "train.weight_decay": 5e-4,  # the code: custom_weight_decay
    "mfgr.enabled": True,
    "mfgr.iterations": 60000,  # §6.2: 500 epochs of the generator (120 steps each, DAFL's)
    "mfgr.batch_size": 512,  # §6.2: batch 512
    "mfgr.lr": 0.01,  # §6.2: lr 0.01
    "mfgr.width": 128,  # the code's DAFL generator
    "mfgr.latent_dim": 1000,  # the code: latent_dim_G
    "mfgr.lambda1": 5.0,  # §6.2: λ1 = 5,
    "mfgr.lambda2": 20.0,  # λ2 = 20,
    "mfgr.lambda3": 0.1,  # λ3 = 0.1
    "mfgr.ratio": 1.0,  # §6.2: old : new images per class in a batch 1:1
    "mfgr.rescale": False,
}

# SS-IL (Ahn et al.), §6.1-6.2 and Algorithm 1 on ImageNet-1K, T = 10
SSIL_IMAGENET: dict[str, Any] = {
    "dataset.name": "imagenet1000",  # §6.1: ILSVRC 2012, its validation set for testing
    "dataset.val_fraction": 0.0,
    "protocol.kind": "lfs",
    "phases": [100] * 10,  # §6.1: T = 10, m = 100
    "memory.mode": "fixed",  # §6.1: |M| = 20000,
    "memory.budget": 20000,
    "memory.selection": "random",  # the Ringbuffer: random samples, class-balanced
    "model.backbone": "resnet18",  # §6.2: ResNet-18
    "method.name": "ssil",
    "method.ssil.task_kd": False,  # Eq. 3, the separated softmax alone
    "train.batch_size": 128,  # §6.2: N_Dt = 128,
    "train.replay_batch_size": 32,  # N_M = 32 for T = 10
    "train.epochs_first": 100,  # §6.2: 100 epochs first, lr / 10 at 40 and 80,
    "train.milestone_epochs_first": [40, 80],
    "train.epochs": 20,  # then 20, lr / 10 at 8 and 16
    "train.milestone_epochs": [8, 16],
    "train.schedule.gamma": 0.1,
    "train.lr_first": 0.1,  # §6.2: initial lr 0.1,
    "train.lr": 0.1,
    "train.lr_over_phases": "inverse",  # 0.1 / t in state t (Algorithm 1)
    "train.momentum": 0.9,  # §6.2: Nesterov momentum 0.9,
    "train.nesterov": True,
    "train.weight_decay": 1e-4,  # weight decay 1e-4
    "train.weight_decay_first": None,
}

# iCaRL as PyCIL reproduces it (raycil's iCaRL is PyCIL's: CE + KD at T = 2): exps/icarl.json and
# the constants of models/icarl.py (G-U-N/PyCIL at 87cc411)
ICARL_CIFAR100: dict[str, Any] = {
    "dataset.name": "cifar100",
    "dataset.val_fraction": 0.0,
    "protocol.kind": "lfs",
    "phases": [10] * 10,  # init_cls 10, increment 10
    "memory.mode": "fixed",  # memory_size 2000, fixed_memory false: shared by the seen classes
    "memory.budget": 2000,
    "memory.selection": "herding",
    "model.backbone": "resnet32",  # convnet_type
    "method.name": "icarl",
    "method.kd_temperature": 2.0,  # T
    "method.kd_weight": 1.0,
    "method.nme": True,
    "train.batch_size": 128,
    "train.momentum": 0.9,
    "train.epochs_first": 200,  # init_epoch
    "train.lr_first": 0.1,  # init_lr
    "train.milestone_epochs_first": [60, 120, 170],  # init_milestones, init_lr_decay 0.1
    "train.weight_decay_first": 5e-4,  # init_weight_decay
    "train.epochs": 170,  # epochs
    "train.lr": 0.1,  # lrate
    "train.milestone_epochs": [80, 120],  # milestones, lrate_decay 0.1
    "train.schedule.gamma": 0.1,
    "train.weight_decay": 2e-4,  # weight_decay
}

PAPER_PROFILES: dict[tuple[str, str], dict[str, Any]] = {
    ("lucir.yaml", "cifar100"): LUCIR_CIFAR100,
    ("mnemonics.yaml", "cifar100"): MNEMONICS_CIFAR100,
    ("cim.yaml", "imagenet100"): CIM_IMAGENET100,
    ("cim.yaml", "food101"): CIM_FOOD101,
    ("mfgr.yaml", "cifar100"): MFGR_CIFAR100,
    ("ssil.yaml", "imagenet"): SSIL_IMAGENET,
    ("icarl.yaml", "cifar100"): ICARL_CIFAR100,
}
# the paper-scale profiles of the sweep files that extend these configs, which the base's
# same-named profile provides for (the sweep's own keys only)
SWEEP_PROFILES = [("ablations/cim_table3.yaml", "food101"), ("ablations/cim_table3.yaml", "imagenet100"),
                  ("ablations/cim_table4.yaml", "cifar100"), ("ablations/mfgr_table2.yaml", "cifar100"),
                  ("ablations/mnemonics_table2.yaml", "cifar100"),
                  ("search_spaces/mfgr_ratio.yaml", "cifar100")]


def data_root(tmp_path: Path, profile: str) -> Path:
    """An empty folder for CIFAR-100 / Food-101 (their class counts are fixed); for ImageNet a
    tree of empty synset folders (its class count is the tree's)."""
    root = tmp_path / profile
    synsets = {"imagenet100": 100, "imagenet": 1000}.get(profile, 0)
    for split in ("train", "val") if synsets else ():
        for i in range(synsets):
            (root / split / f"n{i:08d}").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    return root


def load(tmp_path: Path, config: str, profile: str) -> ExperimentConfig:
    root = data_root(tmp_path, profile)
    return load_config(ROOT / "configs" / config, profile, [f"dataset.root={root}"])


def milestone_epochs(schedule: Any, epochs: int) -> list[int]:
    """The epochs at which a multistep schedule drops the lr (as raycil.learner.learner rounds them)."""
    assert schedule.kind == "multistep", f"a {schedule.kind} schedule has no milestones"
    return sorted({max(1, round(m * epochs)) for m in schedule.milestones})


def setting(cfg: ExperimentConfig, key: str) -> Any:
    train = cfg.train
    derived = {
        "phases": lambda: phase_sizes(cfg.protocol, cfg.num_classes),
        "train.milestone_epochs": lambda: milestone_epochs(train.schedule, train.epochs),
        "train.milestone_epochs_first": lambda: milestone_epochs(train.schedule_first or train.schedule,
                                                                 train.epochs_first),
        "train.balanced_finetune.milestone_epochs": lambda: milestone_epochs(
            train.balanced_finetune.schedule or train.schedule, train.balanced_finetune.epochs),
    }
    if key in derived:
        return derived[key]()
    return functools.reduce(getattr, key.split("."), cfg)


def mismatches(cfg: ExperimentConfig, table: dict[str, Any]) -> list[str]:
    return [f"{key}: profile {setting(cfg, key)!r}, paper {want!r}" for key, want in table.items()
            if setting(cfg, key) != want]


@pytest.mark.parametrize(("config", "profile"), list(PAPER_PROFILES), ids=lambda v: str(v))
def test_paper_profile_settings_are_the_papers(tmp_path, config, profile):
    cfg = load(tmp_path, config, profile)
    assert mismatches(cfg, PAPER_PROFILES[(config, profile)]) == []


def test_the_table_check_sees_a_changed_value(tmp_path):
    """The comparison reads the loaded values: one changed by --set is reported."""
    root = data_root(tmp_path, "cifar100")
    cfg = load_config(ROOT / "configs" / "lucir.yaml", "cifar100",
                      [f"dataset.root={root}", "train.schedule.milestones=[0.5, 0.8]", "memory.budget=10"])
    assert mismatches(cfg, LUCIR_CIFAR100) == [
        "memory.budget: profile 10.0, paper 20",
        "train.milestone_epochs: profile [80, 128], paper [80, 120]",
        "train.milestone_epochs_first: profile [80, 128], paper [80, 120]"]


@pytest.mark.parametrize(("config", "profile"), list(PAPER_PROFILES), ids=lambda v: str(v))
def test_no_paper_profile_rescales(tmp_path, config, profile):
    """No inner schedule shrunk to the phase's epochs: Mnemonics' exemplar epochs, MFGR's generator
    steps, CIM's artifact-augmentation periods run as the papers state them."""
    cfg = load(tmp_path, config, profile)
    assert cfg.mnemonics.rescale is False
    assert cfg.mfgr.rescale is False
    assert not cfg.cim.artifact_aug or cfg.cim.artifact_rescale is False


def test_the_plugin_paper_profiles_run_the_plugin_unrescaled(tmp_path):
    mnemonics = load(tmp_path, "mnemonics.yaml", "cifar100").mnemonics
    mfgr = load(tmp_path, "mfgr.yaml", "cifar100").mfgr
    assert (mnemonics.enabled, mnemonics.rescale, mnemonics.epochs) == (True, False, 50)
    assert (mfgr.enabled, mfgr.rescale, mfgr.iterations) == (True, False, 60000)


def test_every_paper_profile_has_a_table():
    """A profile that is not a miniature is a paper profile, named after its dataset, with a table."""
    found = set()
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        for profile in yaml.safe_load(path.read_text()).get("profiles") or {}:
            if profile not in MINIATURES:
                found.add((path.name, profile))
    assert found == set(PAPER_PROFILES)
    for (_, profile), table in PAPER_PROFILES.items():
        assert table["dataset.name"] == DATASETS[profile]


@pytest.mark.parametrize(("sweep", "profile"), SWEEP_PROFILES, ids=lambda v: str(v))
def test_sweep_profiles_leave_the_paper_settings_to_their_base(sweep, profile):
    """A sweep's paper-scale profile sets no key to the value its base experiment's same-named
    profile already gives it: it keeps only what is its own, what it changes on purpose, and what
    undoes its own ``experiment:`` section (laid over the base's profile)."""
    data = yaml.safe_load((ROOT / sweep).read_text())
    base = yaml.safe_load((ROOT / sweep).parent.joinpath(data["extends"]).read_text())
    ours = flatten(data["profiles"][profile])
    theirs = flatten(base["profiles"][profile])
    if base.get("extends"):  # configs/mnemonics.yaml's profile merges over configs/lucir.yaml's
        grand = yaml.safe_load((ROOT / "configs" / base["extends"]).read_text())
        theirs = {**flatten((grand.get("profiles") or {}).get(profile) or {}), **theirs}
    own = flatten(data.get("experiment") or {})
    assert {k: v for k, v in ours.items() if k in theirs and theirs[k] == v and k not in own} == {}
