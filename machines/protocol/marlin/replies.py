"""What Marlin-family firmware says, read without any state: error classes, resend numbers, host actions.

The family is wider than Marlin itself: Prusa firmware, RepRapFirmware in Marlin mode and the virtual
printers that printer hosts ship for testing all speak the same line protocol with their own wording.
So an error is classified by what it is about, never by one firmware's exact text:

* about line numbers or checksums ("checksum mismatch", "Line Number is not Last Line Number+1",
  "No Checksum with line number", "Missing checksum", "expected line 110 got 111", ...): the line was
  rejected and must be sent again. The number to resend from is read from the text when it says
  ("Last Line: 99" -> 100, "expected line 110" -> 110);
* a halt (``Printer halted``, ``kill()``, thermal runaway, MINTEMP/MAXTEMP...): the job is over;
* anything else: reported, and the job goes on (Marlin answers such commands with ``ok`` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_ERROR = re.compile(
    r"checksum|line\s*number|last\s*line|expected\s+line|line\s*no\b|no\s+line|resend", re.IGNORECASE
)
_LAST_LINE = re.compile(r"last\s*line\s*:?\s*(\d+)", re.IGNORECASE)
_EXPECTED_LINE = re.compile(r"expected\s+line\s*:?\s*N?(\d+)", re.IGNORECASE)
_HALT_MARKERS = (
    "thermal runaway",
    "mintemp",
    "maxtemp",
    "heating failed",
    "printer halted",
    "kill()",
    "killed",
    "stopped due to errors",
    "system stopped",
    "emergency stop",
)


@dataclass(frozen=True)
class LineRejection:
    """An error saying a numbered line was not accepted; ``resend_from`` is None when the text omits it."""

    resend_from: int | None


def classify_error(body: str) -> str:
    """``"line"``, ``"halt"`` or ``"other"`` for the text after ``Error:``."""
    lowered = body.lower()
    if any(marker in lowered for marker in _HALT_MARKERS):
        return "halt"
    if _LINE_ERROR.search(body):
        return "line"
    return "other"


def line_rejection(body: str) -> LineRejection:
    """The line to resend from, as far as an error about line numbers or checksums says it."""
    expected = _EXPECTED_LINE.search(body)
    if expected:
        return LineRejection(int(expected.group(1)))
    last = _LAST_LINE.search(body)
    if last:
        return LineRejection(int(last.group(1)) + 1)
    return LineRejection(None)


@dataclass(frozen=True)
class ParsedAction:
    """``//action:<name> <detail>`` split into its lower-case name and the rest."""

    name: str
    detail: str


def parse_host_action(text: str) -> ParsedAction:
    """Split the text after ``//action:``; e.g. ``out_of_filament T0`` -> ("out_of_filament", "T0")."""
    name, _, detail = text.strip().partition(" ")
    return ParsedAction(name.lower(), detail.strip())


class PromptBuilder:
    """Collects ``prompt_begin``/``prompt_choice``/``prompt_button`` until ``prompt_show``.

    Marlin's host prompts (``PROMPT_SUPPORT``) arrive as several actions; a person needs them as one
    question with its choices.
    """

    def __init__(self) -> None:
        self.message = ""
        self.choices: list[str] = []

    def begin(self, message: str) -> None:
        self.message = message
        self.choices = []

    def add_choice(self, choice: str) -> None:
        if choice:
            self.choices.append(choice)

    def text(self) -> str:
        """The whole prompt as one line: ``Filament runout T0 (choices: Continue / Purge more)``."""
        if not self.choices:
            return self.message
        return f"{self.message} (choices: {' / '.join(self.choices)})"
