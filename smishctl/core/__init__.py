"""Contracts every layer shares, standard library only: settings, errors, the Solver protocol and the
versioned run and prediction records."""
