"""One local Ray for the whole test session: started by the first test that asks for it (the
``ray_local`` / ``ray_address`` fixtures of conftest.py) and shared by every later one, instead of
one start and shutdown per test module; a test that needs another cluster releases it first."""

from __future__ import annotations

import ray

_LOCAL: dict[str, str] = {}


def local_ray() -> dict[str, str]:
    """The shared local Ray (2 CPUs, with its dashboard: tests read the state API), started if
    none runs: ``{"dashboard": url, "address": gcs address}``."""
    if not (_LOCAL and ray.is_initialized()):
        context = ray.init(address="local", num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
                           log_to_driver=False)
        _LOCAL.clear()
        _LOCAL.update(dashboard=f"http://{context.dashboard_url}",
                      address=context.address_info["gcs_address"])
    return _LOCAL


def release_local_ray() -> None:
    """Shut the shared Ray down (a later test that asks for it starts it again)."""
    if ray.is_initialized():
        ray.shutdown()
    _LOCAL.clear()
