import struct
import zlib

import cv2
import numpy as np
import pytest

from vision.pipeline import ImageInputError, load_image_bytes


def _encode(ext: str) -> bytes:
    img = (np.arange(64 * 48) % 251).astype(np.uint8).reshape(48, 64)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _png_bomb(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat_data = zlib.compress(b"\x00" * 1000)
    idat = struct.pack(">I", len(idat_data)) + b"IDAT" + idat_data
    idat += struct.pack(">I", zlib.crc32(b"IDAT" + idat_data))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat + iend


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_decodes_valid_images(ext):
    img = load_image_bytes(_encode(ext))
    assert img.shape == (48, 64) and img.dtype == np.uint8


def test_refuses_non_image():
    with pytest.raises(ImageInputError, match="not a PNG or JPEG"):
        load_image_bytes(b"GIF89a" + b"\x00" * 100)
    with pytest.raises(ImageInputError, match="empty"):
        load_image_bytes(b"")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_refuses_truncated(ext):
    data = _encode(ext)
    with pytest.raises(ImageInputError, match="truncated"):
        load_image_bytes(data[: len(data) * 2 // 3])


def test_refuses_decompression_bomb_before_decoding():
    bomb = _png_bomb(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(ImageInputError, match="100000x100000"):
        load_image_bytes(bomb)


def test_refuses_jpeg_bomb_header():
    data = bytearray(_encode(".jpg"))
    i = 2
    while data[i + 1] not in (0xC0, 0xC1, 0xC2):  # walk to the SOF segment
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    data[i + 5 : i + 9] = struct.pack(">HH", 60000, 60000)
    with pytest.raises(ImageInputError, match="60000x60000"):
        load_image_bytes(bytes(data))


def test_refuses_oversized_file_and_corrupt_checksum():
    with pytest.raises(ImageInputError, match="exceeds"):
        load_image_bytes(_encode(".png"), max_bytes=10)
    data = bytearray(_encode(".png"))
    data[20] ^= 0xFF  # inside IHDR
    with pytest.raises(ImageInputError, match="checksum"):
        load_image_bytes(bytes(data))
