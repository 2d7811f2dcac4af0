"""``generate_corpus``: networks drawn from every family, deterministic in the seed.

Network ``i`` of family ``f`` draws from ``numpy.random.default_rng(SeedSequence([seed,
crc32(f), i, tiny]))``: it depends on nothing but those four values, so adding a family or asking
for more members leaves the others unchanged. A draw outside the size budget is rejected and the
same generator draws again, so rejection is deterministic too. Weights come from
``torch.manual_seed(net.seed)`` with ``net.seed`` taken from the same seed sequence.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from estimator.errors import InputError
from estimator.zoo.corpus.families import FAMILIES, HParams
from estimator.zoo.corpus.size import NORMAL, TINY, Size, measure_size

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Draws tried per network before giving up (a family whose ranges cannot meet the budget).
MAX_ATTEMPTS = 400


def families() -> tuple[str, ...]:
    """Names of the block families, in corpus order."""
    return tuple(FAMILIES)


@dataclass(frozen=True)
class CorpusNet:
    """One generated network: everything needed to rebuild it, and its size.

    ``hparams`` alone determines the architecture, ``seed`` the weights (``build`` is
    ``torch.manual_seed(seed)`` then the family's builder, in eval mode).
    """

    name: str
    family: str
    index: int
    seed: int
    hparams: dict[str, Any]
    input_shape: tuple[int, ...]
    size: Size
    tiny: bool = False

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def macs(self) -> int:
        return self.size.macs

    @property
    def params(self) -> int:
        return self.size.params

    @property
    def relpath(self) -> str:
        """File of the exported ONNX inside a corpus folder: ``<family>/<index>-<hash>.onnx``."""
        return self.name.split("/", 1)[1] + ".onnx"

    def build(self) -> nn.Module:
        """The module with its deterministic weights, in eval mode (float32, CPU)."""
        import torch

        torch.manual_seed(self.seed)
        return FAMILIES[self.family].build(copy.deepcopy(self.hparams)).eval()

    def example_input(self) -> torch.Tensor:
        """A deterministic random input of ``input_shape``."""
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.input_shape, generator=gen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "index": self.index,
            "seed": self.seed,
            "tiny": self.tiny,
            "input_shape": list(self.input_shape),
            "hparams": copy.deepcopy(self.hparams),
            "size": self.size.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorpusNet:
        return cls(
            name=d["name"],
            family=d["family"],
            index=int(d["index"]),
            seed=int(d["seed"]),
            hparams=copy.deepcopy(d["hparams"]),
            input_shape=tuple(d["input_shape"]),
            size=Size(**d["size"]),
            tiny=bool(d.get("tiny", False)),
        )


def _short_hash(family: str, seed: int, hp: HParams) -> str:
    text = json.dumps({"family": family, "seed": seed, "hparams": hp}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def draw_net(family: str, index: int, seed: int = 0, *, tiny: bool = False) -> CorpusNet:
    """Network ``index`` of ``family`` in the corpus of ``seed`` (redrawn until it fits)."""
    import torch

    fam = FAMILIES.get(family)
    if fam is None:
        raise InputError(f"unknown corpus family {family!r}; known: {', '.join(FAMILIES)}")
    ss = np.random.SeedSequence([seed, zlib.crc32(family.encode()), index, int(tiny)])
    net_seed = int(ss.generate_state(1, dtype=np.uint32)[0]) & 0x7FFF_FFFF
    rng = np.random.default_rng(ss)
    budget = TINY if tiny else NORMAL
    for _ in range(MAX_ATTEMPTS):
        hp = fam.draw(rng, tiny)
        shape = (1, 3, hp["resolution"], hp["resolution"])
        with torch.device("meta"):
            size = measure_size(fam.build(copy.deepcopy(hp)), shape)
        if budget.admits(size):
            prefix = "corpus-tiny" if tiny else "corpus"
            name = f"{prefix}/{family}/{index:03d}-{_short_hash(family, net_seed, hp)}"
            return CorpusNet(name, family, index, net_seed, hp, shape, size, tiny)
    raise RuntimeError(f"corpus family {family!r}: no draw within budget in {MAX_ATTEMPTS} tries")


@functools.lru_cache(maxsize=8)
def _generate(n: int, seed: int, tiny: bool, fams: tuple[str, ...]) -> tuple[CorpusNet, ...]:
    return tuple(draw_net(f, i, seed, tiny=tiny) for f in fams for i in range(n))


def generate_corpus(
    n_per_family: int = 20,
    seed: int = 0,
    *,
    tiny: bool = False,
    families: tuple[str, ...] | list[str] | None = None,
) -> list[CorpusNet]:
    """``n_per_family`` networks of each family (all families unless ``families``), in order.

    ``tiny=True`` draws small members (a few MMACs) for tests. Cached per argument set.
    """
    if n_per_family < 0:
        raise InputError(f"n_per_family must be >= 0, got {n_per_family}")
    fams = tuple(FAMILIES) if families is None else tuple(families)
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown:
        raise InputError(
            f"unknown corpus famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"known: {', '.join(FAMILIES)}"
        )
    return list(_generate(n_per_family, seed, tiny, fams))
