"""Load official SAM / MobileSAM checkpoints, reading the architecture from tensor shapes.

Never trusts the file name or a fixed vit_b/l/h table: embed dim, depth, heads, window size
and global-attention blocks all come from the weights, so reduced or custom ViTs load too.
Files are always read with ``torch.load(..., weights_only=True)``: a pickle containing code
is refused, never executed. A hostile file cannot make the loader allocate what it does not
hold: its declarations are checked first (``checkpoint_scan``), zip checkpoints are memory-
mapped rather than read, and the architecture read from the shapes must be in SAM's range
and match the stored tensors on the ``meta`` device before the real model is built
(``checkpoint_checks``).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from samdesk.sam import checkpoint_checks, checkpoint_scan
from samdesk.sam.errors import SamCheckpointError
from samdesk.sam.image_encoder import ImageEncoderViT
from samdesk.sam.mask_decoder import MaskDecoder
from samdesk.sam.prompt_encoder import PromptEncoder
from samdesk.sam.sam import Sam
from samdesk.sam.transformer import TwoWayTransformer

log = logging.getLogger(__name__)

IMAGE_SIZE = 1024

# (embed_dim, depth, num_heads, global_attn_indexes) of the published SAM ViTs, used only
# to name a model in ModelInfo.describe(), never to build one.
OFFICIAL_VITS: dict[str, tuple[int, int, int, tuple[int, ...]]] = {
    "vit_b": (768, 12, 12, (2, 5, 8, 11)),
    "vit_l": (1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": (1280, 32, 16, (7, 15, 23, 31)),
}

_BLOCK_RE = re.compile(r"^image_encoder\.blocks\.(\d+)\.")
_DECODER_LAYER_RE = re.compile(r"^mask_decoder\.transformer\.layers\.(\d+)\.")


@dataclass(frozen=True)
class ModelInfo:
    """What a checkpoint contains, as read from its tensor shapes.

    ``arch`` is "vit" or "tiny_vit". For TinyViT, ``embed_dim``/``depth``/``num_heads`` are
    those of the last stage / all stages and ``config`` holds the full TinyViT keywords.
    """

    arch: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...] = ()
    window_size: int = 0
    mlp_ratio: float = 4.0
    out_chans: int = 256
    config: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def official_name(self) -> str | None:
        """ "vit_b", "vit_l" or "vit_h" when the shapes are the published ones, else None."""
        if self.arch != "vit" or self.window_size != 14 or self.mlp_ratio != 4.0:
            return None
        for name, spec in OFFICIAL_VITS.items():
            if spec == (self.embed_dim, self.depth, self.num_heads, self.global_attn_indexes):
                return name
        return None

    def describe(self) -> str:
        """Human-readable name, e.g. "SAM ViT-B (768-d, 12 blocks, 12 heads)"."""
        if self.arch == "tiny_vit":
            return "MobileSAM (TinyViT)"
        shape = f"{self.embed_dim}-d, {self.depth} blocks, {self.num_heads} heads"
        name = self.official_name
        if name is not None:
            return f"SAM ViT-{name[-1].upper()} ({shape})"
        globals_ = ",".join(str(i) for i in self.global_attn_indexes) or "none"
        return f"SAM ViT (custom: {shape}, global blocks {globals_}, window {self.window_size})"


# --- reading the file ----------------------------------------------------------------------
def _pickle_has_globals(path: Path) -> bool:
    """Whether a plain pickle file references Python globals (classes or functions).

    Parsed with pickletools, which only decodes opcodes and never executes anything.
    """
    try:
        with path.open("rb") as f:
            for opcode, _arg, _pos in pickletools.genops(f):
                if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"):
                    return True
    except Exception:
        return False
    return False


def _read_file(path: Path) -> object:
    if not path.exists():
        raise SamCheckpointError(f"Checkpoint file not found: {path}")
    if not path.is_file():
        raise SamCheckpointError(f"Checkpoint path is not a file: {path}")
    if path.stat().st_size == 0:
        raise SamCheckpointError(f"Checkpoint file is empty: {path}. Download it again.")
    try:
        # Refuses compressed records, storages larger than their records and tensors
        # outside their storage, before torch.load allocates anything.
        checkpoint_scan.scan(path)
        # Zip checkpoints are memory-mapped: tensors are read lazily from the file, so
        # a file can never make this allocate more than the pages actually touched.
        mmap = checkpoint_scan.is_zip_checkpoint(path)
    except (OSError, zipfile.BadZipFile) as exc:
        mmap = False
        log.info("checkpoint scan of %s failed: %s", path, exc)
    try:
        with warnings.catch_warnings():
            # Plain pickles (protocol > 2) trigger a torch warning; the error below says more.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if "GLOBAL" in message or _pickle_has_globals(path):
            raise SamCheckpointError(
                f"Refused to load {path.name}: it contains Python code or objects besides "
                "tensors, which could run arbitrary code when loaded. Only plain weight files "
                "(state dicts of tensors) are accepted; use the official checkpoint from a "
                "trusted source."
            ) from exc
        raise SamCheckpointError(
            f"{path.name} is not a PyTorch checkpoint (or it is corrupted). "
            "Choose a SAM .pth/.pt weights file."
        ) from exc
    except (RuntimeError, EOFError, IndexError, KeyError, ValueError, OSError) as exc:
        with path.open("rb") as f:
            head = f.read(4)
        # torch.save writes a zip archive: a zip header without a readable central
        # directory at the end means the file was cut short.
        # The legacy format is a pickle (opcode PROTO, 0x80) that fails part-way when cut.
        damaged = (head == b"PK\x03\x04" and not zipfile.is_zipfile(path)) or (
            head[:1] == b"\x80" and isinstance(exc, (EOFError, IndexError))
        )
        if damaged:
            raise SamCheckpointError(
                f"{path.name} is truncated or damaged ({type(exc).__name__}). If it was "
                "downloaded, the download is probably incomplete: download it again."
            ) from exc
        raise SamCheckpointError(
            f"{path.name} is not a PyTorch checkpoint ({type(exc).__name__}: "
            f"{str(exc)[:120]}). Choose a SAM .pth/.pt weights file."
        ) from exc


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """Plain ``{name: tensor}`` dict from a state dict, possibly wrapped and DDP-prefixed."""
    for _ in range(2):
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            for key in ("model", "state_dict"):
                if isinstance(obj.get(key), Mapping):
                    obj = obj[key]
                    break
    if not isinstance(obj, Mapping):
        raise SamCheckpointError(
            f"{path.name} does not contain a state dict (found a {type(obj).__name__})."
        )
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise SamCheckpointError(f"{path.name} contains no weights (no tensors found).")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def _recognise_family(sd: Mapping[str, torch.Tensor], path: Path) -> str:
    """ "vit" or "tiny_vit"; raises for other model families with a message saying which."""
    keys = list(sd)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if has("image_encoder.trunk.") or has("memory_attention.") or has("sam_mask_decoder."):
        raise SamCheckpointError(
            f"{path.name} is a SAM 2 checkpoint (Hiera encoder, memory attention). SAM 2 is "
            "not supported yet; use a SAM (vit_b/vit_l/vit_h) or MobileSAM checkpoint."
        )
    if (
        has("mask_decoder.hf_token")
        or has("mask_decoder.hf_mlp")
        or has("mask_decoder.compress_vit_feat")
    ):
        raise SamCheckpointError(
            f"{path.name} is an HQ-SAM checkpoint (extra high-quality output token). HQ-SAM "
            "is not supported yet; use the plain SAM checkpoint of the same size."
        )
    if (
        has("prompt_encoder.invalid_points")
        or has("prompt_encoder.bbox_top_left_embeddings")
        or has("mask_decoder.final_output_upscaling_layers")
    ):
        raise SamCheckpointError(
            f"{path.name} is an EfficientSAM checkpoint. EfficientSAM is not supported yet; "
            "use a SAM or MobileSAM checkpoint."
        )
    if not (has("image_encoder.") and has("prompt_encoder.") and has("mask_decoder.")):
        sample = ", ".join(keys[:3])
        raise SamCheckpointError(
            f"{path.name} is not a Segment Anything checkpoint: it has no image_encoder / "
            f"prompt_encoder / mask_decoder weights (its keys look like: {sample}, …)."
        )
    if "image_encoder.patch_embed.proj.weight" in sd:
        return "vit"
    if has("image_encoder.patch_embed.seq.") or has("image_encoder.layers."):
        return "tiny_vit"
    raise SamCheckpointError(
        f"{path.name}: the image encoder is neither SAM's ViT nor MobileSAM's TinyViT "
        "(no image_encoder.patch_embed weights); this encoder is not supported."
    )


# --- architecture from shapes --------------------------------------------------------------
def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise SamCheckpointError(f"Checkpoint is missing the weight {key!r}.")
    return tuple(sd[key].shape)


def infer_vit_info(sd: Mapping[str, torch.Tensor]) -> ModelInfo:
    """Read a ViT encoder's configuration from the full (``image_encoder.``-prefixed) keys."""
    embed_dim, _, patch, _ = _shape(sd, "image_encoder.patch_embed.proj.weight")
    blocks = sorted({int(m.group(1)) for k in sd if (m := _BLOCK_RE.match(k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise SamCheckpointError(
            f"Checkpoint image encoder blocks are not numbered 0…N-1 (found {blocks[:8]}…)."
        )
    depth = len(blocks)
    grid = _shape(sd, "image_encoder.pos_embed")[1]
    if grid * patch != IMAGE_SIZE:
        raise SamCheckpointError(
            f"Checkpoint expects {grid * patch}-pixel inputs; only {IMAGE_SIZE} is supported."
        )
    head_dim = _shape(sd, "image_encoder.blocks.0.attn.rel_pos_h")[1]
    if head_dim == 0 or embed_dim % head_dim != 0:
        raise SamCheckpointError(
            f"Inconsistent attention shapes: embed dim {embed_dim}, head dim {head_dim}."
        )
    global_size = 2 * grid - 1
    sizes = [_shape(sd, f"image_encoder.blocks.{i}.attn.rel_pos_h")[0] for i in blocks]
    global_idx = tuple(i for i, s in zip(blocks, sizes, strict=True) if s == global_size)
    windowed = {s for s in sizes if s != global_size}
    if len(windowed) > 1:
        raise SamCheckpointError(
            f"Windowed blocks disagree on the window size: {sorted(windowed)}."
        )
    window = (windowed.pop() + 1) // 2 if windowed else 14
    mlp_dim = _shape(sd, "image_encoder.blocks.0.mlp.lin1.weight")[0]
    out_chans = _shape(sd, "image_encoder.neck.0.weight")[0]
    return ModelInfo(
        arch="vit",
        embed_dim=embed_dim,
        depth=depth,
        num_heads=embed_dim // head_dim,
        global_attn_indexes=global_idx,
        window_size=window,
        mlp_ratio=mlp_dim / embed_dim,
        out_chans=out_chans,
    )


def _decoder_config(sd: Mapping[str, torch.Tensor]) -> dict[str, int]:
    dim = _shape(sd, "mask_decoder.iou_token.weight")[1]
    depth = len({int(m.group(1)) for k in sd if (m := _DECODER_LAYER_RE.match(k))})
    internal = _shape(sd, "mask_decoder.transformer.final_attn_token_to_image.q_proj.weight")[0]
    return {
        "dim": dim,
        "depth": depth,
        "mlp_dim": _shape(sd, "mask_decoder.transformer.layers.0.mlp.lin1.weight")[0],
        "downsample": dim // internal,
        "multimask": _shape(sd, "mask_decoder.mask_tokens.weight")[0] - 1,
        "iou_depth": len(
            {k for k in sd if k.startswith("mask_decoder.iou_prediction_head.layers.")}
        )
        // 2,
        "iou_hidden": _shape(sd, "mask_decoder.iou_prediction_head.layers.0.weight")[0],
        "mask_in_chans": _shape(sd, "prompt_encoder.mask_downscaling.3.weight")[0],
    }


def build_prompt_and_decoder(
    dim: int = 256,
    depth: int = 2,
    mlp_dim: int = 2048,
    downsample: int = 2,
    multimask: int = 3,
    iou_depth: int = 3,
    iou_hidden: int = 256,
    mask_in_chans: int = 16,
) -> tuple[PromptEncoder, MaskDecoder]:
    """SAM's prompt encoder and mask decoder (defaults: the official sizes)."""
    grid = IMAGE_SIZE // 16
    prompt_encoder = PromptEncoder(dim, (grid, grid), (IMAGE_SIZE, IMAGE_SIZE), mask_in_chans)
    mask_decoder = MaskDecoder(
        transformer_dim=dim,
        transformer=TwoWayTransformer(depth, dim, 8, mlp_dim, downsample),
        num_multimask_outputs=multimask,
        iou_head_depth=iou_depth,
        iou_head_hidden_dim=iou_hidden,
    )
    return prompt_encoder, mask_decoder


def _build_vit_encoder(info: ModelInfo) -> ImageEncoderViT:
    return ImageEncoderViT(
        img_size=IMAGE_SIZE,
        embed_dim=info.embed_dim,
        depth=info.depth,
        num_heads=info.num_heads,
        mlp_ratio=info.mlp_ratio,
        out_chans=info.out_chans,
        window_size=info.window_size,
        global_attn_indexes=info.global_attn_indexes,
    )


def _build_tiny_vit_encoder(
    sd: Mapping[str, torch.Tensor], path: Path
) -> tuple[nn.Module, ModelInfo]:
    """TinyViT encoder and its info (kept apart: the module belongs to tiny_vit.py)."""
    from samdesk.sam.tiny_vit import TinyViT, infer_tiny_vit_config

    prefix = "image_encoder."
    encoder_sd = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    try:
        config = infer_tiny_vit_config(encoder_sd)
    except ValueError as exc:
        raise SamCheckpointError(
            f"MobileSAM (TinyViT) image encoder not understood: {exc}"
        ) from exc
    checkpoint_checks.check_tiny_vit_ranges(config, path)
    encoder = TinyViT(**config)
    embed_dims = list(config.get("embed_dims", [0]))
    heads = list(config.get("num_heads", [0]))
    info = ModelInfo(
        arch="tiny_vit",
        embed_dim=int(embed_dims[-1]),
        depth=int(sum(config.get("depths", []))),
        num_heads=int(heads[-1]),
        window_size=int(list(config.get("window_sizes", [0]))[-1]),
        mlp_ratio=float(config.get("mlp_ratio", 4.0)),
        config=dict(config),
    )
    return encoder, info


def _check_matches(expected: Mapping[str, torch.Tensor], sd: Mapping[str, Any], path: Path) -> None:
    """Refuse unless ``sd`` has exactly the keys and shapes of ``expected``."""
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise SamCheckpointError(
            f"{path.name} does not match the SAM architecture read from its shapes: "
            f"{'; '.join(parts)} weights. The file may be from a modified SAM variant."
        )
    bad = [k for k, v in expected.items() if tuple(v.shape) != tuple(sd[k].shape)]
    if bad:
        k = bad[0]
        raise SamCheckpointError(
            f"{path.name}: {len(bad)} weights have unexpected shapes, e.g. {k} is "
            f"{tuple(sd[k].shape)}, expected {tuple(expected[k].shape)}."
        )


def _load_weights(model: Sam, sd: Mapping[str, torch.Tensor], path: Path) -> None:
    _check_matches(model.state_dict(), sd, path)
    # Floating tensors (fp16/bf16 files included) are loaded as fp32; integer buffers
    # (BatchNorm's num_batches_tracked) keep their dtype.
    converted = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    model.load_state_dict(converted, strict=True)


def _build_model(
    sd: Mapping[str, torch.Tensor], family: str, decoder: Mapping[str, int], path: Path
) -> tuple[Sam, ModelInfo]:
    """The model the shapes describe (on the current default device), range-checked."""
    if family == "vit":
        info = infer_vit_info(sd)
        checkpoint_checks.check_vit_ranges(info, path)
        encoder: nn.Module = _build_vit_encoder(info)
    else:
        encoder, info = _build_tiny_vit_encoder(sd, path)
    prompt_encoder, mask_decoder = build_prompt_and_decoder(**decoder)
    return Sam(encoder, prompt_encoder, mask_decoder), info


def load_model(
    path: str | Path,
    device: torch.device | str | None = None,
    encoder_dtype: torch.dtype | None = None,
) -> Sam:
    """Load a SAM or MobileSAM checkpoint (official key names) into an eval-mode model.

    Args:
        path: a ``.pth``/``.pt`` state dict, plain or wrapped in ``model``/``state_dict``,
            optionally with DDP ``module.`` prefixes; fp32, fp16 or bf16.
        device: torch device or "auto"/"cpu"/"cuda"/"mps" (see ``select_device``); None = auto.
        encoder_dtype: bf16/fp16 for the image encoder on a GPU; ignored on CPU (fp32).

    Returns:
        the model, with ``model.info`` (:class:`ModelInfo`) and ``model.checkpoint`` set.

    Raises:
        SamCheckpointError: with a message for the user when the file cannot be used.
    """
    from samdesk.sam.device import select_device

    path = Path(path)
    sd = _unwrap(_read_file(path), path)
    checkpoint_checks.check_tensors(sd, path)
    family = _recognise_family(sd, path)
    decoder = _decoder_config(sd)
    checkpoint_checks.check_decoder_ranges(decoder, path)
    # The architecture comes from the file: in range, and matching the stored tensors
    # shape for shape on the meta device (no memory), before the real model is built.
    with torch.device("meta"), _shapes_only_init():
        skeleton, info = _build_model(sd, family, decoder, path)
    _check_matches(skeleton.state_dict(), sd, path)
    del skeleton
    checkpoint_checks.check_finite(sd, path)
    model, info = _build_model(sd, family, decoder, path)
    _load_weights(model, sd, path)

    dev = device if isinstance(device, torch.device) else select_device(device)
    model = model.to(dev).eval()
    if encoder_dtype is not None and encoder_dtype != torch.float32 and dev.type != "cpu":
        model.image_encoder.to(encoder_dtype)
    model.info = info
    model.checkpoint = str(path)
    return model


@contextlib.contextmanager
def _shapes_only_init() -> Iterator[None]:
    """Random initialisation off while the meta-device skeleton is built.

    On the meta device ``normal_`` runs torch's Python reference ops, which import
    torch._dynamo and sympy — neither is in the bundle, and the skeleton needs only shapes.
    (``uniform_``, ``fill_`` and ``zero_`` have native meta kernels.)
    """
    saved = torch.Tensor.normal_

    def shape_only(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self if self.device.type == "meta" else saved(self, *args, **kwargs)

    torch.Tensor.normal_ = shape_only  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.normal_ = saved  # type: ignore[method-assign]


# --- random-weight models (tests, benchmarks) ----------------------------------------------
def build_sam_vit(
    embed_dim: int,
    depth: int,
    num_heads: int,
    global_attn_indexes: tuple[int, ...] | list[int],
    window_size: int = 14,
    mlp_ratio: float = 4.0,
    out_chans: int = 256,
) -> Sam:
    """A SAM with a ViT encoder of the given shape and freshly initialised weights (eval)."""
    info = ModelInfo(
        arch="vit",
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        global_attn_indexes=tuple(global_attn_indexes),
        window_size=window_size,
        mlp_ratio=mlp_ratio,
        out_chans=out_chans,
    )
    prompt_encoder, mask_decoder = build_prompt_and_decoder(dim=out_chans)
    model = Sam(_build_vit_encoder(info), prompt_encoder, mask_decoder).eval()
    model.info = info
    return model


def build_sam_tiny_vit(**config: Any) -> Sam:
    """A MobileSAM (TinyViT encoder; MobileSAM's configuration unless overridden), eval mode."""
    from samdesk.sam.tiny_vit import DEFAULT_MOBILE_SAM_CONFIG, TinyViT

    full = {**DEFAULT_MOBILE_SAM_CONFIG, **config}
    encoder = TinyViT(**full)
    prompt_encoder, mask_decoder = build_prompt_and_decoder()
    model = Sam(encoder, prompt_encoder, mask_decoder).eval()
    model.info = ModelInfo(
        arch="tiny_vit",
        embed_dim=int(full["embed_dims"][-1]),
        depth=int(sum(full["depths"])),
        num_heads=int(full["num_heads"][-1]),
        window_size=int(full["window_sizes"][-1]),
        mlp_ratio=float(full["mlp_ratio"]),
        config=full,
    )
    return model
