"""smishctl: optimize, evaluate, compare and promote prompts for SMS phishing detection."""

__version__ = "0.1.0"


def load_production(root=None):
    """Return a ready classifier built from the production prompt (see smishctl.promote)."""
    from smishctl.production import load_production as _load

    return _load(root)
