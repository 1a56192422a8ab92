"""Streaming and E-STOP benchmark against the firmware simulators at 115200 baud.

Run: ``.venv/bin/python -m benchmarks.streaming [--lines 6000] [--estops 40]``

Reports
- GRBL: program bytes per second as a fraction of the link's capacity (115200 baud, 10 bits a byte, so
  11,520 bytes/s), with zero-time execution, so only the protocol and the host limit it (goal >= 0.95);
- Marlin: lines per second (one line in flight, as without ADVANCED_OK);
- host CPU per line (the simulator runs in its own process, so this is the host's alone);
- E-STOP latency from the web request (an HTTP POST to the API, through Django) to the byte arriving at the
  simulated machine, with the runner in a real Celery worker process (goal p99 < 50 ms).
"""

import argparse
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


def grbl_lines(count: int) -> list[tuple[int, str]]:
    lines = [(1, "G21 G90 G94 F3000")]
    lines += [(i + 2, f"G1 X{(i * 7) % 190 + 1}.{i % 10} Y{(i * 13) % 190 + 1}.5") for i in range(count - 1)]
    return lines


def marlin_lines(count: int) -> list[tuple[int, str]]:
    return [(i + 1, f"G1 X{(i * 7) % 200 + 5}.{i % 10} Y{(i * 11) % 200 + 5}.5 F3000") for i in range(count)]


def start_simulator(firmware: str) -> tuple[subprocess.Popen, str]:
    """A simulator in its own process (so its CPU is not the host's), on a pty at 115200, instant."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "simulate_machine",
            "--firmware",
            firmware,
            "--baud",
            str(BAUD),
            "--time-scale",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stream_once(firmware: str, lines) -> dict:
    from machines import streaming, transport

    proc, url = start_simulator(firmware)
    try:
        port = transport.open_port(url, BAUD)
        session = streaming.StreamSession(engine=streaming.engine_for(firmware), port=port, lines=lines)
        cpu0 = cpu_seconds()
        result = session.run()
        cpu = cpu_seconds() - cpu0
        transport.close_quietly(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.outcome == "complete", result.reason
    program_bytes = sum(len(text) + 1 for _, text in lines)
    return {
        "lines": len(lines),
        "seconds": result.seconds,
        "bytes_written": result.bytes_written,
        "program_bytes": program_bytes,
        "utilisation": result.bytes_written / result.seconds / LINK_BYTES_PER_S,
        "lines_per_s": len(lines) / result.seconds,
        "cpu_us_per_line": cpu / len(lines) * 1e6,
    }


def estop_latencies(trials: int) -> list[float]:
    """Latency (s) from just before the API request to the E-STOP byte arriving at the machine."""
    import django
    from django.test import Client

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from mes.production import services as production
    from mes.production.models import Machine
    from mes.repairs import services as repairs
    from simulators.serve import SimulatedMachine
    from tests.factories import make_shop
    from tests.support.worker import celery_worker, wait_until

    shop = make_shop()
    Machine.objects.filter(pk=shop.printer.pk).update(state="maintenance")
    client = Client()
    client.force_login(shop.machinist)
    # A shop's web process is warm: load the API stack once, as any earlier request would have.
    assert client.get(f"/api/v1/machines/{shop.mill.pk}/").status_code == 200
    latencies = []
    with SimulatedMachine("grbl", transport="pty", baud=BAUD, time_scale=1.0, envelope=(300, 200, 80)) as sim:
        # Homing first: after an E-STOP mid-motion GRBL stays in alarm (position lost) until homed.
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url, requires_homing=True)
        with celery_worker([shop.mill.queue_name]) as worker:
            for trial in range(trials):
                ticket = repairs.ticket_file(
                    shop.engineer,
                    sector=shop.sector,
                    module=shop.module,
                    severity="critical",
                    description=f"trial {trial}",
                )
                request = repairs.part_request_create(
                    shop.engineer, ticket=ticket, revision=shop.revision, quantity=1
                )
                job = request.work_orders.get().jobs.get()
                production.job_start(shop.machinist, job=job, lot=shop.blanks)
                before, ran = sim.stats.estops, len(sim.executed)
                # Stop mid-cut: wait until the machine is executing this job's moves.
                if not sim.wait_for(lambda core, r=ran: len(core.executed) >= r + 3, timeout=30):
                    job.refresh_from_db()
                    raise RuntimeError(
                        f"trial {trial}: {job} did not run: {job.state} {job.outcome!r}\n"
                        + "".join(worker.output[-30:])
                    )
                t0 = time.monotonic()
                response = client.post(f"/api/v1/machines/{shop.mill.pk}/estop/")
                assert response.status_code == 200, response.content
                if not sim.wait_for(lambda core, b=before: core.stats.estops > b, timeout=5):
                    job.refresh_from_db()
                    raise RuntimeError(
                        f"trial {trial}: the E-STOP did not reach the machine; {job.state} {job.outcome!r}"
                        f" executed {len(sim.executed)} (was {ran})\n" + "".join(worker.output[-25:])
                    )
                latencies.append(sim.stats.estop_times[-1] - t0)
                production.machine_clear_error(shop.machinist, machine=shop.mill, note="benchmark")
                # The runner ends its session and frees the port before the next trial starts.
                assert wait_until(lambda: not sim.connected, timeout=10)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=6000)
    parser.add_argument("--estops", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    os.environ["MES_VAR_DIR"] = tempfile.mkdtemp(prefix="mes-bench-")
    os.environ["MES_QUEUE_PREFIX"] = "bench."
    sys.path.insert(0, str(ROOT))

    grbl = stream_once("grbl", grbl_lines(args.lines))
    marlin = stream_once("marlin", marlin_lines(args.lines // 3))
    latencies = estop_latencies(args.estops)
    ms = [v * 1000 for v in latencies]
    print("E-STOP latencies (ms, in trial order):", " ".join(f"{v:.0f}" for v in ms))
    print(
        f"# Streaming benchmark, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| measure | value | goal |")
    print("| --- | --- | --- |")
    print(
        f"| GRBL link utilisation ({grbl['lines']} lines, 115200 baud, zero-time) | "
        f"{grbl['utilisation']:.3f} ({grbl['bytes_written'] / grbl['seconds']:.0f} B/s of "
        f"{LINK_BYTES_PER_S:.0f}) | >= 0.95 |"
    )
    print(f"| GRBL lines/s | {grbl['lines_per_s']:.0f} | |")
    print(f"| Marlin lines/s ({marlin['lines']} lines, 1 in flight) | {marlin['lines_per_s']:.0f} | |")
    print(
        f"| host CPU per line, GRBL / Marlin | {grbl['cpu_us_per_line']:.0f} us / "
        f"{marlin['cpu_us_per_line']:.0f} us | |"
    )
    print(
        f"| E-STOP latency, web request -> byte at the machine ({len(ms)} trials) | median "
        f"{statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, p99 "
        f"{percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms | p99 < 50 ms |"
    )


if __name__ == "__main__":
    main()
