"""Fixtures for tests against the loopback fault server (tests/fault_server.py).

Import the fixtures into a test module: `from faultutil import fault_fixture, fake_model_fixture  # noqa: F401`
(they are registered as `fault` and `fake_model`).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from fault_server import FaultServer, classify

FAKE = "fake"


@pytest.fixture(name="fault")
def fault_fixture():
    with FaultServer() as srv:
        yield srv


def add_alias(project: Path, name: str, base_url: str, api_key_env: str | None = None,
              num_retries: int | None = None) -> None:
    lines = [f"\n[models.alias.{name}]", 'litellm = "openai/fake"', f'api_base = "{base_url}"']
    if api_key_env:
        lines.append(f'api_key_env = "{api_key_env}"')
    if num_retries is not None:
        lines.append(f"num_retries = {num_retries}")
    with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.fixture(name="fake_model")
def fake_model_fixture(project, fault) -> str:
    """Model alias `fake`: openai/fake at the fault server, no key variable (a placeholder key is sent)."""
    add_alias(project, FAKE, fault.base_url)
    return FAKE


# Characters that only hide or reorder text: zero-width, soft hyphen, bidirectional controls.
_HIDDEN = dict.fromkeys([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, *range(0x202A, 0x202F),
                         *range(0x2066, 0x206A)])


def expected_label(text: str) -> str:
    """What the fault server should answer for an SMS, decided here and not by the code under test: its
    keyword rules applied to the text as a reader sees it (compatibility forms folded, e.g. fullwidth
    letters to ASCII; hidden characters removed). The hardening must get the server exactly this far."""
    return classify(unicodedata.normalize("NFKC", text).translate(_HIDDEN))


def predictions(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def only_run(project: Path) -> Path:
    runs = [d for d in (project / "runs").iterdir() if (d / "run.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]
