"""run.py: the app command installs only the app, the test command the dev tools too, and
the stamp keeps both correct (dev after app-only reinstalls; app after dev does not)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture
def run_py(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("samdesk_run_py", REPO_ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")  # exists: no venv is created
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "STAMP", venv / ".samdesk-installed")
    monkeypatch.setattr(module, "_venv_python", lambda: venv / "bin" / "python")
    monkeypatch.setattr(module, "_has_module", lambda py, name: True)
    module.fingerprint = "f1"
    monkeypatch.setattr(module, "_install_fingerprint", lambda: module.fingerprint)
    module.pip_calls = []

    def fake_run(cmd, **kwargs):
        module.pip_calls.append([str(c) for c in cmd])

    monkeypatch.setattr(module, "_run", fake_run)
    monkeypatch.setattr(module.subprocess, "run", lambda *a, **k: type("R", (), {"returncode": 0}))
    return module


def _installs(module) -> list[str]:
    """The pip targets installed since the last call ("app" or "dev")."""
    calls, module.pip_calls = module.pip_calls, []
    return ["dev" if c[-1].endswith("[dev]") else "app" for c in calls if "install" in c]


def test_app_installs_app_only_and_test_adds_dev(run_py):
    root = str(run_py.ROOT)
    assert run_py.main([]) == 0
    assert run_py.pip_calls[-1][-2:] == ["-e", root]  # no [dev]
    assert _installs(run_py) == ["app"]
    run_py.main([])
    assert _installs(run_py) == []  # nothing changed
    run_py.main(["test", "-k", "x"])
    assert _installs(run_py) == ["dev"]  # dev tools after an app-only set-up
    run_py.main([])
    run_py.main(["test"])
    assert _installs(run_py) == []  # dev covers the app
    run_py.fingerprint = "f2"  # pyproject.toml changed
    run_py.main([])
    assert _installs(run_py) == ["app"]
    run_py.main(["setup"])
    assert _installs(run_py) == ["dev"]


def test_old_stamp_counts_as_dev(run_py):
    run_py.STAMP.write_text("f1")  # written by run.py before the app/dev split
    run_py.main(["test"])
    assert _installs(run_py) == []
    run_py.STAMP.write_text("other")
    run_py.main(["test"])
    assert _installs(run_py) == ["dev"]
