"""Every key smishctl.toml may hold, in one place, with the type of its value: `load_settings` checks the
whole file against it, `smishctl init` writes every key (commented), and a test checks that error hints
only name keys listed here.

A section name with `*` stands for any name the user picks (`[models.alias.gpt-4o-mini]`). Add a key here
when code starts reading it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from smishctl.core.errors import ConfigError


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_strings(v: object) -> bool:
    # A lone string counts: the readers of these keys take "x" as ["x"].
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


# type name -> (what the error message says is expected, the check)
TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "number": ("a number", _is_number),
    "integer": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "string": ("a string", lambda v: isinstance(v, str)),
    "strings": ("a list of strings", _is_strings),
    "tables": ("a list of tables", lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)),
    "table": ("a table", lambda v: isinstance(v, dict)),
}


@dataclass(frozen=True)
class Range:
    """Where a number may lie: finite, and between `low` and `high` (None: unbounded on that side);
    `open_low` leaves `low` itself out (a timeout of 0 is no timeout, an alpha of 0 accepts anything)."""

    low: float
    high: float | None = None
    open_low: bool = False

    def holds(self, value: float) -> bool:
        above = value > self.low or (value == self.low and not self.open_low)
        return math.isfinite(value) and above and (self.high is None or value <= self.high)

    def text(self) -> str:
        if self.high is not None:
            return f"a number in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"
        return f"a finite number {'>' if self.open_low else '>='} {self.low:g}"


FRACTION = Range(0, 1)  # shares, rates, accuracies, F1
POSITIVE = Range(0, open_low=True)  # seconds, sizes, weights
NON_NEGATIVE = Range(0)  # prices, retries, counts that may be 0
AT_LEAST_ONE = Range(1)  # token limits, item counts, rates per minute
ALPHA = Range(0, 0.5, open_low=True)  # a significance level: 0 or NaN would pass every regression


@dataclass(frozen=True)
class Key:
    help: str
    type: str  # a name in TYPES
    fields: dict[str, Key] | None = None  # "tables": the keys each table of the list may hold
    secret: bool = False  # never echo the value in an error
    range: Range | None = None  # every number has one (RANGES): finite and in range, or refused

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown config type {self.type!r}")


DEPLOYMENT: dict[str, Key] = {
    "litellm": Key("the litellm model string of this endpoint", "string"),
    "api_base": Key("the endpoint", "string"),
    "api_key_env": Key("the NAME of the environment variable holding the key, never the key", "string"),
    "weight": Key("share of the calls, relative to the other deployments", "number"),
    "rpm": Key("requests per minute this endpoint takes", "integer"),
    "tpm": Key("tokens per minute this endpoint takes", "integer"),
}

SCHEMA: dict[str, dict[str, Key]] = {
    "data": {
        "mirror": Key("folder holding byte-exact copies of the registry datasets (also SMISHCTL_DATA_MIRROR)",
                      "string"),
        "max_file_mib": Key("larger dataset files are refused (also SMISHCTL_MAX_FILE_MIB)", "number"),
        "split_policy": Key("template or exact: how train/dev/test are drawn (--split-policy overrides it)",
                            "string"),
        "evaluation_only": Key("dataset files (glob patterns) that are never split: every item is scored",
                               "strings"),
    },
    "optimize": {
        "with_feedback": Key("add the user reports of datasets/feedback/<dataset>.jsonl to the training pool",
                             "bool"),
    },
    "models": {
        "default": Key("the model commands use without --model (also SMISHCTL_MODEL)", "string"),
        "local_usd_per_hour": Key("compute price of local models, so their cost compares with hosted ones",
                                  "number"),
    },
    "models.alias.*": {
        "litellm": Key("the litellm model string the alias stands for", "string"),
        "api_base": Key("the endpoint (Ollama, vLLM, a proxy)", "string"),
        "api_key_env": Key("the NAME of the environment variable holding the key, never the key", "string"),
        "input_usd_per_mtok": Key("price per million prompt tokens", "number"),
        "output_usd_per_mtok": Key("price per million completion tokens", "number"),
        "usd_per_hour": Key("price by compute time instead of tokens", "number"),
        "timeout": Key("seconds per call", "number"),
        "num_retries": Key("retries per call", "integer"),
        "max_tokens": Key("completion token limit", "integer"),
        "deployments": Key("several endpoints serving one model: a list of {litellm, api_base, api_key_env, "
                           "weight, rpm, tpm}", "tables", fields=DEPLOYMENT),
        "routing_strategy": Key("with deployments: how litellm's Router picks one", "string"),
        "cooldown_time": Key("with deployments: seconds a failing deployment is left out", "number"),
        "allowed_fails": Key("with deployments: failures per minute before a cooldown", "integer"),
    },
    "compare": {
        "max_error_rate": Key("a compared run with a larger share of errored items fails (exit 3) and is never "
                              "marked best; default 0.05 (--max-error-rate overrides it)", "number"),
    },
    "promotion": {
        "min_macro_f1": Key("the candidate's test macro-F1 must reach this", "number"),
        "max_error_rate": Key("the candidate's share of errored items must stay at or below this; default 0.05",
                              "number"),
        "min_items": Key("the fewest test items a promotion's evaluation may have; default: the whole test split",
                         "integer"),
        "max_attack_success_rate": Key("the candidate's share of robustness-set attacks let through must stay "
                                       "below this", "number"),
        "min_control_ham_accuracy": Key("with max_attack_success_rate: the share of the robustness set's ham "
                                        "controls kept as ham must reach this (default 0.80)", "number"),
        "alpha": Key("significance level of the no-regression check against production", "number"),
        "require": Key("gates (compare --gate syntax) the candidate's test run must pass", "strings"),
        "must_pass": Key("must-pass sets (datasets/golden/NAME.csv) in which the candidate may miss nothing",
                         "strings"),
        "require_reason": Key("false lets `smishctl promote` run without --reason (default true: the history "
                              "says why)", "bool"),
    },
    "signals": {
        "shorteners": Key("URL shorteners besides the bundled list (registrable domains or hosts), for message signals",
                          "strings"),
        "risky_tlds": Key("top-level domains to flag besides the bundled list, for message signals", "strings"),
    },
    "signals.brands.*": {
        "names": Key("the words that name the brand in a message", "strings"),
        "domains": Key("the registrable domains its genuine links are on (a link elsewhere next to its name is a "
                       "mismatch)", "strings"),
    },
    "langfuse": {
        "enabled": Key("false turns Langfuse off for this project", "bool"),
        "base_url": Key("the Langfuse server (also LANGFUSE_BASE_URL)", "string"),
        "host": Key("older name of base_url", "string"),
        "public_key": Key("better set LANGFUSE_PUBLIC_KEY", "string", secret=True),
        "secret_key": Key("better set LANGFUSE_SECRET_KEY (never commit it)", "string", secret=True),
        "timeout": Key("seconds per call to Langfuse", "number"),
        "push_timeout": Key("seconds `smishctl push` spends on one run", "number"),
        "prompt_name": Key("the Langfuse chat prompt that promotions label production", "string"),
    },
}


# Where every numeric value may lie, by "section.key" ("models.alias.*.deployments.weight" for a field of
# a list of tables). A numeric key without a range here stops the import: none goes unchecked.
RANGES: dict[str, Range] = {
    "data.max_file_mib": POSITIVE,
    "models.local_usd_per_hour": NON_NEGATIVE,
    "models.alias.*.input_usd_per_mtok": NON_NEGATIVE,
    "models.alias.*.output_usd_per_mtok": NON_NEGATIVE,
    "models.alias.*.usd_per_hour": NON_NEGATIVE,
    "models.alias.*.timeout": POSITIVE,
    "models.alias.*.num_retries": NON_NEGATIVE,
    "models.alias.*.max_tokens": AT_LEAST_ONE,
    "models.alias.*.cooldown_time": NON_NEGATIVE,
    "models.alias.*.allowed_fails": NON_NEGATIVE,
    "models.alias.*.deployments.weight": POSITIVE,
    "models.alias.*.deployments.rpm": AT_LEAST_ONE,
    "models.alias.*.deployments.tpm": AT_LEAST_ONE,
    "compare.max_error_rate": FRACTION,
    "promotion.min_macro_f1": FRACTION,
    "promotion.max_error_rate": FRACTION,
    "promotion.min_items": AT_LEAST_ONE,
    "promotion.max_attack_success_rate": FRACTION,
    "promotion.min_control_ham_accuracy": FRACTION,
    "promotion.alpha": ALPHA,
    "langfuse.timeout": POSITIVE,
    "langfuse.push_timeout": POSITIVE,
}


def _attach_ranges() -> None:
    for where, rng in RANGES.items():
        section, _, name = where.rpartition(".")
        if section.endswith(".deployments"):
            DEPLOYMENT[name] = replace(DEPLOYMENT[name], range=rng)  # the table the alias key's fields name
        else:
            SCHEMA[section][name] = replace(SCHEMA[section][name], range=rng)
    keys = [(f"{s}.{n}", k) for s, ks in SCHEMA.items() for n, k in ks.items()]
    keys += [(f"models.alias.*.deployments.{n}", k) for n, k in DEPLOYMENT.items()]
    unbounded = [where for where, k in keys if k.type in ("number", "integer") and k.range is None]
    if unbounded:
        raise ValueError(f"numeric config keys without a range in RANGES: {', '.join(unbounded)}")


_attach_ranges()


def section_of(name: str) -> dict[str, Key] | None:
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


# -- validation ---------------------------------------------------------------------------------------
def validate(raw: dict[str, Any], path: Path | str) -> None:
    """Check a parsed smishctl.toml against SCHEMA: an unknown section or key (a misspelt gate would
    silently drop the gate) or a value of the wrong type is a ConfigError naming the file and the key."""
    _check_table(raw, "", "", str(path))


def _subtables(pattern: str) -> dict[str, str]:
    """The tables nested directly under the schema section `pattern` ("" for the top of the file):
    name -> schema pattern; the name `*` stands for any."""
    prefix = f"{pattern}." if pattern else ""
    return {p[len(prefix):].split(".")[0]: prefix + p[len(prefix):].split(".")[0]
            for p in SCHEMA if p.startswith(prefix)}


def _check_table(table: dict[str, Any], pattern: str, shown: str, path: str) -> None:
    keys, subs = SCHEMA.get(pattern, {}), _subtables(pattern)
    for name, value in table.items():
        where = f"{shown}.{name}" if shown else name
        if name in keys:
            _check_value(keys[name], value, shown, name, path)
        elif name in subs or "*" in subs:
            child = subs.get(name) or subs["*"]
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{where}] must be a table, got {_given(value)}",
                                  hint=f"write it as a [{_example(child, where)}] section")
            _check_table(value, child, where, path)
        else:
            _unknown(name, shown, [*keys, *(s for s in subs if s != "*")], path)


def _example(pattern: str, shown: str) -> str:
    """How to write the section `shown` (matching `pattern`): `models.alias` becomes `models.alias.NAME`."""
    if pattern in SCHEMA:
        return shown
    nested = next(p for p in SCHEMA if p.startswith(f"{pattern}."))
    return shown + nested[len(pattern):].replace("*", "NAME")


def _check_value(key: Key, value: Any, section: str, name: str, path: str) -> None:
    expected, ok = TYPES[key.type]
    if not ok(value):
        given = _given(value, show=not key.secret)
        raise ConfigError(f"{path}: [{section}] {name} must be {expected}, got {given}",
                          hint=f"{name}: {key.help}")
    if key.range is not None and not key.range.holds(value):
        raise ConfigError(f"{path}: [{section}] {name} must be {key.range.text()}, got {_given(value)}",
                          hint=f"{name}: {key.help}")
    if key.fields is None:
        return
    for i, item in enumerate(value):  # a list of tables: its type was checked above
        for field, v in item.items():
            where = f"{name}[{i}].{field}"
            if field not in key.fields:
                close = _closest(field, list(key.fields))
                raise ConfigError(f"{path}: [{section}] {where} is not a key of a deployment",
                                  hint=f"did you mean {close}?" if close else f"its keys are: {', '.join(key.fields)}")
            _check_value(key.fields[field], v, section, where, path)


def checked_number(section: str, name: str, text: str, source: str) -> float:
    """A number given outside smishctl.toml (the environment variable `source`), held to the type and
    range of the key [section] name."""
    key = SCHEMA[section][name]
    try:
        value: object = float(text) if key.type == "number" else int(text)
    except ValueError:
        value = text
    _check_value(key, value, section, name, source)
    return cast(float, value)  # an int or a float, checked above


def _unknown(name: str, section: str, options: list[str], path: str) -> None:
    close = _closest(name, options)
    if section:
        raise ConfigError(f"{path}: [{section}] has no key {name!r}",
                          hint=f"did you mean {close}?" if close else f"its keys are: {', '.join(options)}")
    home = next((s for s, keys in SCHEMA.items() if name in keys and "*" not in s), None)
    hint = (f"did you mean [{close}]?" if close else f"{name} is a key of [{home}]: put it under that section"
            if home else f"the sections are: {', '.join(options)}")
    raise ConfigError(f"{path}: unknown section [{name}]", hint=hint)


def _closest(word: str, options: list[str]) -> str | None:
    """The option the user most likely meant; a match ignoring case comes first (min_macro_F1)."""
    lower = {o.lower(): o for o in options}
    close = [word.lower()] if word.lower() in lower else difflib.get_close_matches(word.lower(), list(lower), n=1)
    return lower[close[0]] if close else None


_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
          dict: "a table"}


def _given(value: object, show: bool = True) -> str:
    """What the file holds, for an error: the value (shortened) and its kind; only the kind when `show`
    is false (a secret) or the value is a table."""
    kind = _KINDS.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, dict) or not show:
        return kind
    text = repr(value)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({kind})"
