"""Stream one G-code file to a machine outside the MES, with a progress bar or a JSON summary."""

import json
import signal
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from machines import gcode, protocol, streaming, transport

# Syntax and forbidden commands are always checked; the envelope only when --envelope gives one.
UNBOUNDED = gcode.Envelope(-1e6, 1e6, -1e6, 1e6, -1e6, 1e6)


def parse_envelope(text: str) -> gcode.Envelope:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 6:
        raise CommandError("--envelope takes six numbers: xmin,xmax,ymin,ymax,zmin,zmax (mm)")
    return gcode.Envelope(*values)


class Command(BaseCommand):
    help = "Stream a G-code file to a GRBL or Marlin machine (validated first; Ctrl-C cancels safely)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--port", required=True, help="pyserial URL: /dev/ttyUSB0, socket://host:port ..."
        )
        parser.add_argument("--firmware", required=True, choices=list(protocol.firmwares()))
        parser.add_argument("--baud", type=int, default=115200)
        parser.add_argument("--envelope", help="xmin,xmax,ymin,ymax,zmin,zmax in machine mm")
        parser.add_argument(
            "--check", action="store_true", help="dry-run on the controller where it can (GRBL: $C)"
        )
        parser.add_argument("--json", action="store_true", help="print a JSON summary instead of a bar")

    def handle(self, *args, **options):
        lines = self._validated_lines(options)
        try:
            port = transport.open_port(options["port"], options["baud"])
        except transport.TransportLost as exc:
            raise CommandError(str(exc)) from exc
        engine = protocol.engine_class(options["firmware"])
        engine_options = {"dry_run": True} if options["check"] and engine.supports_dry_run else {}
        commands: list[str] = []
        previous = signal.signal(signal.SIGINT, lambda *_: commands.append("cancel"))
        bar = None if options["json"] else tqdm(total=len(lines), unit="line", file=sys.stderr)

        def take() -> list[str]:
            taken = commands[:]
            commands.clear()
            return taken

        def progress(acknowledged: int, total: int) -> None:
            if bar is not None:
                bar.n = acknowledged
                bar.refresh()

        session = streaming.StreamSession(
            engine=engine(**engine_options),
            port=port,
            lines=lines,
            hooks=streaming.StreamHooks(poll_commands=take, on_progress=progress),
            progress_interval=0.2,
        )
        try:
            result = session.run()
        finally:
            signal.signal(signal.SIGINT, previous)
            transport.close_quietly(port)
            if bar is not None:
                bar.close()
        self._report(result, as_json=options["json"])
        if result.outcome != "complete":
            raise CommandError(f"stream {result.outcome}: {result.reason}", returncode=1)

    def _validated_lines(self, options) -> list[tuple[int, str]]:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        envelope = parse_envelope(options["envelope"]) if options["envelope"] else UNBOUNDED
        profile = protocol.profile_for(options["firmware"], envelope)
        program, report = gcode.check_program(path.read_text(errors="replace"), profile)
        if not report.ok:
            shown = "\n".join(f"  {issue}" for issue in report.errors[:20])
            raise CommandError(f"{path} was not sent; fix these first:\n{shown}", returncode=2)
        return program.sendable()

    def _report(self, result: streaming.StreamResult, *, as_json: bool) -> None:
        summary = {
            "outcome": result.outcome,
            "reason": result.reason,
            "lines": result.lines_total,
            "lines_sent": result.lines_sent,
            "lines_acknowledged": result.lines_acknowledged,
            "resends": result.resends,
            "errors": result.errors,
            "seconds": round(result.seconds, 3),
            "bytes_per_second": round(result.bytes_per_second, 1),
        }
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"{result.outcome}: {result.lines_acknowledged}/{result.lines_total} lines acknowledged, "
                f"{result.resends} resends, {result.errors} errors, {result.seconds:.1f} s, "
                f"{result.bytes_per_second:.0f} bytes/s"
            )
