"""What a benchmark ran on, for its report."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _proc_line(file: str, prefix: str) -> str | None:
    """The value of the first line of /proc/<file> starting with ``prefix``, where there is one."""
    try:
        for line in Path("/proc", file).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _proc_line("cpuinfo", "model name") or platform.processor() or platform.machine()


def memory() -> str | None:
    total_kb = _proc_line("meminfo", "MemTotal:")
    return f"{int(total_kb.split()[0]) / 1024 / 1024:.0f} GB" if total_kb else None


def python() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def machine_line() -> str:
    """The processor, cores, memory and Python, in one line."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory() or 'memory unknown'}; {python()}"
