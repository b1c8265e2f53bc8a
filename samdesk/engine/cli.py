"""``samdesk encode``: pre-compute the embedding disk cache for a folder or a project.

Runs on the calling thread (no service, no prefetch: there is nobody to wait for), one
image at a time, through the same stages and cache files as the window, so the window
finds everything encoded here. Resumable: images whose entry is already in the cache (and
valid) are skipped, and an interrupted run leaves no half-written file behind.

Nothing heavy at import time: ``samdesk --help`` builds this parser without torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``samdesk encode``."""
    parser.add_argument(
        "source",
        metavar="FOLDER_OR_PROJECT",
        help="a folder of images, a project folder or a project file",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        required=True,
        help="SAM / MobileSAM checkpoint whose embeddings to compute",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="where to encode: auto (GPU if present), cuda, cuda:1, mps or cpu",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="embedding cache folder (default: <folder>/.samdesk/embeddings, which the "
        "window reads first, before its own cache, for that project)",
    )
    parser.add_argument(
        "--force", action="store_true", help="re-encode images that are already cached"
    )
    parser.add_argument(
        "--cache-limit-gb",
        type=float,
        default=10.0,
        metavar="GB",
        help="bound of the cache folder; least recently used entries are deleted beyond it "
        "(default: 10; 0: no bound)",
    )
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="encode images above the pixel safety limit against decompression bombs "
        "(~89 megapixels); only for files you trust",
    )


def run_encode(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Encode every image of ``args.source`` missing from the cache.

    Prints one progress line per image on stderr (``[ 12/100] truck.jpg 2.1 s``).
    Returns 0 when every image is cached at the end, 1 when some failed, 2 when nothing
    could start (no images, unusable checkpoint), 130 when interrupted.
    """
    out = stream or sys.stderr
    source = Path(args.source)
    try:
        folder, images = collect_images(source)
    except OSError as exc:
        print(f"samdesk encode: {exc}", file=out)
        return 2
    if not images:
        print(f"samdesk encode: no images found in {source}", file=out)
        return 2

    if not Path(args.checkpoint).is_file():
        print(f"samdesk encode: checkpoint not found: {args.checkpoint}", file=out)
        return 2

    import functools

    from samdesk.engine.backend import Cancelled, SamBackend, default_read_image
    from samdesk.engine.cache import DiskCache, project_cache_dir
    from samdesk.engine.fingerprint import content_hash
    from samdesk.engine.pipeline import describe_error, produce_embedding

    cache_dir = Path(args.cache_dir) if args.cache_dir else project_cache_dir(folder)
    device = None if args.device in (None, "auto") else args.device
    backend = SamBackend(args.checkpoint, device)
    try:
        model_key = backend.model_key()
    except OSError as exc:
        print(f"samdesk encode: {exc}", file=out)
        return 2
    limit_gb = float(getattr(args, "cache_limit_gb", 10.0) or 0)
    disk = DiskCache(cache_dir, int(limit_gb * 1000**3) if limit_gb > 0 else None)
    read_image = functools.partial(
        default_read_image, allow_large=bool(getattr(args, "allow_large", False))
    )
    loaded = False
    failed = encoded = skipped = 0
    width = len(str(len(images)))
    print(f"encoding {len(images)} images into {cache_dir}", file=out)

    def no_cancel() -> None:
        return None

    def notice(message: str) -> None:
        print(f"  note: {message}", file=out)

    try:
        for i, path in enumerate(images, 1):
            prefix = f"[{i:>{width}}/{len(images)}] {_display(path, folder)}"
            started = time.perf_counter()
            try:
                digest = content_hash(path)  # once per image: reused for the encode below
                if not args.force and disk.load(digest, model_key, str(path)):
                    skipped += 1
                    print(f"{prefix} cached", file=out, flush=True)
                    continue
                if not loaded:
                    print(f"loading {Path(args.checkpoint).name} …", file=out, flush=True)
                    try:
                        backend.load()
                    except Exception as exc:
                        print(f"samdesk encode: {describe_error(exc)}", file=out)
                        return 2
                    loaded = True
                    started = time.perf_counter()
                produce_embedding(
                    path,
                    str(path),
                    backend=backend,
                    model_key=model_key,
                    disk=disk,
                    read_image=read_image,
                    check_cancel=no_cancel,
                    on_notice=notice,
                    reuse_cached=not args.force,
                    digest=digest,
                )
            except Cancelled:  # pragma: no cover - no_cancel never raises
                continue
            except Exception as exc:
                failed += 1
                print(f"{prefix} error: {describe_error(exc)}", file=out, flush=True)
                continue
            encoded += 1
            print(f"{prefix} {time.perf_counter() - started:.1f} s", file=out, flush=True)
    except KeyboardInterrupt:
        print("interrupted; run again to continue where it stopped", file=out)
        return 130
    finally:
        backend.close()
    print(f"done: {encoded} encoded, {skipped} already cached, {failed} failed", file=out)
    return 1 if failed else 0


def collect_images(source: Path) -> tuple[Path, list[Path]]:
    """(folder the cache belongs to, the images in the user's order) for a source path.

    A project file, or a folder holding one, lists its own images in the project's order;
    any other folder is scanned for image files (sub-folders included), in natural order.
    """
    from samdesk.core.images import scan_images
    from samdesk.io.project import PROJECT_SUFFIX, ProjectStore

    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    is_project = source.name.endswith(PROJECT_SUFFIX) or (
        source.is_dir() and any(source.glob(f"*{PROJECT_SUFFIX}"))
    )
    if is_project:
        store = ProjectStore.open(source)
        return store.root, [store.image_abspath(r) for r in store.project.images]
    if not source.is_dir():
        raise NotADirectoryError(f"{source} is neither a folder nor a samdesk project")
    return source, [source / p for p in scan_images(source, recursive=True)]


def _display(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return os.fspath(path)
