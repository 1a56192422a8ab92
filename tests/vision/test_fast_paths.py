"""The pipeline's faster code paths give the values of the plain ones they replace."""

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from vision.pipeline import inspect as inspect_module
from vision.pipeline.defects import _rrect_sdf
from vision.pipeline.measure import _hist_median, _levels
from vision.pipeline.subpixel import norm_cdf, norm_cdf_pdf
from vision.pipeline.threads import single_threaded_blas


def test_norm_cdf_pdf_matches_the_plain_forms():
    z = np.linspace(-9.0, 9.0, 20001)
    cdf, pdf = norm_cdf_pdf(z)
    assert np.max(np.abs(cdf - norm_cdf(z))) < 1e-12
    assert np.max(np.abs(pdf - np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))) < 1e-12


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_histogram_median_is_numpy_median(n):
    vals = np.random.default_rng(n).integers(0, 256, n)
    hist = np.bincount(vals, minlength=256).astype(np.float32)
    assert _hist_median(hist) == np.median(vals)


def test_levels_of_a_uint8_image_equal_the_sorted_medians():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 90)).astype(np.uint8)
    mask = (rng.random((120, 90)) < 0.4).astype(np.uint8)
    fast = _levels(img, mask)
    slow = _levels(img.astype(np.float32), mask)
    assert fast == slow == (np.median(img[mask > 0]), np.median(img[mask == 0]))


def test_rounded_rectangle_distance_matches_the_formula():
    rng = np.random.default_rng(5)
    u = rng.uniform(-80, 80, (40, 50)).astype(np.float32)
    v = rng.uniform(-40, 40, (40, 50)).astype(np.float32)
    a, b, r = 60.0, 25.0, 8.0
    qx, qy = np.abs(u.astype(float)) - (a - r), np.abs(v.astype(float)) - (b - r)
    ref = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - r
    assert np.max(np.abs(_rrect_sdf(u, v, a, b, r) - ref)) < 1e-4


def _blas_threads() -> list[int]:
    """Current thread count of every BLAS library threadpoolctl finds (read afresh each call)."""
    return [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()]


@pytest.fixture
def two_blas_threads():
    """Every BLAS at two threads during the test (so a limit to one shows), or skip."""
    blas = ThreadpoolController().select(user_api="blas")
    if not blas.lib_controllers:
        pytest.skip("no BLAS that threadpoolctl can control")
    with blas.limit(limits=2):
        if max(_blas_threads()) < 2:
            pytest.skip("this BLAS will not run two threads, so a limit to one cannot show")
        yield _blas_threads()


def test_single_threaded_blas_limits_and_restores_the_thread_count(two_blas_threads):
    before = two_blas_threads
    with single_threaded_blas():
        assert _blas_threads() == [1] * len(before)
        with single_threaded_blas():  # nested (or overlapping, from another thread): still one
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_inspect_image_runs_with_one_blas_thread(two_blas_threads, monkeypatch):
    seen = []

    def fake_inspect(*args):
        seen.append(_blas_threads())
        return "result"

    monkeypatch.setattr(inspect_module, "_inspect", fake_inspect)
    assert inspect_module.inspect_image(np.zeros((4, 4), np.uint8), {}, None, None) == "result"
    assert seen == [[1] * len(two_blas_threads)]
    assert _blas_threads() == two_blas_threads
