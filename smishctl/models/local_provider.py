"""A litellm custom provider (`local/<name>`) that answers from the in-process llama.cpp server.

Going through litellm (rather than calling the server directly) keeps one code path for local and
hosted models: the same retries, timeouts, usage accounting and callbacks.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from smishctl.models import local_server

PROVIDER = "local"
FORWARDED = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "stop", "seed",
             "response_format", "logprobs", "top_logprobs", "n")

# model name (after "local/") -> GGUF path (and LoRA adapter); filled by smishctl.models.lm.build_lm
GGUF_PATHS: dict[str, Path] = {}
ADAPTERS: dict[str, Path] = {}
STATE_DIRS: dict[str, Path] = {}  # model name -> the project's saved prompt states (prompt_state.py)


@functools.cache
def provider_class():
    """The litellm handler class, defined on first use: litellm takes ~2.5 s to import, and commands
    that only read runs or artifacts import this module without calling a model."""
    import litellm
    from litellm.llms.custom_llm import CustomLLM, CustomLLMError

    class LocalProvider(CustomLLM):
        def completion(self, model: str, messages: list, *args, optional_params: dict | None = None,
                       model_response=None, **kwargs):
            name = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
            gguf = GGUF_PATHS.get(name)
            if gguf is None:
                raise CustomLLMError(status_code=404, message=f"unknown local model {name!r}")
            request = {"messages": messages}
            for key in FORWARDED:
                if optional_params and optional_params.get(key) is not None:
                    request[key] = optional_params[key]
            if "max_completion_tokens" in request:
                request.setdefault("max_tokens", request.pop("max_completion_tokens"))
            start = time.perf_counter()
            resp = local_server.chat(gguf, request, ADAPTERS.get(name), STATE_DIRS.get(name))
            elapsed = time.perf_counter() - start
            if not isinstance(resp, dict) or "error" in resp or not resp.get("choices"):
                err = resp.get("error", resp) if isinstance(resp, dict) else resp
                msg = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                code = err.get("code", 500) if isinstance(err, dict) else 500
                raise CustomLLMError(status_code=code if isinstance(code, int) else 500, message=str(msg)[:500])
            usage = resp.get("usage", {})
            out = litellm.ModelResponse(
                id=resp.get("id"),
                created=resp.get("created"),
                model=f"{PROVIDER}/{name}",
                choices=resp["choices"],
                usage=litellm.Usage(
                    prompt_tokens=usage.get("prompt_tokens", 0),
                    completion_tokens=usage.get("completion_tokens", 0),
                    total_tokens=usage.get("total_tokens", 0),
                    prompt_tokens_details={"cached_tokens": usage.get("prompt_tokens_details", {}).get(
                        "cached_tokens", 0)},
                ),
            )
            out._hidden_params["local_compute_seconds"] = elapsed
            out._hidden_params["timings"] = resp.get("timings", {})
            return out

        async def acompletion(self, *args, **kwargs):
            import asyncio

            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return LocalProvider


_registered = False


def register(name: str, gguf: Path, ctx: int, adapter: Path | None = None,
             state_dir: Path | None = None) -> None:
    """Make `local/<name>` known to litellm: the handler and the capabilities DSPy asks about."""
    import litellm

    global _registered
    GGUF_PATHS[name] = Path(gguf)
    if adapter is not None:
        ADAPTERS[name] = Path(adapter)
    if state_dir is not None:
        STATE_DIRS[name] = Path(state_dir)
    else:  # turned off since an earlier registration in this process
        STATE_DIRS.pop(name, None)
    if not _registered:
        litellm.custom_provider_map = [
            *[m for m in litellm.custom_provider_map if m.get("provider") != PROVIDER],
            {"provider": PROVIDER, "custom_handler": provider_class()()},
        ]
        litellm.utils.custom_llm_setup()
        _registered = True
    litellm.register_model({
        f"{PROVIDER}/{name}": {
            "litellm_provider": PROVIDER,
            "mode": "chat",
            "max_input_tokens": ctx,
            "max_output_tokens": 512,
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
            "supports_response_schema": True,
        }
    })
