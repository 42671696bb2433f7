"""Which host a latency table was measured on: CPU model and vendor, the ISA flags that change
kernel choice (avx2/avx512*/amx/neon…), core count, and the runtime/exporter versions. A local
table used on a host with a different fingerprint predicts that other host; we warn once."""
from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import lru_cache
from typing import Any

# flags that change which kernels x86/arm runtimes pick (others, e.g. 'fpu', do not matter)
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
             "neon", "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16")
# the fields that must agree for a table to describe this host (versions only for its backend)
HW_FIELDS = ("vendor", "cpu_model", "machine", "isa", "cores")
_EXPORTERS = ("torch", "onnx")


def _cpuinfo() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if ":" in line:
                    k, v = (s.strip() for s in line.split(":", 1))
                    out.setdefault(k, v)
    except OSError:
        pass
    return out


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return ""


@lru_cache(maxsize=1)
def _hardware() -> dict[str, Any]:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    if platform.machine().lower() in ("arm64", "aarch64") and not flags:
        flags.add("neon")   # every 64-bit arm has it (macOS has no /proc/cpuinfo)
    model = info.get("model name") or info.get("Processor") or info.get("CPU part") or platform.processor() \
        or platform.machine()
    return {"vendor": info.get("vendor_id") or info.get("CPU implementer") or platform.system(),
            "cpu_model": " ".join(model.split()), "machine": platform.machine(),
            "isa": sorted(f for f in ISA_FLAGS if f in flags),
            # the machine's cores, not this process's affinity: runtimes (OpenVINO's CPU pinning) narrow
            # the affinity of a process that used them, and children inherit it — same host either way
            "cores": os.cpu_count()}


def host_fingerprint(backend: str | None = None) -> dict[str, Any]:
    """This host's fingerprint: hardware fields plus runtime/exporter versions (the backend's
    `versions()` when `backend` is given and installed) and a short `id` over the hardware."""
    fp = dict(_hardware())
    versions = {d: v for d in _EXPORTERS if (v := _version(d))}
    if backend:
        try:
            from ..deploy import get_backend

            versions.update({k: str(v) for k, v in get_backend(backend).versions().items()})
        except Exception:   # a backend not installed here: the hardware still identifies the host
            pass
    fp["versions"] = versions
    fp["id"] = fingerprint_id(fp)
    return fp


def fingerprint_id(fp: dict[str, Any]) -> str:
    """12 hex digits over the hardware fields only (versions change more often than hosts)."""
    hw = {k: fp.get(k) for k in HW_FIELDS}
    return hashlib.sha256(json.dumps(hw, sort_keys=True).encode()).hexdigest()[:12]


def fingerprint_diff(recorded: dict[str, Any], here: dict[str, Any] | None = None) -> list[str]:
    """Human lines naming the hardware fields that differ ([] when the hosts match)."""
    here = here or host_fingerprint()
    return [f"{k}: table {recorded.get(k)!r}, here {here.get(k)!r}" for k in HW_FIELDS
            if k in recorded and recorded.get(k) != here.get(k)]


def describe_host(fp: dict[str, Any] | None) -> str:
    """One line for a model card: 'Intel(R) Xeon(R) … (x86_64, 2 cores, avx2 avx512f …) [id]'."""
    if not fp:
        return "unknown host (the table records no fingerprint)"
    isa = " ".join(f for f in fp.get("isa", []) if f.startswith(("avx", "amx", "neon", "sve")))
    return f"{fp.get('cpu_model', '?')} ({fp.get('machine', '?')}, {fp.get('cores', '?')} cores" \
           f"{', ' + isa if isa else ''}) [{fp.get('id') or fingerprint_id(fp)}]"


def table_host(table) -> str:
    """Which host a table's prediction is for, as a card line (H4's card calls this)."""
    prov = getattr(table, "provenance", {}) or {}
    if prov.get("adaptation", {}).get("fingerprint"):
        return describe_host(prov["adaptation"]["fingerprint"]) + " (adapted here)"
    return describe_host(prov.get("fingerprint"))
