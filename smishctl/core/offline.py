"""Keeps litellm off the network: it fetches its model price map from the internet when it is
imported, unless this variable says to use the copy it ships."""

import os


def keep_litellm_offline() -> None:
    """Default the price map to the local copy (an explicit setting by the user wins)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
