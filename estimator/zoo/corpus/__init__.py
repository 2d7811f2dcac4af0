"""A deterministic, seeded corpus of random networks from twelve block families.

The validation corpus for accuracy work: ``generate_corpus(20, 0)`` draws 20 networks of each
family (ResNet bottlenecks, grouped bottlenecks, inverted residuals, MixConv, Ghost, DenseNet,
VGG, RepVGG/MobileOne, ConvNeXt, ViT, MLP-Mixer/PoolFormer, conv-attention hybrids), each sized
to run in about 0.5-40 ms at one CPU thread; ``export_corpus`` writes them as ONNX files;
``tools/corpus.py`` lists, exports and measures them. Importing this package imports torch.
"""

from estimator.zoo.corpus.exporting import (
    MANIFEST,
    default_dir,
    export_corpus,
    export_net,
    manifest_nets,
    read_manifest,
)
from estimator.zoo.corpus.families import FAMILIES, Family
from estimator.zoo.corpus.generate import CorpusNet, draw_net, families, generate_corpus
from estimator.zoo.corpus.size import NORMAL, TINY, Budget, Size, measure_size

__all__ = [
    "FAMILIES",
    "MANIFEST",
    "NORMAL",
    "TINY",
    "Budget",
    "CorpusNet",
    "Family",
    "Size",
    "default_dir",
    "draw_net",
    "export_corpus",
    "export_net",
    "families",
    "generate_corpus",
    "manifest_nets",
    "measure_size",
    "read_manifest",
]
