"""``samdesk --selftest``: a headless check of the installed program (source or bundle).

Each check exercises one part the way the app uses it — versions and package data, the
Qt window (offscreen when there is no display), model loading, one encode and decode,
one COCO export — and prints one line: PASS/FAIL/SKIP, duration, detail. A check whose
part is not in this build (its module is missing) is SKIPPED, never passed. The exit
status is 0 when no check failed and every check in ``REQUIRED_CHECKS`` passed.

Everything is written into one temporary folder, and the user's settings, data and cache
folders are pointed there for the duration, so a self-test never touches the user's files.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import samdesk

# Checks that must PASS for exit status 0 (a SKIP of one of these fails the self-test).
# A part joins this list once it has landed in every build.
REQUIRED_CHECKS: list[str] = [
    "environment",
    "resources",
    "sample_project",
    "window",
    "model",
    "segment",
    "export",
]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class NotAvailable(Exception):
    """The part a check exercises is not in this build (reported as SKIP)."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str
    seconds: float
    detail: str


@dataclass
class _Context:
    """What the checks share: the temporary folder, and the model once loaded."""

    tmp: Path
    checkpoint: str | None
    model: Any = None


def _require(module: str, name: str) -> Any:
    """``module.name``; NotAvailable when either is not in this build.

    Only the module itself (or a parent package) missing counts as "not available"; an
    import error from inside it is a bug and propagates, so the check FAILs.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            raise NotAvailable(f"{module} missing") from exc
        raise
    if not hasattr(mod, name):
        raise NotAvailable(f"{module}.{name} missing")
    return getattr(mod, name)


def is_frozen() -> bool:
    """Whether this is a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _sample_project() -> Path:
    """The shipped sample project's folder; NotAvailable when this build has none."""
    project_dir = _require("samdesk.io.sample", "bundled_sample_project")()
    if not project_dir.is_dir():
        raise NotAvailable(f"no sample project at {project_dir}")
    return project_dir


def _sample_images(project_dir: Path) -> list[Path]:
    return sorted(p for p in project_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- checks


def check_environment(ctx: _Context) -> str:
    """Python and library versions: each library samdesk needs imports in this build."""
    versions = [f"python {platform.python_version()}", f"samdesk {samdesk.__version__}"]
    for label, module in (
        ("torch", "torch"),
        ("numpy", "numpy"),
        ("PySide6", "PySide6"),
        ("pillow", "PIL"),
        ("shapely", "shapely"),
        ("opencv", "cv2"),
        ("pyyaml", "yaml"),
        ("pycocotools", "pycocotools.mask"),
    ):
        mod = importlib.import_module(module)
        version = getattr(mod, "__version__", None) or _dist_version(label)
        versions.append(f"{label} {version}")
    import torch

    versions.append(f"threads {torch.get_num_threads()}")
    where = "bundle" if is_frozen() else "source"
    return f"{where}; {platform.system()} {platform.machine()}; " + ", ".join(versions)


def _dist_version(dist: str) -> str:
    """A distribution's version from its metadata (a bundle may not carry it: "?")."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def check_resources(ctx: _Context) -> str:
    """The UI's package data (SVG icons) is where the app looks for it."""
    resource_path = _require("samdesk.ui.resources", "resource_path")
    resource_dir = resource_path("__init__.py").parent
    icons = sorted(p.name for p in resource_dir.glob("*.svg"))
    if not icons:
        raise AssertionError(f"no SVG icons in {resource_dir}")
    return f"{len(icons)} SVG icons in {resource_dir}"


def check_sample_project(ctx: _Context) -> str:
    """The sample project (photos and annotations) is in the checkout or the bundle."""
    project_dir = _sample_project()
    images = _sample_images(project_dir)
    if not images:
        raise AssertionError(f"no images in the sample project {project_dir}")
    return f"{len(images)} images in {project_dir}"


def check_window(ctx: _Context) -> str:
    """The real main window opens, paints and grabs to a non-empty image (offscreen
    without a display). The Qt code lives in the ui layer, the only one that imports Qt."""
    check = _require("samdesk.ui.selftest_window", "check_window")
    if _needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return check(ctx.tmp / "settings")


def _needs_offscreen() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return False  # the user's (or the test's) choice
    if sys.platform.startswith(("win", "darwin")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_model(ctx: _Context) -> str:
    """Load the given checkpoint, or a small random-weight one generated into the temp
    folder (architecture read from the tensors as for a real checkpoint)."""
    load_model = _require("samdesk.sam", "load_model")
    if ctx.checkpoint:
        path = Path(ctx.checkpoint)
        origin = str(path)
    else:
        make_checkpoint = _require("samdesk.sam.testing", "make_checkpoint")
        path = ctx.tmp / "selftest-vit.pt"
        make_checkpoint(path, arch="vit", seed=0)
        origin = f"random-weight test checkpoint ({path.stat().st_size / 2**20:.1f} MiB)"
    ctx.model = load_model(path)
    info = getattr(ctx.model, "info", None)
    name = info.describe() if info is not None else type(ctx.model).__name__
    params = sum(p.numel() for p in ctx.model.parameters())
    device = next(ctx.model.parameters()).device
    return f"{origin}: {name}, {params / 1e6:.1f} M parameters, on {device}"


def check_segment(ctx: _Context) -> str:
    """One image encode and one decode: a point click gives a non-empty mask of the
    image's size."""
    import numpy as np

    predictor_class = _require("samdesk.sam", "Predictor")
    if ctx.model is None:
        raise NotAvailable("no model: see the model check")
    image, origin = _sample_rgb()
    height, width = image.shape[:2]
    predictor = predictor_class(ctx.model)
    start = time.perf_counter()
    predictor.set_image(image)
    encode_s = time.perf_counter() - start
    point = np.array([[width / 2, height / 2]], dtype=np.float64)
    masks, scores, _logits = predictor.predict(
        point_coords=point, point_labels=np.array([1]), multimask_output=True
    )
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[1:] != (height, width):
        raise AssertionError(f"masks have shape {masks.shape}, expected N×{height}×{width}")
    areas = masks.reshape(len(masks), -1).sum(axis=1)
    if not areas.any():
        raise AssertionError("all masks are empty")
    compiled = _require("samdesk.sam.postprocess", "compiled_loops")()
    return (
        f"{origin} {width}x{height}: encode {encode_s:.1f} s, {len(masks)} masks, "
        f"largest {int(areas.max())} px, scores {' '.join(f'{v:.2f}' for v in scores)}; "
        f"mask loops {'compiled' if compiled else 'numpy'}"
    )


def _sample_rgb() -> tuple[Any, str]:
    """An H×W×3 uint8 RGB image: the sample project's first photo, else a drawn one."""
    import numpy as np

    try:
        images = _sample_images(_sample_project())
    except NotAvailable:
        images = []
    if images:
        from PIL import Image, ImageOps

        with Image.open(images[0]) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB")), images[0].name
    # A bright disc on a gradient: something for a click to land on.
    yy, xx = np.mgrid[0:480, 0:640]
    image = np.stack([xx * 255 // 640, yy * 255 // 480, np.full_like(xx, 80)], axis=-1)
    image[(xx - 320) ** 2 + (yy - 240) ** 2 < 100**2] = (250, 240, 60)
    return image.astype(np.uint8), "drawn image"


def check_export(ctx: _Context) -> str:
    """Copy the sample project as the app does (``samdesk --sample``), open the copy,
    export it as COCO into the temp folder and read that back with pycocotools (the
    consumer's own reader)."""
    export_coco = _require("samdesk.io.coco", "export_coco")
    project_store = _require("samdesk.io.project", "ProjectStore")
    working_sample_project = _require("samdesk.io.sample", "working_sample_project")
    _sample_project()
    project_dir = working_sample_project(ctx.tmp / "user-data")
    store = project_store.open(project_dir)
    records = [store.load_image_annotations(row) for row in range(len(store.project.images))]
    out = ctx.tmp / "export" / "annotations.json"
    out.parent.mkdir(parents=True)
    report = export_coco(store.project, records, out, project_dir=project_dir)

    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress lines
        coco = COCO(str(out))
    n_images, n_annotations = len(coco.getImgIds()), len(coco.getAnnIds())
    if n_images != len(records):
        raise AssertionError(f"{n_images} images in the export, {len(records)} in the project")
    if n_annotations != report.objects:
        raise AssertionError(f"{n_annotations} annotations read back, {report.objects} written")
    if n_annotations:
        coco.annToMask(coco.loadAnns(coco.getAnnIds()[:1])[0])  # decodes the segmentation
    return f"{n_images} images, {n_annotations} annotations, {len(coco.getCatIds())} classes"


CHECKS: list[tuple[str, Callable[[_Context], str]]] = [
    ("environment", check_environment),
    ("resources", check_resources),
    ("sample_project", check_sample_project),
    ("window", check_window),
    ("model", check_model),
    ("segment", check_segment),
    ("export", check_export),
]


# --------------------------------------------------------------------------- running


def _run_check(name: str, check: Callable[[_Context], str], ctx: _Context) -> CheckResult:
    start = time.perf_counter()
    try:
        detail = check(ctx)
        status = PASS
    except NotAvailable as exc:
        status, detail = SKIP, f"not available in this build ({exc})"
    except Exception as exc:  # any failure is a reported FAIL, never a crash
        status, detail = FAIL, f"{type(exc).__name__}: {exc}"
    return CheckResult(name, status, time.perf_counter() - start, detail)


@contextlib.contextmanager
def _isolated_user_dirs(tmp: Path) -> Iterator[None]:
    """Point samdesk's and the desktop's per-user folders into ``tmp`` meanwhile."""
    names = {
        "SAMDESK_DATA_DIR": tmp / "data",
        "SAMDESK_CACHE_DIR": tmp / "cache",
        "XDG_CONFIG_HOME": tmp / "config",
        "XDG_CACHE_HOME": tmp / "xdg-cache",
        "XDG_DATA_HOME": tmp / "xdg-data",
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(path) for name, path in names.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_checks(checkpoint: str | None = None) -> Iterator[CheckResult]:
    """Run every check in order, yielding each result as soon as it is known."""
    with tempfile.TemporaryDirectory(prefix="samdesk-selftest-") as tmp:
        ctx = _Context(tmp=Path(tmp), checkpoint=checkpoint)
        with _isolated_user_dirs(ctx.tmp):
            for name, check in CHECKS:
                yield _run_check(name, check, ctx)


def format_result(result: CheckResult) -> str:
    """One report line: ``PASS  window       0.42 s  detail``."""
    return f"{result.status}  {result.name:<14} {result.seconds:6.2f} s  {result.detail}"


def verdict(results: list[CheckResult]) -> tuple[int, str]:
    """(exit status, summary line) for a complete list of results."""
    by_name = {r.name: r for r in results}
    failed = [r.name for r in results if r.status == FAIL]
    missing = [n for n in REQUIRED_CHECKS if n not in by_name or by_name[n].status != PASS]
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
    tally = f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped"
    if failed or missing:
        reasons = [f"failed: {', '.join(failed)}"] if failed else []
        if set(missing) - set(failed):
            reasons.append(f"required, not passed: {', '.join(sorted(set(missing) - set(failed)))}")
        return 1, f"self-test FAILED ({tally}; {'; '.join(reasons)})"
    return 0, f"self-test OK ({tally})"


def run_selftest(checkpoint: str | None = None, *, out: TextIO | None = None) -> int:
    """Run the self-test, print the report to ``out``; exit status 0 (ok) or 1.

    ``out`` defaults to the current ``sys.stdout``; when there is none (a windowed program
    on Windows) nothing is printed and the exit status still tells.
    """
    out = out if out is not None else sys.stdout
    write: Callable[[str], None] = (lambda line: None) if out is None else _printer(out)
    write(f"samdesk {samdesk.__version__} self-test ({sys.executable})")
    write(f"required checks: {', '.join(REQUIRED_CHECKS)}")
    results = []
    for result in run_checks(checkpoint):
        results.append(result)
        write(format_result(result))
    status, summary = verdict(results)
    write(summary)
    return status


def _printer(out: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        print(line, file=out, flush=True)  # flushed: a slow check must not hide the earlier lines

    return write
