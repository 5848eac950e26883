"""Where a sweep runs: joining a Ray cluster or starting a local one sized to this machine, the
capacity check (a trial that cannot be placed is refused, not waited for), and how to reach the
dashboards (Ray's token authentication, the CLI's address, the Optuna study)."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path
from typing import Any

import ray

from raycil.report.study import optuna_url
from raycil.schema import ConfigError
from raycil.sweep.plan import SweepPlan


def reachable(address: str, timeout_s: float = 5.0) -> bool:
    """Whether something listens at ``host:port`` (``ray://host:port`` too) within ``timeout_s``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address: '{address}' is not 'auto' or host:port (e.g. 10.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def connect(address: str | None, dashboard: bool) -> Any:
    """Join a cluster (``auto`` or a head address) or start a local Ray sized to this machine.

    A head address where nothing listens is refused after a few seconds (Ray itself would retry
    for minutes); so is ``auto`` with no cluster running here."""
    if address:
        if address != "auto" and not reachable(address):
            raise ConfigError(f"--address: nothing answers at {address} (start the head with `ray start "
                              "--head` and pass the address it prints, or leave --address out)")
        try:
            return ray.init(address=address)
        except ConnectionError as err:
            raise ConfigError(f"--address: {address}: {str(err).splitlines()[0]}") from None
    # "local": a new instance even if another cluster on this machine is discoverable
    return ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=dashboard,
                    dashboard_host="127.0.0.1")


def local_capacity() -> dict[str, float]:
    """What the local Ray started by :func:`connect` will have (torch counts the GPUs, as the
    learners will see them; it loads here, in the sweep's driver, not in a trial's)."""
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def check_capacity(plan: SweepPlan, have: dict[str, float], where: str) -> None:
    """Refuse a sweep whose trials cannot be placed (Tune would wait for them forever)."""
    res = plan.sweep.resources
    for kind, need in (("CPU", res.cpu), ("GPU", res.gpu)):
        if need > have.get(kind, 0.0):
            raise ConfigError(f"resources.{kind.lower()}: each trial needs {need:g} {kind}, but {where} has "
                              f"{have.get(kind, 0.0):g}; lower it or join a larger cluster (--address)")


def auth_token_source() -> str:
    """Where Ray's CLI and ``ray get-auth-token`` read the token from (Ray 2.60's order)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"


def dashboard_help(context: Any, exp_dir: Path) -> list[str]:
    """How to reach the sweep's Ray (dashboard, CLI) and its Optuna study.

    Ray >= 2.59 turns token authentication on for a new local cluster (unless ``RAY_AUTH_MODE``
    is set) by setting ``RAY_AUTH_MODE=token`` in the driver's environment only: the dashboard
    then asks for the token, and Ray's CLI in another shell (``ray status``, ``ray list actors``)
    fails with an AuthenticationError unless that shell exports ``RAY_AUTH_MODE=token`` too. With
    more than one Ray on the machine the CLI also needs the address (``RAY_ADDRESS``)."""
    lines = []
    url = getattr(context, "dashboard_url", None)
    token = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    lines.append(f"Ray dashboard: http://{url}" if url else
                 "Ray dashboard: off (--no-dashboard, or the cluster runs none)")
    if token:
        lines.append(f"  token authentication is on: `ray get-auth-token` prints the token (from "
                     f"{auth_token_source()}); paste it at the dashboard's sign-in prompt")
    address = (getattr(context, "address_info", None) or {}).get("gcs_address")
    if address:
        export = f"export {'RAY_AUTH_MODE=token ' if token else ''}RAY_ADDRESS={address}"
        lines.append(f"  Ray's CLI from another shell: {export}; then ray status, ray list actors, ...")
        if token:
            lines.append("  (without RAY_AUTH_MODE=token there, Ray's CLI fails with an AuthenticationError)")
    hint = "" if importlib.util.find_spec("optuna_dashboard") else "   (pip install optuna-dashboard)"
    lines.append(f"Optuna dashboard: optuna-dashboard {optuna_url(exp_dir)}{hint}")
    return lines
