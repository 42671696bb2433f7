"""What a saved Core ML model declares, read without the Core ML framework (so on Linux too):
inputs, outputs, shapes, the ops or layers it runs, the user-defined metadata."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ofa_deploy.deploy.card import CARD_KEY
from ofa_deploy.errors import ValidationError

# spec op/layer names → our layer kinds (ofa_deploy.plugins.shared.trace_layers)
_OP_KIND = {"conv": "conv", "convolution": "conv", "linear": "linear", "innerProduct": "linear",
            "matmul": "linear", "batchedMatmul": "linear"}


def load_spec(path: str | Path):
    """The protobuf spec of an .mlmodel file or .mlpackage folder."""
    import coremltools as ct

    return ct.utils.load_spec(str(path))


def _array(feature) -> dict[str, Any]:
    t = feature.type.multiArrayType
    return {"name": feature.name, "shape": [int(s) for s in t.shape], "dtype": type(t).ArrayDataType.Name(t.dataType)}


def op_counts(spec) -> Counter:
    """How many of each op (ML program, consts excluded) or layer (neural network) the model runs."""
    kind = spec.WhichOneof("Type")
    if kind == "mlProgram":
        fn = spec.mlProgram.functions["main"]
        ops = fn.block_specializations[fn.opset].operations
        return Counter(o.type for o in ops if o.type != "const")
    if kind in ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor"):
        return Counter(layer.WhichOneof("layer") for layer in getattr(spec, kind).layers)
    raise ValidationError(f"Core ML spec holds a {kind!r} model; expected an ML program or a neural network")


def describe(path: str | Path) -> dict[str, Any]:
    """Inputs, outputs, model type, spec version and op counts of a saved model."""
    spec = load_spec(path)
    counts = op_counts(spec)
    by_kind = Counter()
    for op, n in counts.items():
        if op in _OP_KIND:
            by_kind[_OP_KIND[op]] += n
    return {"type": spec.WhichOneof("Type"), "spec_version": int(spec.specificationVersion),
            "inputs": [_array(f) for f in spec.description.input],
            "outputs": [_array(f) for f in spec.description.output],
            "n_ops": int(sum(counts.values())), "conv": by_kind["conv"], "linear": by_kind["linear"],
            "ops": dict(counts)}


def check(info: dict[str, Any], input_shape: tuple[int, ...], n_outputs: int, expected: Counter | None) -> None:
    """Raise ValidationError unless the spec takes `input` of input_shape, gives `logits` with
    n_outputs classes and runs as many convs/linears as the torch module."""
    ins, outs = info["inputs"], info["outputs"]
    if [i["name"] for i in ins] != ["input"] or ins[0]["shape"] != list(input_shape) or ins[0]["dtype"] != "FLOAT32":
        raise ValidationError(f"Core ML inputs are {ins}; expected one FLOAT32 'input' of shape {list(input_shape)}"
                              f" — re-export the model")
    if [o["name"] for o in outs] != ["logits"] or (outs[0]["shape"] and outs[0]["shape"][-1] != n_outputs):
        raise ValidationError(f"Core ML outputs are {outs}; expected one 'logits' with {n_outputs} classes — "
                              f"re-export the model")
    if expected is not None:
        # a linear may become a 1x1 conv, so compare the sum and require every conv to be there
        want, got = expected["conv"] + expected["linear"], info["conv"] + info["linear"]
        if got != want or info["conv"] < expected["conv"]:
            raise ValidationError(f"Core ML model runs {info['conv']} convs + {info['linear']} linears, the torch "
                                  f"module {expected['conv']} + {expected['linear']}: the conversion dropped or "
                                  f"split layers; re-export and inspect the spec")


def read_card(path: str | Path) -> dict[str, Any]:
    """The ofa_deploy model card stored in the model's user-defined metadata."""
    meta = dict(load_spec(path).description.metadata.userDefined)
    return json.loads(meta[CARD_KEY]) if CARD_KEY in meta else {}
