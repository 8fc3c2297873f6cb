"""The batch and the shapes a benchmark feeds: ``--batch``, ``--shapes`` and the model's dims, resolved once.

``--shapes`` takes whole shapes per input (``x:1x3x224x224``) and sizes per named symbol (``batch=1,height=320``:
every input using the symbol gets the size). The batch is the size of the batch axis actually fed (models/dims.py
``batch_layout``: the leading dim of the first non-scalar input, wherever its symbol sits in the other inputs).
``--batch``, a batch implied by ``--shapes`` and a batch the model fixes must agree: a conflict is a UsageError
raised before anything runs (the workflow resolves when it prepares a job; the benchmark child resolves the same
way from the same settings). Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import UsageError
from workbench.core.models.dims import (
    BatchLayout,
    Dim,
    batch_layout,
    fmt_shape,
    is_fixed,
    normalize_shape,
    symbol,
    symbols_of,
)


@dataclass(frozen=True)
class ShapeSpec:
    """A parsed ``--shapes``: whole shapes per input, sizes per symbol (both in the order given)."""

    inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    symbols: dict[str, int] = field(default_factory=dict)


def _positive(item: str, text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise UsageError(
            f"--shapes item {item!r}: sizes must be integers (e.g. batch=4 or x:4x3x224x224)",
            hint="write sizes as whole numbers, e.g. --shapes batch=4",
        ) from None
    if v <= 0:
        raise UsageError(
            f"--shapes item {item!r}: sizes must be positive",
            hint="give every size as 1 or more, e.g. --shapes batch=1",
        )
    return v


def parse_shape_spec(text: str | None) -> ShapeSpec:
    """``"x:4x3x224x224,mask:4x128"`` and/or ``"batch=4,height=320"`` -> :class:`ShapeSpec`.

    An item with ``:`` is an input's whole shape (the name may itself hold ``:``: the last one splits); an item
    with ``=`` and no ``:`` sets a named dim.

    Raises:
        UsageError: naming the bad item (not NAME:DxD or SYMBOL=N, a non-integer or non-positive size, a name
            given twice).
    """
    inputs: dict[str, tuple[int, ...]] = {}
    symbols: dict[str, int] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if ":" in item:
            name, _, dims = item.rpartition(":")
            name = name.strip()
            if not name:
                raise UsageError(
                    f"--shapes item {item!r} is not NAME:DxDxD (e.g. input:1x3x224x224) or SYMBOL=N",
                    hint="put the input's name before the ':' (`workbench inspect MODEL` lists the input names)",
                )
            if name in inputs:
                raise UsageError(f"--shapes: input {name!r} is given twice", hint="give each input once in --shapes")
            inputs[name] = tuple(_positive(item, d) for d in dims.strip().lower().split("x"))
        elif "=" in item:
            name, _, value = item.partition("=")
            name = name.strip()
            if not name:
                raise UsageError(
                    f"--shapes item {item!r} is not SYMBOL=N (e.g. batch=4)",
                    hint="put the dim's name before the '=' (`workbench inspect MODEL` shows the named dims)",
                )
            if name in symbols:
                raise UsageError(f"--shapes: dim {name!r} is given twice", hint="give each named dim once in --shapes")
            symbols[name] = _positive(item, value.strip())
        else:
            raise UsageError(
                f"--shapes item {item!r} is not NAME:DxDxD (e.g. input:1x3x224x224) or SYMBOL=N (e.g. batch=4)",
                hint="write each item as NAME:DxDxD (e.g. input:1x3x224x224) or SYMBOL=N (e.g. batch=4), items "
                "joined by ','",
            )
    return ShapeSpec(inputs, symbols)


def format_shape_spec(spec: ShapeSpec) -> str:
    """Inverse of :func:`parse_shape_spec` (messages, stable text)."""
    parts = [f"{k}:{'x'.join(map(str, v))}" for k, v in spec.inputs.items()]
    parts += [f"{k}={v}" for k, v in spec.symbols.items()]
    return ",".join(parts)


@dataclass(frozen=True)
class Resolved:
    """What a benchmark will feed: the batch, the size of every named dim, every input's shape where known.

    Attributes:
        batch: the size of the batch axis fed (1 when every input is a scalar).
        symbols: symbol -> size (given, implied by a given shape, or the batch symbol).
        shapes: input -> concrete shape, for every input whose dims all have a size.
        missing: input -> axes that still have no size (random feeds need them; a dataset fills them).
        layout: where the batch sits (models/dims.py).
        model_shapes: every input's dims as the model declares them (normalised), for messages.
    """

    batch: int
    symbols: dict[str, int]
    shapes: dict[str, tuple[int, ...]]
    missing: dict[str, tuple[int, ...]]
    layout: BatchLayout
    model_shapes: dict[str, tuple[Dim, ...]]

    def require_all(self) -> dict[str, tuple[int, ...]]:
        """Every input's shape (in model order).

        Raises:
            UsageError: an input has dims without a size; names the input and the dims, and offers the
                ``--shapes`` forms that set them (a named dim by name, an unnamed one by the whole shape).
        """
        if not self.missing:
            return dict(self.shapes)
        name, axes = next(iter(self.missing.items()))
        shape = self.model_shapes[name]
        named = [symbol(shape[a]) for a in axes]
        which = ", ".join(f"{a} ({fmt_shape([shape[a]])[1:-1]})" for a in axes)
        forms = []
        if all(named):
            forms.append(",".join(f"{s}=<size>" for s in dict.fromkeys(named)))
        forms.append(f"{name}:{self._template(name)}")
        raise UsageError(
            f"input {name!r} {fmt_shape(shape)} has no size for dim{'s' if len(axes) > 1 else ''} {which}: "
            "give " + ("them" if len(axes) > 1 else "it") + " with " + " or ".join(f"--shapes {f}" for f in forms),
            hint="replace each <…> with a size; random inputs need every size (or feed real samples: --inputs DIR)",
        )

    def _template(self, name: str) -> str:
        shape = self.model_shapes[name]
        out = []
        for axis, d in enumerate(shape):
            if is_fixed(d):
                out.append(str(d))
            elif self.layout.axis(name) == axis:
                out.append(str(self.batch))
            elif symbol(d) in self.symbols:
                out.append(str(self.symbols[symbol(d)]))  # type: ignore[index]
            else:
                out.append(f"<d{axis}>")
        return "x".join(out) if out else "scalar"


def _describe(shapes: Mapping[str, tuple[Dim, ...]]) -> str:
    return ", ".join(f"{n} {fmt_shape(s)}" for n, s in shapes.items())


def resolve(
    inputs: Sequence[Any],
    *,
    batch: int | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    symbols: Mapping[str, int] | None = None,
    default_batch: int = 1,
) -> Resolved:
    """Resolve ``--batch`` (``batch``), ``--shapes`` (``shapes`` per input, ``symbols`` per named dim) against a
    model's ``inputs`` (TensorSpec-like: ``.name``, ``.shape``). ``default_batch`` (the profile's) applies only
    when neither the request nor the model decides the batch.

    Raises:
        UsageError: an input or dim ``--shapes`` names is not in the model; a given shape of the wrong rank or
            against a fixed dim; ``--batch`` on a model whose batch is fixed to another size or whose inputs are
            all scalars; two sources (``--batch``, ``--shapes``, the model) giving the batch or a named dim
            different sizes.
    """
    given = {k: tuple(int(d) for d in v) for k, v in (shapes or {}).items()}
    wanted = dict(symbols or {})
    model = {i.name: normalize_shape(i.shape) for i in inputs}
    layout = batch_layout(inputs)
    known_syms = symbols_of(inputs)

    unknown = [n for n in given if n not in model]
    if unknown:
        raise UsageError(
            f"--shapes names input {', '.join(repr(n) for n in unknown)}, which the model does not have",
            hint=f"the model's inputs: {_describe(model)}",
        )
    for s in wanted:
        if s not in known_syms:
            if known_syms:
                hint = "named dims of this model: " + ", ".join(
                    f"{k} ({', '.join(f'{n} dim {a}' for n, a in v)})" for k, v in known_syms.items()
                )
            else:
                hint = f"this model names none of its dims: give whole shapes (NAME:DxD); inputs: {_describe(model)}"
            if s in model:
                hint = f"to give input {s!r} its whole shape write {s}:DxD; " + hint
            raise UsageError(f"--shapes {s}={wanted[s]}: the model has no dim named {s!r}", hint=hint)

    # Every given shape: right rank, fixed dims kept; the named dims it implies.
    sizes: dict[str, tuple[int, str]] = {s: (v, f"--shapes {s}={v}") for s, v in wanted.items()}
    for name, dims in given.items():
        want = model[name]
        text = f"--shapes {name}:{'x'.join(map(str, dims))}"
        if len(dims) != len(want):
            raise UsageError(
                f"{text}: {len(dims)} dims given, input {name!r} has {len(want)} ({fmt_shape(want)})",
                hint="give one size per dim" if want else f"{name} is a scalar: leave it out of --shapes",
            )
        for axis, (g, m) in enumerate(zip(dims, want, strict=True)):
            if is_fixed(m) and g != m:
                raise UsageError(
                    f"{text}: dim {axis} is fixed to {m} in the model, {g} given",
                    hint="only dynamic dims can be set: keep the model's fixed size there (`workbench inspect MODEL` "
                    "shows which dims are dynamic)",
                )
            s = symbol(m)
            if s is None:
                continue
            if s in sizes and sizes[s][0] != g:
                raise UsageError(
                    f"{text} gives dim {s!r} the size {g}, {sizes[s][1]} gives it {sizes[s][0]}",
                    hint=f"every input using {s!r} must have the same size there",
                )
            sizes.setdefault(s, (g, text))

    chosen = _batch(layout, model, batch, given, sizes)
    final = chosen if chosen is not None else default_batch
    if layout.symbol is not None:
        sizes.setdefault(layout.symbol, (final, "the batch"))
    out: dict[str, tuple[int, ...]] = {}
    missing: dict[str, tuple[int, ...]] = {}
    for name, want in model.items():
        if name in given:
            out[name] = given[name]
            continue
        dims: list[int] = []
        holes: list[int] = []
        for axis, d in enumerate(want):
            s = symbol(d)
            if is_fixed(d):
                dims.append(int(d))  # type: ignore[arg-type]
            elif layout.axis(name) == axis:
                dims.append(final)
            elif s is not None and s in sizes:
                dims.append(sizes[s][0])
            else:
                holes.append(axis)
        if holes:
            missing[name] = tuple(holes)
        else:
            out[name] = tuple(dims)
    return Resolved(final, {s: v for s, (v, _) in sizes.items()}, out, missing, layout, model)


def _batch(
    layout: BatchLayout,
    model: Mapping[str, tuple[Dim, ...]],
    batch: int | None,
    given: Mapping[str, tuple[int, ...]],
    sizes: Mapping[str, tuple[int, str]],
) -> int | None:
    """The batch every source agrees on (None: nobody decides it). Raises UsageError on a conflict."""
    if layout.lead is None:
        if batch is not None:
            raise UsageError(
                f"--batch {batch}: every input of the model is a scalar ({_describe(model)}): there is no batch to set",
                hint="leave out --batch",
            )
        return None
    claims: list[tuple[int, str]] = []
    if layout.fixed is not None:
        claims.append((layout.fixed, f"the model fixes it (input {layout.lead!r} is {fmt_shape(model[layout.lead])})"))
    if batch is not None:
        claims.append((batch, f"--batch {batch}"))
    if layout.symbol is not None and layout.symbol in sizes:
        v, src = sizes[layout.symbol]
        claims.append((v, src))
    for name, dims in given.items():
        axis = layout.axis(name)
        if axis is not None:
            claims.append((dims[axis], f"--shapes {name}:{'x'.join(map(str, dims))}"))
    if not claims:
        return None
    value, source = claims[0]
    for v, src in claims[1:]:
        if v == value:
            continue
        if layout.fixed is not None:
            raise UsageError(
                f"{src} asks for batch {v}, but the model's batch is fixed at {value} "
                f"(input {layout.lead!r} is {fmt_shape(model[layout.lead])})",
                hint=f"leave the batch out: the model runs batch {value}; for another batch, export the model "
                "with a dynamic batch dim",
            )
        raise UsageError(
            f"the batch is {value} by {source} but {v} by {src}",
            hint="give the batch once (--batch N, or in --shapes), or make both say the same",
        )
    return value
