"""How soon a pulled cable is noticed: the real streaming session over a pty, in every state of a job.

Run: ``.venv/bin/python -m benchmarks.link_loss [--trials 20] [--load]``

Each trial starts a simulator (GRBL or Marlin, in this process, real time) on a pty at 115200 baud,
streams a long program through :class:`machines.streaming.StreamSession` in a thread, brings the job to
the state under test, then cuts the link with ``go_silent()`` (the port stays open, nothing flows either
way: a pulled USB cable behind a powered hub, or a dead controller). The figure is the time from the cut
to the session's return with outcome ``"lost"``: detection plus the session's own wind-down. Goal: within
2 s of the last word, so a little over 2 s from a cut (the last word came a moment before the cut).

States: ``running`` (lines in flight), ``paused`` (the host holds the program), ``heating`` (Marlin in
``M109``, which blocks for minutes) and ``homing`` is left out: stock GRBL is silent while homing, see
docs/architecture.md.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.streaming import busy_core

ROOT = Path(__file__).resolve().parents[1]
STATES = {"grbl": ("running", "paused"), "marlin": ("running", "paused", "heating")}
SETTLE_TIMEOUT_S = 60


def program(firmware: str, state: str) -> list[tuple[int, str]]:
    """A program long enough never to finish during a trial; a heat-up first for ``heating``."""
    moves = [f"G1 X{i % 100 + 1} Y{i % 50 + 1} F600" for i in range(100_000)]
    if firmware == "marlin" and state == "heating":
        moves.insert(0, "M109 S210")
    return list(enumerate(moves, start=1))


class Trial:
    """One session in a thread, with the events the benchmark waits on before cutting the link."""

    def __init__(self, sim, firmware: str, state: str):
        from machines import streaming, transport

        self.pending: list[str] = []
        self.applied = threading.Event()
        self.progress = threading.Event()
        self.heating = threading.Event()
        self.result = None
        self.port = transport.open_port(sim.url, 115200)
        hooks = streaming.StreamHooks(
            poll_commands=self._poll,
            on_commands_applied=self.applied.set,
            on_progress=lambda acked, total: acked and self.progress.set(),
            on_telemetry=self._telemetry,
        )
        self.session = streaming.StreamSession(
            engine=streaming.engine_for(firmware), port=self.port, lines=program(firmware, state), hooks=hooks
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> list[str]:
        out, self.pending = self.pending, []
        return out

    def _telemetry(self, snapshot: dict) -> None:
        temperatures = snapshot.get("temperatures") or {}
        if any(target == 210 for _, target in temperatures.values()):
            self.heating.set()

    def _run(self) -> None:
        from machines import transport

        try:
            self.result = self.session.run()
        finally:
            transport.close_quietly(self.port)

    def bring_to(self, state: str) -> None:
        """Start streaming and wait (on events, never a fixed sleep) until the job is in ``state``."""
        self.thread.start()
        if state == "heating":
            assert self.heating.wait(SETTLE_TIMEOUT_S), "the printer never started heating"
            return
        assert self.progress.wait(SETTLE_TIMEOUT_S), "no line was acknowledged"
        if state == "paused":
            self.applied.clear()
            self.pending.append("pause")
            assert self.applied.wait(SETTLE_TIMEOUT_S), "the pause was never applied"


def detection_seconds(firmware: str, state: str) -> float:
    """Seconds from cutting the link to the session ending as ``lost``."""
    from simulators.serve import SimulatedMachine

    with SimulatedMachine(firmware, transport="pty", time_scale=1.0) as sim:
        trial = Trial(sim, firmware, state)
        trial.bring_to(state)
        cut = time.monotonic()
        sim.go_silent()
        trial.thread.join(SETTLE_TIMEOUT_S)
        seconds = time.monotonic() - cut
    assert trial.result is not None and trial.result.outcome == "lost", trial.result
    return seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--load", action="store_true", help="keep one core busy with another process")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    os.environ["MES_VAR_DIR"] = tempfile.mkdtemp(prefix="mes-bench-")
    sys.path.insert(0, str(ROOT))

    rows = []
    with busy_core(args.load):
        for firmware, states in STATES.items():
            for state in states:
                times = [detection_seconds(firmware, state) for _ in range(args.trials)]
                rows.append((firmware, state, times))
    load = "one core kept busy by another process" if args.load else "quiet"
    print(
        f"# Link-loss detection, {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, "
        f"{load}, {args.trials} trials per state"
    )
    print()
    print("| firmware | state | median s | p95 s | max s |")
    print("| --- | --- | --- | --- | --- |")
    for firmware, state, times in rows:
        print(
            f"| {firmware} | {state} | {statistics.median(times):.2f} | {percentile(times, 0.95):.2f} "
            f"| {max(times):.2f} |"
        )


if __name__ == "__main__":
    main()
