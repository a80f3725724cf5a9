"""Write a peft LoRA as a llama.cpp GGUF adapter, the way llama.cpp's convert_lora_to_gguf.py does:
general.type "adapter", adapter.type "lora", adapter.lora.alpha, and for each adapted base tensor
`<gguf name>.lora_a` (rank x in) and `<gguf name>.lora_b` (out x rank), in float32."""

from __future__ import annotations

import struct
from pathlib import Path

from smishctl.core.errors import ConfigError

# Architectures whose attention weights transformers and llama.cpp store alike (llama-style ones
# permute q/k in the GGUF, which an adapter would have to follow; not supported here).
SUPPORTED_ARCHS = ("qwen2",)
PEFT_PREFIX = "base_model.model."


# GGUF metadata value types (the GGUF spec): fixed sizes, 8 = string, 9 = array.
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
                 12: "<d"}


def gguf_metadata(gguf_path: Path, keys: set[str]) -> dict:
    """The scalar or string metadata values named in `keys`, read from the GGUF header.

    Hand-written rather than gguf.GGUFReader, which decodes every array on the way (the 151k-token
    vocabulary of the embedded model: ~30 s on two cores); this walks the header and stops at the
    last wanted key (well under a second)."""
    import mmap
    import struct

    found: dict = {}
    with open(gguf_path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise ValueError("no GGUF magic number")
        version, = struct.unpack_from("<I", buf, 4)
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        _tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
        pos = 24

        def string(at: int) -> tuple[str, int]:
            n, = struct.unpack_from("<Q", buf, at)
            return bytes(buf[at + 8:at + 8 + n]).decode("utf-8", errors="replace"), at + 8 + n

        def skip(kind: int, at: int) -> int:
            if kind in _GGUF_SIZES:
                return at + _GGUF_SIZES[kind]
            if kind == 8:
                n, = struct.unpack_from("<Q", buf, at)
                return at + 8 + n
            if kind == 9:
                inner, count = struct.unpack_from("<IQ", buf, at)
                at += 12
                if inner in _GGUF_SIZES:
                    return at + count * _GGUF_SIZES[inner]
                for _ in range(count):
                    at = skip(inner, at)
                return at
            raise ValueError(f"unknown GGUF value type {kind}")

        for _ in range(n_kv):
            key, pos = string(pos)
            kind, = struct.unpack_from("<I", buf, pos)
            pos += 4
            if key in keys and kind in _GGUF_SCALARS:
                found[key], = struct.unpack_from(_GGUF_SCALARS[kind], buf, pos)
            elif key in keys and kind == 8:
                found[key], _ = string(pos)
            pos = skip(kind, pos)
            if pos > len(buf):
                raise ValueError("the GGUF header is cut short")
            if keys <= found.keys():
                break
    return found


def gguf_architecture(gguf_path: Path) -> tuple[str, int]:
    """(general.architecture, block count) of a model GGUF, read from its header."""
    arch = gguf_metadata(gguf_path, {"general.architecture"})["general.architecture"]
    blocks = gguf_metadata(gguf_path, {f"{arch}.block_count"})[f"{arch}.block_count"]
    return str(arch), int(blocks)


def check_supported(gguf_path: Path) -> tuple[str, int]:
    try:
        arch, blocks = gguf_architecture(gguf_path)
    except (KeyError, ValueError, OSError, struct.error) as exc:
        raise ConfigError(f"{Path(gguf_path).name} is not a readable GGUF model: {str(exc)[:120]}") from None
    if arch not in SUPPORTED_ARCHS:
        raise ConfigError(f"{Path(gguf_path).name} is a {arch} model, which cannot be fine-tuned here",
                          hint=f"use a {' or '.join(SUPPORTED_ARCHS)} GGUF such as local/qwen2.5-coder-0.5b")
    return arch, blocks


def write_adapter(state: dict, alpha: float, arch: str, blocks: int, out: Path) -> list[str]:
    """Write the adapter; returns the GGUF tensor names it covers (e.g. blk.0.attn_q.weight)."""
    import gguf
    import numpy as np

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], blocks)
    pairs: dict[str, dict[str, object]] = {}
    for key, tensor in state.items():
        part = "a" if ".lora_A." in key else "b" if ".lora_B." in key else None
        if part is None:
            raise ValueError(f"unexpected tensor {key!r} in a LoRA state")
        base = key.removeprefix(PEFT_PREFIX).replace(f".lora_{part.upper()}.weight", ".weight")
        target = names.get_name(base, try_suffixes=(".weight",))
        if target is None:
            raise ValueError(f"no GGUF tensor for {base!r}")
        pairs.setdefault(target, {})[part] = tensor.detach().to("cpu").float().numpy()
    writer = gguf.GGUFWriter(str(out), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for target in sorted(pairs):
        pair = pairs[target]
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(pair["a"], dtype=np.float32))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(pair["b"], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(pairs)
