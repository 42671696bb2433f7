"""Timing a TVM library on a remote device through TVM RPC: connect (directly or via a tracker),
upload the library, run the Relax VM's time_evaluator there, return LatencyStats."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ofa_deploy.deploy.base import Artifact, LatencyStats, MeasureSettings
from ofa_deploy.errors import BackendUnavailableError
from ofa_deploy.plugins.shared import OptionError


def connect(options: dict):
    """An RPC session from options rpc_host + rpc_port, or rpc_tracker ('host:port') + rpc_key."""
    from tvm import rpc

    try:
        if options.get("rpc_tracker"):
            host, _, port = str(options["rpc_tracker"]).rpartition(":")
            if not options.get("rpc_key"):
                raise OptionError("rpc_tracker needs rpc_key, the device key the server registered with")
            return rpc.connect_tracker(host, int(port)).request(options["rpc_key"], session_timeout=600)
        return rpc.connect(options["rpc_host"], int(options.get("rpc_port", 9090)), session_timeout=600)
    except OptionError:
        raise
    except Exception as exc:
        where = options.get("rpc_tracker") or f"{options.get('rpc_host')}:{options.get('rpc_port', 9090)}"
        raise BackendUnavailableError(f"cannot reach the TVM RPC server at {where} ({str(exc).splitlines()[0]}); "
                                      f"start one on the device with `python -m tvm.exec.rpc_server --host 0.0.0.0 "
                                      f"--port 9090` and check the address") from None


def where(options: dict) -> str:
    """The device label for LatencyStats."""
    if options.get("rpc_tracker"):
        return f"rpc:{options['rpc_key']}@{options['rpc_tracker']}"
    return f"rpc:{options['rpc_host']}:{options.get('rpc_port', 9090)}"


def measure_remote(artifact: Artifact, settings: MeasureSettings, runtime_version: str) -> LatencyStats:
    """time_evaluator on the remote CPU: `warmup` discarded repeats, then `runs` repeats of one
    call each (TVM's own timer, on the device, so network time is not counted)."""
    import tvm
    from tvm import relax

    if artifact.extra.get("export") != "so":
        raise BackendUnavailableError(f"{artifact.path} is a {artifact.extra.get('export')} archive, not a linked "
                                      f"library; re-export with cc=<cross compiler> so the device can load it")
    session = connect(settings.options)
    session.get_function("runtime.config_threadpool")(1, settings.threads)
    session.upload(str(artifact.path))
    dev = session.cpu()
    vm = relax.VirtualMachine(session.load_module(Path(artifact.path).name), dev)
    x = tvm.runtime.tensor(np.random.default_rng(0).standard_normal(artifact.input_shape).astype(np.float32), dev)
    if settings.warmup:
        vm.time_evaluator("main", dev, number=1, repeat=settings.warmup)(x)
    min_ms = int(settings.min_seconds * 1000 / max(settings.runs, 1))
    result = vm.time_evaluator("main", dev, number=1, repeat=settings.runs, min_repeat_ms=min_ms)(x)
    samples = [r * 1000 for r in result.results]
    return LatencyStats.from_samples(samples, settings, "tvm-rpc", runtime_version, where(settings.options))
