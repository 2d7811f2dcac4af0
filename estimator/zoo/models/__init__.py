"""Compact torch definitions of the seed models, one module per family.

Each module mirrors the torchvision (or timm) layout closely enough that parameter counts match
exactly; weights are random because nothing may be downloaded. Import through
:mod:`estimator.zoo.registry` rather than directly, so torch is only imported on demand.
"""
