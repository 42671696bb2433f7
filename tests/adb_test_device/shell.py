"""The `shell:` service's commands, parsed with shlex and run in Python against the sandbox —
never handed to a real shell. Only what ofa_deploy uses: sha256sum, ls, mkdir -p, rm, cat,
getprop, taskset MASK CMD…, chmod, echo, and the benchmark_model and executor_runner binaries."""
from __future__ import annotations

import glob
import hashlib
import shlex
import shutil
from typing import Callable

from .bench import run_benchmark
from .runner import run_executor_runner
from .sandbox import Sandbox

SH = "/system/bin/sh"


class Disconnect(Exception):
    """Raised inside a command to make the device drop off the bus (the 'disconnect' mode)."""


def run_command(line: str, sandbox: Sandbox, emit: Callable[[str], None],
                before_benchmark: Callable[[], None] = lambda: None) -> None:
    """Run one command line, emitting its output lines (stdout and stderr, as adb's raw shell does)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        emit(f"{SH}: syntax error: {exc}")
        return
    argv = [a for arg in argv for a in _expand(arg, sandbox)]
    if argv:
        _dispatch(argv, sandbox, emit, before_benchmark)


def _dispatch(argv, sandbox, emit, before_benchmark) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd == "taskset":
        if len(args) < 2 or not _is_hex(args[0]):
            emit("taskset: usage: taskset [-ap] [mask] [PID | cmd [args...]]")
            return
        return _dispatch(args[1:], sandbox, emit, before_benchmark)
    if (cmd.endswith("benchmark_model") or cmd.endswith("executor_runner")) and "/" in cmd:
        try:
            host = sandbox.host_path(cmd)
        except ValueError:
            host = None
        if host is None or not host.is_file():
            emit(f"{SH}: {cmd}: inaccessible or not found")
            return
        tool = run_executor_runner if cmd.endswith("executor_runner") else run_benchmark
        return tool(args, lambda p: sandbox.host_path(p), emit, before_benchmark)
    handler = _COMMANDS.get(cmd)
    if handler is None:
        emit(f"{SH}: {cmd}: inaccessible or not found")
        return
    handler(args, sandbox, emit)


def _sha256sum(args, sandbox, emit):
    for p in args:
        try:
            emit(f"{hashlib.sha256(sandbox.read_file(p)).hexdigest()}  {p}")
        except (OSError, ValueError):
            emit(f"sha256sum: {p}: No such file or directory")


def _ls(args, sandbox, emit):
    for p in [a for a in args if not a.startswith("-")] or ["."]:
        try:
            host = sandbox.host_path(p)
        except ValueError:
            host = None
        if host is None or not host.exists():
            emit(f"ls: {p}: No such file or directory")
        elif host.is_dir():
            for name in sorted(x.name for x in host.iterdir()):
                emit(name)
        else:
            emit(p)


def _mkdir(args, sandbox, emit):
    for p in [a for a in args if not a.startswith("-")]:
        sandbox.host_path(p).mkdir(parents="-p" in args, exist_ok="-p" in args)


def _rm(args, sandbox, emit):
    for p in [a for a in args if not a.startswith("-")]:
        host = sandbox.host_path(p)
        if host.is_dir() and any(f in args for f in ("-r", "-rf", "-fr")):
            shutil.rmtree(host)
        elif host.exists():
            host.unlink()
        elif not any("f" in a for a in args if a.startswith("-")):
            emit(f"rm: {p}: No such file or directory")


def _cat(args, sandbox, emit):
    for p in args:
        try:
            emit(sandbox.read_file(p).decode(errors="replace").rstrip("\n"))
        except (OSError, ValueError):
            emit(f"cat: {p}: No such file or directory")


def _getprop(args, sandbox, emit):
    if args:
        emit(sandbox.props.get(args[0], ""))
    else:
        for k, v in sorted(sandbox.props.items()):
            emit(f"[{k}]: [{v}]")


def _chmod(args, sandbox, emit):
    mode = args[0] if args else ""
    for p in args[1:]:
        host = sandbox.host_path(p)
        if mode == "+x":
            host.chmod(host.stat().st_mode | 0o111)
        elif mode.isdigit():
            host.chmod(int(mode, 8))


def _echo(args, sandbox, emit):
    emit(" ".join(args))


_COMMANDS = {"sha256sum": _sha256sum, "ls": _ls, "mkdir": _mkdir, "rm": _rm, "cat": _cat,
             "getprop": _getprop, "chmod": _chmod, "echo": _echo}


def _expand(arg: str, sandbox: Sandbox) -> list[str]:
    """Glob-expand a device path as sh would (unmatched patterns stay as written)."""
    if not any(c in arg for c in "*?[") or not arg.startswith("/"):
        return [arg]
    hits = sorted(glob.glob(str(sandbox.root / arg.lstrip("/"))))
    return [sandbox.device_path(h) for h in hits] or [arg]


def _is_hex(s: str) -> bool:
    try:
        return int(s, 16) > 0
    except ValueError:
        return False
