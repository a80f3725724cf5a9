"""Several endpoints serving one model, through litellm's Router (load balancing, cooldowns, fallbacks).

Configured as a model alias with `deployments` in smishctl.toml:

    [models.alias.qwen-fleet]
    routing_strategy = "simple-shuffle"     # or least-busy, latency-based-routing, usage-based-routing-v2
    cooldown_time = 30                      # seconds a failing deployment is left out
    allowed_fails = 1                       # failures (per minute) before a cooldown
    deployments = [
      { litellm = "hosted_vllm/Qwen/Qwen2.5-7B-Instruct", api_base = "http://gpu-a:8000/v1" },
      { litellm = "hosted_vllm/Qwen/Qwen2.5-7B-Instruct", api_base = "http://gpu-b:8000/v1", api_key_env = "GPU_B_KEY" },
    ]

DSPy 3.4 calls `litellm.completion` itself, so the Router is reached through a litellm custom provider,
`fleet/<alias>` (the same mechanism as the embedded `local/` model). Retries stay DSPy's: the Router makes
one attempt per call, but when a deployment fails it is cooled down and the next call — DSPy's retry —
goes to another one. The deployment that answered is kept in the response's hidden params.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from smishctl.core.errors import ModelError
from smishctl.util.redact import register_secret
from smishctl.util.urls import endpoint_text

PROVIDER = "fleet"
ROUTER_KEYS = ("routing_strategy", "cooldown_time", "allowed_fails")
FORWARDED = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "stop", "seed", "response_format",
             "logprobs", "top_logprobs", "n")
_ROUTERS: dict[str, Any] = {}  # fleet name -> litellm.Router (litellm is imported on first use)
_registered = False


def deployments_of(alias: dict) -> list[dict]:
    deps = alias.get("deployments")
    if not isinstance(deps, list) or not deps or not all(isinstance(d, dict) and d.get("litellm") for d in deps):
        raise ModelError("a fleet alias needs `deployments`, a list of tables each with a 'litellm' key")
    return [{k: d[k] for k in ("litellm", "api_base", "api_key_env", "weight", "rpm", "tpm") if k in d}
            for d in deps]


def fleet_tag(deps: list[dict]) -> str:
    """Stands in for api_base (cache keys, run identity): which endpoints, never which keys."""
    public = sorted(json.dumps({"litellm": d.get("litellm"), "api_base": endpoint_text(d.get("api_base"))},
                               sort_keys=True) for d in deps)
    return "fleet:" + hashlib.sha256("\n".join(public).encode()).hexdigest()[:16]


def register(name: str, deps: list[dict], options: dict) -> None:
    """Build (or rebuild) the Router of `fleet/<name>` and make the provider known to litellm."""
    global _registered
    import litellm
    from litellm.llms.custom_llm import CustomLLM

    model_list = []
    for d in deps:
        params = {"model": d["litellm"]}
        if d.get("api_base"):
            params["api_base"] = d["api_base"]
        key = os.environ.get(d["api_key_env"]) if d.get("api_key_env") else None
        if key:
            register_secret(key)
            params["api_key"] = key
        elif d.get("api_base"):
            params["api_key"] = "no-key"  # never the provider's default variable
        for k in ("weight", "rpm", "tpm"):
            if k in d:
                params[k] = d[k]
        model_list.append({"model_name": name, "litellm_params": params})
    _ROUTERS[name] = litellm.Router(
        model_list=model_list, num_retries=0, retry_after=0,
        routing_strategy=options.get("routing_strategy", "simple-shuffle"),
        cooldown_time=float(options.get("cooldown_time", 30)), allowed_fails=int(options.get("allowed_fails", 1)),
    )

    class FleetProvider(CustomLLM):
        def completion(self, model: str, messages: list, *args, optional_params: dict | None = None, **kwargs):
            fleet = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
            router = _ROUTERS[fleet]
            params = {k: v for k, v in (optional_params or {}).items() if k in FORWARDED and v is not None}
            if kwargs.get("timeout"):
                params["timeout"] = kwargs["timeout"]
            return router.completion(model=fleet, messages=messages, **params)

    if not _registered:
        litellm.custom_provider_map = [
            *[m for m in litellm.custom_provider_map if m.get("provider") != PROVIDER],
            {"provider": PROVIDER, "custom_handler": FleetProvider()},
        ]
        litellm.utils.custom_llm_setup()
        _registered = True
