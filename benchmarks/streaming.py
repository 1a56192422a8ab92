"""Streaming benchmark against the firmware simulators at 115200 baud, quiet and with a core busy.

Run: ``.venv/bin/python -m benchmarks.streaming [--trials 5] [--lines 6000] [--load]``
(the E-STOP is timed by ``benchmarks.estop``).

Each trial starts a fresh simulator in its own process (so its CPU is not the host's), on a pty at
115200 baud with zero-time execution, so only the protocol and the host limit the rate:

- GRBL (stock 1.1: 128-byte receive buffer, learned from ``$I``/``Bf:``): bytes written per second once
  connected (the handshake's time is reported apart) as a fraction of the link (115200 baud, 10 bits a
  byte: 11,520 bytes/s). Goals: >= 0.97 quiet, >= 0.95 with a core busy, and no receive-buffer overrun.
- Marlin (stock BUFSIZE 4 and 128-byte receive buffer, ``ADVANCED_OK``) behind a USB-serial adapter
  that adds 2 ms each way, with one line in 200 corrupted on the wire: the link fraction, the goodput
  (the program's own framed bytes once each, per second), and a check that every program line ran
  exactly once and in order. Goal: >= 0.9 of the link.
- host CPU per line (the host's alone).

``--load`` keeps one core busy with another process for the whole run. Medians and the worst trial are
reported.
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAUD = 115200
LINK_BYTES_PER_S = BAUD / 10
MARLIN_WIRE = {"advanced_ok": True, "latency_s": 0.002, "noise_rate": 1 / 200}

# Runs a simulator in a child process: prints its URL, waits for a line on stdin, then prints what it
# executed and its counters as one JSON line.
SIMULATOR_PROCESS = f"""
import json, sys
from simulators.serve import SimulatedMachine
firmware, options, seed = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
with SimulatedMachine(firmware, transport="pty", baud={BAUD}, time_scale=0, seed=seed, **options) as sim:
    print(sim.url, flush=True)
    sys.stdin.readline()
    stats = sim.stats
    print(json.dumps({{
        "executed": [line.text for line in sim.executed],
        "overruns": stats.overruns,
        "core_overruns": getattr(sim.core, "rx_overruns", 0),
    }}), flush=True)
"""


def grbl_lines(count: int) -> list[tuple[int, str]]:
    lines = [(1, "G21 G90 G94 F3000")]
    lines += [(i + 2, f"G1 X{(i * 7) % 190 + 1}.{i % 10} Y{(i * 13) % 190 + 1}.5") for i in range(count - 1)]
    return lines


def marlin_lines(count: int) -> list[tuple[int, str]]:
    return [(i + 1, f"G1 X{(i * 7) % 200 + 5}.{i % 10} Y{(i * 11) % 200 + 5}.5 F3000") for i in range(count)]


@contextlib.contextmanager
def busy_core(enabled: bool):
    """Another process spinning on one core while the block runs (if ``enabled``)."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def compact(text: str) -> str:
    return text.replace(" ", "").upper()


def stream_once(firmware: str, lines, options: dict, seed: int) -> dict:
    """One trial: stream ``lines`` to a fresh simulator seeded with ``seed`` (which lines it corrupts);
    return rates, CPU and the simulator's word."""
    from machines import streaming, transport
    from machines.protocol.marlin.engine import frame_line

    proc = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR_PROCESS, firmware, json.dumps(options), str(seed)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = transport.open_port(proc.stdout.readline().strip(), BAUD)
        session = streaming.StreamSession(engine=streaming.engine_for(firmware), port=port, lines=lines)
        cpu0 = cpu_seconds()
        result = session.run()
        cpu = cpu_seconds() - cpu0
        transport.close_quietly(port)
        proc.stdin.write("done\n")
        proc.stdin.flush()
        word = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert result.outcome == "complete", result.reason
    program = [compact(text) for _, text in lines]
    ran = [compact(text) for text in word["executed"] if compact(text) in set(program)]
    # Each program line framed once as the engine frames it (host lines shift the numbers by a few).
    framed = sum(len(frame_line(number, text)) for number, text in lines)
    return {
        "seconds": result.seconds,
        "utilisation": result.streaming_bytes_per_second / LINK_BYTES_PER_S,
        "goodput": framed / (result.seconds - result.connect_seconds) / LINK_BYTES_PER_S,
        "connect_seconds": result.connect_seconds,
        "lines_per_s": len(lines) / result.seconds,
        "cpu_us_per_line": cpu / len(lines) * 1e6,
        "resends": result.resends,
        "once_in_order": ran == program,
        "overruns": word["overruns"] + word["core_overruns"],
    }


def summarise(trials: list[dict], key: str) -> str:
    values = [trial[key] for trial in trials]
    return f"{statistics.median(values):.3f} (worst {min(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=6000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--load", action="store_true", help="keep one core busy with another process")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    os.environ["MES_VAR_DIR"] = tempfile.mkdtemp(prefix="mes-bench-")
    os.environ["MES_QUEUE_PREFIX"] = "bench."
    sys.path.insert(0, str(ROOT))

    with busy_core(args.load):
        grbl = [stream_once("grbl", grbl_lines(args.lines), {}, seed) for seed in range(args.trials)]
        marlin_program = marlin_lines(args.lines // 3)
        marlin = [stream_once("marlin", marlin_program, MARLIN_WIRE, seed) for seed in range(args.trials)]
    load = "one core kept busy by another process" if args.load else "quiet"
    print(
        f"# Streaming benchmark, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {load}, {args.trials} trials"
    )
    print()
    print("| measure | median (worst trial) | goal |")
    print("| --- | --- | --- |")
    goal = 0.95 if args.load else 0.97
    print(
        f"| GRBL link utilisation ({args.lines} lines, stock 128-byte buffer) | "
        f"{summarise(grbl, 'utilisation')} | >= {goal} |"
    )
    print(f"| GRBL receive-buffer overruns, all trials | {sum(t['overruns'] for t in grbl)} | 0 |")
    print(
        f"| Marlin link utilisation ({args.lines // 3} lines, ADVANCED_OK, 2 ms each way, 1/200 corrupted) "
        f"| {summarise(marlin, 'utilisation')} | >= 0.9 |"
    )
    print(f"| Marlin goodput (program bytes once, per link capacity) | {summarise(marlin, 'goodput')} | |")
    print(
        f"| connecting (handshake, GRBL's $I/$$), median, GRBL / Marlin | "
        f"{statistics.median(t['connect_seconds'] for t in grbl):.2f} s / "
        f"{statistics.median(t['connect_seconds'] for t in marlin):.2f} s | |"
    )
    print(f"| Marlin resends per trial, median | {statistics.median(t['resends'] for t in marlin):.0f} | |")
    print(
        f"| Marlin: every program line ran once, in order, in every trial | "
        f"{all(t['once_in_order'] for t in marlin)} | True |"
    )
    print(f"| Marlin receive-buffer overruns, all trials | {sum(t['overruns'] for t in marlin)} | 0 |")
    print(
        f"| host CPU per line, GRBL / Marlin, median | "
        f"{statistics.median(t['cpu_us_per_line'] for t in grbl):.0f} us / "
        f"{statistics.median(t['cpu_us_per_line'] for t in marlin):.0f} us | |"
    )


if __name__ == "__main__":
    main()
