"""The console scripts, one module each (``estimator.cli.<name>:main``, see pyproject.toml).

Each parses its flags, calls one library function, renders the result, and runs inside
:func:`estimator.cli.common.run_guarded` (one-line errors, exit 2 / 1 / 130, ``--debug``).
estimate-latency, measure-latency; the calibration scripts measure-efficiency,
aggregate-efficiency, analyze-efficiency-distribution, calibrate-hardware, validate-calibration,
visualize-efficiency, audit-calibration (library: :mod:`estimator.calibration.pipeline`);
analyze-efficiency, the cross-device analyses of seeds 000/001 (library:
:mod:`estimator.analysis.efficiency`).
"""
