"""`workbench --help` wall time vs `python -c pass`, measured side by side (best of N each).

Target: <= 5x (goal 3x): on a Jetson Nano every 100 ms shows.
"""

from __future__ import annotations

import subprocess
import sys
import time


def best(cmd: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    base = best([sys.executable, "-c", "pass"], n)
    rows = [
        ("workbench --help", [sys.executable, "-m", "workbench", "--help"]),
        ("workbench bench --help", [sys.executable, "-m", "workbench", "bench", "--help"]),
    ]
    worst = 0.0
    print(f"python -c pass: {base * 1000:.1f} ms (best of {n})")
    for name, cmd in rows:
        t = best(cmd, n)
        worst = max(worst, t / base)
        print(f"{name}: {t * 1000:.1f} ms = {t / base:.2f}x")
    print(f"worst ratio {worst:.2f}x (target <= 5x, goal 3x)")
    return 0 if worst <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
