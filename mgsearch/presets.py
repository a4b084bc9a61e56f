"""Named reference networks (one table) and :func:`resolve_spec` (preset name / JSON file / inline JSON).

Every preset carries GOLDEN ``params`` and ``macs`` literals (CIFAR input 3x32x32, 10 classes);
the tests check them against :func:`mgsearch.cost.cost` and against the built model, so a change
in a family's semantics cannot go unnoticed. ``docs/concepts.md`` compares them with the papers.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mgsearch.errors import SpecError, clip_repr
from mgsearch.inputs import read_input_file
from mgsearch.layers.channels import make_divisible
from mgsearch.spec import ArchSpec, Block, Stage, Stem

__all__ = ["Preset", "PRESETS", "get_preset", "resolve_spec", "preset_names", "mgic_mobilenet", "MGIC_MOBILENETV3_SMALL"]


@dataclass(frozen=True)
class Preset:
    """A named network: its spec, where it comes from, and its golden analytic cost."""

    name: str
    description: str
    source: str
    spec: ArchSpec
    params: int
    macs: int


def _anchored(depths: tuple[int, ...], widths: tuple[int, ...]) -> ArchSpec:
    """DACNN-mix (``dacnn``, ``block="anchored"``): stem of the first width, stride 2 from stage 1 on."""
    stages = tuple(
        Stage(width=w, blocks=tuple(Block(inner=w) for _ in range(n)), stride=1 if i == 0 else 2, block="anchored")
        for i, (n, w) in enumerate(zip(depths, widths))
    )
    return ArchSpec(family="dacnn", stem=Stem(width=widths[0]), stages=stages)


def _plain(depths: tuple[int, ...], width: int, form: str = "plain") -> ArchSpec:
    """Plain DACNN (``dacnn``, ``block="plain"``): constant ``width``, max-pool from stage 1 on."""
    stages = tuple(
        Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(n)), stride=1 if i == 0 else 2, block=form)
        for i, n in enumerate(depths)
    )
    return ArchSpec(family="dacnn", stem=Stem(width=width), stages=stages)


def _resnet_like(family: str, n: int, *, widths=(16, 32, 64), s: int | None = None, share: int = 1) -> ArchSpec:
    stages = tuple(
        Stage(width=w, blocks=tuple(Block(inner=w) for _ in range(n)), stride=1 if i == 0 else 2,
              group_size=s, share=share)
        for i, w in enumerate(widths)
    )
    return ArchSpec(family=family, stem=Stem(width=widths[0]), stages=stages)


def _mgnet_like(
    family: str, u_widths: tuple[int, ...], f_widths: tuple[int, ...], *, steps: int = 2, share: int = 2,
    s: int | None = None,
) -> ArchSpec:
    stages = tuple(
        Stage(width=u, blocks=tuple(Block(inner=f) for _ in range(steps)), stride=1 if i == 0 else 2,
              group_size=s, share=share)
        for i, (u, f) in enumerate(zip(u_widths, f_widths))
    )
    return ArchSpec(family=family, stem=Stem(width=f_widths[0]), stages=stages)


#: MobileNetV2's bottleneck table (Sandler et al., CVPR 2018, Table 2) as (t, c, n, s), with the common CIFAR
#: port's strides (the first two stride-2 layers, stem and second stage, at stride 1)
_MOBILENETV2_CIFAR = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                      (6, 320, 1, 1))


def _mobilenetv2(multiplier: float, expansion: int = 6) -> ArchSpec:
    """MobileNetV2-CIFAR (``mobilenet``): stem 32 x multiplier, the bottleneck table above with widths
    ``make_divisible(c x multiplier)`` and inner widths ``make_divisible(c_in x t)`` (t = ``expansion``
    where the table says 6); no 1280-wide last conv (the classifier reads the last stage)."""
    c_in = make_divisible(32 * multiplier)
    stages = []
    for t, c, n, stride in _MOBILENETV2_CIFAR:
        width, blocks = make_divisible(c * multiplier), []
        for j in range(n):
            src = c_in if j == 0 else width
            blocks.append(Block(inner=src if t == 1 else make_divisible(src * expansion)))
        stages.append(Stage(width=width, blocks=tuple(blocks), stride=stride))
        c_in = width
    return ArchSpec(family="mobilenet", stem=Stem(width=make_divisible(32 * multiplier)), stages=tuple(stages))


#: the MGIC authors' CIFAR MobileNetV3-Small table (BGUCompSci/MultigridInChannelsCNNs, mobilenetv3_MG.py,
#: ``mobileMGV3_small``): per block (kernel, expansion, width, SE, h-swish, stride)
MGIC_MOBILENETV3_SMALL = (
    (3, 1, 16, 1, 0, 2), (3, 4.5, 24, 0, 0, 2), (3, 3.67, 24, 0, 0, 1), (5, 4, 40, 1, 1, 2), (5, 6, 40, 1, 1, 1),
    (5, 6, 40, 1, 1, 1), (5, 3, 48, 1, 1, 1), (5, 3, 48, 1, 1, 1), (5, 6, 96, 1, 1, 2), (5, 6, 96, 1, 1, 1),
    (5, 6, 96, 1, 1, 1),
)


def mgic_mobilenet(table: tuple[tuple[float, ...], ...], multiplier: float = 1.0, *, group_size: int = 32,
                   coarse_width: int = 32) -> ArchSpec:
    """The blocks of the MGIC authors' ``MGMBV3`` (``mobilenetv3_MG.py``) as a ``mobilenet`` spec of
    ``block = "vcycle"`` stages: widths ``make_divisible(c x multiplier)``, inner widths
    ``make_divisible(c_in x t x multiplier)`` (their rule: the multiplier counts twice in the expanded
    width), a new stage where the width changes or the stride is 2; the stem is 3x3 of
    ``make_divisible(16 x multiplier)`` and the head pools, where theirs has a 1x1 stem, a last 1x1 conv
    and a 1024/1280-wide conv_head. ``group_size`` / ``coarse_width``: their numberOfFixGroup / mgFcChannel."""
    c_in = make_divisible(16 * multiplier)
    stages: list[dict] = []
    for kernel, t, c, se, hs, stride in table:
        width = make_divisible(c * multiplier)
        block = Block(inner=make_divisible(c_in * t * multiplier), kernel=int(kernel), se=bool(se),
                      act="hswish" if hs else "relu")
        if not stages or width != stages[-1]["width"] or stride == 2:
            stages.append({"width": width, "stride": int(stride), "blocks": []})
        stages[-1]["blocks"].append(block)
        c_in = width
    return ArchSpec(family="mobilenet", stem=Stem(width=make_divisible(16 * multiplier)), stages=tuple(
        Stage(width=d["width"], blocks=tuple(d["blocks"]), stride=d["stride"], group_size=group_size, block="vcycle",
              coarse_width=coarse_width) for d in stages))


_MGIC_SOURCE = ("Eliasof, Ephrath, Ruthotto, Treister, MGIC (SIAM J. Sci. Comput. 2023), code "
                "BGUCompSci/MultigridInChannelsCNNs mobilenetv3_MG.py mobileMGV3_small with the driver's defaults "
                "(numberOfFixGroup 32, mgFcChannel 32)")
_MOBILENETV2_SOURCE = ("Sandler et al., MobileNetV2 (CVPR 2018), Table 2 layout with CIFAR strides (stem and second "
                       "stage at stride 1, as the common CIFAR ports); channels rounded to multiples of 8; without "
                       "the 1280-wide last conv")
_HE = "He, Zhang, Ren, Sun, Deep Residual Learning (CVPR 2016), CIFAR-10 section: 6n+2 layers, option-A shortcuts"
_TABLE: tuple[Preset, ...] = (
    Preset("resnet20", "CIFAR ResNet-20 (n=3, widths 16/32/64)", _HE + "; reported 0.27M params, 41M MACs",
           _resnet_like("resnet", 3), 269_722, 40_551_040),
    Preset("resnet32", "CIFAR ResNet-32 (n=5, widths 16/32/64)", _HE + "; reported 0.46M params, 69M MACs",
           _resnet_like("resnet", 5), 464_154, 68_862_592),
    Preset("resnet56", "CIFAR ResNet-56 (n=9, widths 16/32/64)",
           _HE + "; reported 0.85M params, 125M MACs (LW-DNA Table 1: 0.856M, 127.4M)",
           _resnet_like("resnet", 9), 853_018, 125_485_696),
    Preset("mgic20", "ResNet-20 with every 3x3 conv an MGIC conv, group size s=8",
           "Eliasof et al., Multigrid-in-Channels (arXiv 2011.09128) applied to ResNet-20; no reported size",
           _resnet_like("mgic", 3, s=8), 95_642, 22_123_136),
    Preset("dacnn20", "ResNet-20 layout in mgsearch's two-kernel DACNN variant: conv1 and conv2 shared as two "
           "kernels per stage (share=3); not the paper's network (that is dacnn-mix20 / dacnn-plain20)",
           "mgsearch's variant of Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764); kept under this "
           "name so studies naming it rebuild the same network",
           _resnet_like("dacnn", 3, share=3), 122_266, 40_551_040),
    Preset("dacnn56", "ResNet-56 layout in mgsearch's two-kernel DACNN variant: conv1 and conv2 shared as two "
           "kernels per stage (share=9); not the paper's network",
           "mgsearch's variant of Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764); kept under this "
           "name so studies naming it rebuild the same network",
           _resnet_like("dacnn", 9, share=9), 124_954, 125_485_696),
    Preset("dacnn-plain34", "Plain DACNN as its authors built it: [3,4,6,3] blocks at constant width 128, ONE "
           "3x3 kernel for every conv of the network (block=\"plain\"), max-pool downsampling; "
           "172,260 used params with 100 classes",
           "Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764), code Gabriel-Huang/DACNN_release "
           "resnet_Fix_BN.py (172,260 used params on CIFAR-100, 176,356 registered: one bn2 per block is never "
           "applied); weight transfer max abs diff 0.0",
           _plain((3, 4, 6, 3), 128), 160_650, 1_338_901_760),
    Preset("dacnn-plain20", "Small plain DACNN (CIFAR-10 sized): [3,3,3] blocks at constant width 64, one kernel "
           "for the network (block=\"plain\")",
           "Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764), the authors' plain DACNN "
           "(DACNN_release resnet_Fix_BN.py) with three stages at width 64; no reported size",
           _plain((3, 3, 3), 64), 41_674, 299_041_408),
    Preset("dacnn-mix34", "DACNN-mix as its authors built it: [3,4,6,3] blocks, widths 64/128/256/512, "
           "one anchored kernel per stage (block=\"anchored\"); 4,925,668 params with 100 classes",
           "Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764), code Gabriel-Huang/DACNN_release "
           "resnet_mix_reg.py (resnet_mix: 4,925,668 used params on CIFAR-100; no regulators applied)",
           _anchored((3, 4, 6, 3), (64, 128, 256, 512)), 4_879_498, 1_159_402_496),
    Preset("dacnn-mix20", "Small DACNN-mix (CIFAR-10 sized): [3,3,3] blocks, widths 16/32/64, one anchored "
           "kernel per stage (block=\"anchored\")",
           "Huang, Dwivedi, Roig, Deep Anchored CNNs (arXiv 1904.09764), the authors' DACNN-mix block "
           "(DACNN_release resnet_mix_reg.py) at ResNet-20 widths; no reported size",
           _anchored((3, 3, 3), (16, 32, 64)), 76_842, 40_813_184),
    Preset("mgnet-2222-256", "MgNet[2,2,2,2]-256-B^l: 4 levels of width 256, 2 steps, B shared per level",
           "He & Xu, MgNet (arXiv 1901.10415), code XuTeam/MgNet_Code: exactly 8,278,794 params there too (its "
           "README's 8.2M is a rounding); its MACs recompute A u at each step where mgsearch reuses it",
           _mgnet_like("mgnet", (256,) * 4, (256,) * 4), 8_278_794, 3_800_828_416),
    Preset("mgnet-222-64", "Small MgNet[2,2,2]-64-B^l: 3 levels of width 64 (CPU-friendly)",
           "He & Xu, MgNet (arXiv 1901.10415), scaled down; no reported size",
           _mgnet_like("mgnet", (64,) * 3, (64,) * 3), 373_194, 232_981_120),
    Preset("mgiad", "MGiaD as mgsearch reads the paper: MgNet[2,2,2,2] at widths 64/128/256/256 (f = u on "
           "every level), B shared per level, A, B, Pi and R MGIC convs with s=32",
           "van Betteray, Rottmann, Kahl, MGiaD (arXiv 2211.05525): the mechanism as the paper describes it; the "
           "authors published no MGiaD code, so no size is reproduced (their nearest code, vanbetteray/Poly-MgNet, "
           "is a different network: preset poly-mgnet)",
           _mgnet_like("mgiad", (64, 128, 256, 256), (64, 128, 256, 256), s=32), 1_521_994, 328_337_920),
    Preset("poly-mgnet", "Poly-MgNet's default network: 4 levels of widths 64/128/256/256, 2 steps each, every "
           "level block=\"poly\" (B = a trainable scalar per step, depthwise strided R and Pi)",
           "van Betteray, Rottmann, Kahl, Poly-MgNet, code vanbetteray/Poly-MgNet (configs-poly.json with "
           "train_routine_MgNet_poly.py): 1,386,706 registered params, of which 1,385,554 used (level 1's convR "
           "and convI never run); weight transfer max abs diff 0.0; MACs here skip A 0 and reuse A' u'",
           ArchSpec(family="mgnet", stem=Stem(width=64), stages=tuple(
               Stage(width=w, blocks=(Block(inner=w),) * 2, stride=1 if i == 0 else 2, block="poly")
               for i, w in enumerate((64, 128, 256, 256)))), 1_385_554, 323_594_752),
    Preset("mgiad-small", "Small MGiaD: 3 levels of width 32/64/128, 2 steps, B shared, s=8 (CPU-friendly)",
           "van Betteray, Rottmann, Kahl, MGiaD (arXiv 2211.05525), scaled down; no reported size",
           _mgnet_like("mgiad", (32, 64, 128), (32, 64, 128), s=8), 126_762, 43_517_184),
    Preset("mobilenetv2-50k", "MobileNetV2-CIFAR, width multiplier 0.25, expansion 2 (about 50k params)",
           _MOBILENETV2_SOURCE + "; expansion 2 instead of 6 to reach about 50k params; no reported size",
           _mobilenetv2(0.25, expansion=2), 45_962, 2_851_104),
    Preset("mobilenetv2-250k", "MobileNetV2-CIFAR, width multiplier 0.35 (about 250k params)",
           _MOBILENETV2_SOURCE + "; 0.35 is one of the paper's multipliers; no reported CIFAR size",
           _mobilenetv2(0.35), 251_338, 13_305_696),
    Preset("mgic-mobilenetv3-small", "The MGIC authors' CIFAR MobileNetV3-Small (mobileMGV3_small, s=32, "
           "mgFcChannel 32): their blocks, mgsearch's 3x3 stem and pooled linear head",
           _MGIC_SOURCE + ": blocks identical (1,036,744 params, outputs equal with their weights); their 1x1 stem, "
           "last 1x1 conv and 1024-wide conv_head (total 1,155,810) are replaced; no reported CIFAR size",
           mgic_mobilenet(MGIC_MOBILENETV3_SMALL), 1_038_178, 5_342_944),
    Preset("mgic-mobilenetv3-50k", "mgic-mobilenetv3-small at width multiplier 0.35 (about 50k params)",
           _MGIC_SOURCE + ", width multiplier 0.35 with their channel rounding; no reported size",
           mgic_mobilenet(MGIC_MOBILENETV3_SMALL, 0.35), 44_530, 622_528),
    Preset("mgic-mobilenetv3-250k", "mgic-mobilenetv3-small at width multiplier 0.6 (about 250k params)",
           _MGIC_SOURCE + ", width multiplier 0.6 with their channel rounding; no reported size",
           mgic_mobilenet(MGIC_MOBILENETV3_SMALL, 0.6), 229_254, 2_085_552),
)

#: preset name -> :class:`Preset`
PRESETS: dict[str, Preset] = {p.name: p for p in _TABLE}


def preset_names() -> list[str]:
    """The preset names in table order."""
    return list(PRESETS)


def get_preset(name: str) -> ArchSpec:
    """The spec of preset ``name``; an unknown name is a :class:`SpecError` listing the names."""
    try:
        return PRESETS[name].spec
    except (KeyError, TypeError):
        lowered = {key.lower(): key for key in PRESETS}
        close = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), lowered, n=1)]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"preset {clip_repr(name)} is unknown{hint}; known presets: {', '.join(PRESETS)}") from None


def _looks_like_path(arg: str) -> bool:
    if arg.endswith(".json") or os.sep in arg or "/" in arg:
        return True
    try:
        return Path(arg).exists()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return False


def resolve_spec(
    arg: str | ArchSpec,
    *,
    in_channels: int | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> ArchSpec:
    """A spec from a preset name, a JSON file path (or a folder holding ``arch.json``) or inline JSON
    text, adapted to a dataset.

    The keyword overrides replace ``in_channels`` / ``num_classes`` / ``input_size`` (e.g. 1, 10, 28
    for Fashion-MNIST). Errors are :class:`SpecError` naming the file (missing, bad JSON, bad field).
    """
    if isinstance(arg, ArchSpec):
        spec = arg
    elif not isinstance(arg, str) or not arg.strip():
        raise SpecError(f"spec argument {arg!r} is empty; give a preset name ({', '.join(PRESETS)}), "
                        "a JSON file or inline JSON")
    elif arg.lstrip().startswith("{"):
        try:
            spec = ArchSpec.from_json(arg)
        except SpecError as exc:
            raise SpecError(f"inline spec JSON: {exc}") from None
    elif arg in PRESETS:
        spec = PRESETS[arg].spec
    elif _looks_like_path(arg):
        path = Path(arg)
        if path.is_dir() and (path / "arch.json").is_file():  # an exported architecture folder
            path = path / "arch.json"
            arg = str(path)
        text = read_input_file(path, missing="spec file not found (give a preset name, a JSON file or inline JSON)",
                               expected="a spec .json file or an export folder holding arch.json", error=SpecError)
        try:
            spec = ArchSpec.from_json(text)
        except SpecError as exc:
            raise SpecError(f"{arg}: {exc}") from None
    else:
        get_preset(arg)  # raises with the list of names and a suggestion
        raise AssertionError("unreachable")
    changes = {k: v for k, v in (("in_channels", in_channels), ("num_classes", num_classes),
                                  ("input_size", input_size)) if v is not None}
    return spec.replace(**changes) if changes else spec
