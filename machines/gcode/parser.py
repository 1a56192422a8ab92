"""Line-by-line G-code parser for GRBL 1.1 and Marlin 2 dialects.

The parser knows syntax only; whether a command is allowed or a move is safe is
decided by :mod:`machines.gcode.validation` against a machine profile.

What it accepts:

* ``;`` end-of-line comments and ``( ... )`` inline comments (several per line);
* letters in either case, whitespace anywhere between words and between a letter
  and its number (``X 10``), numbers such as ``.35``, ``-0.5``, ``+3``, ``1.``;
* an ``N`` line number as the first word, and a Marlin ``*NN`` checksum, which is
  verified (XOR of every byte before the ``*``);
* ``%`` program delimiter lines (nothing to send);
* GRBL system commands starting with ``$``;
* Marlin commands whose argument is free text (``M117 Hello``), kept verbatim.

Non-ASCII characters are a syntax error outside comments (they would be sent to
the controller); inside comments they are harmless because comments are never sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from machines.gcode.issues import GcodeIssue, GcodeSyntaxError

# Key under which a free-text argument (``M117 Hello``) is stored in ``words``.
TEXT_WORD = "text"
# Key under which a GRBL system command's name (``$H`` -> "H") is stored in ``words``.
SYSTEM_WORD = "$"
# Key under which the value of a GRBL ``$x=value`` assignment is stored in ``words``.
ASSIGNMENT_WORD = "="

# Marlin commands that take one free-text argument instead of words.
STRING_ARGUMENT_COMMANDS = frozenset({"M23", "M28", "M30", "M32", "M33", "M117", "M118", "M928"})
# Words whose number names a command rather than a parameter.
COMMAND_LETTERS = frozenset("GMT")
# Letters that may legitimately repeat on one line (``G90 G21``, ``M3 M8``).
REPEATABLE_LETTERS = frozenset("GM")

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_WORD = re.compile(rf"([A-Z])\s*({_NUMBER})\s*")
_WORDS_ONLY = re.compile(rf"\s*(?:[A-Z]\s*{_NUMBER}\s*)*")
_LINE_NUMBER = re.compile(r"N\s*(\d+)\s*")
_STRING_COMMAND = re.compile(r"M\s*0*(\d+)(?![\d.])")
_SYSTEM_COMMAND = re.compile(r"\$(\$|#|[A-Z]+\d*|\d+)\s*(?:=(.*))?\Z", re.DOTALL)
_CHECKSUM = re.compile(r"\s*(\d+)\s*\Z")


@dataclass(frozen=True)
class GcodeLine:
    """One source line, parsed.

    ``words`` holds ``(letter, value)`` pairs in source order with letters upper-cased
    and numbers as floats; the ``N`` word and checksum are kept apart in
    ``line_number``/``checksum``. Free-text arguments are stored as
    ``(TEXT_WORD, "Hello")``; GRBL system commands as ``(SYSTEM_WORD, "H")`` plus
    ``(ASSIGNMENT_WORD, "200")`` for ``$130=200`` or the jog's own words for ``$J=``.

    ``command`` is the first G/M/T word (``"G1"``, ``"G38.2"``, ``"T0"``) or the
    system command name before any ``=`` (``"$H"``, ``"$J"``, ``"$130"``, ``"$RST"``);
    it is None when the line carries no such word (comment, blank, or bare
    parameter words such as ``F300`` or a modal ``X10``).

    ``text`` is what a sender transmits: upper-case (except a free-text argument),
    comments, line number and checksum removed, one space between words; ``""``
    when there is nothing to send.
    """

    source_line: int
    raw: str
    words: tuple[tuple[str, float | str], ...]
    command: str | None
    comment: str | None
    line_number: int | None
    checksum: int | None
    text: str

    def value(self, letter: str) -> float | str | None:
        """The first value given for ``letter`` on this line, or None."""
        for word_letter, word_value in self.words:
            if word_letter == letter:
                return word_value
        return None


@dataclass(frozen=True)
class ParsedProgram:
    """A whole program: one :class:`GcodeLine` per source line, plus syntax errors.

    A line that failed to parse is still present (so ``lines[i].source_line == i + 1``)
    but with no words and ``text == ""``, so it can never be sent by accident.
    """

    lines: tuple[GcodeLine, ...]
    errors: tuple[GcodeIssue, ...]

    def sendable(self) -> list[tuple[int, str]]:
        """``(source_line, text)`` for every line that has something to send."""
        return [(line.source_line, line.text) for line in self.lines if line.text]


def parse_program(text: str) -> ParsedProgram:
    """Parse a whole program. Never raises for bad input; errors are collected."""
    lines: list[GcodeLine] = []
    errors: list[GcodeIssue] = []
    for index, raw in enumerate(_split_lines(text), start=1):
        try:
            lines.append(parse_line(raw, index))
        except GcodeSyntaxError as error:
            errors.append(error.as_issue())
            lines.append(_unparsable_line(raw, index))
    return ParsedProgram(lines=tuple(lines), errors=tuple(errors))


def parse_line(raw: str, source_line: int) -> GcodeLine:
    """Parse one line (without its newline).

    Raises :class:`GcodeSyntaxError` naming ``source_line`` and the reason.
    """
    code, comment = _split_comments(raw, source_line)
    if not code.isascii():
        raise GcodeSyntaxError(source_line, "non-ASCII character outside a comment")
    if code.lstrip().startswith("$"):
        # GRBL system commands carry neither line numbers nor checksums ("$RST=*").
        return _parse_system_command(raw, code.strip(), comment, source_line)
    code, checksum = _take_checksum(raw, code, source_line)
    body = code.strip()
    if not body or body == "%":
        return GcodeLine(source_line, raw, (), None, comment, None, checksum, "")
    line_number, body = _take_line_number(body)
    words, command, text = _parse_words(body, source_line)
    return GcodeLine(source_line, raw, words, command, comment, line_number, checksum, text)


def _split_lines(text: str) -> list[str]:
    # str.splitlines() would also break on form feeds and Unicode separators, which
    # would shift every following line number; only \n (with optional \r) ends a line.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _unparsable_line(raw: str, source_line: int) -> GcodeLine:
    return GcodeLine(source_line, raw, (), None, None, None, None, "")


def _split_comments(raw: str, source_line: int) -> tuple[str, str | None]:
    """Return the code with comments blanked out, and the comment text.

    Parenthesised comments are replaced by spaces of the same length so that
    positions in the code still match positions in ``raw`` (the checksum needs that).
    """
    if "(" not in raw:
        code, separator, comment = raw.partition(";")
        return code, (comment.strip() if separator else None)
    code_chars: list[str] = []
    comments: list[str] = []
    position = 0
    while position < len(raw):
        char = raw[position]
        if char == ";":
            comments.append(raw[position + 1 :].strip())
            break
        if char == "(":
            closing = raw.find(")", position + 1)
            if closing < 0:
                raise GcodeSyntaxError(source_line, "comment opened with '(' is never closed")
            comments.append(raw[position + 1 : closing].strip())
            code_chars.append(" " * (closing - position + 1))
            position = closing + 1
            continue
        code_chars.append(char)
        position += 1
    return "".join(code_chars), (" ".join(comments) if comments else None)


def _take_checksum(raw: str, code: str, source_line: int) -> tuple[str, int | None]:
    """Split off and verify a Marlin ``*NN`` checksum; return the code before it."""
    star = code.find("*")
    if star < 0:
        return code, None
    match = _CHECKSUM.match(code, star + 1)
    if match is None:
        raise GcodeSyntaxError(source_line, "checksum after '*' must be a number 0 to 255")
    given = int(match.group(1))
    expected = 0
    for byte in raw[:star].encode("utf-8"):
        expected ^= byte
    if given != expected:
        raise GcodeSyntaxError(
            source_line, f"checksum mismatch: line says {given}, its content gives {expected}"
        )
    return code[:star], given


def _take_line_number(body: str) -> tuple[int | None, str]:
    match = _LINE_NUMBER.match(body.upper())
    if match is None:
        return None, body
    return int(match.group(1)), body[match.end() :]


def _parse_words(body: str, source_line: int) -> tuple[tuple[tuple[str, float | str], ...], str | None, str]:
    """Return ``(words, command, normalised text)`` for the code after any N word."""
    upper = body.upper()
    if upper.startswith("M"):
        string_command = _STRING_COMMAND.match(upper)
        if string_command and f"M{int(string_command.group(1))}" in STRING_ARGUMENT_COMMANDS:
            return _string_command_words(body, string_command)
    tokens = _tokenize(upper, source_line)
    _check_letter_placement(tokens, source_line)
    words = tuple([(letter, float(number)) for letter, number in tokens])
    text_parts = [
        _command_name(letter, value) if letter in COMMAND_LETTERS else letter + number
        for (letter, number), (_, value) in zip(tokens, words, strict=True)
    ]
    command = next((part for part in text_parts if part[0] in COMMAND_LETTERS), None)
    return words, command, " ".join(text_parts)


def _string_command_words(
    body: str, match: re.Match[str]
) -> tuple[tuple[tuple[str, float | str], ...], str, str]:
    number = int(match.group(1))
    command = f"M{number}"
    # Slice the original (not upper-cased) body: the message keeps its case.
    argument = " ".join(body[match.end() :].split())
    words: tuple[tuple[str, float | str], ...] = (("M", float(number)),)
    if not argument:
        return words, command, command
    return (*words, (TEXT_WORD, argument)), command, f"{command} {argument}"


def _tokenize(upper: str, source_line: int) -> list[tuple[str, str]]:
    """Split upper-cased code into ``(letter, number text)`` tokens, or raise."""
    if _WORDS_ONLY.fullmatch(upper):
        return _WORD.findall(upper)
    # Slow path, only for broken lines: find where the words stop making sense.
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in _WORD.finditer(upper):
        if match.start() != position:
            break
        tokens.append((match.group(1), match.group(2)))
        position = match.end()
    raise GcodeSyntaxError(source_line, _describe_junk(upper, position, tokens))


def _describe_junk(upper: str, position: int, tokens: list[tuple[str, str]]) -> str:
    while upper[position].isspace():
        position += 1
    char = upper[position]
    rest = upper[position:].split()[0]
    if char.isalpha():
        if char == "N":
            return "line number N must be the first word"
        return f"word {char} has no number"
    if char in "0123456789.+-":
        if tokens and not upper[position - 1].isspace():
            letter, number = tokens[-1]
            return f"malformed number {letter}{number}{rest}"
        return f"number {rest} has no letter"
    return f"unexpected character {char!r}"


def _check_letter_placement(tokens: list[tuple[str, str]], source_line: int) -> None:
    letters = {letter for letter, _ in tokens}
    if "N" in letters:
        raise GcodeSyntaxError(source_line, "line number N must be the first word")
    if len(letters) == len(tokens):
        return
    seen: set[str] = set()
    for letter, _number in tokens:
        if letter in seen and letter not in REPEATABLE_LETTERS:
            raise GcodeSyntaxError(source_line, f"word {letter} appears more than once")
        seen.add(letter)


def _command_name(letter: str, value: float) -> str:
    """``G01`` -> "G1", ``G38.2`` -> "G38.2"."""
    if value.is_integer():
        return f"{letter}{int(value)}"
    return f"{letter}{value:g}"


def _parse_system_command(raw: str, body: str, comment: str | None, source_line: int) -> GcodeLine:
    """Parse a GRBL ``$`` line: ``$H``, ``$$``, ``$130=200``, ``$J=G91 X10 F100``..."""
    upper = body.upper()
    match = _SYSTEM_COMMAND.match(upper)
    if match is None:
        raise GcodeSyntaxError(source_line, f"unrecognised system command {body}")
    name, value = match.group(1), match.group(2)
    command = "$" + name
    words: list[tuple[str, float | str]] = [(SYSTEM_WORD, name)]
    if name == "J":
        if value is None or not value.strip():
            raise GcodeSyntaxError(source_line, "jog command $J needs '=' and a target")
        jog_words, _jog_command, jog_text = _parse_words(value.strip(), source_line)
        words.extend(jog_words)
        return GcodeLine(source_line, raw, tuple(words), command, comment, None, None, f"$J={jog_text}")
    text = command
    if value is not None:
        assigned = " ".join(value.split())
        words.append((ASSIGNMENT_WORD, assigned))
        text = f"{command}={assigned}"
    return GcodeLine(source_line, raw, tuple(words), command, comment, None, None, text)
