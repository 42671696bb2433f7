"""The baseline for tools/bench_search.py: the official OFA tutorial's search, re-implemented by
us as it works — archs are dicts, every step is a per-sample Python loop, latency is summed from
the LUT one op key at a time, features are built per sample, and a child that breaks the
constraint is re-drawn (deep copy, mutate, re-check) until it fits.

Same behaviour as the official EvolutionFinder (population 100, 500 generations, parent ratio
0.25, mutation ratio 0.5, per-block mutation probability 0.1, resolution 0.5), written from its
description in /work/shared/reference/ofa_official_facts.md; this is not the official code."""
from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import torch
import yaml


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ArchManager:
    """Random archs of the OFA-MobileNetV3 space as dicts {'ks', 'e', 'd', 'r': [r]}."""

    def __init__(self, resolutions=(160, 176, 192, 208, 224)):
        self.num_blocks, self.num_stages = 20, 5
        self.kernel_sizes, self.expand_ratios, self.depths = [3, 5, 7], [3, 4, 6], [2, 3, 4]
        self.resolutions = list(resolutions)

    def random_sample(self) -> dict[str, Any]:
        return {"wid": None, "ks": [random.choice(self.kernel_sizes) for _ in range(self.num_blocks)],
                "e": [random.choice(self.expand_ratios) for _ in range(self.num_blocks)],
                "d": [random.choice(self.depths) for _ in range(self.num_stages)],
                "r": [random.choice(self.resolutions)]}

    def random_resample(self, sample, i):
        sample["ks"][i] = random.choice(self.kernel_sizes)
        sample["e"][i] = random.choice(self.expand_ratios)

    def random_resample_depth(self, sample, i):
        sample["d"][i] = random.choice(self.depths)

    def random_resample_resolution(self, sample):
        sample["r"][0] = random.choice(self.resolutions)


class LutLatency:
    """Latency of a w1.2-space arch: the sum of LUT entries looked up by op key, per sample."""

    def __init__(self, yaml_paths: dict[int, str], widths=(24, 32, 48, 96, 136, 192, 1152, 1536), n_classes=1000):
        self.lut = {r: yaml.safe_load(open(p)) for r, p in yaml_paths.items()}
        self.widths, self.n_classes = widths, n_classes

    def query(self, r, kind, cin, cout, mid=None, ks=None, stride=None, idskip=None, se=None, hs=None):
        key = f"{kind}-input:{'x'.join(map(str, cin))}-output:{'x'.join(map(str, cout))}"
        if kind == "expanded_conv":
            key += f"-expand:{mid}-kernel:{ks}-stride:{stride}-idskip:{idskip}-se:{se}-hs:{hs}"
        return self.lut[r][key]["mean"]

    def predict_efficiency(self, spec) -> float:
        r = spec["r"][0]
        w = self.widths
        f = (r + 1) // 2
        ms = self.query(r, "Conv", [r, r, 3], [f, f, w[0]])
        ms += self.query(r, "expanded_conv", [f, f, w[0]], [f, f, w[0]], w[0], 3, 1, 1, 0, 0)
        cin = w[0]
        for s, (cout, stride, act, se) in enumerate(zip(w[1:6], [2, 2, 2, 1, 2],
                                                        ["relu", "relu", "h_swish", "h_swish", "h_swish"],
                                                        [0, 1, 0, 1, 1])):
            for j in range(spec["d"][s]):
                i = s * 4 + j
                st = stride if j == 0 else 1
                fo = (f - 1) // st + 1
                mid = make_divisible(round(cin * spec["e"][i]), 8)
                ms += self.query(r, "expanded_conv", [f, f, cin], [fo, fo, cout], mid, spec["ks"][i], st,
                                 int(j > 0), se, int(act == "h_swish"))
                f, cin = fo, cout
        ms += self.query(r, "Conv_1", [f, f, cin], [f, f, w[6]])
        ms += self.query(r, "AvgPool2D", [f, f, w[6]], [1, 1, w[6]])
        ms += self.query(r, "Conv_2", [1, 1, w[6]], [1, 1, w[7]])
        ms += self.query(r, "Logits", [1, 1, w[7]], [self.n_classes])
        return ms


class MlpAccuracy:
    """The official predictor's per-sample feature building, then one batched forward."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    @staticmethod
    def spec2feats(ks_list, ex_list, d_list, r) -> torch.Tensor:
        start, end = 0, 4
        for d in d_list:
            for j in range(start + d, end):
                ks_list[j] = 0
                ex_list[j] = 0
            start += 4
            end += 4
        ks_onehot, ex_onehot, r_onehot = [0] * 60, [0] * 60, [0] * 8
        ks_map, ex_map = {3: 0, 5: 1, 7: 2}, {3: 0, 4: 1, 6: 2}
        for i in range(20):
            if ks_list[i] != 0:
                ks_onehot[i * 3 + ks_map[ks_list[i]]] = 1
            if ex_list[i] != 0:
                ex_onehot[i * 3 + ex_map[ex_list[i]]] = 1
        r_onehot[(r - 112) // 16] = 1
        return torch.Tensor(ks_onehot + ex_onehot + r_onehot)

    @torch.no_grad()
    def predict_accuracy(self, population) -> torch.Tensor:
        feats = [self.spec2feats(copy.deepcopy(s["ks"]), copy.deepcopy(s["e"]), copy.deepcopy(s["d"]),
                                 copy.deepcopy(s["r"])[0]).reshape(1, -1) for s in population]
        return self.model(torch.cat(feats, 0)).cpu()


class EvolutionFinder:
    """The official loop: rejection-sampled population, top parents, mutation + crossover children."""

    def __init__(self, constraint, latency: LutLatency, accuracy: MlpAccuracy, arch_manager: ArchManager,
                 population_size=100, max_time_budget=500, parent_ratio=0.25, mutation_ratio=0.5,
                 mutate_prob=0.1, resolution_mutate_prob=0.5):
        self.constraint, self.latency, self.accuracy, self.arch = constraint, latency, accuracy, arch_manager
        self.population_size, self.max_time_budget = population_size, max_time_budget
        self.parent_ratio, self.mutation_ratio = parent_ratio, mutation_ratio
        self.mutate_prob, self.resolution_mutate_prob = mutate_prob, resolution_mutate_prob

    def random_sample(self):
        while True:
            sample = self.arch.random_sample()
            eff = self.latency.predict_efficiency(sample)
            if eff <= self.constraint:
                return sample, eff

    def mutate_sample(self, sample):
        while True:
            new = copy.deepcopy(sample)
            if random.random() < self.resolution_mutate_prob:
                self.arch.random_resample_resolution(new)
            for i in range(self.arch.num_blocks):
                if random.random() < self.mutate_prob:
                    self.arch.random_resample(new, i)
            for i in range(self.arch.num_stages):
                if random.random() < self.mutate_prob:
                    self.arch.random_resample_depth(new, i)
            eff = self.latency.predict_efficiency(new)
            if eff <= self.constraint:
                return new, eff

    def crossover_sample(self, s1, s2):
        while True:
            new = copy.deepcopy(s1)
            for key in new:
                if not isinstance(new[key], list):
                    continue
                for i in range(len(new[key])):
                    new[key][i] = random.choice([s1[key][i], s2[key][i]])
            eff = self.latency.predict_efficiency(new)
            if eff <= self.constraint:
                return new, eff

    def run_evolution_search(self):
        n_mut = int(round(self.mutation_ratio * self.population_size))
        n_par = int(round(self.parent_ratio * self.population_size))
        best_valids, best_info, population = [-100], None, []
        child_pool, eff_pool = [], []
        for _ in range(self.population_size):
            s, e = self.random_sample()
            child_pool.append(s)
            eff_pool.append(e)
        accs = self.accuracy.predict_accuracy(child_pool)
        for i in range(self.population_size):
            population.append((accs[i].item(), child_pool[i], eff_pool[i]))
        for _ in range(self.max_time_budget):
            parents = sorted(population, key=lambda x: x[0])[::-1][:n_par]
            acc = parents[0][0]
            if acc > best_valids[-1]:
                best_valids.append(acc)
                best_info = parents[0]
            else:
                best_valids.append(best_valids[-1])
            population, child_pool, eff_pool = parents, [], []
            for _ in range(n_mut):
                s, e = self.mutate_sample(population[np.random.randint(n_par)][1])
                child_pool.append(s)
                eff_pool.append(e)
            for _ in range(self.population_size - n_mut):
                s, e = self.crossover_sample(population[np.random.randint(n_par)][1],
                                             population[np.random.randint(n_par)][1])
                child_pool.append(s)
                eff_pool.append(e)
            accs = self.accuracy.predict_accuracy(child_pool)
            for i in range(self.population_size):
                population.append((accs[i].item(), child_pool[i], eff_pool[i]))
        return best_valids, best_info
