"""What GRBL-family controllers say while a host connects, and a scripted controller that says it.

The transcripts are the controllers' own words (banner, ``$I``, ``$$``, an idle status report), so the
engine's handshake is tested against what stock GRBL 1.1h, grblHAL and the forks really print.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from machines.protocol.grbl import GrblEngine


def crlf(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


STOCK_SETTINGS = {
    "0": "10", "1": "25", "2": "0", "3": "0", "4": "0", "5": "0", "6": "0", "10": "1", "11": "0.010",
    "12": "0.002", "13": "0", "20": "1", "21": "0", "22": "1", "23": "0", "24": "25.000", "25": "500.000",
    "26": "250", "27": "1.000", "30": "1000", "31": "0", "32": "0", "100": "250.000", "101": "250.000",
    "102": "250.000", "110": "500.000", "111": "500.000", "112": "500.000", "120": "10.000",
    "121": "10.000", "122": "10.000", "130": "200.000", "131": "200.000", "132": "200.000",
}  # fmt: skip


def settings_dump(settings: dict[str, str]) -> bytes:
    return crlf(*(f"${key}={value}" for key, value in settings.items()), "ok")


@dataclass(frozen=True)
class Transcript:
    """A controller's answers: to a soft reset, ``$I``, ``$$`` and ``?`` (None: it never answers)."""

    name: str
    banner: bytes
    build_info: bytes | None
    settings: bytes | None
    status: bytes
    # What the engine should conclude.
    rx_buffer_size: int
    planner_blocks: int | None


STOCK_GRBL = Transcript(
    "grbl-1.1h",
    banner=crlf("", "Grbl 1.1h ['$' for help]"),
    build_info=crlf("[VER:1.1h.20190825:]", "[OPT:V,15,128]", "ok"),
    settings=settings_dump(STOCK_SETTINGS),
    status=crlf("<Idle|MPos:0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000>"),  # $10=1: no Bf:
    rx_buffer_size=127,  # OPT's 128 may be a ring that keeps a slot empty
    planner_blocks=15,
)

GRBLHAL = Transcript(
    "grblHAL",
    banner=crlf("", "GrblHAL 1.1f ['$' or '$HELP' for help]"),
    build_info=crlf(
        "[VER:1.1f.20240110:]",
        "[OPT:VNMSL,35,1024,3,0]",
        "[AXS:3:XYZ]",
        "[NEWOPT:ENUMS,RT+,HOME,TC,SED]",
        "[FIRMWARE:grblHAL]",
        "[DRIVER:STM32F446]",
        "ok",
    ),
    settings=settings_dump({**STOCK_SETTINGS, "10": "511", "341": "0", "376": "0"}),
    status=crlf("<Idle|MPos:0.000,0.000,0.000|Bf:35,1023|FS:0,0|WCO:0.000,0.000,0.000>"),
    rx_buffer_size=1023,  # Bf: at rest is the exact capacity
    planner_blocks=35,
)

BUFFER_STATE_ONLY = Transcript(
    "Bf-only",
    banner=crlf("", "Grbl 1.1h ['$' for help]"),
    build_info=crlf("[VER:1.1h.20190825:]", "ok"),  # a build that prints no [OPT:..]
    settings=settings_dump({**STOCK_SETTINGS, "10": "3"}),
    status=crlf("<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0>"),
    rx_buffer_size=128,
    planner_blocks=15,
)

NEITHER = Transcript(
    "neither",
    banner=crlf("", "Grbl 3.7 [FluidNC v3.7.8 (noradio) '$' for help]"),
    build_info=crlf("[VER:3.7 FluidNC v3.7.8:]", "[OPT:PH]", "ok"),  # no buffer numbers
    settings=settings_dump({"0": "10", "10": "1", "130": "300.000"}),
    status=crlf("<Idle|MPos:0.000,0.000,0.000|FS:0,0>"),
    rx_buffer_size=127,  # the fallback
    planner_blocks=None,
)

SILENT_TO_QUERIES = Transcript(
    "ignores $I and $$",
    banner=crlf("", "Grbl 1.1h ['$' for help]"),
    build_info=None,
    settings=None,
    status=crlf("<Idle|MPos:0.000,0.000,0.000|FS:0,0>"),
    rx_buffer_size=127,
    planner_blocks=None,
)

TRANSCRIPTS = [STOCK_GRBL, GRBLHAL, BUFFER_STATE_ONLY, NEITHER]


@dataclass
class ScriptedGrbl:
    """Answers what the engine writes from a transcript: 0x18 -> banner, ``?`` -> status, lines -> replies.

    Program lines are answered ``ok`` (``answer_lines=False`` leaves them unanswered); ``silent`` makes
    it say nothing at all, as a pulled cable would. Every line it read is kept in ``lines``.
    """

    transcript: Transcript
    answer_lines: bool = True
    silent: bool = False
    status: bytes | None = None  # overrides the transcript's status report (e.g. "<Run|..>")
    lines: list[str] = field(default_factory=list)
    _partial: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            if byte == 0x18:
                out += self.transcript.banner
            elif byte == ord("?"):
                out += self.status or self.transcript.status
            elif byte in b"!~" or byte >= 0x80:
                continue
            elif byte == ord("\n"):
                out += self._answer(self._partial.decode())
                self._partial.clear()
            else:
                self._partial.append(byte)
        return b"" if self.silent else bytes(out)

    def _answer(self, line: str) -> bytes:
        self.lines.append(line)
        if line == "$I":
            return self.transcript.build_info or b""
        if line == "$$":
            return self.transcript.settings or b""
        return b"ok\r\n" if self.answer_lines else b""


@dataclass
class Link:
    """An engine and a scripted controller joined by a fake clock (no sleeps, no port)."""

    engine: GrblEngine
    controller: ScriptedGrbl
    now: float = 0.0
    written: bytearray = field(default_factory=bytearray)
    events: list = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.written += data
        self.events += self.engine.receive_data(self.controller.feed(data), self.now)

    def turn(self, step: float = 0.01) -> list:
        """One pass of an I/O loop at ``now``, then advance the clock; returns this turn's events."""
        before = len(self.events)
        self.write(self.engine.data_to_send(self.now) + self.engine.poll(self.now))
        self.now = round(self.now + step, 6)
        return self.events[before:]

    def run_until(self, done, limit: float = 30.0, step: float = 0.01) -> None:
        end = self.now + limit
        while not done() and self.now < end:
            self.turn(step)
        assert done(), f"not done after {limit} s: {self.engine.state}"


def connect(transcript: Transcript = STOCK_GRBL, **options) -> Link:
    """An engine that completed its handshake against ``transcript`` (or failed it)."""
    link = Link(GrblEngine(**options), ScriptedGrbl(transcript))
    link.write(link.engine.handshake(link.now))
    link.run_until(lambda: link.engine.state.value != "handshaking", limit=10.0)
    return link
