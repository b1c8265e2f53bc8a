"""Settings → Model: the disk cache's size bound reaches the engine."""

from __future__ import annotations

from samdesk.ui import settings as user_settings
from samdesk.ui.engine_bridge import EngineBridge
from samdesk.ui.model_settings import ModelSettingsDialog
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_disk_cache_limit_setting_reaches_the_cache(qtbot, checkpoint, tmp_path):
    dialog = ModelSettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.disk_cache.value() == 10  # the default: 10 GB
    with qtbot.waitSignal(dialog.detected, timeout=60_000):  # OK waits for the check
        dialog.set_checkpoint(str(checkpoint))
    dialog.disk_cache.setValue(3)
    dialog.accept()
    dialog.shutdown()
    assert user_settings.model_settings().disk_cache_gb == 3
    chosen, options = user_settings.engine_arguments(None)
    assert options["disk_limit_bytes"] == 3 * 1000**3
    bridge = EngineBridge(
        chosen,
        cache_dir=tmp_path / "cache",
        **{k: v for k, v in options.items() if k != "cache_dir"},
    )
    try:
        assert bridge._service.disk.max_bytes == 3 * 1000**3
    finally:
        assert bridge.shutdown(timeout=30)
