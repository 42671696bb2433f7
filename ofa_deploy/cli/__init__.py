"""`ofa-deploy`: a thin command line over the public API. Each verb group lives in its own
module here and adds its parser through `add_parser(subparsers)`; the command it sets returns an
exit code. Exit codes: 0 ok, 1 failure, 2 bad input (usage, unknown name, infeasible request)."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import OfaDeployError

# verb modules, in --help order; each defines add_parser(subparsers)
VERB_MODULES = ["zoo", "search", "predict", "export", "benchmark", "lut", "train", "demo"]

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ofa-deploy", description=__doc__.splitlines()[0])
    p.add_argument("--verbose", action="store_true", help="show native runtimes' log lines and the traceback of an error")
    p.add_argument("--version", action="version", version=f"%(prog)s {__import__('ofa_deploy').__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    _show_defaults(p)
    return p


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every verb and sub-verb (lut build, …) shows its defaults in --help."""
    for act in parser._actions:
        if isinstance(act, argparse._SubParsersAction):
            for child in act.choices.values():
                child.formatter_class = argparse.ArgumentDefaultsHelpFormatter
                _show_defaults(child)


def _verb_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Option strings of the (sub-)verb being run, so errors can name its flags."""
    opts: list[str] = []
    current = parser
    for word in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            continue
        current = subs[0].choices[word]
    for act in current._actions:
        opts.extend(act.option_strings)
    return opts


def _report(exc: BaseException, parser: argparse.ArgumentParser, argv: list[str], verbose: bool,
            args: argparse.Namespace | None = None, code: int = EXIT_FAIL) -> None:
    """One line on stderr in the CLI's spelling; the traceback only with --verbose; with --json
    also the one JSON document on stdout, status failed."""
    from .common import cli_spelling, print_json

    if verbose:
        import traceback

        traceback.print_exception(exc)
    text = " ".join(str(exc).split()) if not isinstance(exc, OfaDeployError) or "\n" not in str(exc) \
        else str(exc).strip()
    text = cli_spelling(text, _verb_options(parser, argv))
    print(f"error: {text}", file=sys.stderr)
    if getattr(args, "json", False):
        print_json({"status": "failed", "error": text, "error_type": type(exc).__name__, "exit_code": code})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    if verbose:
        argv.remove("--verbose")
    from ..log import configure

    configure(verbose)  # step lines on stdout; native runtimes' logs only with --verbose
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
    except OfaDeployError as exc:  # bad input, named with its fix: exit 2 (a failed validation: 1)
        from ..errors import ValidationError

        code = EXIT_FAIL if isinstance(exc, ValidationError) else EXIT_BAD_INPUT
        _report(exc, parser, argv, verbose, args, code)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug or an environment fault: one line, traceback on demand
        _report(exc, parser, argv, verbose, args, EXIT_FAIL)
        if not verbose:
            print(f"({type(exc).__name__}; rerun with --verbose for the traceback)", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
