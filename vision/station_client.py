"""Camera station client: grab a frame, post it for a serial, wait for the verdict.

    python -m vision.station_client --url http://mes:8000 --token T --camera 0 --serial BRK-080-A-0001
    python -m vision.station_client --url http://mes:8000 --token T --camera rtsp://cam/stream --watch

``--camera`` is a ``cv2.VideoCapture`` index or URL (or a file path). ``--watch`` reads one serial per
line from stdin (a barcode scanner is a keyboard) and inspects each part in turn. Each result is printed
as one JSON line. Runs on the station's own computer: no Django, only the standard library, numpy and cv2.
Exit status: 0 when every part was inspected (whatever the verdict), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable

import cv2

API = "/api/v1/vision/"
FINAL = ("done", "error")


class ClientError(Exception):
    """The MES refused a request or could not be reached; the message says why."""


def grab_frame(camera: str) -> bytes:
    """One frame from ``camera`` (index, URL or path), as PNG bytes."""
    capture = cv2.VideoCapture(int(camera) if camera.isdigit() else camera)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise ClientError(f"camera {camera!r} gave no frame")
    ok, buf = cv2.imencode(".png", frame)
    if not ok:
        raise ClientError("could not encode the frame as PNG")
    return buf.tobytes()


class StationClient:
    """The station API over HTTP with a station token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0):
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.timeout = timeout

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> dict:
        url = path if path.startswith("http") else self.base + path
        headers = {**self.headers, **({"Content-Type": content_type} if content_type else {})}
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ClientError(f"{method} {url}: HTTP {exc.code}: {_error_message(exc.read())}") from exc
        except urllib.error.URLError as exc:
            raise ClientError(f"{method} {url}: {exc.reason}") from exc

    def my_station(self) -> str:
        """The name of the station this token belongs to (a station token sees only its own)."""
        stations = self._call("GET", API + "stations/").get("results", [])
        if len(stations) != 1:
            raise ClientError("this token sees no single station; pass --station")
        return stations[0]["name"]

    def post_inspection(self, station: str, serial: str, png: bytes) -> dict:
        """Post a photo of part ``serial``; returns the queued request (``url`` to poll)."""
        body, content_type = encode_multipart({"serial": serial}, {"image": (f"{serial}.png", png)})
        path = f"{API}stations/{urllib.parse.quote(station)}/inspections/"
        return self._call("POST", path, body, content_type)

    def wait(self, request: dict, *, timeout: float = 120.0, interval: float = 0.5) -> dict:
        """Poll a request until it is done or failed (or ``timeout`` passes); returns its last state."""
        deadline = time.monotonic() + timeout
        while request["status"] not in FINAL and time.monotonic() < deadline:
            time.sleep(interval)  # polling interval of a remote API, not test synchronisation
            request = self._call("GET", request["url"])
        return request


def encode_multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _error_message(body: bytes) -> str:
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


def summary(request: dict) -> dict:
    """The line printed per part: serial, status, verdict, reason, where to see the annotated picture."""
    inspection = request.get("inspection") or {}
    return {
        "serial": request.get("serial"),
        "request": request.get("id"),
        "status": request.get("status"),
        "verdict": inspection.get("verdict"),
        "reason": inspection.get("reason") or request.get("error") or "",
        "annotated_url": inspection.get("annotated_url"),
    }


def inspect_serials(
    client: StationClient,
    station: str,
    serials: Iterable[str],
    grab: Callable[[], bytes],
    out,
    *,
    wait: bool = True,
    timeout: float = 120.0,
) -> bool:
    """Grab, post and (optionally) wait for each serial; print one JSON line each. True if all went
    through."""
    all_ok = True
    for raw in serials:
        serial = raw.strip()
        if not serial:
            continue
        try:
            request = client.post_inspection(station, serial, grab())
            if wait:
                request = client.wait(request, timeout=timeout)
            line = summary(request)
            all_ok &= request["status"] != "error"
        except ClientError as exc:
            line, all_ok = {"serial": serial, "status": "refused", "reason": str(exc)}, False
        out.write(json.dumps(line) + "\n")
        out.flush()
    return all_ok


def main(argv: list[str] | None = None, *, stdin=None, stdout=None, grab=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the MES, e.g. http://mes:8000")
    parser.add_argument("--token", required=True, help="the station's API token")
    parser.add_argument("--camera", default="0", help="cv2.VideoCapture index, URL or file")
    parser.add_argument("--station", help="station name (default: the token's station)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--serial", help="inspect this one part")
    source.add_argument("--watch", action="store_true", help="read serials from stdin, one per line")
    parser.add_argument("--no-wait", action="store_true", help="post and print the queued request only")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each verdict")
    args = parser.parse_args(argv)
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    client = StationClient(args.url, args.token)
    try:
        station = args.station or client.my_station()
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    serials = stdin if args.watch else [args.serial]
    frame = grab or (lambda: grab_frame(args.camera))
    ok = inspect_serials(client, station, serials, frame, stdout, wait=not args.no_wait, timeout=args.timeout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
