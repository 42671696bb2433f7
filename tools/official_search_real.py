"""Run the real official `EvolutionFinder` (PyPI `ofa`, ofa/tutorial) once and print JSON.

Runs inside a side venv that holds `ofa` installed with --no-deps (tools/bench_search.py makes
it); torchvision and gdown are stubbed (the tutorial package imports it but the search never uses it).
Official-format inputs: Note10 `{r}_lookup_table.yaml` files and the bare-state-dict MLP.

    <side venv>/bin/python tools/official_search_real.py TABLE_DIR PREDICTOR.pth BUDGET SEED GENERATIONS
"""
import importlib.abc
import importlib.machinery
import json
import random
import sys
import time
import types


class _Stub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Any `torchvision[.x]` or `gdown` import (the tutorial package's model-zoo and eval helpers,
    which the search never calls) gets an empty package whose attributes are placeholders."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torchvision", "gdown"):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = types.ModuleType(spec.name)
        mod.__path__ = []
        mod.__getattr__ = lambda attr: type(attr, (), {})
        return mod

    def exec_module(self, module):
        pass


def main() -> None:
    table_dir, pred_path, budget, seed, gens = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5])
    sys.meta_path.insert(0, _Stub())
    import numpy as np
    import torch
    import yaml
    from ofa.tutorial.accuracy_predictor import AccuracyPredictor
    from ofa.tutorial.evolution_finder import EvolutionFinder
    from ofa.tutorial.latency_table import LatencyEstimator, LatencyTable

    torch.set_num_threads(1)
    t_load = time.perf_counter()
    table = LatencyTable.__new__(LatencyTable)       # its __init__ downloads; same object from local files
    table.latency_tables = {}
    for r in (160, 176, 192, 208, 224):
        est = LatencyEstimator.__new__(LatencyEstimator)
        with open(f"{table_dir}/{r}_lookup_table.yaml") as f:   # yaml.load(fp) needs a Loader on PyYAML ≥ 6
            est.lut = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        table.latency_tables[r] = est
    acc = AccuracyPredictor(pretrained=False, device="cpu")
    acc.model.load_state_dict(torch.load(pred_path, map_location="cpu", weights_only=True))
    load_s = time.perf_counter() - t_load
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    finder = EvolutionFinder("note10", budget, table, acc, max_time_budget=gens)
    t0, c0 = time.perf_counter(), time.process_time()
    _, (best_acc, spec, ms) = finder.run_evolution_search()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": secs, "cpu_seconds": cpu, "load_seconds": load_s, "acc": float(best_acc), "ms": float(ms),
                      "arch": {"ks": spec["ks"], "e": spec["e"], "d": spec["d"], "r": spec["r"][0]}}))


if __name__ == "__main__":
    main()
