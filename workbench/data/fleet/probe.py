# The fleet probe: run on a host as `python3 -c <this file> WORKBENCH_HOME` by check.yml and setup.yml (Python 3
# standard library only: the workbench may not be installed yet). Prints one JSON object: the host's Python, its
# free disk under WORKBENCH_HOME (GiB), and, when the workbench is installed there (WORKBENCH_HOME/src/.venv), its
# version and what its own detection says (`workbench profiles detect --json`: profile, L4T, JetPack, TensorRT).
import json
import os
import platform
import shutil
import subprocess
import sys

home = os.path.abspath(os.path.expanduser(sys.argv[1]))
out = {"python": platform.python_version(), "arch": platform.machine(), "workbench_home": home}
probe = home
while not os.path.isdir(probe) and os.path.dirname(probe) != probe:
    probe = os.path.dirname(probe)
try:
    out["free_disk_gib"] = round(shutil.disk_usage(probe).free / 2**30, 2)
except OSError as exc:
    out["probe_error"] = "free disk: " + str(exc)
marker = os.path.join(home, "src", ".workbench-installed")
if os.path.isfile(marker):
    with open(marker, encoding="utf-8", errors="replace") as f:
        out["installed"] = f.read().strip()[:200]
wb = os.path.join(home, "src", ".venv", "bin", "workbench")
env = dict(os.environ, WORKBENCH_HOME=home)
if os.access(wb, os.X_OK):
    try:
        v = subprocess.run([wb, "--version"], capture_output=True, text=True, env=env, timeout=120, cwd=home)
        out["workbench"] = v.stdout.split()[-1] if v.returncode == 0 and v.stdout.split() else None
        d = subprocess.run(
            [wb, "profiles", "detect", "--json"], capture_output=True, text=True, env=env, timeout=300, cwd=home
        )
        det = json.loads(d.stdout) if d.returncode == 0 else {}
        out["profile"] = det.get("profile_name")
        out["l4t"] = det.get("l4t")
        out["jetpack"] = det.get("jetpack")
        line = det.get("tensorrt") or {}
        installed = line.get("installed") or {}
        out["tensorrt"] = installed.get("version")
        if d.returncode != 0:
            out["probe_error"] = "profiles detect: " + (d.stderr.strip().splitlines() or ["failed"])[-1]
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        out["probe_error"] = "workbench: " + str(exc)
else:
    try:  # not installed: the L4T release line still says whether this is a Jetson
        with open("/etc/nv_tegra_release", encoding="utf-8", errors="replace") as f:
            first = f.readline()
        if "R" in first and "REVISION:" in first:
            major = first.split("R", 1)[1].split()[0]
            rev = first.split("REVISION:", 1)[1].split(",")[0].strip()
            out["l4t"] = major + "." + rev
    except OSError:
        pass
print(json.dumps(out))
