"""The plain onnxruntime INT8 recipes for CPUs, and which one each instruction set gets.

:data:`PLAIN_RECIPES` names the five plain ``onnxruntime.quantization.quantize_static`` recipes the issue compares
(each a set of :class:`~workbench.core.precision.quantize.QuantOptions` overrides, always the same seven keys):

=======================  ==========  =========  ===========  ============  ==============================
name                     format      act/wt     per-channel  reduce_range  activations
=======================  ==========  =========  ===========  ============  ==============================
qdq-u8s8-tensor          QDQ         U8 / S8    no           no            asymmetric
qdq-u8s8-channel         QDQ         U8 / S8    yes          no            asymmetric
qop-u8s8-tensor          QOperator   U8 / S8    no           no            asymmetric
qdq-u8s8-reduce-range    QDQ         U8 / S8    no           yes (7-bit)   asymmetric
qdq-s8s8-symmetric       QDQ         S8 / S8    no           no            symmetric
=======================  ==========  =========  ===========  ============  ==============================

Weights are symmetric signed INT8 in all of them (onnxruntime's default, ``WeightSymmetric``).

:data:`ISA_RECIPES` gives each level of :mod:`workbench.core.hw.cpu_isa` its recipe and the reason, from two
sources: onnxruntime 1.32's ``quantize_static`` docstring, "Choosing parameters for CPU inference" (x86 without
VNNI: U8S8 with ``reduce_range=True``; x86 with VNNI: U8S8, ``reduce_range=False``; Arm: S8S8, symmetric
activations; ``per_channel=False`` for the best CPU throughput; QDQ preferred over QOperator since 1.11), the
quantization page's FAQ (https://onnxruntime.ai/docs/performance/quantization.html: ``reduce_range`` exists for
U8S8 on AVX2/AVX-512 CPUs without VNNI, whose 16-bit intermediate sums can saturate; it costs no speed, the kernels
are the same) — and measurement: ``benchmarks/int8_speedup.py`` runs every plain recipe side by side with FP32.
On this project's machine (a 2-core KVM slice of an Intel Xeon whose flags list AVX-512 VNNI, AVX-VNNI and AMX;
ResNet-18-shaped, batch 1, 1 thread, 5 alternating rounds) QDQ U8S8 per-tensor measured the best INT8/FP32 ratio
(0.334 at 224x224, 0.289 at 112x112); per-channel, QOperator and reduce_range were within 3 % of it (no faster),
and S8S8 symmetric was no faster than FP32 (1.12 at 224, 0.98 at 112; the issue saw 1.23) — so "avx512_vnni"
gets QDQ U8S8 per-tensor. The Arm and non-VNNI x86 choices follow the
documentation only (no such machine measured here); the result records which recipe and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The keys every recipe sets (and only those): the QuantOptions fields that define a plain recipe.
RECIPE_KEYS = (
    "activation_type",
    "weight_type",
    "activation_symmetric",
    "weight_symmetric",
    "per_channel",
    "reduce_range",
    "quant_format",
)


def _recipe(
    *, act: str = "uint8", sym: bool = False, per_channel: bool = False, rr: bool = False, fmt: str = "QDQ"
) -> dict[str, Any]:
    return {
        "activation_type": act,
        "weight_type": "int8",
        "activation_symmetric": sym,
        "weight_symmetric": True,
        "per_channel": per_channel,
        "reduce_range": rr,
        "quant_format": fmt,
    }


#: name -> QuantOptions overrides (see the module doc's table).
PLAIN_RECIPES: dict[str, dict[str, Any]] = {
    "qdq-u8s8-tensor": _recipe(),
    "qdq-u8s8-channel": _recipe(per_channel=True),
    "qop-u8s8-tensor": _recipe(fmt="QOperator"),
    "qdq-u8s8-reduce-range": _recipe(rr=True),
    "qdq-s8s8-symmetric": _recipe(act="int8", sym=True),
}

_DOC = "onnxruntime quantize_static docstring, 'Choosing parameters for CPU inference'"
#: ISA level (hw/cpu_isa.ISAS) -> (recipe name, why). See the module doc for the sources.
ISA_RECIPES: dict[str, tuple[str, str]] = {
    "avx512_vnni": (
        "qdq-u8s8-tensor",
        f"x86 with VNNI: U8S8, no reduce_range, per-tensor ({_DOC}); measured the fastest of the plain recipes on "
        "an AVX-512 VNNI CPU (benchmarks/int8_speedup.py), S8S8 symmetric slower than FP32 there",
    ),
    "avx_vnni": (
        "qdq-u8s8-tensor",
        f"x86 with VNNI: U8S8, no reduce_range, per-tensor ({_DOC})",
    ),
    "avx512": (
        "qdq-u8s8-reduce-range",
        f"x86 without VNNI: U8S8 with reduce_range (7-bit weights: no 16-bit saturation in VPMADDUBSW; same "
        f"kernels, same speed) ({_DOC}; onnxruntime quantization FAQ)",
    ),
    "avx2": (
        "qdq-u8s8-reduce-range",
        f"x86 without VNNI: U8S8 with reduce_range (7-bit weights: no 16-bit saturation in VPMADDUBSW; same "
        f"kernels, same speed) ({_DOC}; onnxruntime quantization FAQ)",
    ),
    "neon_dotprod": (
        "qdq-s8s8-symmetric",
        f"Arm: S8S8 with symmetric activations, no reduce_range ({_DOC}); not measured on Arm here",
    ),
    "neon": (
        "qdq-s8s8-symmetric",
        f"Arm: S8S8 with symmetric activations, no reduce_range ({_DOC}); not measured on Arm here",
    ),
    "unknown": (
        "qdq-u8s8-tensor",
        "no known INT8 instruction set detected: U8S8 per-tensor QDQ, onnxruntime's general CPU recipe",
    ),
}
#: ``[quantization] cpu_recipe`` values besides the recipe names: "auto" = the recipe for the CPU it runs on,
#: "profile" = the profile's own keys, no named recipe.
AUTO, PROFILE = "auto", "profile"
CPU_RECIPE_CHOICES = (AUTO, PROFILE, *PLAIN_RECIPES)


def recipe_for_isa(isa: str) -> str:
    """The :data:`PLAIN_RECIPES` name for an ISA level (``"unknown"``'s for a level not in :data:`ISA_RECIPES`)."""
    return ISA_RECIPES.get(isa, ISA_RECIPES["unknown"])[0]


@dataclass(frozen=True)
class RecipeChoice:
    """Which plain recipe a CPU INT8 job uses and why. ``source``: "auto" (picked for the detected ``isa``) or
    "profile" (named by the profile's ``cpu_recipe``). ``overridden``: recipe keys the model spec set instead."""

    name: str
    isa: str
    source: str
    reason: str
    overridden: tuple[str, ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        """The QuantOptions overrides of the recipe (a copy)."""
        return dict(PLAIN_RECIPES[self.name])

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu_recipe": self.name,
            "isa": self.isa,
            "source": self.source,
            "reason": self.reason,
            "overridden": list(self.overridden),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RecipeChoice | None:
        if not isinstance(d, dict) or d.get("cpu_recipe") not in PLAIN_RECIPES:
            return None
        return cls(
            str(d["cpu_recipe"]),
            str(d.get("isa") or "unknown"),
            str(d.get("source") or AUTO),
            str(d.get("reason") or ""),
            tuple(str(k) for k in d.get("overridden") or ()),
        )

    def line(self) -> str:
        """One line for people: "INT8 recipe qdq-u8s8-tensor (auto for avx512_vnni: …)"."""
        how = f"auto for {self.isa}" if self.source == AUTO else f"named by the profile; CPU {self.isa}"
        extra = f"; the model spec sets {', '.join(self.overridden)}" if self.overridden else ""
        return f"INT8 recipe {self.name} ({how}: {self.reason}{extra})"


def choose(setting: str, isa: str, spec_keys: tuple[str, ...] = ()) -> RecipeChoice | None:
    """The recipe for a profile's ``cpu_recipe`` value on a CPU of level ``isa``; None for "profile" (the profile's
    own keys are the recipe). ``spec_keys``: quantization keys the model spec sets (they win over the recipe).

    Raises:
        ValueError: ``setting`` is none of :data:`CPU_RECIPE_CHOICES` (the profile schema refuses it first).
    """
    if setting == PROFILE:
        return None
    overridden = tuple(k for k in RECIPE_KEYS if k in set(spec_keys))
    if setting == AUTO:
        name = recipe_for_isa(isa)
        return RecipeChoice(name, isa, AUTO, ISA_RECIPES.get(isa, ISA_RECIPES["unknown"])[1], overridden)
    if setting in PLAIN_RECIPES:
        return RecipeChoice(setting, isa, PROFILE, f"quantization.cpu_recipe = '{setting}'", overridden)
    raise ValueError(f"unknown cpu_recipe {setting!r}; use one of {', '.join(CPU_RECIPE_CHOICES)}")
