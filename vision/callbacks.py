"""Telling a station its result: POST the finished request, as the API shows it, to the station's callback.

An interface of its own (it serialises for the API and talks HTTP), called by the vision tasks.
"""

import json
import logging
import urllib.error
import urllib.request

from vision.models import InspectionRequest, RequestStatus
from vision.serializers import InspectionRequestSerializer

log = logging.getLogger(__name__)


def push_result(request: InspectionRequest, *, timeout: float = 5.0) -> bool:
    """POST a finished request's result to its station's callback URL, if it has one (best effort).

    Returns whether the station answered 2xx. Failures are logged, never raised: the station can always
    fetch the result with GET.
    """
    url = request.station.callback_url
    if not url or request.status not in (RequestStatus.DONE, RequestStatus.ERROR):
        return False
    body = json.dumps(InspectionRequestSerializer(request).data, default=str).encode()
    push = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(push, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("push of inspection request %s to %s failed: %s", request.pk, url, exc)
        return False
