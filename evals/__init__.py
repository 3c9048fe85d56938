"""evals: the fixed eval set, the DRCD benchmark, metrics, calibration, and the CI gate."""
