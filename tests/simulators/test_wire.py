"""Wire pacing accounting, with made-up times (no I/O)."""

import pytest

from simulators.wire import Wire


def test_9600_baud_carries_960_bytes_per_second():
    wire = Wire(9600)
    wire.push(b"x" * 960, now=10.0)
    assert len(wire.release(10.5)) == 480
    assert len(wire.release(10.999)) == 479  # the 960th byte finishes at exactly 11.0
    assert len(wire.release(11.0)) == 1
    assert wire.next_due() is None


def test_late_wakeups_do_not_lose_throughput():
    """The virtual clock keeps the average rate even if the caller wakes late."""
    wire = Wire(115200)
    wire.push(b"x" * 11520, now=0.0)
    released = sum(len(wire.release(t / 7.0)) for t in range(1, 8))  # ragged wake-ups
    assert released == 11520


def test_idle_line_restarts_when_data_arrives():
    wire = Wire(9600)
    wire.push(b"ab", now=0.0)
    assert wire.release(1.0) == b"ab"
    wire.push(b"c", now=5.0)  # the wire idled; the next byte starts now, not at 0.002
    assert wire.release(5.0005) == b""
    assert wire.next_due() == pytest.approx(5.0 + 10 / 9600)
    assert wire.release(5.0011) == b"c"


def test_given_back_bytes_restart_from_now():
    wire = Wire(9600)
    wire.push(b"abcd", now=0.0)
    out = wire.release(1.0)
    wire.give_back(out[2:], now=1.0)
    assert wire.release(1.0) == b""
    assert wire.release(1.0 + 2 * 10 / 9600 + 1e-9) == b"cd"


def test_unpaced_wire_releases_everything():
    wire = Wire(None)
    wire.push(b"hello", now=0.0)
    assert wire.release(0.0) == b"hello"
