"""Find which Python callables a pickle would import, by reading its opcodes — never by unpickling it.

Unpickling runs whatever ``GLOBAL``/``STACK_GLOBAL`` + ``REDUCE`` say, so an untrusted ``.pt`` file can execute
code the moment ``torch.load(weights_only=False)`` reads it. A weights-only file (a state dict saved with
``torch.save``) references only torch's tensor rebuild helpers, storage classes and ``collections.OrderedDict``;
anything else (``__main__.MyNet``, ``torch.nn.modules.linear.Linear``, ``os.system``) marks a full pickle.

The scan walks the opcode stream with :func:`pickletools.genops` (stdlib; it parses, it does not execute) and
runs a symbolic copy of the unpickler's stack and memo (CPython ``Lib/pickle.py``, ``_Unpickler``): string
opcodes push their text, every other value is an opaque placeholder, ``MARK`` pushes a mark, and each opcode
pops and pushes what :mod:`pickletools` declares for it (``stack_before``/``stack_after``). The memo is modelled
as pickle keeps it: ``MEMOIZE`` stores the top of the stack at ``memo[len(memo)]`` (so an explicit
``BINPUT 7`` earlier shifts every later ``MEMOIZE``), ``PUT``/``BINPUT``/``LONG_BINPUT`` store at their own
index, and ``GET``/``BINGET``/``LONG_BINGET`` push what that slot holds. ``STACK_GLOBAL`` then imports the two
strings it really pops. Whatever the scan cannot follow — a ``GET`` of an empty slot, a pop past a mark or off
an empty stack, a ``STACK_GLOBAL`` whose operands are not known strings, an ``EXT1/2/4`` extension code, an
unknown opcode, a stream cut short — makes the result "cannot vouch" (``complete`` False or a disallowed
``<unresolved>`` import), which callers treat as a full pickle: refused without ``--trust-model``.

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
        globals: every ``module.name`` the pickle imports, in first-seen order (``<unresolved>`` for an import
            whose name the scan could not follow, ``copyreg.<extension N>`` for an ``EXT`` opcode).
        disallowed: the subset a weights-only load would refuse (empty = weights only).
        complete: False when the opcode stream was cut short, malformed, or did something the scan cannot model
            (then treat as unsafe).
        protocol: highest PROTO seen (0 when absent).
        problem: why ``complete`` is False, in words ("" when complete).
    """

    globals: tuple[str, ...]
    disallowed: tuple[str, ...]
    complete: bool
    protocol: int = 0
    problem: str = ""

    @property
    def weights_only(self) -> bool:
        """Safe *and* loadable by ``torch.load(weights_only=True)``: torch 2.13's weights-only unpickler stops at
        protocol 4's FRAME opcode ("Unsupported operand 149", checked here), so protocol >= 4 does not qualify."""
        return self.complete and not self.disallowed and self.protocol <= MAX_WEIGHTS_ONLY_PROTOCOL


class _Unmodelled(Exception):
    """The opcode stream does something the symbolic unpickler cannot follow (the message says what)."""


class _Mark:
    """The ``MARK`` placeholder on the symbolic stack."""


class _Value:
    """Any value the scan does not track (numbers, bytes, containers, results of calls, imported objects)."""


_MARK = _Mark()
_VALUE = _Value()
UNRESOLVED = "<unresolved>"

# Opcodes that push text. STRING/BINSTRING/SHORT_BINSTRING are str under torch.load's encoding ("utf-8"), so they
# count as text too (a STACK_GLOBAL fed by them is resolved and checked, never waved through).
_TEXT_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
)
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_EXT_OPS = frozenset({"EXT1", "EXT2", "EXT4"})


def _top(stack: list[object], op: str) -> object:
    """``stack[-1]`` as pickle reads it: the top of the current mark frame (a mark there is an empty frame)."""
    if not stack or stack[-1] is _MARK:
        raise _Unmodelled(f"{op} with nothing on the stack")
    return stack[-1]


def _pop(stack: list[object], op: str) -> object:
    """``stack.pop()`` as pickle does it: popping past a mark (an empty frame) is an error there too."""
    _top(stack, op)
    return stack.pop()


def _pop_mark(stack: list[object], op: str) -> None:
    """Drop everything down to and including the last mark (pickle's ``pop_mark``)."""
    while stack:
        if stack.pop() is _MARK:
            return
    raise _Unmodelled(f"{op} without a MARK before it")


def _step(op: object, arg: object, stack: list[object], memo: dict[int, object], found: list[tuple[str, str]]) -> None:
    """Apply one opcode to the symbolic ``stack`` and ``memo``; record imports in ``found``."""
    name = op.name  # type: ignore[attr-defined]
    if name in _TEXT_OPS:
        stack.append(str(arg))
    elif name == "MEMOIZE":
        memo[len(memo)] = _top(stack, name)  # pickle: memo[len(memo)] = stack[-1]
    elif name in _PUT_OPS:
        if not isinstance(arg, int) or arg < 0:
            raise _Unmodelled(f"{name} with index {arg!r}")
        memo[arg] = _top(stack, name)
    elif name in _GET_OPS:
        if arg not in memo:
            raise _Unmodelled(f"{name} {arg} reads a memo slot nothing was stored in")
        stack.append(memo[arg])  # type: ignore[index]
    elif name == "DUP":
        stack.append(_top(stack, name))
    elif name == "POP":
        if not stack:
            raise _Unmodelled("POP with nothing on the stack")
        stack.pop()  # pickle's POP drops the top item, or the last mark when its frame is empty
    elif name == "GLOBAL":
        module, _, attr = str(arg).partition(" ")
        found.append((module, attr))
        stack.append(_VALUE)
    elif name == "INST":
        module, _, attr = str(arg).partition(" ")
        found.append((module, attr))
        _pop_mark(stack, name)
        stack.append(_VALUE)
    elif name == "STACK_GLOBAL":
        attr, module = _pop(stack, name), _pop(stack, name)
        if isinstance(module, str) and isinstance(attr, str):
            found.append((module, attr))
        else:
            found.append((UNRESOLVED, UNRESOLVED))
        stack.append(_VALUE)
    elif name in _EXT_OPS:
        # copyreg's extension registry maps the code to any (module, name): the scan cannot see which.
        found.append(("copyreg", f"<extension {arg}>"))
        stack.append(_VALUE)
    else:
        before = [s.name for s in op.stack_before]  # type: ignore[attr-defined]
        if "mark" in before:
            _pop_mark(stack, name)  # the stack slice above the mark and the mark itself
            for _ in range(before.index("mark")):
                _pop(stack, name)  # the items below the mark the opcode also takes (APPENDS' list, …)
        else:
            for _ in before:
                _pop(stack, name)
        for s in op.stack_after:  # type: ignore[attr-defined]
            stack.append(_MARK if s.name == "mark" else _VALUE)


def scan_pickle(data: bytes, *, max_pickles: int = 1) -> PickleScan:
    """Scan ``max_pickles`` consecutive pickle streams in ``data`` (legacy torch files hold several); each stream
    starts with an empty stack and memo, as a fresh ``Unpickler.load`` does.

    Returns a :class:`PickleScan`; never raises for malformed input (``complete`` is False then, ``problem`` says
    why).
    """
    found: list[tuple[str, str]] = []  # (module, name)
    complete = True
    problem = ""
    protocol = 0
    stream = io.BytesIO(data)
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        stack: list[object] = []
        memo: dict[int, object] = {}
        try:
            for op, arg, _pos in pickletools.genops(stream):
                if op.name == "PROTO":
                    protocol = max(protocol, int(arg))
                    continue
                _step(op, arg, stack, memo, found)
        except _Unmodelled as exc:
            complete, problem = False, str(exc)
            break
        except Exception as exc:  # noqa: BLE001 - any parse failure means "cannot vouch for it"
            complete, problem = False, f"unreadable opcode stream ({exc})"
            break
    seen: dict[str, None] = {}
    bad: dict[str, None] = {}
    for module, attr in found:
        qual = f"{module}.{attr}" if module != UNRESOLVED else f"{UNRESOLVED} import"
        seen.setdefault(qual, None)
        if not _allowed(module, attr):
            bad.setdefault(qual, None)
    return PickleScan(globals=tuple(seen), disallowed=tuple(bad), complete=complete, protocol=protocol, problem=problem)
