"""A meta-learned prior per device type: where the devices already fitted put their scales.

The datasheet prior says little about a device's real efficiency (PyTorch-eager dispatch on a
Xeon costs ~8x the CPU prior's per-kernel overhead). Every device already fitted is evidence
about the next one of its type: fit each training device well (hundreds of measurements, wide
datasheet prior), then the weighted empirical-Bayes estimate of the population of its
log-scales, with the datasheet prior (mean 0, width tau0) as one more device of weight NU0, is::

    W = sum_d w_d + NU0
    mu_j    = sum_d w_d theta_dj / W
    tau_j^2 = (sum_d w_d ((theta_dj - mu_j)^2 + var_dj) + NU0 (mu_j^2 + tau0_j^2)) / W

(``var_dj``: the training fit's own posterior variance, so an unidentified scale stays wide;
``w_d``: similarity in batch size, so a batch-256 GPU learns from batch-256 GPUs more than from
launch-bound batch-1 ones; with no similar device the prior falls back to the datasheet).
A new device's fit is then shrunk toward ``mu`` with width ``tau``
(:func:`estimator.transfer.fewshot.fit` ``mu=``/``tau=``). The model stays the physical one:
only the prior on its scales is learned.

The file stores the training fits themselves; the prior of a new device is computed from them
for its batch (:meth:`MetaPrior.level_prior`), with the residual scale of the model on that
type (the RMS log residual of the training fits: what the interval assumes before seeing a
point). One interval scale, learned out of sample (:func:`interval_scale_from`), multiplies
the predictive sd. The prior is data: JSON under
``hardware_registry/meta_priors/<type>.<runtime>.json`` naming its training devices (:func:`save`,
:func:`load_meta_prior`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import estimator
from estimator.engine.uncertainty import Z95
from estimator.errors import InputError, RegistryError
from estimator.registry.loader import builtin_registry, write_atomic

#: Weight of the datasheet prior as one more training device (see the module docstring).
NU0 = 1.0
#: sd, in log batch size, of the similarity weights: a device timed at batch 32 counts
#: exp(-0.5 (log 8 / log 4)^2) = 0.32 for one timed at batch 256 (batch moves a GPU from
#: launch-bound to roofline-bound, so its scales are the nearest batches' more than the type's).
BATCH_BANDWIDTH = float(np.log(4.0))
#: Folder of the shipped meta-priors, under the registry root.
FOLDER = "meta_priors"
SCHEMA_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamPrior(_Frozen):
    """Prior of one log-scale: mean and sd of theta."""

    mu: float
    tau: float = Field(gt=0)


class LevelPrior(_Frozen):
    """The prior of one parameter set (level) for one new device, computed from the training
    fits by :meth:`MetaPrior.level_prior`."""

    params: dict[str, ParamPrior]
    #: RMS log residual of the training fits at this level: the model misfit on the type.
    residual_sigma: float = Field(gt=0)
    #: Multiplier of the predictive sd, learned out of sample (1 until learned).
    interval_scale: float = Field(default=1.0, gt=0)
    #: sd of a log error shared by every model of a device, learned out of sample (0: none).
    offset_sigma: float = Field(default=0.0, ge=0)
    #: Total weight of the training devices behind it (0: the datasheet prior alone).
    weight: float = 0.0

    def vectors(self, names: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(mu, tau) in the order of ``names``; a name the prior lacks is an error."""
        missing = [n for n in names if n not in self.params]
        if missing:
            raise InputError(f"meta-prior has no parameter(s) {', '.join(missing)}")
        mu = np.array([self.params[n].mu for n in names])
        tau = np.array([self.params[n].tau for n in names])
        return mu, tau


class TrainingDevice(_Frozen):
    """One device the prior was learned from, and what its fit found."""

    name: str
    hardware: str
    #: Where its latencies came from (a data file and column, or a calibrated registry profile).
    source: str
    runtime: str
    batch: int = Field(default=1, ge=1)
    n_measurements: int
    #: level -> parameter -> fitted log-scale.
    theta: dict[str, dict[str, float]]
    #: level -> parameter -> posterior variance of that fit.
    variance: dict[str, dict[str, float]]
    #: level -> RMS log residual of that fit.
    residual_sigma: dict[str, float]


class MetaPrior(_Frozen):
    """The meta-learned prior of one device type (and the runtime its devices ran): the
    training devices' fits, and how a new device's prior is computed from them."""

    schema_version: int = SCHEMA_VERSION
    device_type: str
    runtime: str
    created: str
    tool_version: str
    method: str
    training_devices: list[TrainingDevice]
    #: level -> parameter -> datasheet width (the pseudo-device's).
    datasheet_tau: dict[str, dict[str, float]]
    #: Weight of the datasheet prior as a pseudo-device.
    nu0: float = Field(default=NU0, ge=0)
    #: Width (in log batch) of the batch-similarity weights.
    batch_bandwidth: float = Field(default=BATCH_BANDWIDTH, gt=0)
    interval_scale: float = Field(default=1.0, gt=0)
    #: sd of the log error shared by every model of one device beyond the parameter
    #: uncertainty (:func:`offset_sigma_from`); files written before it read 0.
    offset_sigma: float = Field(default=0.0, ge=0)
    #: How interval_scale and offset_sigma were learned (devices, k, coverage before/after).
    interval_note: str = ""

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.datasheet_tau)

    def weights(self, batch: int) -> NDArray[np.float64]:
        """Similarity of each training device to a device measured at ``batch``."""
        b = np.log([t.batch for t in self.training_devices])
        return np.asarray(np.exp(-0.5 * ((b - np.log(batch)) / self.batch_bandwidth) ** 2))

    def level_prior(self, name: str, batch: int = 1) -> LevelPrior:
        """The prior of level ``name`` for a new device measured at ``batch`` (module doc)."""
        if name not in self.datasheet_tau:
            raise InputError(
                f"meta-prior of {self.device_type}/{self.runtime} has no level {name!r}"
            )
        names = list(self.datasheet_tau[name])
        devs = [t for t in self.training_devices if name in t.theta]
        w = self.weights(batch)[[i for i, t in enumerate(self.training_devices) if name in t.theta]]
        lp = learn_level(
            [np.array([t.theta[name][n] for n in names]) for t in devs],
            [np.array([t.variance[name][n] for n in names]) for t in devs],
            w,
            names,
            np.array([self.datasheet_tau[name][n] for n in names]),
            [t.residual_sigma[name] for t in devs],
            self.nu0,
        )
        return lp.model_copy(
            update={"interval_scale": self.interval_scale, "offset_sigma": self.offset_sigma}
        )


# --------------------------------------------------------------------------- learning


def learn_level(
    thetas: Sequence[NDArray[np.float64]],
    variances: Sequence[NDArray[np.float64]],
    weights: Sequence[float] | NDArray[np.float64],
    names: Sequence[str],
    datasheet_tau: NDArray[np.float64],
    residual_sigmas: Sequence[float],
    nu0: float = NU0,
) -> LevelPrior:
    """Weighted empirical-Bayes prior of one level (module docstring); the datasheet prior
    (mean 0, width ``datasheet_tau``) is one more device of weight ``nu0``."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    tau0 = np.asarray(datasheet_tau, dtype=np.float64)
    if len(thetas) == 0 or w.sum() <= 0:
        return LevelPrior(
            params={n: ParamPrior(mu=0.0, tau=float(t)) for n, t in zip(names, tau0, strict=True)},
            residual_sigma=float(np.sqrt(np.mean(np.square(residual_sigmas))))
            if len(residual_sigmas)
            else 0.05,
        )
    th = np.asarray(thetas, dtype=np.float64)
    var = np.asarray(variances, dtype=np.float64)
    total = w.sum() + nu0
    mu = (w @ th) / total
    tau2 = (w @ ((th - mu) ** 2 + var) + nu0 * (mu**2 + tau0**2)) / total
    rs = np.asarray(residual_sigmas, dtype=np.float64)
    return LevelPrior(
        params={
            nm: ParamPrior(mu=float(m), tau=float(np.sqrt(t)))
            for nm, m, t in zip(names, mu, tau2, strict=True)
        },
        residual_sigma=float(np.sqrt((w @ rs**2) / w.sum())),
        weight=float(w.sum()),
    )


def interval_scale_from(z_per_device: Sequence[Iterable[float]], coverage: float = 0.95) -> float:
    """The factor that puts ``coverage`` of a typical device's out-of-sample standardized log
    errors inside +-1.96 sd: the median over devices of quantile(|z|, coverage) / 1.96 (z from
    held-out devices' query sets, never from the points fitted; the median, so one device with
    a systematic misfit does not widen every other device's intervals)."""
    per = []
    for z in z_per_device:
        a = np.abs(np.asarray(list(z), dtype=np.float64))
        if a.size:
            per.append(float(np.quantile(a, coverage) / Z95))
    if not per:
        raise InputError("no out-of-sample errors to learn an interval scale from")
    return float(np.median(per))


def offset_sigma_from(
    offsets_per_device: Sequence[Iterable[float]], param_var_per_device: Sequence[Iterable[float]]
) -> float:
    """sd of the log error shared by all models of a device that its fit's parameter
    uncertainty does not account for: per training device, the mean over few-shot fits of
    (mean query log error)^2 minus the mean predicted parameter variance (ḡ Σ ḡ), floored at
    0; the mean over devices (the moment estimate of a variance component; the interval scale
    then takes the median, :func:`interval_scale_from`), square-rooted. The query
    errors of one fit share this offset, so it does not shrink with k: a device measured at
    another time than its calibration points, a runtime setting the networks share."""
    per = []
    for b, v in zip(offsets_per_device, param_var_per_device, strict=True):
        b2 = np.asarray(list(b), dtype=np.float64) ** 2
        pv = np.asarray(list(v), dtype=np.float64)
        if b2.size:
            per.append(max(float(np.mean(b2) - np.mean(pv)), 0.0))
    if not per:
        raise InputError("no out-of-sample errors to learn a device offset from")
    return float(np.sqrt(np.mean(per)))


def build(
    device_type: str,
    runtime: str,
    training: Sequence[TrainingDevice],
    datasheet_tau: Mapping[str, Mapping[str, float]],
    method: str,
    interval_scale: float = 1.0,
    interval_note: str = "",
    offset_sigma: float = 0.0,
) -> MetaPrior:
    return MetaPrior(
        device_type=device_type,
        runtime=runtime,
        created=datetime.now(UTC).date().isoformat(),
        tool_version=estimator.__version__,
        method=method,
        training_devices=list(training),
        datasheet_tau={k: dict(v) for k, v in datasheet_tau.items()},
        interval_scale=interval_scale,
        interval_note=interval_note,
        offset_sigma=offset_sigma,
    )


# --------------------------------------------------------------------------- storage


def meta_prior_path(device_type: str, runtime: str, root: str | Path | None = None) -> Path:
    base = Path(root) if root is not None else builtin_registry()
    return base / FOLDER / f"{device_type}.{runtime}.json"


def save(prior: MetaPrior, root: str | Path | None = None) -> Path:
    """Write ``prior`` atomically to ``<root>/meta_priors/<type>.<runtime>.json``."""
    path = meta_prior_path(prior.device_type, prior.runtime, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(prior.model_dump(mode="json"), indent=1) + "\n")
    return path


def read_meta_prior(path: str | Path) -> MetaPrior:
    """Parse one meta-prior file; a bad file is one :class:`RegistryError` line naming it."""
    p = Path(path)
    try:
        doc: Any = json.loads(p.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise RegistryError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{p}: not valid UTF-8 JSON: {exc}") from None
    try:
        return MetaPrior.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise RegistryError(f"{p}: field {where}: {err['msg']}") from None


def load_meta_prior(
    device_type: str, runtime: str, root: str | Path | None = None
) -> MetaPrior | None:
    """The shipped meta-prior of (type, runtime); None when none was learned for it."""
    path = meta_prior_path(device_type, runtime, root)
    return read_meta_prior(path) if path.is_file() else None
