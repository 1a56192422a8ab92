"""Fixtures shared by the CAM tests."""

import pytest

from drawing import Drawing
from tests.machines.cam.reading import BRK_080


@pytest.fixture(scope="module")
def brk():
    return Drawing.from_dict(BRK_080)
