"""Our Marlin host against a peer nobody here wrote: OctoPrint's virtual printer.

``tests/peers/octoprint_virtual_printer.py`` runs OctoPrint's ``VirtualPrinter`` in the separate peer
virtualenv (``make peer-venv``) behind a TCP port; the stream goes over ``socket://`` through the real
transport and ``StreamSession``, with the real PrusaSlicer program from ``shared/samples``. The peer records
every command it actually executed (with its line number), so each scenario proves that every program line
ran exactly once and in order, not only that the host counted its ``ok``s.

Without ``.venv-peer`` these tests skip, unless ``MES_REQUIRE_PEERS`` is set (CI sets it): then they fail.
Settings are the virtual printer's own keys (``octoprint.plugins.virtual_printer``, OctoPrint pinned in
``requirements-peer.txt``), overlaid on its defaults. Every scenario pins the hotend at 200 °C unless it is
about heating, so that the program's ``M109 S200`` does not spend the test's time heating at 10 °C/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from machines import gcode, streaming, transport
from machines.protocol.marlin.engine import MarlinEngine
from machines.protocol.registry import profile_for

pytestmark = [pytest.mark.peer, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PEER_PYTHON = REPO / ".venv-peer" / "bin" / "python"
PEER_SCRIPT = REPO / "tests" / "peers" / "octoprint_virtual_printer.py"
SAMPLE = REPO.parent / "shared" / "samples" / "gcode" / "bracket-80x30x4-pla.gcode"
# The printer the PrusaSlicer samples were sliced for (as in tests/machines/gcode/conftest.py).
PRINTER_ENVELOPE = gcode.Envelope(0, 250, 0, 210, 0, 210)
PROGRAM_LINES = 300  # start code (home, heat) and the first layer's skirt and perimeters
# Lines the engine numbers and sends of its own accord; the sample program contains none of them.
ENGINE_COMMANDS = {"M115", "M105", "M155 S1", "M113 S1"}
# A run that takes longer than this is cancelled, so a scenario fails instead of hanging.
WATCHDOG_S = 25.0
PINNED_HOTEND = {"pinnedExtruders": {"0": 200}}


def _missing(what: str) -> None:
    if os.environ.get("MES_REQUIRE_PEERS"):
        pytest.fail(f"{what} (MES_REQUIRE_PEERS is set, so a missing peer is a failure)")
    pytest.skip(f"{what}; `make peer-venv` builds it (set MES_REQUIRE_PEERS=1 to fail instead)")


@pytest.fixture(scope="module")
def program() -> list[tuple[int, str]]:
    if not PEER_PYTHON.exists():
        _missing(f"the third-party peer virtualenv {PEER_PYTHON.parent.parent} is missing")
    if not SAMPLE.exists():
        _missing(f"the sample printer program {SAMPLE} is missing")
    parsed, report = gcode.check_program(
        SAMPLE.read_text(encoding="utf-8"), profile_for("marlin", PRINTER_ENVELOPE)
    )
    assert report.ok, report.errors[:5]
    lines = parsed.sendable()[:PROGRAM_LINES]
    assert not {text for _, text in lines} & ENGINE_COMMANDS
    return lines


@dataclass
class Peer:
    port: int
    executed_path: Path
    transcript_path: Path
    process: subprocess.Popen

    def executed(self) -> list[dict]:
        text = self.executed_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def transcript(self) -> list[str]:
        return self.transcript_path.read_text(encoding="utf-8").splitlines()


@contextmanager
def virtual_printer(tmp_path: Path, settings: dict, *, inject: tuple[int, str] | None = None):
    """Start the peer on a free port (it prints the port first) and stop it after the block."""
    executed, transcript = tmp_path / "executed.jsonl", tmp_path / "wire.log"
    command = [
        str(PEER_PYTHON),
        str(PEER_SCRIPT),
        "--port=0",
        f"--executed={executed}",
        f"--transcript={transcript}",
        f"--settings={json.dumps(settings)}",
    ]
    if inject is not None:
        command += [f"--inject-after={inject[0]}", f"--inject={inject[1]}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline().strip()
        if not first.isdigit():
            process.kill()
            pytest.fail(f"the virtual printer did not start: {first!r} {process.stderr.read()}")
        yield Peer(int(first), executed, transcript, process)
        # It exits once the client hung up; its records are complete then.
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def stream(peer: Peer, lines, *, engine=None, commands=None) -> tuple[streaming.StreamResult, list[dict]]:
    """Stream ``lines`` to the peer; ``commands(acknowledged)`` may return control commands.

    Returns the result and what the peer had executed when the session ended, before the port closed: a
    "complete" must mean the printer has run everything (the settle M400 is answered only then).
    """
    port = transport.open_port(f"socket://127.0.0.1:{peer.port}", 115200)
    started = time.monotonic()
    progress = {"acknowledged": 0}
    cancelled = []

    def poll() -> list[str]:
        if time.monotonic() - started > WATCHDOG_S and not cancelled:
            cancelled.append(True)
            return ["cancel"]
        return commands(progress["acknowledged"]) if commands else []

    def on_progress(acknowledged: int, total: int) -> None:
        progress["acknowledged"] = acknowledged

    session = streaming.StreamSession(
        engine=engine or MarlinEngine(),
        port=port,
        lines=lines,
        hooks=streaming.StreamHooks(poll_commands=poll, on_progress=on_progress),
        progress_interval=0.0,
    )
    try:
        result = session.run()
        return result, peer.executed()
    finally:
        transport.close_quietly(port)


def excerpt(peer: Peer, around: int = 12) -> str:
    """The wire around the first error, resend or halt the peer sent, else its last lines."""
    lines = peer.transcript()
    marks = [
        i for i, line in enumerate(lines) if any(m in line for m in (">>> Error", ">>> Resend", ">>> !!"))
    ]
    start = max(0, marks[0] - around) if marks else max(0, len(lines) - 2 * around)
    return "\n".join(lines[start : start + 2 * around + 1])


def program_records(records: list[dict]) -> list[dict]:
    return [r for r in records if "command" in r and r["command"] not in ENGINE_COMMANDS]


def assert_ran_once_in_order(outcome, peer: Peer, lines) -> None:
    """Complete, and the peer executed exactly the program (and the settle M400), each line once, in order:
    already when the session ended, and still after the peer stopped."""
    result, at_end = outcome
    wire = excerpt(peer)
    assert result.outcome == "complete", f"{result.outcome}: {result.reason}\n--- wire (>>> = peer)\n{wire}"
    expected = [text for _, text in lines] + [MarlinEngine().settle_command()]
    for when, records in (("when the session ended", at_end), ("after the peer stopped", peer.executed())):
        records = program_records(records)
        ran = [r["command"] for r in records]
        assert ran == expected, f"{when}: {_first_difference(ran, expected)}\n--- wire (>>> = peer)\n{wire}"
        numbers = [r["n"] for r in records]
        assert None not in numbers, f"{when}: a program line ran unnumbered"
        assert numbers == sorted(set(numbers)), f"{when}: a line number ran twice or out of order\n{wire}"
    assert result.lines_acknowledged == len(expected)


def assert_prefix_ran_once(peer: Peer, lines) -> list[dict]:
    """For a run stopped early: what ran is the start of the program, each line once, in order."""
    records = [r for r in program_records(peer.executed()) if r["n"] is not None]
    ran = [r["command"] for r in records]
    assert ran == [text for _, text in lines][: len(ran)]
    numbers = [r["n"] for r in records]
    assert numbers == sorted(set(numbers))
    return records


def _once_after(acknowledged: int, command: str):
    sent = []

    def commands(done: int) -> list[str]:
        if done >= acknowledged and not sent:
            sent.append(command)
            return [command]
        return []

    return commands


def _first_difference(ran: list[str], expected: list[str]) -> str:
    for index, (got, want) in enumerate(zip(ran, expected, strict=False)):
        if got != want:
            return f"program command {index}: ran {got!r}, expected {want!r}"
    return f"{len(ran)} of {len(expected)} program commands ran"


# -- scenarios: the virtual printer's own settings keys ------------------------------------------------------

# Each scenario changes one thing from a quiet printer: no reset banner, no simulated errors (the plugin's
# defaults force line errors at wire lines 100, 105, 110 and 115), the hotend pinned at 200 °C.
QUIET = {**PINNED_HOTEND, "simulated_errors": [], "simulateReset": False}

SCENARIOS = {
    # The plugin's defaults: the reset banner on connect ("start", "Marlin: Virtual Marlin!", a \x80 noise
    # byte, "SD card ok"), "wait" when idle, autoreported temperatures, rxBuffer 64 bytes, commandBuffer 4.
    "defaults": {**PINNED_HOTEND, "simulated_errors": []},
    # As quiet as it gets: says nothing until asked.
    "no_reset_banner": QUIET,
    # A tiny receive buffer (each line arrives in pieces) and a one-move planner queue.
    "small_buffers": {**QUIET, "rxBuffer": 16, "commandBuffer": 1},
    # No temperature auto-report: the engine polls M105 (numbered) itself.
    "no_autoreport": {**QUIET, "capabilities": {"AUTOREPORT_TEMP": False}},
    # Heating for real (170 -> 200 °C) with busy keep-alives ("echo:busy: processing") and T: reports.
    "busy_heating": {
        "simulated_errors": [],
        "simulateReset": False,
        "sendBusy": True,
        "busyInterval": 0.5,
        "ambientTemperature": 170.0,
    },
    # ADVANCED_OK: "ok N<n> P<planner free> B<buffer free>" lets the engine keep several lines in flight.
    "advanced_ok": {
        **QUIET,
        "capabilities": {"ADVANCED_OK": True},
        "okFormatString": "ok N{lastN} P{buffer} B{buffer}",
    },
    # The virtual printer's forced line errors ("simulated_errors", at wire line numbers), one kind each.
    # "resend": "Error: Missing checksum" + "Resend:N" + "ok".
    "forced_resend": {**QUIET, "simulated_errors": ["40:resend"]},
    # "checksum_mismatch": "Error: Checksum mismatch" + "Resend:N" + "ok".
    "forced_checksum_mismatch": {**QUIET, "simulated_errors": ["40:checksum_mismatch"]},
    # "missing_lineno": only "Error: No Line Number with checksum, Last Line: N-1" (no Resend, no ok);
    # the next line then gets "Error: expected line N got N+1" + "Resend:N" + "ok".
    "forced_missing_lineno": {**QUIET, "simulated_errors": ["40:missing_lineno"]},
    # Resend without ok ("brokenResend"; the plugin's "okAfterResend" key is read by nothing in this version).
    "no_ok_after_resend": {
        **QUIET,
        "okAfterResend": False,
        "brokenResend": True,
        "simulated_errors": ["40:checksum_mismatch"],
    },
}
# Left out on purpose, because the virtual printer itself loses a line there, so no host can run every line
# once: "resend_ratio" (it drops line N after taking its number, then asks for N+1) and the simulated error
# "resend_with_timeout" (it takes the number of the line it asked for again, then ignores that line).


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_program_runs_once_in_order(scenario, program, tmp_path):
    with virtual_printer(tmp_path, SCENARIOS[scenario]) as peer:
        outcome = stream(peer, program)
    assert_ran_once_in_order(outcome, peer, program)


def test_lost_line_is_sent_again(program, tmp_path):
    """The peer drops one line without a word ("dont_answer"): the host must notice and send it again."""
    with virtual_printer(tmp_path, QUIET, inject=(60, "dont_answer")) as peer:
        outcome = stream(peer, program)
    assert_ran_once_in_order(outcome, peer, program)


def test_emergency_stop_reaches_the_emergency_parser(program, tmp_path):
    """M112 mid-job: the peer's emergency parser kills it, and nothing ran twice before that."""
    with virtual_printer(tmp_path, QUIET) as peer:
        result, _ = stream(peer, program, commands=_once_after(100, "estop"))
    assert result.outcome == "estop", result.reason
    records = peer.executed()
    assert {"event": "M112"} in records, excerpt(peer)
    ran = assert_prefix_ran_once(peer, program)
    assert 100 <= len(ran) < len(program)


def test_firmware_halt_fails_the_job(program, tmp_path):
    """Marlin's thermal-runaway halt, in the peer's words, fails the job; nothing ran twice."""
    with virtual_printer(tmp_path, QUIET, inject=(60, "trigger_fatal_error_marlin")) as peer:
        result, _ = stream(peer, program)
    assert result.outcome == "failed", f"{result.outcome}\n{excerpt(peer)}"
    assert "halted" in result.reason.lower() or "runaway" in result.reason.lower(), result.reason
    assert_prefix_ran_once(peer, program)
