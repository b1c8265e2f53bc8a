"""The official Segment Anything checkpoints samdesk can download, and what is installed.

Provenance of the published values (found with public code and model-hub search):

- URLs: the Segment Anything README, section "Model Checkpoints"
  (github.com/facebookresearch/segment-anything#model-checkpoints) links the three
  ``dl.fbaipublicfiles.com/segment_anything/`` files; MobileSAM's README points at
  ``weights/mobile_sam.pt`` in github.com/ChaoningZhang/MobileSAM, served raw from there.
- SHA-256: computational-cell-analytics/micro-sam, ``micro_sam/util.py`` (``_CHECKSUMS``,
  used by its downloader to verify these very URLs; MobileSAM is its "vit_t").
- SHA-256 and size together: the Git LFS pointers of Hugging Face mirrors, which record the
  uploaded file's ``oid sha256`` and ``size``: huggingface.co/mashb1t/misc commit 78e1813
  (all three SAM files), andzhang01/segment_anything commit 9946685 (ViT-L),
  spaces/TencentARC/BrushNet commit 7c682c5 (ViT-H), dhkim2810/MobileSAM commit 87955d8
  and licyk/controlnet_v1.1_annotator commit 9a2c608 (MobileSAM). Every value below
  agrees across these sources.
- MD5: the 6-hex tag in the SAM file names (``sam_vit_b_01ec64``) is the start of the
  file's MD5, *not* of its SHA-256; full MD5s as published in several downloaders that
  verify against them (e.g. ``4b8939a88964f0f4ff5f5b2642c598a6`` for ViT-H). We keep them
  only to cross-check the file names in tests; downloads are verified with SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samdesk.models.paths import models_dir

# File suffixes of PyTorch checkpoints; a ".part" download is never one of them.
CHECKPOINT_SUFFIXES = (".pth", ".pt")


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One published checkpoint: where it lives, how to verify it, what it is for.

    ``sha256`` is the published SHA-256 (64 lowercase hex). It is None only where no
    published value could be found; the downloader then checks the size and warns.
    ``size`` is in bytes. ``md5`` (optional) is the published MD5, kept because the SAM
    file names embed its first 6 hex digits.
    """

    key: str
    display_name: str
    file_name: str
    url: str
    sha256: str | None
    size: int
    description: str
    recommended_without_gpu: bool = False
    recommended_with_gpu: bool = False
    md5: str | None = None

    def local_path(self) -> Path:
        """Where this checkpoint is (or will be) stored: ``models_dir() / file_name``."""
        return models_dir() / self.file_name

    def is_installed(self) -> bool:
        """True when the file is in ``models_dir()`` with the published size.

        The size is a cheap check that catches truncated copies; the full SHA-256 was
        verified when the downloader put the file there.
        """
        path = self.local_path()
        return path.is_file() and path.stat().st_size == self.size


OFFICIAL_CHECKPOINTS: tuple[OfficialCheckpoint, ...] = (
    OfficialCheckpoint(
        key="mobile_sam",
        display_name="MobileSAM (ViT-Tiny)",
        file_name="mobile_sam.pt",
        url="https://raw.githubusercontent.com/ChaoningZhang/MobileSAM/master/weights/mobile_sam.pt",
        sha256="6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
        size=40_728_226,
        description=(
            "Small and fast (about 40 MB): SAM's mask decoder with a distilled TinyViT "
            "image encoder. Interactive on a CPU; masks are slightly coarser than SAM's."
        ),
        recommended_without_gpu=True,
    ),
    OfficialCheckpoint(
        key="vit_b",
        display_name="SAM ViT-B",
        file_name="sam_vit_b_01ec64.pth",
        url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
        sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        size=375_042_383,
        description=(
            "The smallest original SAM (about 375 MB): a good balance of speed and quality; "
            "usable on a CPU with a few seconds per image."
        ),
        md5="01ec64d29a2fca3f0661936605ae66f8",
    ),
    OfficialCheckpoint(
        key="vit_l",
        display_name="SAM ViT-L",
        file_name="sam_vit_l_0b3195.pth",
        url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
        sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        size=1_249_524_607,
        description=(
            "Large SAM (about 1.2 GB): nearly ViT-H quality at roughly half its cost. "
            "Best with a GPU."
        ),
        md5="0b3195507c641ddb6910d2bb5adee89c",
    ),
    OfficialCheckpoint(
        key="vit_h",
        display_name="SAM ViT-H",
        file_name="sam_vit_h_4b8939.pth",
        url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
        sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        size=2_564_550_879,
        description=(
            "The largest and most accurate SAM (about 2.6 GB), SAM's default model. "
            "Needs a GPU to be interactive."
        ),
        recommended_with_gpu=True,
        md5="4b8939a88964f0f4ff5f5b2642c598a6",
    ),
)


def checkpoint_by_key(key: str) -> OfficialCheckpoint:
    """The catalog entry with this key ("vit_b", "mobile_sam", ...); KeyError names the keys."""
    for checkpoint in OFFICIAL_CHECKPOINTS:
        if checkpoint.key == key:
            return checkpoint
    known = ", ".join(c.key for c in OFFICIAL_CHECKPOINTS)
    raise KeyError(f"unknown checkpoint {key!r}; expected one of: {known}")


def recommended_checkpoint(has_gpu: bool) -> OfficialCheckpoint:
    """The checkpoint to suggest first: MobileSAM without a GPU, SAM ViT-H with one."""
    flag = "recommended_with_gpu" if has_gpu else "recommended_without_gpu"
    return next(c for c in OFFICIAL_CHECKPOINTS if getattr(c, flag))


def installed_checkpoints() -> list[Path]:
    """Checkpoint files (``*.pth``, ``*.pt``) in ``models_dir()``, sorted by name.

    Includes files the user copied there by hand, not only catalog entries; unfinished
    downloads (``*.part``) are left out. Empty when the folder does not exist yet.
    """
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES
    )
