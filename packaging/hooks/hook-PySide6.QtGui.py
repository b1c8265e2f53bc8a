"""PySide6.QtGui hook that collects only the Qt plugins samdesk uses.

PyInstaller's own hook (which this one replaces: user hooks have the highest priority)
collects every plugin of each QtGui plugin type. Some of those link big Qt modules that
samdesk never uses — the virtual keyboard pulls QtQuick/QtQml, the PDF image format pulls
QtPdf, eglfs/linuxfb/vnc are for embedded devices — and binary analysis would then
collect those libraries too. Filtering here, before that analysis, keeps them out.
"""

from __future__ import annotations

from pathlib import Path

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)

# Plugin type -> file-name stems kept (lib prefix and suffix stripped). Types not listed
# here are kept whole; a type mapped to an empty set is dropped.
_KEEP: dict[str, set[str]] = {
    # xcb and wayland for Linux desktops, offscreen/minimal for headless runs and the
    # self-test, windows and cocoa for the other two systems.
    "platforms": {"qxcb", "qwayland", "qoffscreen", "qminimal", "qwindows", "qcocoa"},
    # All raster formats; qpdf would pull QtPdf (no PDFs are opened).
    "imageformats": {
        "qgif",
        "qico",
        "qicns",
        "qjpeg",
        "qsvg",
        "qtga",
        "qtiff",
        "qwbmp",
        "qwebp",
    },
    # Compose and IBus input methods (typing class names in any language); the virtual
    # keyboard plugin needs QtQuick.
    "platforminputcontexts": {
        "composeplatforminputcontextplugin",
        "ibusplatforminputcontextplugin",
    },
    # The portal theme gives native file dialogs through D-Bus; gtk3 would need GTK's
    # libraries, which are not ours to ship.
    "platformthemes": {"qxdgdesktopportal"},
    # Embedded-device input (evdev, TUIO) and EGL device integrations: not a desktop's.
    "generic": set(),
    "egldeviceintegrations": set(),
}


def _stem(path: str) -> str:
    name = Path(path).name.split(".")[0]
    return name[3:] if name.startswith("lib") else name


def _kept(src: str, dest: str) -> bool:
    parts = Path(dest).parts
    if "plugins" not in parts or parts.index("plugins") + 1 >= len(parts):
        return True
    plugin_type = parts[parts.index("plugins") + 1]
    keep = _KEEP.get(plugin_type)
    return keep is None or _stem(src) in keep


binaries = [(src, dest) for src, dest in binaries if _kept(src, dest)]
