"""TVM targets as JSON dicts: parse a dict, JSON string or .json file into a tvm Target with a
clear error, and tell whether the compiled library can run on this host and in which form it is
exported (a shared library, or a tar of objects/sources when no linker for the target is here)."""
from __future__ import annotations

import platform
from typing import Any

from ofa_deploy.plugins.shared import OptionError, json_option

DEFAULT_TARGET = {"kind": "llvm"}
EXAMPLES = ('{"kind": "llvm", "mcpu": "skylake"}',
            '{"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]}', '{"kind": "c"}')


def parse_target(value: Any = None):
    """(tvm Target, its dict) from a dict, a JSON object string or a .json file; default llvm for
    this host's CPU (its -mcpu, so LLVM uses the vector units it has, e.g. AVX-512)."""
    import tvm

    spec = json_option(host_target() if value is None else value, "TVM target")
    if "kind" not in spec:
        raise OptionError(f"TVM target {spec} has no 'kind'; expected a dict such as {EXAMPLES[0]} or {EXAMPLES[1]}")
    try:
        return tvm.target.Target(spec), spec
    except Exception as exc:  # TVM raises ValueError or its own FFI errors, depending on the field
        first = str(exc).strip().splitlines()[0]
        raise OptionError(f"TVM cannot build target {spec}: {first}; expected e.g. {' or '.join(EXAMPLES)}") from None


def host_target() -> dict[str, Any]:
    """The llvm target for this machine's CPU as LLVM names it (e.g. 'skylake-avx512')."""
    import tvm

    cpu = tvm.target.codegen.llvm_get_system_cpu()
    return {**DEFAULT_TARGET, "mcpu": cpu} if cpu and cpu != "generic" else dict(DEFAULT_TARGET)


def runs_here(spec: dict[str, Any]) -> bool:
    """A CPU llvm target for this machine's architecture (no mtriple, or one naming this arch)."""
    if spec.get("kind") != "llvm":
        return False
    triple = spec.get("mtriple")
    return not triple or triple.split("-")[0] in _host_arch_names()


def _host_arch_names() -> set[str]:
    m = platform.machine().lower()
    return {m, {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)}


def export_form(spec: dict[str, Any], cc: str | None) -> str:
    """'so' when this host (or the given cross compiler `cc`) can link the library; else 'tar':
    object files for llvm cross targets, C sources for the c target."""
    if spec.get("kind") == "c":
        return "tar"
    return "so" if runs_here(spec) or cc else "tar"
