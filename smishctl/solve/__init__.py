"""From one SMS to one prediction: the signature, the label adapters, programs (kNN), input
hardening, classic baselines, calibration, `build_solver` (the one place a solver is put together)
and the one item loop."""
