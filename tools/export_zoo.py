"""Export zoo models to ONNX, for measuring them with onnxruntime and checking the ONNX frontend.

    python tools/export_zoo.py OUTDIR [--models a,b|all] [--opset 17] [--batch 1] [--seq-len 128]

Model names: any name of ``estimator.zoo.names()`` (``all`` exports every one of them),
``nb201:<arch string>``, or a decoder preset (``gpt2_small``, ``tiny_llama``; exported in prefill
mode over ``--seq-len`` tokens, outputs the logits and the new KV cache). Uses the TorchScript
exporter (``dynamo=False``): fast, and stable across torch versions for these models.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from estimator.errors import InputError

#: ONNX protobufs above 2 GiB need external data; the zoo exports stay self-contained files.
MAX_EXPORT_BYTES = 2**31

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
        from estimator.zoo.nb201 import parse_arch

        return "nb201-" + "-".join(_NB201_SHORT[op] for op in parse_arch(name[len("nb201:") :]))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _decoder_wrapper(model: Any) -> Any:
    """Flatten (logits, [(k, v), ...]) into one tuple of tensors for the exporter."""
    from torch import nn

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any) -> tuple[Any, ...]:
            logits, present = self.model(input_ids)
            return (logits, *(t for kv in present for t in kv))

    return Flat().eval()


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
        model = _decoder_wrapper(decoders.decoder_module(cfg))
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


def export(name: str, outdir: Path, *, opset: int, batch: int, seq_len: int) -> Path:
    import torch

    model, example, in_names, out_names = build(name, batch, seq_len)
    path = outdir / f"{file_stem(name)}.onnx"
    with warnings.catch_warnings(), torch.no_grad(), _quiet_fds():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            opset_version=opset,
            input_names=in_names,
            output_names=out_names,
            dynamo=False,
        )
    return path


def _model_list(spec: str) -> list[str]:
    """The names in ``spec``, all checked before anything is exported."""
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export zoo models to ONNX files.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--models", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=128, help="prefill tokens for decoders")
    args = parser.parse_args(argv)
    try:
        if args.batch < 1 or args.seq_len < 1:
            raise InputError("--batch and --seq-len must be positive")
        models = _model_list(args.models)
        args.outdir.mkdir(parents=True, exist_ok=True)
        for name in models:
            try:
                path = export(
                    name, args.outdir, opset=args.opset, batch=args.batch, seq_len=args.seq_len
                )
            except InputError:
                raise
            except Exception as exc:  # the exporter's own failure: one line, named model
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise InputError(f"{name}: export failed: {type(exc).__name__}: {first}") from exc
            print(f"{path}\t{path.stat().st_size / 1024:.1f} KiB")
    except (InputError, OSError) as exc:
        print(f"export_zoo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
