"""MRDC (Wang et al., ICLR 2022): JPEG exemplars charged the bytes they hold, the feature-volume
rule that picks the phase's quality (§4.2), and the plug-in filling the budget with more,
compressed exemplars under any method that keeps a memory."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from smoke_helpers import first_phase, smoke_config

from raycil.config import ConfigError, build_config
from raycil.data.protocol import PhaseContext
from raycil.memory.selection import herding_order
from raycil.plugins.mrdc.jpeg import JpegCodec, JpegExemplar, jpeg_roundtrip
from raycil.plugins.mrdc.plugin import MrdcPlugin
from raycil.plugins.mrdc.quality import choose_quality, log_volume, set_limit, set_size, volume_ratio
from raycil.run import run_experiment


def image(rng: np.random.Generator, h: int = 32, w: int = 32) -> np.ndarray:
    """A smooth image (a gradient with noise), closer to what JPEG meets than white noise."""
    ys, xs = np.mgrid[0:h, 0:w]
    base = np.stack([ys * 255 / h, xs * 255 / w, (ys + xs) * 127 / (h + w)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def test_jpeg_exemplar_holds_exactly_what_it_is_charged():
    rng = np.random.default_rng(0)
    for h, w in [(32, 32), (24, 40), (64, 48)]:
        x = image(rng, h, w)
        for q in (10, 50, 90):
            e = JpegExemplar.encode(x, q)
            assert e.nbytes == e.data.nbytes and e.units * h * w * 3 == pytest.approx(e.nbytes, rel=1e-12)
            np.testing.assert_array_equal(e.decode(), jpeg_roundtrip(x, q))
            assert e.decode().shape == x.shape and e.decode().dtype == np.uint8


def test_lower_quality_stores_fewer_bytes_and_loses_more_detail():
    rng = np.random.default_rng(1)
    images = [image(rng) for _ in range(20)]
    units, errors = [], []
    for q in (10, 30, 50, 70, 90):
        stored = [JpegExemplar.encode(x, q) for x in images]
        units.append(np.mean([e.units for e in stored]))
        errors.append(np.mean([np.abs(e.decode().astype(int) - x).mean() for e, x in zip(stored, images,
                                                                                            strict=True)]))
    assert units == sorted(units) and errors == sorted(errors, reverse=True)
    assert units[0] < 0.25 and units[-1] < 1


def test_log_volume_is_the_log_of_the_spanned_volume():
    assert log_volume(np.eye(3)) == pytest.approx(0.0)
    theta = 0.3
    two = np.array([[1.0, 0.0], [math.cos(theta), math.sin(theta)]]) * np.array([[2.0], [0.5]])
    assert log_volume(two) == pytest.approx(math.log(math.sin(theta)))  # rows are normalised first
    assert log_volume(np.array([[1.0, 2.0], [2.0, 4.0]])) == -math.inf


def test_volume_ratio_and_the_lowest_quality_within_tolerance():
    rng = np.random.default_rng(2)
    sets = [rng.normal(size=(6, 16)) for _ in range(3)]
    assert volume_ratio(sets, sets) == pytest.approx(1.0)
    shrunk = [s + 3 * s.mean(0) for s in sets]  # pulled together: less volume, R > 1
    assert volume_ratio(sets, shrunk) > 1.05
    ratios = {10: 1.4, 30: 1.03, 50: 0.99, 90: 1.0}
    assert choose_quality(ratios, 0.05) == 30 and choose_quality(ratios, 0.02) == 50
    assert choose_quality({10: 2.0, 20: float("nan")}, 0.05) == 20  # none qualifies: the highest
    assert set_size(share=12, mean_units=0.25, available=50, limit=63) == 48
    assert set_size(share=12, mean_units=0.1, available=500, limit=63) == 63
    assert set_size(share=0.1, mean_units=0.25, available=50, limit=63) == 2
    assert set_size(share=12, mean_units=0.25, available=1, limit=63) == 1


def test_rule_sets_are_a_small_fraction_of_the_feature_dimension():
    """The authors measure R_q on 20-40 exemplars in 512-d features: the default limit is 40/512 of
    the dimension (5 of ResNet-20's 64, 40 of ResNet-18's 512); a fraction of 1 is the old cap
    below the dimension."""
    fraction = build_config({}).mrdc.max_set_fraction
    assert (set_limit(64, fraction), set_limit(512, fraction)) == (5, 40)
    assert set_limit(64, 1.0) == 63 and set_limit(8, 0.01) == 2


def test_the_rule_measures_the_herding_order_and_reports_its_set_size():
    cfg = smoke_config(mrdc={"quality": "auto", "quality_grid": [10, 90], "rule_samples": 8})
    learner, _, ctx = first_phase(cfg)
    [plugin] = learner.plugins
    for (sample, feats), cls in zip(plugin.rule_sets(learner, ctx), ctx.new_classes, strict=True):
        images = learner.data.train.of_classes([cls]).images
        all_feats = learner.embed(images).cpu().numpy()
        order = list(itertools.islice(herding_order(all_feats), 8))
        np.testing.assert_allclose(feats, all_feats[order], atol=1e-5)
        assert len(sample) == 8
    plugin.pick_quality(learner, ctx)
    assert plugin.last_sizes == {"mrdc_set_size": 5.0, "mrdc_set_fraction": 5 / 64}


def test_config_refuses_bad_quality_and_memory_free_methods():
    with pytest.raises(ConfigError, match=r"mrdc.quality: expected a JPEG quality 1..100, 'auto' or null"):
        build_config({"mrdc": {"quality": 150}})
    with pytest.raises(ConfigError, match="mrdc.quality: 50 stores JPEG exemplars, but method 'lwf'"):
        build_config({"method": {"name": "lwf"}, "mrdc": {"quality": 50}})
    assert build_config({"mrdc": {"quality": "auto", "quality_grid": [90, 10]}}).mrdc.quality_grid == [10, 90]


def test_fixed_quality_fills_the_same_budget_with_more_jpeg_exemplars():
    tight = {"budget": 6}  # 1-3 units per class: JPEG's count is not capped by the 20 candidates
    plain = run_experiment(smoke_config(memory=tight), None, verbose=False)["phases"]
    jpeg = run_experiment(smoke_config(memory=tight, mrdc={"quality": 50}), None, verbose=False)["phases"]
    for p, j in zip(plain, jpeg, strict=True):
        assert j["memory_units"] <= 6 + 1e-9 and j["exemplars"] > 2 * p["exemplars"]
        assert j["memory_bytes"] == pytest.approx(j["memory_units"] * 32 * 32 * 3, rel=1e-9)
        assert j["jpeg_quality"] == j["jpeg_quality_stored"] == 50 and 0 < j["units_per_exemplar"] < 0.5


def test_stored_exemplars_are_the_jpeg_versions_herding_ranked():
    _, memory, _ = first_phase(smoke_config(mrdc={"quality": 30}))
    stored = memory.memory.stored
    assert stored and all(isinstance(e, JpegExemplar) and e.quality == 30 for e in stored)
    images, labels = memory.exemplars()
    assert images.shape[1:] == (32, 32, 3) and len(labels) == len(stored)
    originals = memory.data.train.of_classes([0]).images
    first = memory.memory.classes[0][0].decode()
    assert any(np.array_equal(first, jpeg_roundtrip(x, 30)) for x in originals)


@pytest.mark.parametrize("method", ["icarl", "lucir", "der"])
def test_auto_quality_is_the_rule_applied_to_the_phase(method):
    """The phase's quality is the lowest of the grid whose R_q is within the tolerance, recomputed
    from the trained model; a tolerance no ratio meets falls back to the highest quality."""
    cfg = smoke_config(method={"name": method}, mrdc={"quality": "auto", "quality_grid": [10, 40, 90],
                                                      "rule_samples": 8})
    learner, memory, ctx = first_phase(cfg)
    [plugin] = learner.plugins
    assert isinstance(plugin, MrdcPlugin) and isinstance(memory.memory.codec, JpegCodec)
    quality, ratios = plugin.pick_quality(learner, ctx)
    assert set(ratios) == {10, 40, 90} and all(np.isfinite(r) for r in ratios.values())
    assert quality == choose_quality(ratios, cfg.mrdc.tolerance) == plugin.stats()["jpeg_quality"]
    assert {e.quality for e in memory.memory.stored} == {quality}
    plugin.settings = cfg.mrdc.model_copy(update={"tolerance": 1e-12})
    assert plugin.pick_quality(learner, PhaseContext(1, 3, 0, 2))[0] == 90
