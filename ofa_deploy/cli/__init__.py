"""`ofa-deploy`: a thin command line over the public API. Each verb group lives in its own
module here and adds its parser through `add_parser(subparsers)`; the command it sets returns an
exit code. Exit codes: 0 ok, 1 failure, 2 bad input (usage, unknown name, infeasible request)."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import OfaDeployError

# verb modules, in --help order; each defines add_parser(subparsers)
VERB_MODULES = ["zoo", "search", "export", "benchmark", "lut", "train", "demo"]

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ofa-deploy", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {__import__('ofa_deploy').__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if getattr(args, "json", False):
            import contextlib

            from . import common

            common.json_stream = sys.stdout
            with contextlib.redirect_stdout(sys.stderr):
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except OfaDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(exc, (LookupError, ValueError)) else EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
