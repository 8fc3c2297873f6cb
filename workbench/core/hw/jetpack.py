"""Which TensorRT line (8, 10 or 11) applies on this device, and why: the board, its L4T / JetPack release and the
TensorRT actually installed, never the board alone.

TensorRT 11 removed the precision builder flags (FP16/INT8/BF16/FP8) and the INT8 calibrators: its networks are
strongly typed, so precision comes from the ONNX (an FP16 copy, a Q/DQ model). TensorRT ≤ 10 keeps the flag path. The
line decides which of the two a build takes, so it must be the line that is really there.

Facts read (all under a filesystem ``root``, injectable for tests; nothing is imported and no program is run —
``trtexec --version`` is deliberately not used, it can take seconds and needs the GPU driver):

1. L4T: ``<root>/etc/nv_tegra_release`` (through :func:`workbench.core.hw.detect.read_l4t`), else the version of the
   installed ``nvidia-l4t-core`` package (e.g. ``38.4.0-20251230160601``: a Thor record published in a public
   environment report, also the tegra-exporter header in shared fixtures tegrastats/thor-jp7-r384-*.log).
2. Package records: ``<root>/var/lib/dpkg/status`` (Debian's deb-status(5) format: stanzas of ``Field: value``
   lines separated by a blank line; only packages whose ``Status`` ends in ``installed`` count). Read line by line,
   keeping only the packages below: ``nvidia-jetpack`` (the JetPack release, e.g. ``6.2.2+b24`` on L4T R36.5.0 in a
   published board record), ``nvidia-l4t-core``, and TensorRT's ``python3-libnvinfer``, ``tensorrt``,
   ``libnvinfer-bin`` (trtexec) and ``libnvinfer<N>`` (e.g. ``libnvinfer10 10.3.0.30-1+cuda12.5`` on JetPack 6.x, many
   published records; ``libnvinfer11 11.0.0.114-1+cuda13.2`` from NVIDIA's CUDA apt repository).
3. The ``tensorrt`` Python package of this interpreter (only when ``root`` is ``/``: a fake root's packages are not
   this Python's): the ``__version__ = "…"`` literal in the ``tensorrt/__init__.py`` that ``import tensorrt`` would
   load (located with ``importlib.util.find_spec``, which imports nothing; TensorRT's packaging writes the version
   there), else the installed distribution's metadata (``tensorrt``, ``tensorrt-cu13``, ``tensorrt-cu12``,
   ``tensorrt-cu11``). The Python package is what the workbench's builder imports, so it wins over package records.

NVIDIA's documented JetPack ↔ L4T ↔ TensorRT facts used (:data:`JETPACK_BY_L4T`, :func:`supported_lines`):

- JetPack 6.x = L4T R36 ships TensorRT 10.3 (Torch-TensorRT "JetPack 6.1" page: CUDA 12.6, TensorRT 10.3; JetPack
  6.2.2 = L4T R36.5.0 with libnvinfer10 10.3.0.30 in a published board record). "Jetson Orin on NVIDIA JetPack 6.x is
  not supported in TensorRT 11.4.1. Those deployments must remain on a TensorRT 10.x release" (TensorRT 11.4.1
  "Migrating TensorRT from 10.x to 11.x on Jetson/JetPack" and "Working with DLA").
- JetPack 7.0 = Jetson Linux 38.2 / 38.2.1 (NVIDIA "JetPack 7.0 with Jetson Linux 38.2/38.2.1" downloads page);
  TensorRT 10.13.3 on AGX Thor with JetPack 7.0 / L4T 38.2.2 (shared fixtures trtexec/agx-orin-32gb-and-thor-*.log).
  JetPack 7.1 = Jetson Linux 38.4 (NVIDIA "JetPack 7.1 with Jetson Linux 38.4" page; Thor only, the 38.4 guide sends
  Orin users to 36.4.4). Its TensorRT minor is not in the sources we read; that it is a 10.x follows from TensorRT
  11.2.1 / 11.3.0's Jetson pages ("NVIDIA JetPack is not supported … remain on a TensorRT 10.x release").
- JetPack 7.2 = L4T R39.2 (jetson-stats test "Jetson AGX Orin Developer Kit running JetPack 7.2 (L4T R39.2)", shared
  fixtures tegrastats/agx-orin-64gb-jp72-*.log; NVIDIA's JetPack page links the r39.2 developer guide); JetPack 7.2.1
  = L4T r39.2.1 (shared fixtures nvidia-smi/jetson-nvidia-smi-outputs.txt, entry 8). The L4T release of JetPack 7.2.2
  is NOT in the sources we read (R39.2.2 would follow the pattern, but it is not documented), so 7.2.2 is only
  recognised from the ``nvidia-jetpack`` package record.
- "TensorRT 11.4.1 supports NVIDIA JetPack 7.2.2 or later on Jetson AGX Orin and Jetson Thor"; DLA returns on Jetson
  AGX Orin only, JetPack 7.2.2 or later, and "DLA builds on NVIDIA Jetson AGX Orin use strongly typed networks";
  "Jetson Thor has no DLA"; "DLA was unavailable in TensorRT 11.0 through 11.3, and TensorRT 11.4.0 supported DLA
  only on Windows on ARM" (TensorRT 11.4.1 release notes, Jetson migration page, "Working with DLA"). The 11.4.1 pages
  name only Jetson AGX Orin and Thor: whether Orin NX / Orin Nano get TensorRT 11 is not documented, so for them the
  supported line stays 10 (a TensorRT 11 found there is reported, with a warning).
- JetPack 5 ships TensorRT 8.5 and JetPack 4.6 TensorRT 8.0/8.2 (the bundled profiles' ``device.tensorrt`` lists and
  their sources); older JetPack 4 releases TensorRT 7 (NVIDIA's JetPack 4.4-4.5 component tables).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DPKG_STATUS = "var/lib/dpkg/status"  # relative to the filesystem root

# L4T major -> JetPack major. Issue 2 gives 32/35/36/38+; 28, 31 and 34 come from jetson-stats'
# jtop/core/jetson_variables.py NVIDIA_JETPACK table (28.x = JetPack 3.x, 31.x = 4.0/4.1.1,
# 34.x = 5.0 developer previews). R39 (JetPack 7.2) is JetPack 7 too (see JETPACK_BY_L4T).
_JETPACK_BY_L4T_MAJOR = {28: "3", 31: "4", 32: "4", 34: "5", 35: "5", 36: "6"}

# Jetson Linux (L4T) release -> JetPack release, only where a source names the pair (see the module docstring).
# Keys are L4T releases without a trailing ".0" patch ("38.4" for R38 REVISION 4.0).
JETPACK_BY_L4T: dict[str, str] = {
    "36.3": "6.0",  # Astute-Systems BSP release table citing NVIDIA's JetPack archive: 36.3 = 6.0, 36.4 = 6.1,
    "36.4": "6.1",  # 36.4.3 = 6.2, 36.4.4 = 6.2.1
    "36.4.3": "6.2",
    "36.4.4": "6.2.1",
    "36.5": "6.2.2",  # published board record: L4T R36.5.0, nvidia-jetpack 6.2.2+b24
    "38.2": "7.0",  # NVIDIA "JetPack 7.0 with Jetson Linux 38.2/38.2.1"
    "38.2.1": "7.0",
    "38.2.2": "7.0",  # shared fixtures trtexec: "AGX Thor, JetPack 7.0 / L4T 38.2.2"
    "38.4": "7.1",  # NVIDIA "JetPack 7.1 with Jetson Linux 38.4"
    "39.2": "7.2",  # jetson-stats test comment "JetPack 7.2 (L4T R39.2)"
    "39.2.1": "7.2.1",  # intelligence-per-watt issue 40: "jetpack: 7.2.1 / L4T r39.2.1"
}

# First TensorRT 11 release that supports JetPack at all (TensorRT 11.4.1 release notes), and the first JetPack it
# supports (same source).
TRT11_JETSON_MIN = (11, 4, 1)
JETPACK_FOR_TRT11 = (7, 2, 2)

# Python distributions that install the ``tensorrt`` module (pip: "tensorrt" and its per-CUDA wheels).
PY_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")

_LIBNVINFER = re.compile(r"^libnvinfer(\d+)$")
_WANTED = frozenset({"nvidia-jetpack", "nvidia-l4t-core", "python3-libnvinfer", "tensorrt", "libnvinfer-bin"})
_PY_VERSION = re.compile(r"""^__version__\s*=\s*["']([0-9][0-9A-Za-z.+-]*)["']""", re.MULTILINE)
_LEADING_VERSION = re.compile(r"^(?:\d+:)?(\d+(?:\.\d+)*)")

# Board families by device-tree compatible / model (module part numbers from jetson-stats MODULE_NAME_TABLE, as the
# bundled profiles cite: p3701 = AGX Orin, p3767 = Orin NX / Orin Nano, p3834 / tegra264 = Thor).
AGX_ORIN, ORIN, THOR, OTHER = "agx-orin", "orin", "thor", "other"
_FAMILY_NAMES = {AGX_ORIN: "Jetson AGX Orin", ORIN: "Jetson Orin (NX / Nano)", THOR: "Jetson Thor"}


def jetpack_for_l4t(major: int) -> str | None:
    """JetPack major version for an L4T major (R38 and later are JetPack 7); None if unknown."""
    if major >= 38:
        return "7"
    return _JETPACK_BY_L4T_MAJOR.get(major)


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """The leading dotted numbers of a version string as ints ("10.3.0.30-1+cuda12.5" -> (10, 3, 0, 30),
    "6.2.2+b24" -> (6, 2, 2), "1:11.4.1" -> (11, 4, 1): a Debian epoch is dropped); None when it starts with none."""
    if not text:
        return None
    m = _LEADING_VERSION.match(text.strip())
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def _dotted(v: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in v)


def _short_l4t(l4t: str) -> str:
    """ "38.4.0" -> "38.4" (the table's keys; a ".0" patch adds nothing), "36.4.3" unchanged."""
    parts = l4t.split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


# ------------------------------------------------------------------------------------------------ package records


def parse_dpkg_status(lines: Iterable[str], keep: Callable[[str], bool] | None = None) -> dict[str, str]:
    """``{package: version}`` of the *installed* packages in dpkg status text (deb-status(5): stanzas of
    ``Field: value`` lines, continuation lines start with a space, stanzas end at a blank line; a package counts when
    its ``Status`` field's last word is ``installed``). ``keep(name)`` limits which packages are remembered (all when
    None). Malformed stanzas are skipped, never raised on."""
    out: dict[str, str] = {}
    fields: dict[str, str] = {}

    def flush() -> None:
        name, version, status = fields.get("package"), fields.get("version"), fields.get("status", "")
        if name and version and status.split()[-1:] == ["installed"] and (keep is None or keep(name)):
            out[name] = version
        fields.clear()

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            continue
        if line[0] in " \t":
            continue  # continuation of a long field (Description, Conffiles): never one we read
        key, sep, value = line.partition(":")
        if sep and key.lower() in ("package", "version", "status"):
            fields[key.lower()] = value.strip()
    flush()
    return out


def _wanted(name: str) -> bool:
    return name in _WANTED or _LIBNVINFER.match(name) is not None


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            yield from f
    except OSError:
        return


def read_packages(root: Path) -> dict[str, str]:
    """The JetPack / L4T / TensorRT package records (see the module docstring) installed under ``root``, as
    ``{package: version}``; {} when ``<root>/var/lib/dpkg/status`` is missing or unreadable (not a Debian system, a
    container without dpkg). The file is streamed, not loaded (it is several MB on a JetPack install)."""
    return parse_dpkg_status(_lines(Path(root) / DPKG_STATUS), keep=_wanted)


# ------------------------------------------------------------------------------------------------ installed TensorRT


@dataclass(frozen=True)
class TensorRTInstall:
    """The TensorRT found: ``version`` as its source spells it without packaging suffixes ("11.4.1",
    "10.3.0.30"); ``source`` says where ("Python package <path>", "dpkg libnvinfer10"); ``others``: other records
    naming a different release ("dpkg libnvinfer10 10.9.0.34"), shown so a mixed install is visible."""

    version: str
    source: str
    others: tuple[str, ...] = ()

    @property
    def major(self) -> int:
        v = version_tuple(self.version)
        return v[0] if v else 0

    @property
    def release(self) -> tuple[int, ...]:
        """The version as ints, e.g. (11, 4, 1)."""
        return version_tuple(self.version) or (0,)


def python_tensorrt(
    find_spec: Callable[[str], Any] = importlib.util.find_spec,
    dist_version: Callable[[str], str] = importlib.metadata.version,
) -> tuple[str, str] | None:
    """``(version, source)`` of the ``tensorrt`` module this Python would import, without importing it: the
    ``__version__`` literal of its ``__init__.py``, else a distribution's metadata (:data:`PY_DISTS`); None when
    there is none. The callables are seams for tests."""
    try:
        spec = find_spec("tensorrt")
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if origin and str(origin).endswith(".py"):
        try:
            head = Path(origin).read_text(encoding="utf-8", errors="replace")[:65536]
        except OSError:
            head = ""
        m = _PY_VERSION.search(head)
        if m and version_tuple(m.group(1)):
            return m.group(1), f"Python package {origin}"
    for dist in PY_DISTS:
        try:
            v = dist_version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        except Exception:  # noqa: BLE001 - a broken dist-info must not break detection
            continue
        if v and version_tuple(v):
            return v, f"Python distribution {dist}"
    return None


def _dpkg_tensorrt(packages: dict[str, str]) -> list[tuple[str, str]]:
    """``[(version, "dpkg <package>")]`` for the TensorRT records, most telling first: the Python binding's package,
    the ``tensorrt`` meta package, trtexec's package, then ``libnvinfer<N>`` from the highest N."""
    order = ["python3-libnvinfer", "tensorrt", "libnvinfer-bin"]
    libs = sorted((n for n in packages if _LIBNVINFER.match(n)), key=lambda n: -int(_LIBNVINFER.match(n).group(1)))
    out = []
    for name in order + libs:
        v = version_tuple(packages.get(name))
        if v:
            out.append((_dotted(v), f"dpkg {name}"))
    return out


def installed_tensorrt(
    root: Path = Path("/"),
    *,
    packages: dict[str, str] | None = None,
    python: Callable[[], tuple[str, str] | None] | None = None,
) -> TensorRTInstall | None:
    """The TensorRT installed under ``root``: this Python's ``tensorrt`` package (only when ``root`` is ``/``, or
    ``python`` is given) first, then the dpkg records; None when neither has one. ``packages``: the records already
    read by :func:`read_packages` (read here when None)."""
    root = Path(root)
    if packages is None:
        packages = read_packages(root)
    found: list[tuple[str, str]] = []
    if python is None and root.resolve() == Path("/").resolve():
        python = python_tensorrt
    if python is not None:
        hit = python()
        if hit:
            found.append(hit)
    found.extend(_dpkg_tensorrt(packages))
    if not found:
        return None
    version, source = found[0]
    chosen = version_tuple(version)
    others = tuple(f"{s} {v}" for v, s in found[1:] if (version_tuple(v) or ())[:3] != (chosen or ())[:3])
    return TensorRTInstall(version, source, others)


# ------------------------------------------------------------------------------------------------ JetPack release


@dataclass(frozen=True)
class JetsonRelease:
    """L4T and JetPack of a Jetson. ``l4t``: "39.2.1" (None when unknown); ``jetpack``: the release as exactly as
    known ("7.2.2", or only the major "7"); ``source``: where the JetPack release came from."""

    l4t: str | None
    jetpack: str | None
    source: str

    @property
    def jetpack_release(self) -> tuple[int, ...] | None:
        return version_tuple(self.jetpack)

    @property
    def exact(self) -> bool:
        """Whether the JetPack point release is known (not only its major)."""
        v = self.jetpack_release
        return v is not None and len(v) >= 2


def jetpack_for_l4t_release(l4t: str | None) -> str | None:
    """The JetPack release NVIDIA pairs with this L4T release (:data:`JETPACK_BY_L4T`), e.g. "39.2.1" -> "7.2.1";
    None when the pair is not documented in our sources."""
    if not l4t:
        return None
    return JETPACK_BY_L4T.get(_short_l4t(l4t))


def jetson_release(l4t: str | None, jetpack_major: str | None, packages: dict[str, str]) -> JetsonRelease:
    """The L4T / JetPack release from the L4T release file's values (``l4t``, ``jetpack_major`` as
    :func:`workbench.core.hw.detect.read_l4t` gives them) and the package records: ``nvidia-jetpack``'s version is
    the JetPack release itself; otherwise the documented L4T pair; otherwise the major only."""
    core = version_tuple(packages.get("nvidia-l4t-core"))
    if l4t is None and core and len(core) >= 2:
        l4t = _dotted(core[:3])
    jp_pkg = version_tuple(packages.get("nvidia-jetpack"))
    if jp_pkg:
        return JetsonRelease(l4t, _dotted(jp_pkg), f"dpkg nvidia-jetpack {packages['nvidia-jetpack']}")
    paired = jetpack_for_l4t_release(l4t)
    if paired:
        return JetsonRelease(l4t, paired, f"L4T R{_short_l4t(l4t or '')} = JetPack {paired} (NVIDIA's release pairing)")
    if jetpack_major is None and l4t:
        jetpack_major = jetpack_for_l4t(int(l4t.split(".")[0]))
    if jetpack_major:
        return JetsonRelease(l4t, jetpack_major, f"L4T R{l4t} -> JetPack {jetpack_major}.x (point release not paired)")
    return JetsonRelease(l4t, None, "no L4T release" if l4t is None else f"L4T R{l4t}: JetPack unknown")


# ------------------------------------------------------------------------------------------------ board family


def board_family(model: str | None, compatible: Iterable[str]) -> str:
    """:data:`AGX_ORIN`, :data:`ORIN` (Orin NX / Orin Nano, or an Orin of unknown module), :data:`THOR` or
    :data:`OTHER` from the device-tree model and compatible strings."""
    text = " ".join([model or "", *compatible]).lower()
    if "tegra264" in text or "thor" in text or "p3834" in text:
        return THOR
    if "agx orin" in text or "p3701" in text:
        return AGX_ORIN
    if "tegra234" in text or "orin" in text or "p3767" in text:
        return ORIN
    return OTHER


def supported_lines(family: str, rel: JetsonRelease) -> tuple[tuple[int, ...], str]:
    """``(lines, why)``: the TensorRT major lines NVIDIA supports for this board family and JetPack release (empty
    when the JetPack release is unknown or newer than our table), and a clause saying why (sources in the module
    docstring)."""
    jp = rel.jetpack_release
    if not jp:
        return (), "JetPack release unknown"
    name = f"JetPack {rel.jetpack}"
    if jp[0] <= 3:
        return (), f"{name} predates the TensorRT releases the workbench supports"
    if jp[0] == 4:
        return ((7, 8) if jp[:2] < (4, 6) else (8,)), f"{name} ships TensorRT {'7.x' if jp[:2] < (4, 6) else '8.0/8.2'}"
    if jp[0] == 5:
        return (8,), f"{name} ships TensorRT 8.x"
    if jp[0] == 6:
        return (10,), f"{name} ships TensorRT 10.3; TensorRT 11 does not support JetPack 6"
    if jp[0] == 7:
        trt11_board = family in (AGX_ORIN, THOR)
        need = f"TensorRT 11 needs JetPack ≥ {_dotted(JETPACK_FOR_TRT11)}"
        if rel.exact:
            if jp < JETPACK_FOR_TRT11:
                return (10,), f"{name} ships TensorRT 10.x; {need}"
            if trt11_board:
                return (10, 11), f"{name} supports TensorRT 11.4.1+ on {_FAMILY_NAMES[family]}"
            return (10,), f"{name}: TensorRT 11.4.1 is documented for Jetson AGX Orin and Thor only"
        l4t_major = int(rel.l4t.split(".")[0]) if rel.l4t else 0
        if l4t_major and l4t_major < 39:
            return (10,), f"L4T R{rel.l4t} is JetPack 7.0/7.1 (TensorRT 10.x); {need}"
        if trt11_board:
            return (10, 11), "JetPack 7 point release unknown: TensorRT 10, or 11 from JetPack 7.2.2"
        return (10,), "JetPack 7: TensorRT 11.4.1 is documented for Jetson AGX Orin and Thor only"
    return (), f"{name} is newer than our JetPack table"


# ------------------------------------------------------------------------------------------------ the choice


@dataclass(frozen=True)
class TensorRTLine:
    """Which TensorRT line applies here, and why.

    line: 8 / 10 / 11 (the installed TensorRT's major; when none is installed, the one line this JetPack supports), or
    None (nothing installed and no single expected line); strongly_typed: line >= 11 (precision from the ONNX, no
    builder precision flags); installed: what was found, or None; supported: the lines NVIDIA supports for this board +
    JetPack (() when not a Jetson or unknown); board: "Jetson AGX Orin" / "Jetson Orin (NX / Nano)" / "Jetson Thor" /
    None; l4t / jetpack: as :class:`JetsonRelease`; dla: what DLA builds do under this line ("" when not a Jetson);
    reason: one line saying why (the facts used); warning: a combination NVIDIA does not support, or None."""

    line: int | None
    strongly_typed: bool
    installed: TensorRTInstall | None
    supported: tuple[int, ...]
    board: str | None
    l4t: str | None
    jetpack: str | None
    dla: str
    reason: str
    warning: str | None = None

    def headline(self) -> str:
        """E.g. "TensorRT 11 (strongly typed: precision from the ONNX)"."""
        if self.line is None:
            if self.supported:
                return (
                    "no TensorRT installed (this JetPack supports TensorRT "
                    + " or ".join(map(str, self.supported))
                    + ")"
                )
            return "no TensorRT installed"
        mode = "strongly typed: precision from the ONNX" if self.strongly_typed else "builder precision flags"
        expected = "" if self.installed else ", expected: not installed"
        return f"TensorRT {self.line} ({mode}{expected})"

    def one_line(self) -> str:
        """Headline, em dash, reason: what ``workbench doctor`` prints."""
        return f"{self.headline()} — {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["headline"] = self.headline()
        return d


def _dla_note(family: str, line: int | None, installed: TensorRTInstall | None, rel: JetsonRelease) -> str:
    if family == THOR:
        return "none: Jetson Thor has no DLA"
    if family not in (AGX_ORIN, ORIN) or line is None:
        return ""
    if line >= 11:
        jp = rel.jetpack_release
        if family != AGX_ORIN:
            return "not documented for TensorRT 11 on this Orin (TensorRT 11.4.1 restores DLA on Jetson AGX Orin only)"
        if installed is not None and installed.release[:3] < TRT11_JETSON_MIN:
            return f"unavailable: TensorRT {installed.version} has no Jetson DLA (returns in 11.4.1)"
        if rel.exact and jp is not None and jp < JETPACK_FOR_TRT11:
            return "unavailable: TensorRT 11 DLA needs JetPack ≥ 7.2.2"
        return "strongly typed (precision from the ONNX; TensorRT 11.4.1+ on JetPack ≥ 7.2.2)"
    if family == ORIN:
        return "builder precision flags (TensorRT ≤ 10; Orin Nano has no DLA)"
    return "builder precision flags (TensorRT ≤ 10)"


def choose_line(
    family: str,
    rel: JetsonRelease | None,
    installed: TensorRTInstall | None,
) -> TensorRTLine:
    """The :class:`TensorRTLine` for a board ``family`` (:func:`board_family`; ignored when ``rel`` is None, i.e. not
    a Jetson), its release ``rel`` and the TensorRT ``installed``. The installed TensorRT decides the line (it is
    what a build uses); the JetPack decides what is expected when none is installed, and what is supported."""
    jetson = rel is not None
    board = _FAMILY_NAMES.get(family) if jetson else None
    supported, why = supported_lines(family, rel) if rel is not None else ((), "")
    facts: list[str] = []
    if rel is not None:
        where = f" on {board}" if board else ""
        if rel.l4t and rel.jetpack:
            facts.append(f"L4T R{_short_l4t(rel.l4t)} = JetPack {rel.jetpack}{where}")
        elif rel.jetpack:
            facts.append(f"JetPack {rel.jetpack}{where} ({rel.source})")
        else:
            facts.append(f"Jetson{where}, {rel.source}")
    warning = None
    if installed is not None:
        line: int | None = installed.major
        got = f"tensorrt {installed.version} installed ({installed.source})"
        if installed.others:
            got += "; also " + ", ".join(installed.others)
        facts.append(got)
        if jetson and line == 11 and installed.release[:3] < TRT11_JETSON_MIN:
            warning = (
                f"TensorRT {installed.version} does not support JetPack: the first TensorRT 11 for Jetson is "
                f"{_dotted(TRT11_JETSON_MIN)} (JetPack ≥ {_dotted(JETPACK_FOR_TRT11)}, AGX Orin and Thor)"
            )
        elif supported and line not in supported:
            warning = f"TensorRT {line} is not a line NVIDIA supports here: {why}"
        elif why:
            facts.append(why)
    else:
        line = supported[0] if len(supported) == 1 else None
        facts.append("no TensorRT installed" + (f" ({why})" if why else ""))
    if not jetson:
        facts.insert(0, "not a Jetson (no L4T release)")
        if installed is None:
            facts[-1] = "no tensorrt Python package and no TensorRT package record"
    reason = ", ".join(facts)
    if warning:
        reason = f"{reason}; {warning}"
    return TensorRTLine(
        line=line,
        strongly_typed=line is not None and line >= 11,
        installed=installed,
        supported=supported,
        board=board,
        l4t=rel.l4t if rel else None,
        jetpack=rel.jetpack if rel else None,
        dla=_dla_note(family, line, installed, rel) if rel is not None else "",
        reason=reason,
        warning=warning,
    )


def tensorrt_line(
    root: Path = Path("/"),
    *,
    model: str | None = None,
    compatible: Iterable[str] = (),
    l4t: str | None = None,
    jetpack_major: str | None = None,
    jetson: bool = False,
    python: Callable[[], tuple[str, str] | None] | None = None,
) -> TensorRTLine:
    """Everything above for the device under ``root``: the board facts (as :class:`HardwareFacts` holds them) plus
    the package records and this Python's ``tensorrt`` (see :func:`installed_tensorrt`). ``jetson`` False (and no
    L4T record) means the JetPack rules do not apply."""
    packages = read_packages(Path(root))
    installed = installed_tensorrt(Path(root), packages=packages, python=python)
    is_jetson = jetson or l4t is not None or "nvidia-l4t-core" in packages
    rel = jetson_release(l4t, jetpack_major, packages) if is_jetson else None
    return choose_line(board_family(model, compatible), rel, installed)
