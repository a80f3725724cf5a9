"""LoRA fine-tuning of a local model (`smishctl finetune`), served by the embedded llama.cpp runtime.

The modules that need torch (`torch_model`, `trainer`, `gguf_adapter`) are imported only inside the
command, after `require_extra()`: the default install has no torch, and `smishctl --help` stays fast.
"""

from __future__ import annotations

import importlib.util

from smishctl.core.errors import ConfigError

# Short on purpose: a fine-tuned model needs no long prompt, and each token is paid per message.
DEFAULT_INSTRUCTIONS = "Classify the SMS as ham, spam or smishing."
PROGRAM_KIND = "lora"
EXTRA_MODULES = ("torch", "transformers", "peft", "gguf", "safetensors")
INSTALL_HINT = "install the finetune extra with: bin/setup --finetune (or pip install -r requirements-finetune.lock)"


def require_extra() -> None:
    """One line and exit 2 when the optional fine-tuning dependencies are missing."""
    missing = [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"smishctl finetune needs {', '.join(missing)}, which are not installed",
                          hint=INSTALL_HINT)
