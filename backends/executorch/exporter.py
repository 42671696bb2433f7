"""torch module → ExecuTorch .pte, XNNPACK-delegated: torch.export → to_edge_transform_and_lower
(XnnpackPartitioner) → to_executorch. int8 goes through pt2e with the XNNPACK quantizer and the
calibration batches first; fp16 converts the module's weights and lets XNNPACK run fp16 kernels."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ofa_deploy.fileio import atomic_write_bytes


def to_pte(model, example_input, path: Path, precision: str = "fp32",
           calibration: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Write the .pte atomically; return what to keep in the artifact's `extra` (delegation share)."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    model = model.eval()
    example = example_input.float()
    if precision == "fp16":
        model, example = _fp16_copy(model), example.half()
    with torch.no_grad():
        program = torch.export.export(model, (example,), strict=False)
        if precision == "int8":
            program = torch.export.export(_quantize(program.module(), example, calibration), (example,), strict=False)
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    share = delegation(edge)
    atomic_write_bytes(path, edge.to_executorch().buffer)
    return share


def to_pte_methods(items, path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Several fp32 (model, example_input) pairs → one .pte with one method each (a multi-method
    program: to_edge_transform_and_lower takes a dict of ExportedPrograms and lowers them in one
    pass); return (method name, delegation share) per pair, in order."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    names = [f"m{i}" for i in range(len(items))]
    with torch.no_grad():
        programs = {n: torch.export.export(m.eval(), (x.float(),), strict=False) for n, (m, x) in zip(names, items)}
        edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()])
    shares = [delegation(edge, n) for n in names]
    atomic_write_bytes(path, edge.to_executorch().buffer)
    return list(zip(names, shares))


def delegation(edge, method: str = "forward") -> dict[str, Any]:
    """How much of the lowered graph XNNPACK took: delegated vs total op nodes, and the ops left
    to ExecuTorch's portable kernels."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge.exported_program(method).graph_module)
    delegated, left = int(info.num_delegated_nodes), int(info.num_non_delegated_nodes)
    not_delegated = sorted(op for op, c in info.delegation_by_operator.items() if c.non_delegated)
    return {"delegate": "XnnpackBackend", "delegated_subgraphs": int(info.num_delegated_subgraphs),
            "delegated_ops": delegated, "total_ops": delegated + left,
            "delegated_share": round(delegated / max(delegated + left, 1), 4), "not_delegated": not_delegated}


def _quantize(module, example, calibration):
    """Static int8 (per-channel symmetric weights, calibrated activations) with the XNNPACK quantizer."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(module, quantizer)
    batch = example.shape[0]
    for arr in calibration or []:
        for i in range(0, len(arr) - batch + 1, batch):   # the graph has the example's static batch
            prepared(torch.from_numpy(np.ascontiguousarray(arr[i:i + batch])))
    return convert_pt2e(prepared)


def _fp16_copy(model):
    import copy

    return copy.deepcopy(model).half()
