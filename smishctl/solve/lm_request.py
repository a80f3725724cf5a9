"""Calling a `dspy.LM` the way DSPy documents from 3.4 on: `lm(Request) -> Response` (dspy.lm15), not
`lm(messages=[...], **kwargs)` (deprecated, removed in 3.5).

An explicit Request carries only its own settings (DSPy merges none of the LM's), so `chat_request`
merges them as DSPy did for a `messages=` call: the LM's keywords, then the call's, then `overrides`;
and reads the result with lm15's own reader of an OpenAI chat body. `rollout_id` is no setting of
the model: it goes beside the Request, into DSPy's cache key only.
"""

from __future__ import annotations

# Keywords of an LM that configure the connection or DSPy's execution, not the model's answer.
NOT_SENT = frozenset({"api_key", "api_base", "base_url", "headers", "extra_headers", "timeout", "api_version",
                      "organization", "project", "n", "num_generations", "rollout_id", "cache", "prompt_cache"})


def chat_request(lm, messages: list[dict], lm_kwargs: dict, **overrides):
    """(the Request for these chat turns, the call's keywords besides it: rollout_id, cache)."""
    from dspy.lm15 import request_from_openai_chat

    merged = {**(getattr(lm, "kwargs", None) or {}), **lm_kwargs, **overrides}
    body = {key: value for key, value in merged.items() if key not in NOT_SENT and value is not None}
    beside = {key: merged[key] for key in ("rollout_id", "cache") if merged.get(key) is not None}
    return request_from_openai_chat({"model": lm.model, "messages": messages, **body}), beside


def logprob_content(response) -> dict | None:
    """A Response's token log-probabilities in the OpenAI form (`{"content": [{"token", "logprob",
    "top_logprobs": [...]}]}`); None when the provider returned none."""
    if response.logprobs is None:
        return None
    return {"content": [{"token": t.token, "logprob": t.logprob,
                         "top_logprobs": [{"token": x.token, "logprob": x.logprob} for x in t.top]}
                        for t in response.logprobs]}
