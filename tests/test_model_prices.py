"""A model's price comes from litellm's bundled price map, read without importing litellm: the same
price for every model litellm knows, and no litellm import on the way."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = """
import json, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
from smishctl.models import registry
ours = registry._bundled_cost_map()
imported_early = "litellm" in sys.modules
sample = {name: registry._litellm_prices(name) for name in ("openai/gpt-4o-mini", "gpt-4o-mini", "openai/fake",
                                                           "anthropic/claude-3-5-haiku-20241022")}
imported_by_lookup = "litellm" in sys.modules
import litellm
prices = lambda info: (info.get("input_cost_per_token"), info.get("output_cost_per_token"))
differ = [name for name, info in litellm.model_cost.items() if name not in ours or prices(ours[name]) != prices(info)]
extra = [name for name in ours if name not in litellm.model_cost]
print(json.dumps({"n": len(litellm.model_cost), "imported_early": imported_early, "by_lookup": imported_by_lookup,
                  "differ": differ[:10], "extra": extra[:10], "sample": sample}))
"""


def test_bundled_prices_are_litellms_without_importing_it():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["n"] > 100 and not out["imported_early"] and not out["by_lookup"]
    assert out["differ"] == [] and out["extra"] == []
    assert out["sample"]["openai/gpt-4o-mini"][0] > 0 and out["sample"]["openai/fake"] == [None, None]


def test_once_litellm_is_imported_it_answers():
    """Prices registered at run time (litellm.register_model) live in litellm's map only."""
    code = ("import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'\n"
            "import litellm\nfrom smishctl.models import registry\n"
            "litellm.register_model({'openai/house-model': {'input_cost_per_token': 1e-06, 'output_cost_per_token': 2e-06,"
            " 'litellm_provider': 'openai', 'mode': 'chat'}})\n"
            "print(registry._bundled_cost_map() is None, registry._litellm_prices('openai/house-model'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "True (1e-06, 2e-06)"
