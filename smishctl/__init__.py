"""smishctl: optimize, evaluate, compare and promote prompts for SMS phishing detection.

The package root imports only `core`, so importing any smishctl module loads nothing above it. The
production classifier is `smishctl.ops.production.load_production`."""

from smishctl.core.offline import keep_litellm_offline
from smishctl.core.version import __version__

__all__ = ["__version__"]

# Every smishctl module runs the package root first, so this precedes any litellm import.
keep_litellm_offline()
