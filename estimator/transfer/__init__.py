"""Few-shot transfer: calibrate a device from a handful of measured model latencies.

See docs/transfer.md for the model, the benchmark protocol and measured results.
"""

from estimator.engine.kernel_set import KernelSet, kernel_set_from_arrays, merge
from estimator.transfer.api import (
    LatencyCalibration,
    calibrate_from_latencies,
    fit_from_latencies,
    write_from_latencies,
)
from estimator.transfer.columns import ColumnSetup, column_setup, prior_for
from estimator.transfer.csvio import (
    LatencyTable,
    Measurement,
    MeasurementColumns,
    load_latency_table,
    quantum_of,
    read_measurement_columns,
    read_measurements,
)
from estimator.transfer.fewshot import (
    DEFAULT_PARAMS,
    DEFAULT_SIGMA,
    FewShotFit,
    ParamSpec,
    fit,
    prior_widths,
)
from estimator.transfer.levels import LEVELS, Level, Selection, fit_level, fit_selected, level
from estimator.transfer.lodo import DeviceData, DeviceResult, leave_one_device_out
from estimator.transfer.metaprior import MetaPrior, load_meta_prior, read_meta_prior
from estimator.transfer.nb201_estimate import estimate_kernel_set, estimate_nb201
from estimator.transfer.nb201_fast import nb201_kernel_set
from estimator.transfer.references import resolve_plan, resolve_references
from estimator.zoo.nb201_reference import nb201_graph_for, nb201_reference_graph

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_SIGMA",
    "LEVELS",
    "ColumnSetup",
    "DeviceData",
    "DeviceResult",
    "FewShotFit",
    "KernelSet",
    "LatencyCalibration",
    "LatencyTable",
    "Level",
    "Measurement",
    "MeasurementColumns",
    "MetaPrior",
    "ParamSpec",
    "Selection",
    "calibrate_from_latencies",
    "column_setup",
    "estimate_kernel_set",
    "estimate_nb201",
    "fit",
    "fit_from_latencies",
    "fit_level",
    "fit_selected",
    "kernel_set_from_arrays",
    "leave_one_device_out",
    "level",
    "load_latency_table",
    "load_meta_prior",
    "merge",
    "nb201_graph_for",
    "nb201_kernel_set",
    "nb201_reference_graph",
    "prior_for",
    "prior_widths",
    "quantum_of",
    "read_measurement_columns",
    "read_measurements",
    "read_meta_prior",
    "resolve_plan",
    "resolve_references",
    "write_from_latencies",
]
