import itertools

import numpy as np

from raycil.memory.selection import herding_order, random_order


def brute_force_greedy(features: np.ndarray, k: int) -> list[int]:
    """Greedy herding written from its definition: at each step try every unpicked candidate and
    keep the one whose addition puts the running mean closest to the class mean."""
    f = [v / np.linalg.norm(v) for v in features]
    mu = sum(f) / len(f)
    picked: list[int] = []
    for _ in range(k):
        best, best_d = None, np.inf
        for i in range(len(f)):
            if i in picked:
                continue
            mean = sum(f[j] for j in picked + [i]) / (len(picked) + 1)
            d = float(np.sqrt(((mu - mean) ** 2).sum()))
            if d < best_d:
                best, best_d = i, d
        picked.append(best)
    return picked


def test_herding_matches_brute_force_greedy():
    rng = np.random.default_rng(3)
    for trial in range(20):
        feats = rng.normal(size=(9, 4)) * rng.uniform(0.5, 3, size=(9, 1))
        k = 1 + trial % 9
        assert list(itertools.islice(herding_order(feats), k)) == brute_force_greedy(feats, k)


def test_herding_first_pick_is_closest_to_mean_and_ranks_every_candidate_once():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 8))
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    full = list(herding_order(feats))
    assert full[0] == np.argmin(np.linalg.norm(f - f.mean(0), axis=1))
    assert sorted(full) == list(range(30))


def test_random_order_is_a_seeded_permutation():
    a = list(random_order(50, np.random.default_rng(1)))
    b = list(random_order(50, np.random.default_rng(1)))
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50))
