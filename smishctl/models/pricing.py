"""What one call cost: per token for hosted models, per compute second for local ones."""

from __future__ import annotations

from smishctl.models.registry import ModelSpec


def call_cost(spec: ModelSpec, prompt_tokens: int, completion_tokens: int, seconds: float) -> float | None:
    """USD, or None when no price is known (shown as '-' rather than a misleading 0)."""
    if spec.usd_per_hour is not None:
        return seconds * spec.usd_per_hour / 3600.0
    if spec.input_usd_per_token is None and spec.output_usd_per_token is None:
        return None
    return prompt_tokens * (spec.input_usd_per_token or 0.0) + completion_tokens * (
        spec.output_usd_per_token or 0.0
    )
