"""Build a `dspy.LM` that really goes through litellm, for any resolved model."""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from smishctl.core.config import Settings, is_off
from smishctl.core.errors import ModelError
from smishctl.models.engine import EndpointEngine
from smishctl.models.fleet import register as register_fleet
from smishctl.models.local_provider import register
from smishctl.models.local_server import N_CTX
from smishctl.models.pricing import call_cost
from smishctl.models.registry import ModelSpec
from smishctl.models.retry import install_retry_after_bridge
from smishctl.models.weights import WEIGHTS, assemble
from smishctl.util.redact import (
    SECRET_NAME,
    install_log_redaction,
    redact,
    register_env_secrets,
    register_secret,
)
from smishctl.util.urls import public_url

if TYPE_CHECKING:
    from smishctl.models.meter import Meter

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 3
QUERY_CREDENTIALS = ("sig", "signature", "auth", "code")  # beside names with key, token, secret …


def quiet_libraries() -> None:
    register_env_secrets()
    install_log_redaction()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "dspy", "httpx", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)


def register_url_secrets(url: str | None) -> None:
    """Mask an endpoint's embedded credentials wherever `redact` runs: the password of `user:password@`
    and the query values that carry a credential (`?api-key=...`, `?sig=...`), which some gateways take
    instead of a header (others, such as `api-version`, stay readable)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    register_secret(parts.password)
    for name, value in parse_qsl(parts.query):
        if SECRET_NAME.search(name) or name.lower() in QUERY_CREDENTIALS:
            register_secret(value)


def scrub_response(value):
    """A response as it may be stored: litellm keeps the endpoint URL it called (credentials included)
    in `_hidden_params["api_base"]`; the stored copy keeps the URL without them, and every other hidden
    string redacted. Anything else is returned as it is."""
    hidden = getattr(value, "_hidden_params", None)
    if not isinstance(hidden, dict):
        return value
    clean = {k: redact(v) if isinstance(v, str) else v for k, v in hidden.items()}
    if isinstance(hidden.get("api_base"), str):
        clean["api_base"] = public_url(hidden["api_base"])
    try:
        stored = value.model_copy()  # the caller keeps its own response untouched
        stored._hidden_params = clean
    except (AttributeError, TypeError, ValueError):
        return value
    return stored


@cache
def secret_free_cache_class():
    """DSPy's cache, storing responses through `scrub_response` (the cache key never holds api_base or
    api_key: DSPy leaves them out, and `endpoint_tag` is a hash). Defined on first use: DSPy is heavy."""
    from dspy.clients.cache import Cache

    class SecretFreeCache(Cache):
        def put(self, request, value, *args, **kwargs):
            super().put(request, scrub_response(value), *args, **kwargs)

    return SecretFreeCache


def configure_dspy_cache(settings: Settings) -> None:
    """Keep DSPy's disk cache inside the project (reproducible, inspectable, deletable), and free of
    endpoint credentials (`scrub_response`): the README suggests restoring it in CI.

    The cache is pickle on disk and may come from elsewhere (a restored CI cache): `restrict_pickle`
    lets it rebuild only litellm/openai response types, so a planted payload is a cache miss, not code."""
    import dspy

    folder = settings.cache_dir / "dspy"
    folder.mkdir(parents=True, exist_ok=True)
    global _dspy_cache_dir
    if _dspy_cache_dir != folder:
        # DSPy's documented way to bring a custom cache: assign `dspy.cache`.
        dspy.cache = secret_free_cache_class()(enable_disk_cache=True, enable_memory_cache=True,
                                               disk_cache_dir=str(folder), restrict_pickle=True)
        _dspy_cache_dir = folder


_dspy_cache_dir: Path | None = None  # the folder `dspy.cache` was last set to (one process-wide cache)


def check_provider(spec: ModelSpec) -> None:
    """An unknown provider prefix fails here, before any run is written, not once per item."""
    import litellm

    if spec.is_local or spec.extra.get("fleet"):
        return
    try:
        litellm.get_llm_provider(spec.litellm_model, api_base=spec.api_base)
    except Exception as exc:  # litellm raises its BadRequestError, with a long multi-line text
        raise ModelError(f"unknown model {spec.name!r}: litellm knows no provider for {spec.litellm_model!r}",
                         hint="use a litellm model string such as openai/gpt-4o-mini, or an alias from "
                         "smishctl.toml") from exc


def build_lm(spec: ModelSpec, settings: Settings, *, temperature: float = 0.0, max_tokens: int = 64,
             timeout: float | None = None, num_retries: int | None = None, cache: bool = True,
             meter: Meter | None = None):
    """A `dspy.LM` on `EndpointEngine` (models/engine.py); with `meter`, its calls are metered
    (models/meter.py: the engine is wrapped and the LM carries the meter's call counter)."""
    quiet_libraries()
    import dspy
    import litellm

    litellm.suppress_debug_info = True
    configure_dspy_cache(settings)

    install_retry_after_bridge()  # DSPy retries transient errors; make it honour Retry-After
    check_provider(spec)
    register_url_secrets(spec.api_base)
    register_backend(spec, settings)
    engine: object = EndpointEngine(**client_settings(spec, timeout))
    callbacks: list = []
    if meter is not None:
        engine = meter.engine(engine, price=lambda p, c, seconds: call_cost(spec, p, c, seconds))
        callbacks.append(meter.callback())
    retries = num_retries if num_retries is not None else spec.extra.get("num_retries", DEFAULT_RETRIES)
    # DSPy's cache key ignores the endpoint: this (unsent) litellm metadata makes endpoints distinct.
    return dspy.LM(spec.litellm_model, engine=engine, cache=cache, callbacks=callbacks, num_retries=retries,
                   temperature=temperature, max_tokens=max_tokens, metadata={"smishctl_endpoint": spec.endpoint_tag})


def register_backend(spec: ModelSpec, settings: Settings) -> None:
    """Make litellm know a local model (the embedded llama.cpp server) or a fleet (a litellm Router)."""
    if spec.is_local:
        short = spec.litellm_model.split("/", 1)[1]
        gguf = spec.local_gguf
        if gguf is None:
            raise ModelError(f"local model {spec.name!r} has no GGUF file")
        if str(gguf).startswith("<embedded>") and gguf.name in WEIGHTS:
            gguf = assemble(WEIGHTS[gguf.name], settings.cache_dir)
        # Saved prompt states (prompt_state.py); SMISHCTL_PROMPT_STATES=0 (or false/no/off) turns them off.
        states = None if is_off(os.environ.get("SMISHCTL_PROMPT_STATES", "")) else settings.cache_dir / "llama-state"
        register(short, gguf, N_CTX, adapter=spec.lora_adapter, state_dir=states)
    if spec.extra.get("fleet"):  # several endpoints behind a litellm Router
        fleet = spec.extra["fleet"]
        register_fleet(spec.name, fleet["deployments"], fleet)


def client_settings(spec: ModelSpec, timeout: float | None) -> dict:
    """The connection the engine owns: timeout, endpoint and key (registered for redaction)."""
    client: dict = {"timeout": timeout or spec.extra.get("timeout", DEFAULT_TIMEOUT_S)}
    fleet = bool(spec.extra.get("fleet"))
    if spec.api_base and not fleet:
        client["api_base"] = spec.api_base
    if spec.api_key_env and (key := os.environ.get(spec.api_key_env)):
        register_secret(key)
        client["api_key"] = key
    if spec.api_base and not spec.is_local and not fleet and "api_key" not in client:
        # A custom endpoint without api_key_env gets a placeholder: the openai client refuses to call
        # without a key, and the provider's default variable (e.g. OPENAI_API_KEY) must not leak to it.
        client["api_key"] = "no-key"
    return client
