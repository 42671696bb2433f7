"""Search: vectorized constrained evolution (official defaults), constraints with feasibility
checks, Pareto fronts and their plot.

`ofa_deploy.search(...)` is the function `search.api.search`. Importing this package also binds
the name `ofa_deploy.search` to the package itself (Python does that for submodules), so the
package is made callable and forwards to the function: both spellings work."""
import sys
import types

from .api import evaluate_archs, search
from .constraints import Constraint, check_feasible, smallest_value
from .evolution import Evolution, EvolutionConfig, evolve
from .pareto import plot_front
from .result import ParetoResult, SearchResult

__all__ = ["search", "evaluate_archs", "Constraint", "check_feasible", "smallest_value", "Evolution",
           "EvolutionConfig", "evolve", "plot_front", "ParetoResult", "SearchResult"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
