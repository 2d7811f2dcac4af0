"""Calibration scripts, each runnable as ``python calibration/<name>.py``."""
