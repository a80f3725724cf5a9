"""Write a peft LoRA as a llama.cpp GGUF adapter, the way llama.cpp's convert_lora_to_gguf.py does:
general.type "adapter", adapter.type "lora", adapter.lora.alpha, and for each adapted base tensor
`<gguf name>.lora_a` (rank x in) and `<gguf name>.lora_b` (out x rank), in float32."""

from __future__ import annotations

from pathlib import Path

from smishctl.core.errors import ConfigError

# Architectures whose attention weights transformers and llama.cpp store alike (llama-style ones
# permute q/k in the GGUF, which an adapter would have to follow; not supported here).
SUPPORTED_ARCHS = ("qwen2",)
PEFT_PREFIX = "base_model.model."


def gguf_architecture(gguf_path: Path) -> tuple[str, int]:
    """(general.architecture, block count) of a model GGUF, read from its header."""
    import gguf

    reader = gguf.GGUFReader(str(gguf_path))
    arch = str(reader.fields["general.architecture"].contents())
    blocks = int(reader.fields[f"{arch}.block_count"].contents())
    return arch, blocks


def check_supported(gguf_path: Path) -> tuple[str, int]:
    try:
        arch, blocks = gguf_architecture(gguf_path)
    except (KeyError, ValueError, OSError) as exc:
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
