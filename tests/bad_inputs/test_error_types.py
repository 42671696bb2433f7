"""Every bad-input error the library and its plugins raise is an errors.py class (so the CLI maps
it to exit 2 in its spelling): no plain ValueError / TypeError / KeyError / FileNotFoundError
raised, except the few listed below that never reach a user."""
import ast
from pathlib import Path

import pytest

from ofa_deploy import errors

REPO = Path(__file__).resolve().parents[2]
PLAIN = {"ValueError", "TypeError", "KeyError", "FileNotFoundError", "LookupError", "IndexError"}
# (file, exception): why it is not a user-facing bad input
ALLOWED = {
    ("ofa_deploy/card.py", "KeyError"): "the mapping protocol of ModelCard.__getitem__",
    ("ofa_deploy/cli/common.py", "ValueError"): "our own JSON status vocabulary (a bug, not an input)",
    ("ofa_deploy/latency/table.py", "ValueError"): "caught at once and re-raised as TableFormatError",
    ("ofa_deploy/latency/residual.py", "ValueError"): "caught by the table loader, re-raised as TableFormatError",
}


def _plain_raises():
    for root in ("ofa_deploy", "backends"):
        for path in sorted((REPO / root).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                        and isinstance(node.exc.func, ast.Name) and node.exc.func.id in PLAIN:
                    yield str(path.relative_to(REPO)), node.exc.func.id, node.lineno


def test_no_plain_builtin_error_is_raised_for_bad_input():
    found = [f"{f}:{line} raises {exc}" for f, exc, line in _plain_raises() if (f, exc) not in ALLOWED]
    assert not found, "use an ofa_deploy.errors class instead:\n" + "\n".join(found)


@pytest.mark.parametrize("cls,base", [(errors.MissingFileError, FileNotFoundError),
                                      (errors.DataNotFoundError, FileNotFoundError),
                                      (errors.BadArgumentError, ValueError), (errors.FileFormatError, ValueError)])
def test_error_classes_keep_the_builtin_base_callers_catch(cls, base):
    assert issubclass(cls, errors.OfaDeployError) and issubclass(cls, base)
