"""Reference geometry for tests, written independently of the code under test."""

import math


def rr_distance(x, y, length, width, r):
    """Signed distance to a rounded rectangle at the origin, written independently:
    nearest point on the straight edges or the corner circles."""
    cx = min(max(x, r), length - r)
    cy = min(max(y, r), width - r)
    # (cx, cy) is the nearest point of the inner rectangle; outline = inner grown by r.
    inside_inner = r <= x <= length - r and r <= y <= width - r
    if inside_inner:
        return -min(x, y, length - x, width - y)
    return math.hypot(x - cx, y - cy) - r
