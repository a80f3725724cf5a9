"""smishctl: optimize, evaluate, compare and promote prompts for SMS phishing detection."""

import os as _os

__version__ = "0.1.0"

# litellm fetches its model price map from the internet when it is imported, unless told not to; every
# smishctl module runs this first, so no import path reaches the network.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def load_production(root=None, *, model=None):
    """A ready classifier built from the production prompt (see smishctl.ops.production)."""
    from smishctl.ops.production import load_production as _load

    return _load(root, model=model)
