"""The block family of a network: corpus networks carry it in their name, zoo networks map to
the corpus family they are built from. Validation holds families out; calibration records which
families a whole-network fit saw."""

from __future__ import annotations

import re

#: Corpus family of each zoo network (the architecture it is built from).
ZOO_FAMILY: dict[str, str] = {
    "resnet18": "bottleneck",
    "resnet50": "bottleneck",
    "mobilenet_v2": "inverted",
    "mobilenet_v3_small": "inverted",
    "mobilenet_v3_large": "inverted",
    "efficientnet_b0": "inverted",
    "mnasnet1_0": "inverted",
    "convnext_tiny": "convnext",
    "vit_b_16": "vit",
    "vit_tiny": "vit",
    "deit_tiny": "vit",
    "levit_128s": "hybrid",
    "mobilevit_xxs": "hybrid",
    "squeezenet1_1": "squeeze",
    "densenet121": "dense",
    "inception_v3": "inception",
    "googlenet": "inception",
}

#: Generated-corpus networks in a calibration store: ``corpus-`` (the validation corpus, seed 0)
#: and ``calib-`` (the calibration corpus, another seed), then family, index and hash.
_CORPUS_NAME = re.compile(r"^(?:corpus|calib)-(?P<family>[a-z]+)-\d+-[0-9a-f]+$")


def family_of(name: str) -> str:
    """The block family of a network of the store (corpus or zoo); its own name otherwise."""
    m = _CORPUS_NAME.match(name)
    if m:
        return m.group("family")
    return ZOO_FAMILY.get(name, name)
