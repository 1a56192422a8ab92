"""Safe decoding of uploaded image bytes (PNG and JPEG only).

The header is parsed *before* decoding so a small file that claims enormous
dimensions (a decompression bomb) is refused without allocating the pixels; truncated
files are refused instead of being decoded into half-grey images.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

from .errors import ImageInputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not SOFs.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_header(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from a PNG IHDR or JPEG SOF; raises ImageInputError."""
    if data.startswith(PNG_SIGNATURE):
        return ("png", *_png_size(data))
    if data.startswith(b"\xff\xd8"):
        return ("jpeg", *_jpeg_size(data))
    raise ImageInputError("not a PNG or JPEG image")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 33:
        raise ImageInputError("truncated PNG: no complete IHDR chunk")
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ImageInputError("malformed PNG: first chunk is not IHDR")
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(data[12:29]) & 0xFFFFFFFF != crc:
        raise ImageInputError("malformed PNG: IHDR checksum mismatch")
    width, height = struct.unpack(">II", data[16:24])
    # A complete PNG ends with an IEND chunk (length 0, type, CRC).
    if not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        raise ImageInputError("truncated PNG: missing IEND chunk")
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i, n = 2, len(data)
    size = None
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise ImageInputError("malformed JPEG: expected a marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
        if seg_len < 2 or i + 2 + seg_len > n:
            raise ImageInputError("truncated JPEG: segment runs past the end of the file")
        if marker in _SOF:
            if seg_len < 7:
                raise ImageInputError("malformed JPEG: short SOF segment")
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if size is None:
                raise ImageInputError("malformed JPEG: no frame header before the scan")
            # Entropy-coded data never contains FF D9 (0xFF is byte-stuffed), so a
            # complete file has its EOI after the scan.
            if data.rfind(b"\xff\xd9") < i + 2 + seg_len:
                raise ImageInputError("truncated JPEG: missing end-of-image marker")
            return size
        i += 2 + seg_len
    raise ImageInputError("truncated JPEG: no image data")


def load_image_bytes(
    data: bytes,
    max_pixels: int = 30_000_000,
    max_bytes: int = 64 * 1024 * 1024,
) -> np.ndarray:
    """Decode PNG/JPEG bytes to a uint8 array ((H, W) grey or (H, W, 3) BGR).

    Refuses with :class:`ImageInputError`: empty or oversized input (> max_bytes), any
    other format, malformed or truncated files, and images whose header claims more
    than ``max_pixels`` pixels (checked before decoding).  16-bit PNGs are scaled to
    8 bits; alpha is dropped.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageInputError("image data must be bytes")
    data = bytes(data)
    if not data:
        raise ImageInputError("empty image data")
    if len(data) > max_bytes:
        raise ImageInputError(f"image file of {len(data)} bytes exceeds the limit of {max_bytes}")
    fmt, width, height = image_header(data)
    if width <= 0 or height <= 0:
        raise ImageInputError(f"{fmt.upper()} header has zero size {width}x{height}")
    if width * height > max_pixels:
        raise ImageInputError(
            f"{fmt.upper()} claims {width}x{height} = {width * height} pixels, more than the "
            f"limit of {max_pixels}; refusing to decode"
        )
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageInputError(f"{fmt.upper()} data could not be decoded (corrupt?)")
    if img.shape[0] != height or img.shape[1] != width:
        raise ImageInputError("decoded size differs from the header")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ImageInputError(f"unsupported pixel type {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img
