"""A local multi-node Ray cluster (``ray.cluster_utils.Cluster``: a CPU-less head and two
one-CPU worker nodes): the sweep's trials spread over the nodes, and removing a worker node
mid-sweep ends with every trial finished, the lost one resumed on the other node from its last
phase with the metrics of an uninterrupted run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster
from ray_helpers import release_local_ray
from sweep_helpers import reference_phases, result_lines, same_metrics, write_sweep

from raycil.sweep.plan import plan_sweep
from raycil.sweep.tuner import run_sweep

pytestmark = [pytest.mark.ray, pytest.mark.cluster, pytest.mark.slow]

@pytest.fixture(scope="module")
def cluster():
    release_local_ray()  # one Ray per process: the session's local one gives way to the cluster
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def test_trials_spread_over_nodes_and_survive_losing_a_worker_node(tmp_path, cluster):
    slow = {"train.epochs_first": 20, "train.epochs": 80, "protocol.num_phases": 3, "dataset.num_classes": 6}
    path = write_sweep(tmp_path, "cluster", variants={"ft": {}}, seeds=[0, 1], max_failures=3)
    plan = plan_sweep(path, overrides=slow)
    removed: list[str] = []

    def remove_a_busy_node() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not removed:
            reported = [result_lines(p.parent) for p in plan.exp_dir.glob("*/result.json")]
            firsts = [lines[0] for lines in reported if lines]
            nodes = {line["learner_node"] for line in firsts}
            if len(firsts) == 2 and len(nodes) == 2:  # both trials past phase 1, on two nodes
                victim = next(n for n in cluster.worker_nodes if n.node_id == firsts[0]["learner_node"])
                cluster.remove_node(victim)
                removed.append(victim.node_id)
            time.sleep(0.05)

    remover = threading.Thread(target=remove_a_busy_node)
    remover.start()
    results = run_sweep(plan)
    remover.join()
    assert removed, "the trials never ran on two nodes at once"
    assert len(results) == 2 and all(r.error is None for r in results)
    for result in results:
        lines = result_lines(Path(result.path))
        assert [line["phase"] for line in lines] == [1, 2, 3]  # resumed, never restarted
        nodes = [line["learner_node"] for line in lines]
        if nodes[0] == removed[0]:
            assert nodes[-1] != removed[0]  # the lost trial finished on the surviving node
        expected = reference_phases(plan.experiment_config(
            next(t for t in plan.trials if t.seed == result.config["seed"])))
        for ref, line in zip(expected, lines, strict=True):
            assert not same_metrics(ref, line)
