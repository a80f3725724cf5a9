"""The engine every `dspy.LM` of smishctl runs on: DSPy's LiteLLM engine, holding one endpoint's client
settings (a custom engine owns its connection: DSPy refuses api_key, api_base and timeout beside one).

It is a custom engine, not `engine="litellm"`, for two reasons:
- every call, the adapters' and DSPy's own, then takes DSPy's request/response path
  (`complete(Request) -> Response`), the only one DSPy 3.5 keeps;
- litellm writes its bookkeeping (timings, the endpoint URL) into the `metadata` dict it is given, and
  DSPy hands it the request's own dict, which is also the request's cache key: the answer would be
  stored under a key no later lookup builds, with the endpoint URL in it. Each call gets a copy.

Synchronous only (no `async_engine`): smishctl calls its LMs from threads, never with `acall`.
"""

from __future__ import annotations

import copy
from dataclasses import replace


class EndpointEngine:
    def __init__(self, **client):
        from dspy.clients.engines import LiteLLMEngine

        self.inner = LiteLLMEngine(model_type="chat", **client)

    def complete(self, request):
        return self.inner.complete(_own_extensions(request))

    def stream(self, request):
        return self.inner.stream(_own_extensions(request))

    def close(self) -> None:
        self.inner.close()


def _own_extensions(request):
    extensions = request.config.extensions
    if not extensions:
        return request
    return replace(request, config=replace(request.config, extensions=copy.deepcopy(dict(extensions))))
