"""Benchmark pairs: deterministic, with ground truth that matches what was drawn."""

import numpy as np
import pytest

from bench import bench_change_detection as bench
from bench import change_scenes


@pytest.fixture(scope="module")
def pairs():
    return [change_scenes.make_pair(index, "all", changed=changed, size=128)
            for index in range(2) for changed in (True, False)]


def test_pairs_are_deterministic(pairs):
    again = change_scenes.make_pair(0, "all", changed=True, size=128)
    assert np.array_equal(again.before, pairs[0].before)
    assert np.array_equal(again.after, pairs[0].after)
    assert np.array_equal(again.truth, pairs[0].truth)


def test_changed_pairs_have_truth_and_unchanged_pairs_none(pairs):
    changed, unchanged = pairs[0::2], pairs[1::2]
    for pair in changed:
        assert 1 <= len(pair.objects) <= 3
        union = np.zeros_like(pair.truth)
        for mask in pair.objects:
            union |= mask
        assert np.array_equal(union, pair.truth) and pair.truth.any()
    assert all(not pair.objects and not pair.truth.any() for pair in unchanged)
    assert {pair.setting for pair in pairs} == {"town", "country"}


def test_every_scenario_builds_and_all_combines_the_nuisances():
    nuisances = {name: change_scenes.make_pair(0, name, changed=False, size=64).nuisance
                 for name in change_scenes.SCENARIOS}
    everything = nuisances["all"]
    assert everything.jpeg_quality and everything.cloud_opacity and everything.season_delta
    assert everything.rotation_deg and everything.gain != 1.0
    assert nuisances["clean"] == change_scenes.Nuisance()


def test_scores_are_perfect_for_the_truth_and_poor_for_flagging_everything(pairs):
    perfect = bench.evaluate(pairs, lambda pair: list(pair.objects))
    assert perfect["f1"] == 1.0 and perfect["object_recall"] == 1.0
    assert perfect["quiet_share"] == 1.0
    everything = bench.evaluate(pairs, lambda pair: [np.ones_like(pair.truth)])
    assert everything["precision"] < 0.2 and everything["quiet_share"] == 0.0
    assert everything["object_precision"] == 0.0
