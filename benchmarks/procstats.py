"""Per-process memory and CPU time of a Ray session, sampled from Linux's /proc (for the
benchmarks; no dependency beyond the standard library)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# Ray's worker processes are titled ``ray::<actor or task>``; its own processes by their program
WORKERS = (("ray::LearnerActor", "LearnerActor"), ("ray::MemoryActor", "MemoryActor"),
           ("ray::ImplicitFunc", "trial driver"))
DAEMONS = (("raylet", "raylet"), ("gcs_server", "GCS"), ("dashboard", "dashboard"))


def role_of(cmd: str) -> str | None:
    """What a process is to a sweep (None: not Ray's)."""
    if cmd.startswith("ray::"):
        return next((name for prefix, name in WORKERS if cmd.startswith(prefix)), "other Ray worker")
    return next((name for key, name in DAEMONS if key in cmd), "other Ray process")


def processes(root: int | None = None) -> list[tuple[int, str, int, float]]:
    """(pid, command line, resident bytes, CPU seconds so far) of process ``root`` (default: this
    one) and its descendants: the Ray that this process started, not another on the machine."""
    root = os.getpid() if root is None else root
    table: dict[int, tuple[int, str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss_kib = next(int(line.split()[1]) for line in (entry / "status").read_text().splitlines()
                           if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):  # gone, or a kernel thread
            continue
        # stat after the name: state, ppid, ..., utime (12th), stime (13th)
        table[int(entry.name)] = (int(stat[1]), cmd, rss_kib * 1024, (int(stat[11]) + int(stat[12])) / TICKS)
    family, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, row in table.items() if row[0] == parent and pid not in family]
        family.update(children)
        frontier += children
    return [(pid, *table[pid][1:]) for pid in sorted(family) if pid in table]


class Sampler(threading.Thread):
    """Every ``every_s``: each Ray process's role, peak RSS and CPU seconds (its last reading, so a
    process that exits keeps what it used), and this process's (``driver``). ``start_cpu`` holds
    what the processes alive at the start had used before, so only the sampled span counts."""

    def __init__(self, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.every_s, self.stop = every_s, threading.Event()
        self.seen: dict[int, list] = {}  # pid -> [role, peak rss, cpu s]
        self.start_cpu = {pid: cpu for pid, _, _, cpu in processes()}
        self.hooks: list = []  # callables run after each sample

    def sample(self) -> None:
        me = os.getpid()
        for pid, cmd, rss, cpu in processes():
            role = "driver" if pid == me else role_of(cmd)
            if role is None:
                continue
            entry = self.seen.setdefault(pid, [role, 0, 0.0])
            entry[0] = role if role != "other Ray worker" else entry[0]  # an actor's title changes
            entry[1], entry[2] = max(entry[1], rss), cpu - self.start_cpu.get(pid, 0.0)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            for hook in self.hooks:
                hook()
            self.stop.wait(self.every_s)

    def finish(self) -> None:
        self.stop.set()
        self.join()
        self.sample()

    def cpu_by_role(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for role, _, cpu in self.seen.values():
            out[role] = out.get(role, 0.0) + cpu
        return out

    def peak_rss_by_role(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for role, rss, _ in self.seen.values():
            out.setdefault(role, []).append(rss)
        return out
