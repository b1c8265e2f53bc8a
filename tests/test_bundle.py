"""The PyInstaller bundle builds, and the frozen program passes its own self-test.

Slow (a build takes minutes): it runs in CI, where a clean clone builds once. Locally,
``SAMDESK_BUNDLE=<dist>/samdesk`` tests an already built bundle instead of building one
(``python packaging/build.py`` puts it at ``packaging/dist/samdesk``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from samdesk.selftest import FAIL, PASS, REQUIRED_CHECKS, SKIP, CheckResult, verdict

ROOT = Path(__file__).resolve().parent.parent

# Shared libraries that must not be in a CPU bundle (CUDA) or that the spec leaves out
# (Qt modules samdesk does not use, and the ones they would drag in).
UNWANTED_LIBRARY = re.compile(
    r"^(lib)?(cuda|cudart|cudnn|cublas|cufft|curand|cusolver|cusparse|nccl|nvrtc|nvjitlink"
    r"|torch_cuda|c10_cuda|Qt6(Quick|Qml|Pdf|WebEngine|VirtualKeyboard|3D|Multimedia))",
    re.IGNORECASE,
)
LIBRARY_SUFFIX = re.compile(r"\.(so(\.[0-9]+)*|dll|dylib)$")
# Folders (relative to the bundle's library folder) that the spec leaves out.
UNWANTED_FOLDERS = ("nvidia", "triton", "sympy", "tkinter", "torch/test", "torch/include")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle folder: built into a temporary folder, or ``$SAMDESK_BUNDLE``."""
    prebuilt = os.environ.get("SAMDESK_BUNDLE")
    if prebuilt:
        return Path(prebuilt)
    tmp = tmp_path_factory.mktemp("bundle")
    build = [sys.executable, str(ROOT / "packaging" / "build.py"), "--quiet"]
    build += ["--dist", str(tmp / "dist"), "--work", str(tmp / "work")]
    # PyInstaller's cache (normally in ~/.cache/pyinstaller) goes into the temporary folder:
    # this module-scoped fixture runs before the per-test HOME redirection.
    env = dict(os.environ, PYINSTALLER_CONFIG_DIR=str(tmp / "pyinstaller-config"))
    result = subprocess.run(build, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return tmp / "dist" / "samdesk"


def _assert_report_ok(result: subprocess.CompletedProcess[str], *, frozen: bool) -> None:
    report = result.stdout
    assert result.returncode == 0, report + result.stderr[-5000:]
    for name in REQUIRED_CHECKS:
        assert re.search(rf"^PASS\s+{name}\s", report, re.MULTILINE), report
    assert not re.search(r"^FAIL\s", report, re.MULTILINE), report
    # The environment line says which code ran: the frozen bundle's or the checkout's.
    assert re.search(rf"^PASS\s+environment\s.*{'bundle' if frozen else 'source'};", report, re.M)
    if os.environ.get("SAMDESK_REQUIRE_COMPILED") == "1":  # CI: built, and bundled
        assert re.search(r"^PASS\s+segment\s.*mask loops compiled", report, re.M), report


def _executable(bundle: Path) -> Path:
    # Windows and macOS bundles have a windowed `samdesk` (no stdout) and `samdesk-cli`.
    if sys.platform == "win32":
        return bundle / "samdesk-cli.exe"
    return bundle / ("samdesk-cli" if sys.platform == "darwin" else "samdesk")


def _selftest(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [*command, "--selftest"], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({name: PASS for name in REQUIRED_CHECKS}, 0),
        ({**{name: PASS for name in REQUIRED_CHECKS}, "optional": SKIP}, 0),
        ({**{name: PASS for name in REQUIRED_CHECKS}, "optional": FAIL}, 1),
        ({**{name: PASS for name in REQUIRED_CHECKS}, REQUIRED_CHECKS[0]: SKIP}, 1),
        ({name: PASS for name in REQUIRED_CHECKS[1:]}, 1),
    ],
)
def test_verdict(statuses: dict[str, str], expected: int) -> None:
    results = [CheckResult(name, status, 0.0, "") for name, status in statuses.items()]
    assert verdict(results)[0] == expected


@pytest.mark.slow
def test_selftest_from_source() -> None:
    _assert_report_ok(_selftest([sys.executable, "-m", "samdesk"], ROOT), frozen=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_passes_selftest(bundle: Path, tmp_path: Path) -> None:
    _assert_report_ok(_selftest([str(_executable(bundle))], tmp_path), frozen=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_leaves_out_unused_parts(bundle: Path) -> None:
    libraries = [
        str(path.relative_to(bundle))
        for path in bundle.rglob("*")
        if LIBRARY_SUFFIX.search(path.name) and UNWANTED_LIBRARY.match(path.name)
    ]
    assert libraries == []
    internal = bundle / "_internal"  # PyInstaller's contents folder
    assert internal.is_dir()
    assert [f for f in UNWANTED_FOLDERS if (internal / f).exists()] == []
