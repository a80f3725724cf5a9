"""Every key smishctl.toml may hold, in one place: `smishctl init` writes them all (commented), and a test
checks that error hints only name keys listed here.

A section name with `*` stands for any name the user picks (`[models.alias.gpt-4o-mini]`). Add a key here
when code starts reading it.
"""

from __future__ import annotations

SCHEMA: dict[str, dict[str, str]] = {
    "data": {
        "mirror": "folder holding byte-exact copies of the registry datasets (also SMISHCTL_DATA_MIRROR)",
        "max_file_mib": "larger dataset files are refused (also SMISHCTL_MAX_FILE_MIB)",
        "split_policy": "template or exact: how train/dev/test are drawn (--split-policy overrides it)",
        "evaluation_only": "dataset files (glob patterns) that are never split: every item is scored",
    },
    "optimize": {
        "with_feedback": "add the user reports of datasets/feedback/<dataset>.jsonl to the training pool",
    },
    "models": {
        "default": "the model commands use without --model (also SMISHCTL_MODEL)",
        "local_usd_per_hour": "compute price of local models, so their cost compares with hosted ones",
    },
    "models.alias.*": {
        "litellm": "the litellm model string the alias stands for",
        "api_base": "the endpoint (Ollama, vLLM, a proxy)",
        "api_key_env": "the NAME of the environment variable holding the key, never the key",
        "input_usd_per_mtok": "price per million prompt tokens",
        "output_usd_per_mtok": "price per million completion tokens",
        "usd_per_hour": "price by compute time instead of tokens",
        "timeout": "seconds per call",
        "num_retries": "retries per call",
        "max_tokens": "completion token limit",
        "deployments": "several endpoints serving one model: a list of {litellm, api_base, api_key_env, "
                       "weight, rpm, tpm}",
        "routing_strategy": "with deployments: how litellm's Router picks one",
        "cooldown_time": "with deployments: seconds a failing deployment is left out",
        "allowed_fails": "with deployments: failures per minute before a cooldown",
    },
    "promotion": {
        "min_macro_f1": "the candidate's test macro-F1 must reach this",
        "max_error_rate": "the candidate's share of failed calls must stay below this",
        "alpha": "significance level of the no-regression check against production",
        "require": "gates (compare --gate syntax) the candidate's test run must pass",
        "must_pass": "must-pass sets (datasets/golden/NAME.csv) in which the candidate may miss nothing",
    },
    "langfuse": {
        "enabled": "false turns Langfuse off for this project",
        "base_url": "the Langfuse server (also LANGFUSE_BASE_URL)",
        "host": "older name of base_url",
        "public_key": "better set LANGFUSE_PUBLIC_KEY",
        "secret_key": "better set LANGFUSE_SECRET_KEY (never commit it)",
        "timeout": "seconds per call to Langfuse",
        "push_timeout": "seconds `smishctl push` spends on one run",
        "prompt_name": "the Langfuse chat prompt that promotions label production",
    },
}


def section_of(name: str) -> dict[str, str] | None:
    """The keys of a section; `models.alias.anything` matches `models.alias.*`."""
    if name in SCHEMA:
        return SCHEMA[name]
    for pattern, keys in SCHEMA.items():
        if pattern.endswith(".*") and name.startswith(pattern[:-1]) and len(name) > len(pattern) - 1:
            return keys
    return None


def has_key(section: str, key: str) -> bool:
    keys = section_of(section)
    return keys is not None and key in keys
