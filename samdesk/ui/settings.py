"""The user's settings, typed: one place that knows the QSettings keys and their defaults.

Everything persistent that is not part of a project lives here (model, device, caches,
recent projects). Readers (the engine bridge, the dialogs, the workflow) call the getters;
writers call the setters. QSettings itself is created per call: it is cheap, thread-safe
for reading, and always sees the application's organisation name and format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
CACHE_PLACES = ("user", "project")
MAX_RECENT = 10

_CHECKPOINT = "model/checkpoint"
_DEVICE = "model/device"
_PRECISION = "model/precision"
_PREFETCH = "model/prefetch_count"
_CACHE_MB = "cache/size_mb"
_CACHE_PLACE = "cache/place"
_DISK_GB = "cache/disk_limit_gb"
_RECENT = "projects/recent"
_HOVER = "view/hover_preview"


def _str(key: str, default: str) -> str:
    value = QSettings().value(key, default)
    return str(value) if value is not None else default


def _int(key: str, default: int, low: int, high: int) -> int:
    try:
        value = int(QSettings().value(key, default))  # INI files hold strings
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)


@dataclass(frozen=True)
class ModelSettings:
    """What the engine needs to start: checkpoint file, device, precision, caching."""

    checkpoint: str | None
    device: str = "auto"
    precision: str = "fp32"
    prefetch_count: int = 3
    cache_size_mb: int = 2048
    cache_place: str = "user"
    disk_cache_gb: int = 10
    """Bound of the disk cache folder (user or project); 0: no bound."""

    def encoder_dtype(self, device_is_gpu: bool) -> str | None:
        """ "bfloat16"/"float16" for a GPU with reduced precision chosen, else None (fp32)."""
        if not device_is_gpu or self.precision == "fp32":
            return None
        return "bfloat16" if self.precision == "bf16" else "float16"

    def cache_dir(self, project_root: Path | None) -> Path:
        """Where embeddings are cached: the project's ``.samdesk/embeddings`` or the user's."""
        if self.cache_place == "project" and project_root is not None:
            return Path(project_root) / ".samdesk" / "embeddings"
        from samdesk.models import user_cache_dir

        return Path(user_cache_dir()) / "embeddings"

    def cache_read_first(self, project_root: Path | None) -> list[Path]:
        """Caches read before ``cache_dir``: the project's (what ``samdesk encode`` writes,
        e.g. on a team's GPU box) when embeddings are written to the user's cache."""
        if project_root is None or self.cache_place == "project":
            return []
        return [Path(project_root) / ".samdesk" / "embeddings"]


def model_settings() -> ModelSettings:
    """The saved model settings (defaults where unset or unreadable)."""
    checkpoint = _str(_CHECKPOINT, "") or None
    device = _str(_DEVICE, "auto")
    precision = _str(_PRECISION, "fp32")
    place = _str(_CACHE_PLACE, "user")
    return ModelSettings(
        checkpoint=checkpoint,
        device=device if device in DEVICES else "auto",
        precision=precision if precision in PRECISIONS else "fp32",
        prefetch_count=_int(_PREFETCH, 3, 0, 32),
        cache_size_mb=_int(_CACHE_MB, 2048, 0, 1_000_000),
        cache_place=place if place in CACHE_PLACES else "user",
        disk_cache_gb=_int(_DISK_GB, 10, 0, 100_000),
    )


def save_model_settings(settings: ModelSettings) -> None:
    """Persist ``settings`` (invalid choices are rejected with ValueError)."""
    if settings.device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {settings.device!r}")
    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    if settings.cache_place not in CACHE_PLACES:
        raise ValueError(f"cache place must be one of {CACHE_PLACES}")
    q = QSettings()
    q.setValue(_CHECKPOINT, settings.checkpoint or "")
    q.setValue(_DEVICE, settings.device)
    q.setValue(_PRECISION, settings.precision)
    q.setValue(_PREFETCH, int(settings.prefetch_count))
    q.setValue(_CACHE_MB, int(settings.cache_size_mb))
    q.setValue(_CACHE_PLACE, settings.cache_place)
    q.setValue(_DISK_GB, int(settings.disk_cache_gb))
    q.sync()


def checkpoint() -> str | None:
    """The chosen checkpoint file, or None."""
    return model_settings().checkpoint


def set_checkpoint(path: str | Path | None) -> None:
    """Choose the checkpoint file (None: no model)."""
    q = QSettings()
    q.setValue(_CHECKPOINT, str(path) if path else "")
    q.sync()


def recent_projects() -> list[str]:
    """Recently opened project files, newest first (missing files are left out)."""
    value = QSettings().value(_RECENT, [])
    if isinstance(value, str):  # INI stores a one-element list as a plain string
        value = [value]
    paths = [str(p) for p in (value or []) if p]
    return [p for p in paths if Path(p).exists()][:MAX_RECENT]


def add_recent_project(path: str | Path) -> list[str]:
    """Put ``path`` first in the recent list; returns the new list."""
    path = str(Path(path).resolve())
    paths = [path, *(p for p in recent_projects() if p != path)][:MAX_RECENT]
    q = QSettings()
    q.setValue(_RECENT, paths)
    q.sync()
    return paths


def hover_preview() -> bool:
    """Whether the SAM tools preview the mask under the cursor (default: on)."""
    value = QSettings().value(_HOVER, True)
    return value not in (False, "false", "0", 0)  # INI files hold strings


def set_hover_preview(on: bool) -> None:
    q = QSettings()
    q.setValue(_HOVER, bool(on))
    q.sync()


def clear_recent_projects() -> None:
    q = QSettings()
    q.remove(_RECENT)
    q.sync()


def engine_kwargs(settings: ModelSettings, project_root: Path | None = None) -> dict[str, object]:
    """Keyword arguments for ``EngineBridge`` from ``settings``.

    Only the keywords the bridge accepts are returned (checked on its signature), so a
    setting the engine does not support yet is simply not applied instead of crashing.
    """
    import inspect

    from samdesk.ui.engine_bridge import EngineBridge

    wanted: dict[str, object] = {
        "device": None if settings.device == "auto" else settings.device,
        "prefetch_count": settings.prefetch_count,
        "cache_dir": settings.cache_dir(project_root),
        "memory_limit_bytes": settings.cache_size_mb * 1024 * 1024,
        "disk_limit_bytes": settings.disk_cache_gb * 1000**3 if settings.disk_cache_gb else None,
        "precision": settings.precision,
    }
    accepted = inspect.signature(EngineBridge.__init__).parameters
    return {key: value for key, value in wanted.items() if key in accepted}


def engine_arguments(
    explicit: str | None, project_root: Path | None = None
) -> tuple[str | None, dict[str, object]]:
    """(checkpoint, keyword arguments) for the window's ``EngineBridge``.

    ``explicit`` (``--checkpoint``) wins over the saved choice; a saved checkpoint whose
    file has gone is ignored, so the window opens without a model instead of failing.
    ``project_root``: the open project (where "cache place: project" puts embeddings).
    """
    saved = model_settings()
    chosen = explicit or saved.checkpoint
    if not explicit and chosen is not None and not Path(chosen).is_file():
        chosen = None
    return chosen, engine_kwargs(saved, project_root)
