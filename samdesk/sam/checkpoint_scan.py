"""What a checkpoint file claims to hold, read without allocating any tensor.

``torch.load`` trusts the file: a storage's element count, a tensor's shape and strides,
a zip record's compression all come from it. A 41 MiB file whose tensors are stride-0
views can claim a 157 GB model; a 2 MB deflated record inflates to gigabytes; a legacy
(pre-zip) file allocates each storage at the size its pickle states before reading it.
So before ``torch.load`` runs, this module

* reads the zip directory and refuses compressed records (``torch.save`` never
  compresses; a compressed record can neither be memory-mapped nor bounded cheaply);
* replays the checkpoint's pickle with an unpickler whose only "classes" are inert
  stand-ins (nothing from torch is called), collecting for every tensor its dtype,
  shape, strides and the storage behind it;
* checks that every storage is exactly as large as its zip record (zip format) or that
  all storages together fit in the file (legacy format), and that every tensor lies
  inside its storage without overlapping itself (no stride-0 inflation).

The result mirrors the checkpoint's structure with :class:`TensorInfo` leaves, which have
``shape`` like tensors, so the architecture can be inferred and checked from it before a
model is built. When the pickle uses something the scan does not know, :func:`scan`
returns None and the caller relies on ``torch.load(weights_only=True)``'s own refusal.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from samdesk.sam.errors import SamCheckpointError

# data.pkl of the official ViT-H checkpoint is ~100 kB; anything far larger is not a model.
MAX_PICKLE_BYTES = 64 * 1024 * 1024

_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
}


class _Unknown(Exception):
    """The pickle uses something this scan does not model (not necessarily malicious)."""


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


@dataclass(frozen=True)
class StorageInfo:
    """A storage as the pickle declares it: record key, dtype, element count."""

    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as the pickle declares it (``shape`` as in torch, so shape readers work)."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int
    storage: StorageInfo

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _rebuild_tensor(
    storage: object, offset: object, size: object, stride: object, *_rest: object
) -> TensorInfo:
    if not isinstance(storage, StorageInfo):
        raise _Unknown("tensor without a storage")
    try:
        shape = tuple(int(s) for s in size)  # type: ignore[union-attr]
        strides = tuple(int(s) for s in stride)  # type: ignore[union-attr]
        start = int(offset)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise _Unknown(f"unusual tensor metadata ({exc})") from None
    return TensorInfo(storage.dtype, shape, strides, start, storage)


def _rebuild_parameter(data: object, *_rest: object) -> object:
    return data


class _ScanUnpickler(pickle.Unpickler):
    """Replays a checkpoint pickle with inert stand-ins; records the storages it names."""

    def __init__(self, file: io.BufferedIOBase, legacy: bool) -> None:
        super().__init__(file)
        self.legacy = legacy
        self.storages: dict[str, StorageInfo] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise _Unknown(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> StorageInfo:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise _Unknown("unusual persistent id")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if self.legacy and len(pid) > 5 and pid[5] is not None:
            raise _Unknown("legacy storage view")
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise _Unknown("unusual storage")
        known = self.storages.get(key)
        info = StorageInfo(key, storage_type.dtype, numel)
        if known is not None and known != info:
            raise SamCheckpointError(f"storage {key} is declared twice with different sizes")
        self.storages[key] = info
        return info


def is_zip_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a zip-format checkpoint (what ``torch.save`` writes since 1.6)."""
    with path.open("rb") as f:
        return f.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


def scan(path: Path) -> object | None:
    """The checkpoint's structure with :class:`TensorInfo` leaves, or None if unsure.

    Raises SamCheckpointError (a ValueError) when the file's declarations do not add up;
    the message names the record or tensor. Never allocates more than the pickle's size.
    """
    if is_zip_checkpoint(path):
        return _scan_zip(path)
    with path.open("rb") as f:
        if f.read(1) != b"\x80":
            return None  # not a pickle: torch.load words the error
        f.seek(0)
        return _scan_legacy(path, f)


def _scan_zip(path: Path) -> object | None:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED:
                raise SamCheckpointError(
                    f"{path.name}: the record {info.filename!r} is compressed "
                    f"({info.compress_size:,} bytes expanding to {info.file_size:,}). "
                    "torch.save never compresses records, so this file was altered; refused."
                )
        pickles = [
            i for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1
        ]
        if len(pickles) != 1:
            return None  # torch.load says what is wrong with the archive
        data_pkl = pickles[0]
        if data_pkl.file_size > MAX_PICKLE_BYTES:
            raise SamCheckpointError(
                f"{path.name}: its index (data.pkl) is {data_pkl.file_size:,} bytes, far more "
                "than a SAM checkpoint's; refused."
            )
        prefix = data_pkl.filename[: -len("data.pkl")]
        records = {
            i.filename[len(prefix) + len("data/") :]: i.file_size
            for i in infos
            if i.filename.startswith(prefix + "data/")
        }
        unpickler = _ScanUnpickler(io.BytesIO(archive.read(data_pkl)), legacy=False)
        structure = _load(unpickler)
    if structure is None:
        return None
    for storage in unpickler.storages.values():
        size = records.get(storage.key)
        declared = storage.numel * _itemsize(storage.dtype)
        if size is None:
            raise SamCheckpointError(f"{path.name}: the storage record {storage.key!r} is missing.")
        if size != declared:
            raise SamCheckpointError(
                f"{path.name}: the storage record {storage.key!r} holds {size:,} bytes but is "
                f"declared as {storage.numel:,} {_dtype_name(storage.dtype)} elements "
                f"({declared:,} bytes); the file was altered or damaged."
            )
    _check_extents(structure, path)
    return structure


def _scan_legacy(path: Path, f: io.BufferedIOBase) -> object | None:
    try:
        for _ in range(3):  # magic number, protocol version, system info
            _ScanUnpickler(f, legacy=True).load()
    except Exception:
        return None
    unpickler = _ScanUnpickler(f, legacy=True)
    structure = _load(unpickler)
    if structure is None:
        return None
    total = sum(s.numel * _itemsize(s.dtype) for s in unpickler.storages.values())
    size = path.stat().st_size
    if total > size:
        raise SamCheckpointError(
            f"{path.name} declares {total:,} bytes of weights but the file has only {size:,} "
            "bytes; the file was altered or damaged. Refused before reading it."
        )
    _check_extents(structure, path)
    return structure


def _load(unpickler: _ScanUnpickler) -> object | None:
    try:
        return unpickler.load()
    except SamCheckpointError:
        raise
    except (_Unknown, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None
    except (IndexError, KeyError, MemoryError, RecursionError):
        return None


def iter_tensors(obj: object, prefix: str = "") -> list[tuple[str, TensorInfo]]:
    """(dotted name, TensorInfo) of every tensor in nested dicts/lists/tuples."""
    found: list[tuple[str, TensorInfo]] = []
    stack: list[tuple[str, object]] = [(prefix, obj)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, TensorInfo):
            found.append((name, value))
        elif isinstance(value, dict):
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{name}.{i}" if name else str(i), v) for i, v in enumerate(value))
    return found


def _check_extents(structure: object, path: Path) -> None:
    for name, t in iter_tensors(structure):
        check_extent(name, t.shape, t.stride, t.offset, t.storage.numel, path)


def check_extent(
    name: str,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int,
    storage_numel: int,
    path: Path,
) -> None:
    """Refuse a tensor reaching outside its storage or holding more elements than it.

    A tensor with more elements than its storage must repeat memory (stride 0 or
    overlapping strides): the trick that makes a tiny file claim a huge model.
    """
    if len(shape) != len(stride) or any(s < 0 for s in shape) or any(s < 0 for s in stride):
        raise SamCheckpointError(f"{path.name}: the tensor {name} has a malformed shape.")
    numel = math.prod(shape)
    if numel == 0:
        return
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
    if offset < 0 or last >= storage_numel or numel > storage_numel:
        raise SamCheckpointError(
            f"{path.name}: the tensor {name} claims shape {tuple(shape)} ({numel:,} elements) "
            f"but only {storage_numel:,} elements are stored for it; the file was altered. "
            "Refused before building the model."
        )


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype, device="meta").element_size()


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
