"""FLOPs and parameter counts of NAS-Bench-201 networks: the rankings few-shot must beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from estimator.analysis import analyze_graph
from estimator.zoo.nb201_reference import nb201_graph_for


def nb201_flops_params(
    archs: Sequence[str], *, batch: int = 1, semantics: str = "reference"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(FLOPs, params) per arch from :func:`estimator.analysis.analyze_graph`.

    The reference semantics counts every edge's parameters, as the published NAS-Bench-201
    tables do (dead edges still own their weights there).
    """
    flops = np.empty(len(archs))
    params = np.empty(len(archs))
    for i, a in enumerate(archs):
        cost = analyze_graph(nb201_graph_for(a, batch, semantics))
        flops[i] = cost.flops
        params[i] = cost.params
    return flops, params
