"""SIGINT and SIGTERM while a sweep runs, and the command that resumes it."""

from __future__ import annotations

import logging
import os
import shlex
import signal
from collections.abc import Sequence
from typing import Any


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM while a sweep runs: the first stops it the way Tune stops on
    Ctrl-C (running trials end, every finished phase stays checkpointed, Tune's state is written
    whole), a second exits at once. ``received`` is the first signal's number (None: none came).

    Tune's own SIGINT handler is replaced (it catches SIGINT only, and prints ``Tuner.restore``
    where the user needs ``--resume``); the stop is asked of Tune through its SIGUSR1 handler."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> Interrupts:
        self.received: int | None = None
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        self.previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        return self

    def handle(self, signum: int, frame: Any) -> None:
        if self.received is not None or not callable(signal.getsignal(signal.SIGUSR1)):
            raise SystemExit(128 + signum)  # a second signal, or Tune not running yet
        self.received = signum
        logging.getLogger("ray.tune.tune").setLevel(logging.CRITICAL)  # its restore hint is not ours
        print(f"raycil.sweep: {signal.Signals(signum).name} received; stopping the running trials (their "
              "finished phases are kept) and saving the sweep's state; send it again to stop at once",
              flush=True)
        signal.raise_signal(signal.SIGUSR1)

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def resume_command(argv: Sequence[str]) -> str:
    """The command that resumes this sweep: the same arguments, with ``--resume``."""
    return shlex.join(["python", "-m", "raycil.sweep", *(a for a in argv if a != "--resume"), "--resume"])
