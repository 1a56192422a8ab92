"""Accuracy, recall and speed benchmark of the vision pipeline on synthetic ground truth.

    .venv/bin/python -m benchmarks.vision [--images 100] [--seed N] [--true-calibration]
        [--defective-only | --good-only] [--strips 0.1] [--json out.json]
    .venv/bin/python -m benchmarks.vision --merge a.json b.json ...

Renders the bracket station (2448x2048, ~0.1 mm/px, 3/-2 degree tilt, lens distortion) and,
for ``--strips`` of the images, the strip station (same sensor at ~0.125 mm/px, so 240-280 mm
reinforcement strips fit), calibrates both from rendered ChArUco views (unless
``--true-calibration``), then inspects ``--images`` random parts: by default a mix of good
parts, planted defects and out-of-tolerance parts; ``--defective-only`` plants one defect of
each type in turn (void, crack, burr, chipped corner, missing hole, extra hole) to measure
recall cheaply at scale; ``--good-only`` bounds false rejects and measures bias.

Prints markdown tables: measurement errors (median / p95 of the absolute error, and the
mean signed error with a 95 % confidence interval clustered by image, so "no bias" is a
statistical statement), recall per defect type with the lower bound of its 95 % Wilson
interval, recall against defect size and contrast, verdicts (false rejects with the upper
Wilson bound), and seconds per image.  ``--json`` keeps the per-image records;
``--merge`` pools the records of several runs (e.g. different seeds run side by side).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np

from simulators import camera as sim
from tests.vision import synth
from vision.pipeline import (
    PASS,
    UNABLE,
    CameraCalibration,
    StagePlane,
    calibrate_camera,
    inspect_image,
    stage_plane,
)
from vision.pipeline.verdict import DEFECT_GUARD_MM, MIN_DEFECT_MM

BRACKET_MM_PER_PX = 0.1
STRIP_MM_PER_PX = 0.125
SIZE_BINS = ((0.3, 0.5), (0.5, 1.0), (1.0, 2.0))  # planted size drawn uniformly within a random bin
VOID_CONTRAST_BINS = ((15.0, 25.0), (25.0, 40.0), (40.0, 80.0))  # |grey levels|, either sign
CRACK_CONTRAST_BINS = ((40.0, 80.0), (80.0, 120.0))  # grey levels darker than the face
REPORT_SIZE_BINS = ((0.3, 0.5), (0.5, 1.0), (1.0, math.inf))
REPORT_CONTRAST_BINS = ((15.0, 25.0), (25.0, 40.0), (40.0, 80.0), (80.0, math.inf))
DEFECT_KINDS = (*synth.DEFECT_TYPES, "missing_hole", "extra_hole")
# Reported types that count as the planted one (an edge chip near a corner is a chipped corner).
SAME_TYPE = {"chipped_corner": {"chipped_corner", "chip"}}
Z95 = 1.959964


# ----------------------------------------------------------------------------- statistics


def wilson(hit: int, total: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (valid near 0 and 1, unlike the normal one)."""
    if total == 0:
        return (math.nan, math.nan)
    p = hit / total
    den = 1 + z * z / total
    mid = (p + z * z / (2 * total)) / den
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def clustered_mean_ci(groups: list[list[float]]) -> tuple[float, float, int]:
    """Mean of all values and the half-width of its 95 % interval, clustered by group (image).

    Values from one image share its calibration-free error sources (pose, lighting, blur), so
    they are not independent; the cluster-robust standard error does not pretend they are.
    """
    groups = [g for g in groups if g]
    values = np.concatenate([np.asarray(g, float) for g in groups]) if groups else np.zeros(0)
    n = values.size
    if n < 2:
        return (math.nan, math.nan, n)
    mean = float(values.mean())
    if len(groups) < 2:
        return (mean, math.nan, n)
    resid = np.array([np.sum(np.asarray(g) - mean) for g in groups])
    g = len(groups)
    se = math.sqrt(g / (g - 1) * float(np.sum(resid**2))) / n
    return (mean, Z95 * se, n)


# ----------------------------------------------------------------------------- stations


def _bracket_station(seed: int, true_calibration: bool):
    station = synth.full_station()
    return _calibrated(station.cam, station.board, seed, true_calibration)


def _strip_station(seed: int, true_calibration: bool):
    return _calibrated(sim.demo_camera(), sim.DEMO_BOARD, seed + 10, true_calibration)


def _calibrated(cam, board, seed: int, true_calibration: bool):
    if true_calibration:
        return cam, CameraCalibration(cam.K, cam.dist, 0.0, cam.size, 0), StagePlane(cam.R, cam.t)
    views = synth.calibration_views(cam, board, 8, rng=np.random.default_rng(seed + 1))
    calib = calibrate_camera(views, board)
    R, t = sim.stage_board_pose(cam, board)
    flat = sim.render_board(cam, board, R, t, rng=np.random.default_rng(seed + 2))
    return cam, calib, stage_plane(flat, board, calib)


def strip_spec(rng: np.random.Generator) -> dict:
    """A reinforcement strip 240-280 x 25-40 mm, 2-4 mm thick, with 2-5 holes along it."""
    L = round(float(rng.uniform(240.0, 280.0)), 1)
    W = round(float(rng.uniform(25.0, 40.0)), 1)
    n = int(rng.integers(2, 6))
    xs = np.linspace(12.0, L - 12.0, n) + rng.uniform(-4, 4, n)
    holes = []
    for i, x in enumerate(xs):
        d = round(float(rng.uniform(3.0, 8.0)), 2)
        y = round(float(W / 2 + rng.uniform(-(W / 2 - d / 2 - 4), W / 2 - d / 2 - 4)), 2)
        holes.append({"id": f"H{i + 1}", "x": round(float(x), 2), "y": y, "diameter": d})
    return {
        "outline": {"length": L, "width": W, "corner_radius": round(float(rng.uniform(2.0, 5.0)), 1)},
        "thickness": round(float(rng.uniform(2.0, 4.0)), 1),
        "holes": holes,
        "tolerances": {"outline": 0.2, "corner_radius": 0.5, "hole_diameter": 0.1, "hole_position": 0.15},
    }


def _place_strip(truth, cam, rng: np.random.Generator):
    """Lay a strip near the middle of the strip station's view, within a few degrees of straight."""
    x0, y0, x1, y1 = sim.stage_view_mm(cam, truth.thickness)
    for _ in range(100):
        ang = float(rng.uniform(-4.0, 4.0) + 180.0 * rng.integers(2))
        a = math.radians(ang)
        ext_x = abs(truth.length * math.cos(a)) + abs(truth.width * math.sin(a))
        ext_y = abs(truth.length * math.sin(a)) + abs(truth.width * math.cos(a))
        slack_x, slack_y = (x1 - x0 - ext_x) / 2 - 3, (y1 - y0 - ext_y) / 2 - 3
        if slack_x > 0 and slack_y > 0:
            break
    else:
        raise RuntimeError("strip does not fit the strip station")
    cx = (x0 + x1) / 2 + float(rng.uniform(-slack_x, slack_x))
    cy = (y0 + y1) / 2 + float(rng.uniform(-min(slack_y, 40.0), min(slack_y, 40.0)))
    return replace(truth, centre_mm=(cx, cy), angle_deg=ang)


# ----------------------------------------------------------------------------- cases


def _kinds(n: int, rng: np.random.Generator, mode: str) -> list[str]:
    if mode == "defective":
        kinds = [DEFECT_KINDS[i % len(DEFECT_KINDS)] for i in range(n)]
    elif mode == "good":
        kinds = ["good"] * n
    else:
        others = [k for k in synth.CASE_KINDS if k != "good"]
        kinds = ["good" if i % 5 in (0, 3) else others[i % len(others)] for i in range(n)]
    rng.shuffle(kinds)
    return kinds


def _defect_params(kind: str, rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Planted size (uniform within a random size bin) and contrast (voids and cracks)."""
    if kind not in synth.DEFECT_TYPES:
        return None, None
    lo, hi = SIZE_BINS[int(rng.integers(len(SIZE_BINS)))]
    size = float(rng.uniform(lo, hi))
    contrast = None
    if kind == "void":
        lo, hi = VOID_CONTRAST_BINS[int(rng.integers(len(VOID_CONTRAST_BINS)))]
        contrast = float(rng.uniform(lo, hi) * rng.choice([-1, 1]))
    elif kind == "crack":
        lo, hi = CRACK_CONTRAST_BINS[int(rng.integers(len(CRACK_CONTRAST_BINS)))]
        contrast = -float(rng.uniform(lo, hi))
    return size, contrast


def _near(a, b, gate: float) -> bool:
    return math.hypot(a.x - b.x, a.y - b.y) <= gate


def _record(i, kind, station_name, truth, res, seconds) -> dict:
    """Everything the tables need from one image, JSON-friendly."""
    rec = {
        "i": i,
        "kind": kind,
        "station": station_name,
        "expected": truth.expected_verdict,
        "verdict": res.verdict,
        "reasons": list(res.reasons[:2]),
        "seconds": seconds,
        "stages": {k: v for k, v in res.timings.items() if k != "total"},
        "errors": {},
        "planted": [],
        "reported": [],
    }
    if res.verdict == UNABLE:
        return rec
    m = {x.name: x for x in res.measurements}
    err = defaultdict(list)
    err["length"].append(m["length"].actual - truth.length)
    err["width"].append(m["width"].actual - truth.width)
    for h in truth.holes:
        if f"{h.id}.diameter" in m:
            err["hole_diameter"].append(m[f"{h.id}.diameter"].actual - h.diameter)
            ex, ey = m[f"{h.id}.x"].actual - h.x, m[f"{h.id}.y"].actual - h.y
            err["hole_x"].append(ex)
            err["hole_y"].append(ey)
            err["hole_position"].append(math.hypot(ex, ey))
    if kind != "chipped_corner":
        for name in ("corner_x0y0", "corner_xLy0", "corner_xLyW", "corner_x0yW"):
            if f"{name}.radius" in m:
                err["corner_radius"].append(m[f"{name}.radius"].actual - truth.corner_radius)
    rec["errors"] = dict(err)
    # Counted as found when it would reject the part (the limit minus the guard band).
    found = [d for d in res.defects if d.size_mm >= MIN_DEFECT_MM - DEFECT_GUARD_MM]
    for d in truth.defects:
        gate = max(1.0, d.size)
        hits = [f for f in found if _near(f, d, gate)]
        same = SAME_TYPE.get(d.type, {d.type})
        rec["planted"].append(
            {
                "type": d.type,
                "size": d.size,
                "contrast": d.contrast,
                "hit": bool(hits),
                "typed": any(f.type in same for f in hits),
            }
        )
    for f in found:
        real = any(_near(f, d, max(1.0, d.size)) for d in truth.defects)
        rec["reported"].append({"type": f.type, "size": f.size_mm, "real": real})
    return rec


def _stations(conditions: str, seed: int, true_calibration: bool, strips: float) -> dict:
    """name -> (camera, calibration, plane, mm_per_px) of the stations a run photographs with."""
    if conditions == "station":
        # One overhead station for brackets and long strips alike, as a real shop has.
        overhead = sim.overhead_station()
        calibrated = _calibrated(overhead.cam, overhead.board, seed, true_calibration)
        return {"bracket": (*calibrated, BRACKET_MM_PER_PX)}
    stations = {"bracket": (*_bracket_station(seed, true_calibration), BRACKET_MM_PER_PX)}
    if strips > 0:
        stations["strip"] = (*_strip_station(seed, true_calibration), STRIP_MM_PER_PX)
    return stations


def _scene(conditions: str, kind: str, cam, rng: np.random.Generator, strip: bool):
    """(truth, look) of one photo: the part (a long strip when ``strip``) and how the scene looks."""
    size, contrast = _defect_params(kind, rng)
    if strip:
        spec = sim.long_strip_spec(rng) if conditions == "station" else strip_spec(rng)
        view = sim.stage_view_mm(cam, spec["thickness"])
        truth = synth.make_case(rng, kind, spec, view_mm=view, defect_size=size, contrast=contrast)
        truth = _place_strip(truth, cam, rng)
    else:
        view = sim.stage_view_mm(cam, 6.0) if conditions == "station" else (15.0, 15.0, 225.0, 190.0)
        truth = synth.make_case(rng, kind, view_mm=view, defect_size=size, contrast=contrast)
    if conditions == "station":
        return truth, sim.station_appearance(rng)
    return truth, synth.Appearance(blur=float(rng.uniform(0.8, 1.3)), noise=float(rng.uniform(1.5, 2.5)))


def run(
    n_images: int,
    seed: int,
    true_calibration: bool,
    *,
    mode: str = "mix",
    strips: float = 0.1,
    conditions: str = "ours",
) -> dict:
    """Render and inspect ``n_images``; returns {"meta": ..., "records": [...]} (see :func:`_record`).

    conditions: "ours" (this project's first renderer: dark walls, camera 500 mm up, long strips at
    their own 0.125 mm/px station) or "station" (a real overhead station, issue 12: bright walls, camera
    400 mm up, lighting to +-15 %, shot noise, brushed faces, 150-220 mm strips at the bracket station)."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    stations = _stations(conditions, seed, true_calibration, strips)
    calib_s = time.perf_counter() - t0
    records = []
    warm = set()
    for i, kind in enumerate(_kinds(n_images, rng, mode)):
        strip = strips > 0 and rng.random() < strips
        name = "strip" if strip and "strip" in stations else "bracket"
        cam, calib, plane, scale = stations[name]
        truth, look = _scene(conditions, kind, cam, rng, strip)
        image = synth.render_scene(cam, [truth], look=look, rng=rng)
        name = "strip" if strip else name
        if name not in warm:  # build and cache the station's maps outside the timed loop
            inspect_image(image, truth.spec, calib, plane, mm_per_px=scale)
            warm.add(name)
        t1 = time.perf_counter()
        res = inspect_image(image, truth.spec, calib, plane, mm_per_px=scale)
        records.append(_record(i, kind, name, truth, res, time.perf_counter() - t1))
    meta = {
        "n_images": n_images,
        "seed": seed,
        "conditions": conditions,
        "mode": mode,
        "strips": strips,
        "calibration": "true"
        if true_calibration
        else ", ".join(f"{k} rms {v[1].rms_px:.3f} px" for k, v in stations.items()),
        "calibration_seconds": calib_s,
    }
    return {"meta": [meta], "records": records}


# ----------------------------------------------------------------------------- tables


def _bin_label(lo: float, hi: float) -> str:
    return f">= {lo:g}" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def _in(value: float, lo: float, hi: float) -> bool:
    return lo <= value < hi


def _rate(hit: int, total: int) -> str:
    if not total:
        return "-"
    lo, _ = wilson(hit, total)
    return f"{100 * hit / total:.1f}% ({hit}/{total}; >= {100 * lo:.1f}%)"


def summarize(result: dict) -> dict:
    """Pool the records into the figures the tables print (also written with ``--json``)."""
    recs = result["records"]
    out: dict = {"n_images": len(recs), "meta": result["meta"]}
    quantities = ("hole_diameter", "hole_x", "hole_y", "hole_position", "length", "width", "corner_radius")
    out["errors"] = {}
    for q in quantities:
        groups = [r["errors"].get(q, []) for r in recs]
        flat = np.abs(np.concatenate([np.asarray(g, float) for g in groups if g] or [np.zeros(0)]))
        if flat.size == 0:
            continue
        mean, ci, n = clustered_mean_ci(groups)
        out["errors"][q] = {
            "median_abs": float(np.median(flat)),
            "p95_abs": float(np.percentile(flat, 95)),
            "mean": mean,
            "ci95": ci,
            "n": n,
        }
    planted = [p for r in recs for p in r["planted"] if p["size"] >= MIN_DEFECT_MM - 1e-9]
    out["recall"] = {}
    for t in sorted({p["type"] for p in planted}):
        ps = [p for p in planted if p["type"] == t]
        out["recall"][t] = (sum(p["hit"] for p in ps), sum(p["typed"] for p in ps), len(ps))
    out["recall_all"] = (sum(p["hit"] for p in planted), len(planted))
    # A photo the pipeline cannot judge plants nothing countable; the part goes to a person.
    out["unable_by_kind"] = {
        k: sum(1 for r in recs if r["kind"] == k and r["verdict"] == UNABLE) for k in out["recall"]
    }
    out["recall_size"] = {
        t: [
            (
                sum(p["hit"] for p in planted if p["type"] == t and _in(p["size"], lo, hi)),
                sum(1 for p in planted if p["type"] == t and _in(p["size"], lo, hi)),
            )
            for lo, hi in REPORT_SIZE_BINS
        ]
        for t in out["recall"]
    }
    out["recall_contrast"] = {
        t: [
            (
                sum(p["hit"] for p in planted if p["type"] == t and _in(abs(p["contrast"]), lo, hi)),
                sum(1 for p in planted if p["type"] == t and _in(abs(p["contrast"]), lo, hi)),
            )
            for lo, hi in REPORT_CONTRAST_BINS
        ]
        for t in ("void", "crack")
        if t in out["recall"]
    }
    reported = [d for r in recs for d in r["reported"]]
    out["precision"] = {
        t: (sum(d["real"] for d in reported if d["type"] == t), sum(1 for d in reported if d["type"] == t))
        for t in sorted({d["type"] for d in reported})
    }
    good = [r for r in recs if r["expected"] == PASS]
    bad = [r for r in recs if r["expected"] != PASS]
    out["false_rejects"] = (sum(r["verdict"] != PASS for r in good), len(good))
    out["good_unable"] = (sum(r["verdict"] == UNABLE for r in good), len(good))
    out["defective_passed"] = (sum(r["verdict"] == PASS for r in bad), len(bad))
    out["unable"] = (sum(r["verdict"] == UNABLE for r in recs), len(recs))
    out["verdict_accuracy"] = sum(r["verdict"] == r["expected"] for r in recs) / max(len(recs), 1)
    out["by_station"] = {
        s: (
            sum(r["verdict"] == r["expected"] for r in recs if r["station"] == s),
            sum(1 for r in recs if r["station"] == s),
        )
        for s in sorted({r["station"] for r in recs})
    }
    secs = np.array([r["seconds"] for r in recs])
    out["seconds"] = (float(np.median(secs)), float(np.percentile(secs, 95)), float(secs.max()))
    stage_names = sorted({k for r in recs for k in r["stages"]})
    out["stage_seconds"] = {k: float(np.median([r["stages"].get(k, 0.0) for r in recs])) for k in stage_names}
    out["mismatches"] = [
        (r["i"], r["station"], r["kind"], r["expected"], r["verdict"], r["reasons"])
        for r in recs
        if r["verdict"] != r["expected"]
    ]
    return out


def markdown(s: dict) -> str:
    metas = s["meta"]
    runs = "; ".join(
        f"seed {m['seed']}, {m['n_images']} images ({m['mode']}, strips {m['strips']:g}), "
        f"calibration {m['calibration']}"
        for m in metas
    )
    lines = [
        f"Vision pipeline benchmark: {s['n_images']} images 2448x2048 ({runs}).",
        "",
        "| quantity | median abs error | p95 abs error | mean signed error (bias) +- 95% CI | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k, e in s["errors"].items():
        bias = "(magnitude)" if k == "hole_position" else f"{e['mean']:+.5f} +- {e['ci95']:.5f} mm"
        lines.append(f"| {k} | {e['median_abs']:.4f} mm | {e['p95_abs']:.4f} mm | {bias} | {e['n']} |")
    lines += [
        "",
        "| defect type | found (planted >= 0.3 mm; 95% Wilson lower bound) | found as its type | precision "
        "| images unable |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t, (hit, typed, total) in s["recall"].items():
        prec = s["precision"].get(t, (0, 0))
        unable = s["unable_by_kind"].get(t, 0)
        lines.append(f"| {t} | {_rate(hit, total)} | {typed}/{total} | {prec[0]}/{prec[1]} | {unable} |")
    other = {t: v for t, v in s["precision"].items() if t not in s["recall"]}
    for t, (real, total) in other.items():
        lines.append(f"| {t} (reported only) | - | - | {real}/{total} | |")
    lines.append(f"| **all** | {_rate(*s['recall_all'])} | | | |")
    lines += [
        "",
        "| recall by planted size (mm) | " + " | ".join(_bin_label(*b) for b in REPORT_SIZE_BINS) + " |",
        "| --- |" + " --- |" * len(REPORT_SIZE_BINS),
    ]
    for t, cells in s["recall_size"].items():
        lines.append(f"| {t} | " + " | ".join(f"{h}/{n}" if n else "-" for h, n in cells) + " |")
    lines += [
        "",
        "| recall by contrast (grey levels; noise 1.5-2.5) | "
        + " | ".join(_bin_label(*b) for b in REPORT_CONTRAST_BINS)
        + " |",
        "| --- |" + " --- |" * len(REPORT_CONTRAST_BINS),
    ]
    for t, cells in s["recall_contrast"].items():
        lines.append(f"| {t} | " + " | ".join(f"{h}/{n}" if n else "-" for h, n in cells) + " |")
    fr, n_good = s["false_rejects"]
    fr_hi = wilson(fr, n_good)[1] if n_good else math.nan
    s_med, s_p95, s_max = s["seconds"]
    lines += [
        "",
        "| verdicts | value |",
        "| --- | --- |",
        f"| verdict accuracy | {100 * s['verdict_accuracy']:.1f}% |",
        f"| false rejects (good parts not passed; 95% upper bound) | {fr}/{n_good}"
        + (f" (<= {100 * fr_hi:.1f}%)" if n_good else "")
        + f", of which unable {s['good_unable'][0]} |",
        "| defective or out-of-tolerance parts passed | "
        f"{s['defective_passed'][0]}/{s['defective_passed'][1]} |",
        f"| unable to inspect (all images) | {s['unable'][0]}/{s['unable'][1]} |",
        "| verdicts right per station | "
        + ", ".join(f"{k} {a}/{b}" for k, (a, b) in s["by_station"].items())
        + " |",
        f"| seconds per image (median / p95 / max) | {s_med:.3f} / {s_p95:.3f} / {s_max:.3f} |",
        "| median seconds per stage | "
        + ", ".join(f"{k} {v:.3f}" for k, v in s["stage_seconds"].items())
        + " |",
    ]
    if s["mismatches"]:
        lines += ["", "Verdict mismatches: " + "; ".join(str(m) for m in s["mismatches"][:12])]
    return "\n".join(lines)


def merge(results: list[dict]) -> dict:
    return {
        "meta": [m for r in results for m in r["meta"]],
        "records": [rec for r in results for rec in r["records"]],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--true-calibration", action="store_true", help="skip ChArUco calibration")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--defective-only", action="store_true", help="one planted defect per image")
    group.add_argument("--good-only", action="store_true", help="good parts only (false rejects, bias)")
    ap.add_argument("--strips", type=float, default=0.1, help="share of long strips (strip station)")
    ap.add_argument(
        "--conditions",
        choices=("ours", "station"),
        default="ours",
        help="the first renderer's conditions, or a real overhead station's (issue 12)",
    )
    ap.add_argument("--json", help="also write the per-image records to this file")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="pool earlier --json runs and print")
    args = ap.parse_args(argv)
    if args.merge:
        parts = []
        for path in args.merge:
            with open(path) as fh:
                parts.append(json.load(fh))
        result = merge(parts)
    else:
        mode = "defective" if args.defective_only else "good" if args.good_only else "mix"
        options = {"mode": mode, "strips": args.strips, "conditions": args.conditions}
        result = run(args.images, args.seed, args.true_calibration, **options)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(result, fh, default=float)
    print(markdown(summarize(result)))


if __name__ == "__main__":
    main()
