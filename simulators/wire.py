"""Wire-rate pacing and adapter latency for one direction of a simulated serial link."""

from __future__ import annotations

from collections import deque


class Wire:
    """A UART direction: bytes come out no faster than one per 10 bit-times.

    8N1 framing puts 10 bits on the line per byte (start + 8 data + stop), so
    ``baud`` bits/s carry at most ``baud / 10`` bytes/s.  Accounting is a
    token bucket anchored to a *virtual* clock: ``_clock`` is the time the
    last released byte finished.  While data is queued, byte *k* finishes at
    ``_clock + k * byte_time`` no matter how late the caller wakes up, so
    scheduling jitter never lowers throughput and never lets bytes run ahead
    of the wire.  When the queue runs dry the line idles and the next byte
    starts at the moment it is pushed.  ``baud=None`` disables pacing.
    """

    def __init__(self, baud: int | None):
        if baud is not None and baud <= 0:
            raise ValueError("baud must be positive or None")
        self.byte_time = 10.0 / baud if baud else 0.0
        self._pending = bytearray()
        self._clock = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, data: bytes, now: float) -> None:
        """Queue bytes that became ready to transmit at ``now``."""
        if not data:
            return
        if not self._pending:
            self._clock = max(self._clock, now)  # idle line: transmission starts now
        self._pending += data

    def release(self, now: float) -> bytes:
        """Bytes whose last bit has crossed the wire by ``now``."""
        if not self._pending:
            return b""
        if not self.byte_time:
            count = len(self._pending)
        else:
            count = min(len(self._pending), int((now - self._clock) / self.byte_time + 1e-9))
            self._clock += count * self.byte_time
        out = bytes(self._pending[:count])
        del self._pending[:count]
        return out

    def give_back(self, data: bytes, now: float) -> None:
        """Return released bytes the receiver could not take (flow stalled).

        The line restarts from ``now`` when the receiver drains, so a stalled
        reader never gets a burst faster than the wire afterwards.
        """
        if data:
            self._pending[:0] = data
            self._clock = now

    def next_due(self) -> float | None:
        """When the next queued byte will have crossed the wire."""
        if not self._pending:
            return None
        return self._clock + self.byte_time

    def take_all(self) -> bytes:
        """Everything still queued, at once (the sender finished transmitting before it hung up)."""
        out = bytes(self._pending)
        self._pending.clear()
        return out

    def clear(self) -> None:
        """Drop everything in flight (cable pulled)."""
        self._pending.clear()


class Delay:
    """A fixed transport latency: bytes pushed at ``t`` come out at ``t + seconds``, in order.

    Models a USB-serial adapter's (or network bridge's) buffering, which holds bytes back on top
    of the baud pacing.  ``seconds=0`` passes everything straight through.
    """

    def __init__(self, seconds: float = 0.0):
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self.seconds = float(seconds)
        self._chunks: deque[tuple[float, bytes]] = deque()

    def __len__(self) -> int:
        return sum(len(chunk) for _, chunk in self._chunks)

    def push(self, data: bytes, now: float) -> None:
        if data:
            self._chunks.append((now + self.seconds, bytes(data)))

    def release(self, now: float) -> bytes:
        """Everything whose delay has elapsed by ``now``."""
        out = bytearray()
        while self._chunks and self._chunks[0][0] <= now + 1e-12:
            out += self._chunks.popleft()[1]
        return bytes(out)

    def give_back(self, data: bytes, now: float) -> None:
        """Return released bytes the receiver could not take; they are due again at once."""
        if data:
            self._chunks.appendleft((now, bytes(data)))

    def next_due(self) -> float | None:
        return self._chunks[0][0] if self._chunks else None

    def take_all(self) -> bytes:
        out = b"".join(chunk for _, chunk in self._chunks)
        self._chunks.clear()
        return out

    def clear(self) -> None:
        self._chunks.clear()
