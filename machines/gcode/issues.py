"""Problems found in a G-code program, shared by the parser and the validator."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class GcodeIssue:
    """One problem on one line of a program.

    ``reason`` is written for the machinist (plain words, units spelled out);
    ``str(issue)`` prefixes it with the 1-based source line number.
    """

    source_line: int
    reason: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"line {self.source_line}: {self.reason}"


class GcodeSyntaxError(ValueError):
    """Raised by :func:`parse_line` for a line that cannot be understood."""

    def __init__(self, source_line: int, reason: str) -> None:
        super().__init__(f"line {source_line}: {reason}")
        self.source_line = source_line
        self.reason = reason

    def as_issue(self) -> GcodeIssue:
        return GcodeIssue(self.source_line, self.reason)
