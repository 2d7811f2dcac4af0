"""Export zoo models (or any torch module) to ONNX, with the settings the zoo uses everywhere.

Model names: any name of ``estimator.zoo.names()``, ``nb201:<arch string>``, or a decoder preset
(``gpt2_small``, ``tiny_llama``; exported in prefill mode over ``seq_len`` tokens, outputs the
logits and the new KV cache). Uses the TorchScript exporter (``dynamo=False``): fast, and stable
across torch versions for these models. Files are written atomically (a temporary file in the
same folder, then a rename), so an interrupted export never leaves a truncated model behind.

``tools/export_zoo.py`` is the command-line front of this module.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from estimator.errors import InputError

__all__ = [
    "DEFAULT_OPSET",
    "MAX_EXPORT_BYTES",
    "build",
    "export",
    "export_decoder",
    "export_module",
    "file_stem",
    "model_list",
]

#: ONNX protobufs above 2 GiB need external data; the zoo exports stay self-contained files.
MAX_EXPORT_BYTES = 2**31
DEFAULT_OPSET = 17

_NB201_SHORT = {
    "none": "n",
    "skip_connect": "s",
    "nor_conv_1x1": "c1",
    "nor_conv_3x3": "c3",
    "avg_pool_3x3": "p",
}


def file_stem(name: str) -> str:
    """A file name for model ``name``: NB201 arch strings shortened to ``nb201-c3-s-...``."""
    if name.startswith("nb201:"):
        from estimator.zoo.nb201_ir import parse_arch

        return "nb201-" + "-".join(_NB201_SHORT[op] for op in parse_arch(name[len("nb201:") :]))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def decoder_wrapper(model: Any) -> Any:
    """Flatten (logits, [(k, v), ...]) into one tuple of tensors for the exporter.

    ``forward(input_ids, *past)``: with no past, a prefill; with ``past`` (k0, v0, k1, v1, ...
    one pair per layer), a decode step against that cache.
    """
    from torch import nn

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, *flat: Any) -> tuple[Any, ...]:
            past = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)] if flat else None
            logits, present = self.model(input_ids, past)
            return (logits, *(t for kv in present for t in kv))

    return Flat().eval()


def export_decoder(
    cfg: Any,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    past: int = 4,
) -> Path:
    """Export the decoder ``cfg`` (a :class:`DecoderConfig` or a preset name) with its KV cache
    as inputs, named as Hugging Face optimum's ``decoder_with_past_model.onnx``.

    Inputs ``input_ids [batch_size, sequence_length]`` and ``past_key_values.<i>.key`` /
    ``.value [batch_size, kv_heads, past_sequence_length, head_dim]``; outputs ``logits`` and
    ``present.<i>.key`` / ``.value``. Traced at one new token against ``past`` cached ones
    (random weights, torch seed 0); ``estimator.llm.onnx_decoder`` estimates a generation
    from the file.
    """
    import torch

    from estimator.zoo import decoders

    if isinstance(cfg, str):
        cfg = decoders.preset(cfg)
    torch.manual_seed(0)
    model = decoder_wrapper(decoders.decoder_module(cfg))
    kv = [f"{i}.{t}" for i in range(cfg.layers) for t in ("key", "value")]
    ins = ["input_ids", *(f"past_key_values.{n}" for n in kv)]
    outs = ["logits", *(f"present.{n}" for n in kv)]
    dyn: dict[str, dict[int, str]] = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    dyn |= {n: {0: "batch_size", 2: "past_sequence_length"} for n in ins[1:]}
    dyn |= {n: {0: "batch_size", 2: "past_sequence_length + sequence_length"} for n in outs[1:]}
    cache = tuple(torch.zeros(1, cfg.kv_heads, past, cfg.head_dim) for _ in kv)
    ids = torch.zeros(1, 1, dtype=torch.int64)
    return export_module(
        model, (ids, *cache), path, opset=opset, input_names=ins, output_names=outs,
        dynamic_axes=dyn,
    )  # fmt: skip


def build(name: str, batch: int, seq_len: int) -> tuple[Any, Any, list[str], list[str]]:
    """(module, example input, input names, output names) of model ``name``.

    Weights are random but reproducible: the torch seed is 0 when each module is built.
    """
    import torch

    from estimator.zoo import decoders

    torch.manual_seed(0)

    if name.startswith("nb201:"):
        from estimator.zoo.nb201 import nb201_example_input, nb201_module

        return (
            nb201_module(name[len("nb201:") :]),
            nb201_example_input(batch),
            ["input"],
            ["logits"],
        )
    if name in decoders.PRESETS:
        cfg = decoders.preset(name)
        with torch.device("meta"):
            n_params = sum(p.numel() for p in decoders.decoder_module(cfg).parameters())
        if 4 * n_params > MAX_EXPORT_BYTES:
            raise InputError(f"{name}: {n_params:,} fp32 parameters exceed the 2 GiB ONNX limit")
        if cfg.max_positions is not None and seq_len > cfg.max_positions:
            raise InputError(f"{name}: --seq-len {seq_len} > max_positions {cfg.max_positions}")
        model = decoder_wrapper(decoders.decoder_module(cfg))
        ids = torch.zeros(batch, seq_len, dtype=torch.int64)
        outs = ["logits"] + [f"present_{kv}.{i}" for i in range(cfg.layers) for kv in "kv"]
        return model, ids, ["input_ids"], outs
    from estimator import zoo

    module, example = zoo.get(name, batch=batch)
    return module, example, ["input"], ["output"]


@contextlib.contextmanager
def _quiet_fds() -> Iterator[None]:
    """Silence file descriptors 1 and 2: the exporter's C++ side prints whole graphs on failure."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def export_module(
    module: Any,
    example_inputs: Any,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Any] | None = None,
) -> Path:
    """Export torch ``module`` called on ``example_inputs`` to the ONNX file ``path``.

    ``example_inputs`` is one tensor or a tuple of them. The zoo's settings: TorchScript exporter
    (``dynamo=False``), ``torch.no_grad()``, exporter warnings and C++ prints silenced. The file
    appears atomically: written to a temporary file next to ``path``, then renamed over it.
    Returns ``path``. Exporter failures propagate as the exporter raised them.
    """
    import torch

    path = Path(path)
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings(), torch.no_grad(), _quiet_fds():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp),
                opset_version=opset,
                input_names=list(input_names) if input_names is not None else None,
                output_names=list(output_names) if output_names is not None else None,
                dynamic_axes=dict(dynamic_axes) if dynamic_axes is not None else None,
                dynamo=False,
            )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export(
    name: str,
    folder: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    batch: int = 1,
    seq_len: int = 128,
) -> Path:
    """Export zoo model ``name`` to ``<folder>/<file_stem(name)>.onnx`` and return that path."""
    model, example, in_names, out_names = build(name, batch, seq_len)
    path = Path(folder) / f"{file_stem(name)}.onnx"
    return export_module(
        model, (example,), path, opset=opset, input_names=in_names, output_names=out_names
    )


def model_list(spec: str) -> list[str]:
    """The model names in ``spec`` (comma-separated, or ``all``), all checked up front."""
    from estimator import zoo
    from estimator.zoo.decoders_ir import PRESETS
    from estimator.zoo.nb201_ir import parse_arch

    if spec == "all":
        return list(zoo.names())
    models = [m.strip() for m in spec.split(",") if m.strip()]
    if not models:
        raise InputError("--models: give model names separated by commas, or 'all'")
    known = set(zoo.names())
    for name in models:
        if name.startswith("nb201:"):
            parse_arch(name[len("nb201:") :])
        elif name not in known and name not in PRESETS:
            raise InputError(
                f"--models: unknown model {name!r}; known: {', '.join(sorted(known))}, "
                f"{', '.join(sorted(PRESETS))}, nb201:<arch string>"
            )
    return models
