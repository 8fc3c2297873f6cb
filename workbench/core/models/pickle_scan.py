"""Find which Python callables a pickle would import, by reading its opcodes — never by unpickling it.

Unpickling runs whatever ``GLOBAL``/``STACK_GLOBAL`` + ``REDUCE`` say, so an untrusted ``.pt`` file can execute
code the moment ``torch.load(weights_only=False)`` reads it. A weights-only file (a state dict saved with
``torch.save``) references only torch's tensor rebuild helpers, storage classes and ``collections.OrderedDict``;
anything else (``__main__.MyNet``, ``torch.nn.modules.linear.Linear``, ``os.system``) marks a full pickle.

The scan walks the opcode stream with :func:`pickletools.genops` (stdlib; it parses, it does not execute) and
resolves ``STACK_GLOBAL`` operands from the strings pushed before it, following the memo (``BINPUT``/``MEMOIZE``
then ``BINGET``) the way protocol 4+ pickles write them.

The allow-list mirrors what ``torch.load(weights_only=True)`` accepts for plain tensors
(torch/_weights_only_unpickler.py in torch 2.x: rebuild helpers in ``torch._utils``, storage types,
``torch.Size``/``device``/dtypes, ``OrderedDict``, ``_codecs.encode`` used by protocol-2 byte strings).
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass

# (module, name) pairs, or (module, "*") for a whole module, that a weights-only pickle may reference.
_ALLOWED_EXACT = {
    ("collections", "OrderedDict"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "dtype"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("_codecs", "encode"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "bytearray"),
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
    ("__builtin__", "slice"),
    ("__builtin__", "bytearray"),
    ("torch.storage", "UntypedStorage"),
    ("torch.storage", "TypedStorage"),
}
_TORCH_DTYPE_NAMES = {
    "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64", "bool",
    "complex64", "complex128", "float8_e4m3fn", "float8_e5m2", "qint8", "quint8", "qint32",
}  # fmt: skip


MAX_WEIGHTS_ONLY_PROTOCOL = 3


def _allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED_EXACT:
        return True
    if module == "torch._utils" and name.startswith("_rebuild_"):
        return True
    if module == "torch" and (name.endswith("Storage") or name in _TORCH_DTYPE_NAMES):
        return True
    return False


@dataclass(frozen=True)
class PickleScan:
    """Result of scanning one pickle stream.

    Attributes:
        globals: every ``module.name`` the pickle imports, in first-seen order.
        disallowed: the subset a weights-only load would refuse (empty = weights only).
        complete: False when the opcode stream was cut short or malformed (then treat as unsafe).
        protocol: highest PROTO seen (0 when absent).
    """

    globals: tuple[str, ...]
    disallowed: tuple[str, ...]
    complete: bool
    protocol: int = 0

    @property
    def weights_only(self) -> bool:
        """Safe *and* loadable by ``torch.load(weights_only=True)``: torch 2.13's weights-only unpickler stops at
        protocol 4's FRAME opcode ("Unsupported operand 149", checked here), so protocol >= 4 does not qualify."""
        return self.complete and not self.disallowed and self.protocol <= MAX_WEIGHTS_ONLY_PROTOCOL


def scan_pickle(data: bytes, *, max_pickles: int = 1) -> PickleScan:
    """Scan ``max_pickles`` consecutive pickle streams in ``data`` (legacy torch files hold several).

    Returns a :class:`PickleScan`; never raises for malformed input (``complete`` is False then).
    """
    found: list[tuple[str, str]] = []  # (module, name)
    complete = True
    protocol = 0
    stream = io.BytesIO(data)
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        strings: list[str] = []  # recent string pushes, for STACK_GLOBAL
        memo: dict[int, str] = {}
        memo_next = 0
        last_str: str | None = None
        try:
            for op, arg, _pos in pickletools.genops(stream):
                name = op.name
                if name == "PROTO":
                    protocol = max(protocol, int(arg))
                    continue
                if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
                            "BINSTRING", "STRING"):  # fmt: skip
                    last_str = str(arg)
                    strings.append(last_str)
                    continue
                if name == "MEMOIZE":
                    if last_str is not None:
                        memo[memo_next] = last_str
                    memo_next += 1
                    continue
                if name in ("BINPUT", "LONG_BINPUT", "PUT"):
                    if last_str is not None:
                        memo[int(arg)] = last_str
                    continue
                if name in ("BINGET", "LONG_BINGET", "GET"):
                    got = memo.get(int(arg))
                    last_str = got
                    if got is not None:
                        strings.append(got)
                    continue
                last_str = None
                if name in ("GLOBAL", "INST"):
                    module, _, attr = str(arg).partition(" ")
                    found.append((module, attr))
                elif name == "STACK_GLOBAL":
                    # Operands are the two most recent string pushes; unknown ones are never allowed.
                    found.append((strings[-2], strings[-1]) if len(strings) >= 2 else ("<unresolved>", "<unresolved>"))
        except Exception:  # noqa: BLE001 - any parse failure means "cannot vouch for it"
            complete = False
            break
    seen: dict[str, None] = {}
    bad: dict[str, None] = {}
    for module, attr in found:
        qual = f"{module}.{attr}"
        seen.setdefault(qual, None)
        if not _allowed(module, attr):
            bad.setdefault(qual, None)
    return PickleScan(globals=tuple(seen), disallowed=tuple(bad), complete=complete, protocol=protocol)
