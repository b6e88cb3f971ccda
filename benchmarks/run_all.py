"""Run every benchmark and print its figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_devices.py", "bench_login.py", "bench_audit.py", "bench_gateway.py", "bench_compliance.py"]


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        print(f"\n##### {script}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script), *sys.argv[1:]], cwd=HERE)
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
