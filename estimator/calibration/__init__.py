"""Calibration: measure kernels, fit efficiency curves, validate, audit (docs/calibration.md)."""
