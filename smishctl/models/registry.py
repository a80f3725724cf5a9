"""Resolve a user's model name into a litellm model string, its settings and its price."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ModelError
from smishctl.models.fleet import ROUTER_KEYS, deployments_of, fleet_tag
from smishctl.models.weights import WEIGHTS
from smishctl.signals import load_lists
from smishctl.util.jsonio import read_json
from smishctl.util.urls import endpoint_text, public_url

LOCAL_PREFIX = "local/"
CLASSIC_PREFIX = "classic/"
# scikit-learn baselines (smishctl.solve.classic); tfidf-svm-signals adds the message signals as features.
CLASSIC_MODELS = ("tfidf-svm", "tfidf-knn", "tfidf-svm-signals")
# `classic/tfidf-svm:balanced`: the SVM with classes weighted by their inverse frequency.
CLASSIC_OPTIONS = {"balanced": ("tfidf-svm", "tfidf-svm-signals")}


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the user typed (or the alias)
    litellm_model: str
    local_gguf: Path | None = None  # set for the embedded provider
    api_base: str | None = None
    api_key_env: str | None = None  # the *name* of the variable, never the key itself
    input_usd_per_token: float | None = None
    output_usd_per_token: float | None = None
    usd_per_hour: float | None = None  # local models: priced by compute time
    extra: dict = field(default_factory=dict)
    weights_fingerprint: str | None = None  # a user's .gguf: what is in the file, not what it is called
    lora_adapter: Path | None = None  # a GGUF LoRA served on top of local_gguf (smishctl finetune)
    lora_sha256: str | None = None
    signals_sha256: str | None = None  # a model that reads message signals: the reference lists it read them with

    @property
    def is_local(self) -> bool:
        return self.local_gguf is not None

    @property
    def endpoint_tag(self) -> str:
        """Distinguishes endpoints serving the same model name (cache keys, run configs)."""
        base = endpoint_text(self.api_base) or ("in-process" if self.is_local else "default")
        if self.weights_fingerprint:  # two .gguf files with one name stem must not share cache or runs
            base += f"|weights:{self.weights_fingerprint}"
        if self.lora_adapter is not None:  # base and base+adapter answers must never share a cache entry
            base += f"+lora:{self.lora_sha256}"
        if self.signals_sha256:  # other brand or shortener lists flag other messages: another model
            base += f"|signals:{self.signals_sha256}"
        return hashlib.sha256(base.encode()).hexdigest()[:12]

    def public(self) -> dict:
        """What may be recorded: no secrets, only the name of the key variable."""
        return {
            "name": self.name,
            "litellm_model": self.litellm_model,
            "local": self.is_local,
            "api_base": public_url(self.api_base),
            "api_key_env": self.api_key_env,
            **({"weights_fingerprint": self.weights_fingerprint} if self.weights_fingerprint else {}),
            **({"lora_adapter_sha256": self.lora_sha256} if self.lora_adapter is not None else {}),
            **({"signals_sha256": self.signals_sha256} if self.signals_sha256 else {}),
            "price": {
                "input_usd_per_token": self.input_usd_per_token,
                "output_usd_per_token": self.output_usd_per_token,
                "usd_per_hour": self.usd_per_hour,
            },
        }


FINGERPRINT_SPAN = 1 << 20


def weights_fingerprint(path: Path) -> str:
    """SHA-256 of a weights file's size, first MiB and last MiB: a GGUF's header (architecture, tensor
    table) and its tail differ between any two models or quantisations, and reading 2 MiB is instant
    where hashing 0.5-5 GB on every command is not."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(FINGERPRINT_SPAN))
        if size > FINGERPRINT_SPAN:
            fh.seek(max(FINGERPRINT_SPAN, size - FINGERPRINT_SPAN))
            h.update(fh.read(FINGERPRINT_SPAN))
    return h.hexdigest()[:16]


def _litellm_prices(model: str) -> tuple[float | None, float | None]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    cost = _bundled_cost_map()
    if cost is None:
        import litellm

        cost = litellm.model_cost
    info = cost.get(model) or cost.get(model.split("/", 1)[-1])
    if not info:
        return None, None
    return info.get("input_cost_per_token"), info.get("output_cost_per_token")


def _bundled_cost_map() -> dict | None:
    """litellm's price map as `import litellm` loads it offline (LITELLM_LOCAL_MODEL_COST_MAP: its bundled
    file, with each entry's `aliases` added as names of their own), read without importing litellm
    (seconds), so that a command that only needs a model's identity (promote, compare) does not pay for
    it. None where litellm itself must answer: it is already imported (and may hold prices registered
    at run time), the map is not the bundled one, or the file is not found."""
    if "litellm" in sys.modules or os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "").lower() != "true":
        return None
    return _read_bundled_cost_map()


@functools.lru_cache(maxsize=1)
def _read_bundled_cost_map() -> dict | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return None
    try:
        raw = read_json(Path(spec.origin).parent / "model_prices_and_context_window_backup.json")
    except (OSError, ValueError):  # BadJSON is a ValueError
        return None
    if not isinstance(raw, dict):
        return None
    raw.pop("fallback_generalizations", None)  # rules, not a model (litellm removes it too)
    out = dict(raw)
    for info in raw.values():
        aliases = info.get("aliases") if isinstance(info, dict) else None
        for alias in aliases if isinstance(aliases, list) else ():
            out.setdefault(alias, info)  # an alias never replaces a model of that name (as in litellm)
    return out


def check_model_name(name: str | None, settings: Settings, *, _seen: tuple[str, ...] = ()) -> str:
    """`name` (or the default model), stripped, when `resolve_model` knows what it names; else the same
    ModelError. Reads no weights and imports no litellm, so a mistyped name fails in a moment."""
    name = (name or settings.default_model).strip()
    if not name:
        raise ModelError("empty model name", hint="pass --model, e.g. local/qwen2.5-coder-0.5b")
    alias = settings.model_aliases.get(name)
    if alias is not None:
        if "deployments" in alias:
            return name
        if "litellm" not in alias:
            raise ModelError(f"model alias {name!r} has no 'litellm' key in smishctl.toml")
        if name in _seen:
            raise ModelError(f"model alias {name!r} in smishctl.toml refers back to itself")
        check_model_name(alias["litellm"], settings, _seen=(*_seen, name))
        return name
    if name.startswith(CLASSIC_PREFIX):
        classic_kind(name)
    elif name.endswith(".gguf"):
        path = Path(name.removeprefix(LOCAL_PREFIX)).expanduser().resolve()
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
    elif name.startswith(LOCAL_PREFIX):
        if name[len(LOCAL_PREFIX):] not in WEIGHTS:
            raise ModelError(f"unknown local model {name!r}",
                             hint=f"use one of: {', '.join(LOCAL_PREFIX + w for w in WEIGHTS)} or a .gguf path")
    elif "/" not in name:
        raise ModelError(
            f"unknown model {name!r}",
            hint="use a litellm model string such as openai/gpt-4o-mini, an alias from smishctl.toml, "
            "or local/qwen2.5-coder-0.5b",
        )
    return name


def classic_kind(name: str) -> tuple[str, tuple[str, ...]]:
    """(kind, options) of `classic/KIND[:OPTION...]`; a ModelError naming the choices for anything else."""
    kind, *options = name[len(CLASSIC_PREFIX):].split(":")
    if kind not in CLASSIC_MODELS:
        raise ModelError(f"unknown classic model {name!r}",
                         hint=f"use one of: {', '.join(CLASSIC_PREFIX + m for m in CLASSIC_MODELS)}")
    for opt in options:
        if kind not in CLASSIC_OPTIONS.get(opt, ()):
            raise ModelError(f"{CLASSIC_PREFIX}{kind} has no option {opt!r}",
                             hint="options: " + ", ".join(f"{CLASSIC_PREFIX}{k}:{o}" for o, ks in CLASSIC_OPTIONS.items()
                                                          for k in ks))
    return kind, tuple(options)


def resolve_model(name: str | None, settings: Settings) -> ModelSpec:
    name = check_model_name(name, settings)
    aliases = settings.model_aliases
    if name in aliases:
        a = aliases[name]
        if "deployments" in a:  # several endpoints for one model: litellm Router (smishctl.models.fleet)

            deps = deployments_of(a)
            return ModelSpec(
                name=name, litellm_model=f"fleet/{name}", api_base=fleet_tag(deps),
                input_usd_per_token=a["input_usd_per_mtok"] * 1e-6 if "input_usd_per_mtok" in a else None,
                output_usd_per_token=a["output_usd_per_mtok"] * 1e-6 if "output_usd_per_mtok" in a else None,
                usd_per_hour=a.get("usd_per_hour"),
                extra={"fleet": {"deployments": deps, **{k: a[k] for k in ROUTER_KEYS if k in a}},
                       **{k: v for k, v in a.items() if k in ("timeout", "num_retries", "max_tokens")}},
            )
        per_m = 1e-6
        spec = resolve_model(a["litellm"], settings)
        return ModelSpec(
            name=name,
            litellm_model=spec.litellm_model,
            local_gguf=spec.local_gguf,
            weights_fingerprint=spec.weights_fingerprint,
            api_base=a.get("api_base", spec.api_base),
            api_key_env=a.get("api_key_env"),
            input_usd_per_token=a["input_usd_per_mtok"] * per_m if "input_usd_per_mtok" in a
            else spec.input_usd_per_token,
            output_usd_per_token=a["output_usd_per_mtok"] * per_m if "output_usd_per_mtok" in a
            else spec.output_usd_per_token,
            usd_per_hour=a.get("usd_per_hour", spec.usd_per_hour),
            extra={k: v for k, v in a.items() if k in ("timeout", "num_retries", "max_tokens")},
        )
    if name.startswith(CLASSIC_PREFIX):
        kind, options = classic_kind(name)
        extra: dict = {"classic": kind, **dict.fromkeys(options, True)}
        sha = None
        if kind.endswith("-signals"):
            extra["signals"] = settings.section("signals")
            sha = load_lists(extra["signals"]).identity["sha256"][:16]
        # Runs on the same CPU as the local models: priced by compute time at the same rate.
        return ModelSpec(name=name, litellm_model=name, usd_per_hour=settings.local_usd_per_hour,
                         extra=extra, signals_sha256=sha)
    if name.endswith(".gguf"):
        path = Path(name.removeprefix(LOCAL_PREFIX)).expanduser().resolve()
        return ModelSpec(name=name, litellm_model=f"{LOCAL_PREFIX}{path.stem}", local_gguf=path,
                         usd_per_hour=settings.local_usd_per_hour, weights_fingerprint=weights_fingerprint(path))
    if name.startswith(LOCAL_PREFIX):
        short = name[len(LOCAL_PREFIX):]
        return ModelSpec(name=name, litellm_model=name, local_gguf=Path("<embedded>") / short,
                         usd_per_hour=settings.local_usd_per_hour)
    provider = name.split("/", 1)[0]
    api_base = os.environ.get(f"SMISHCTL_API_BASE_{provider.upper()}") or None
    inp, out = _litellm_prices(name)
    return ModelSpec(name=name, litellm_model=name, api_base=api_base,
                     input_usd_per_token=inp, output_usd_per_token=out)
