"""The supernet's weights and how a width configuration reads them (channel slicing).

A :class:`Supernet` holds one tensor per *site* of the structure's largest network (every conv,
BatchNorm and the classifier), each at the largest shape any configuration of the structure needs.
A configuration (a spec of the same structure with narrower widths) is run with the family's own
modules, built from its spec, whose parameters are *slices* of those tensors:

* channels are prefixes: a layer of ``c`` output channels uses the first ``c`` rows of its site;
  BatchNorm scales and shifts likewise; the classifier its first ``c`` input columns;
* convolutions are stored dense (``out x in x k x k``); a grouped conv of the configuration (the
  levels of an MGIC conv, its restrictions and prolongations) reads the diagonal blocks of its site:
  group ``h`` with ``b`` outputs and ``a`` inputs per group is the block ``[h*b:(h+1)*b, h*a:(h+1)*a]``.
  Whole groups are kept: a configuration's group is always a complete block of channels, and two
  configurations whose groups have the same size share the weights of their common groups;
* an MGIC conv's operators are keyed by channel level: level ``l``'s 3x3 operator (``G_l``, or ``D``
  when ``l`` is the configuration's coarsest level), its restriction ``R_l`` and prolongation
  ``P_l``; configurations with fewer levels use the finer levels' sites;
* sharing runs stay shared: every module path of a shared conv reads the same site; a block 0 that
  has a transition conv of its own (its input width differs from the stage width) reads its own site
  when the largest network has one, else the run's;
* a 1x1 projection shortcut (a stage narrower than its input) has a site of its own, also where the
  largest network needs none.

Only the residual families' plain conv blocks (dense or MGIC) are supported; other block forms and
families raise :class:`OneShotUnsupported`. The sliced parameters are differentiable views, so the
supernet trains through :func:`torch.func.functional_call` of the configuration's modules.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Iterator

import torch
from torch import nn

from mgsearch.errors import MgsearchError
from mgsearch.families.base import MgsearchNet
from mgsearch.layers.mgic import MGICConv2d
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec

__all__ = ["OneShotUnsupported", "SupernetCoverage", "Supernet", "check_supported", "block_slice"]


class OneShotUnsupported(MgsearchError):
    """The structure has blocks or a family the one-shot slicing does not handle yet."""


class SupernetCoverage(MgsearchError):
    """A configuration needs a weight the supernet does not hold (wider than its largest network)."""


def check_supported(spec: ArchSpec) -> None:
    """Raise :class:`OneShotUnsupported` unless ``spec`` is a residual family with plain conv blocks."""
    from mgsearch.families import get_family
    from mgsearch.families.family import RESNET_LIKE

    family = get_family(spec.family)
    if family.topology != RESNET_LIKE:
        raise OneShotUnsupported(f"not supported by oneshot yet: family {spec.family!r} (topology "
                                 f"{family.topology!r}); oneshot slices the residual families' conv blocks")
    for i, stage in enumerate(spec.stages):
        if stage.block != DEFAULT_BLOCK:
            raise OneShotUnsupported(f"not supported by oneshot yet: stages[{i}].block={stage.block!r}; "
                                     f"oneshot slices {DEFAULT_BLOCK!r} blocks only")


def _aliases(model: nn.Module) -> "OrderedDict[int, tuple[nn.Module, list[str]]]":
    """Every module object of ``model`` with all the paths it is reachable by (shared modules have several)."""
    out: OrderedDict[int, tuple[nn.Module, list[str]]] = OrderedDict()
    for path, module in model.named_modules(remove_duplicate=False):
        out.setdefault(id(module), (module, []))[1].append(path)
    return out


def _inside_mgic(modules: "OrderedDict[int, tuple[nn.Module, list[str]]]") -> set[int]:
    """Ids of the convs that belong to an MGIC conv (handled with it)."""
    return {id(m) for module, _ in modules.values() if isinstance(module, MGICConv2d)
            for m in module.modules() if m is not module}


def _site_levels(ci: int, co: int, s: int) -> Iterator[int]:
    level = 0
    while (ci >> level) >= s and (co >> level) >= s:
        yield level
        level += 1


def block_slice(full: torch.Tensor, out_ch: int, in_ch: int, groups: int) -> torch.Tensor:
    """The weight of a conv ``in_ch -> out_ch`` with ``groups`` groups read from a dense site ``full``
    (``O x I x k x k``): group ``h`` is the diagonal block ``[h*b:(h+1)*b, h*a:(h+1)*a]``
    (``b = out_ch / groups``, ``a = in_ch / groups``). A differentiable view or gather."""
    if out_ch > full.shape[0] or in_ch > full.shape[1]:
        raise SupernetCoverage(f"a conv {in_ch} -> {out_ch} does not fit the supernet's site "
                               f"{full.shape[1]} -> {full.shape[0]}")
    if groups == 1:
        return full[:out_ch, :in_ch]
    a, b = in_ch // groups, out_ch // groups
    rows = torch.arange(out_ch, device=full.device)
    cols = (rows // b * a)[:, None] + torch.arange(a, device=full.device)[None, :]
    return full[rows[:, None], cols]


class Supernet(nn.Module):
    """The weights of one structure's slimmable supernet (see the module docstring).

    ``Supernet(largest)`` makes fresh sites for the structure whose largest network is ``largest``;
    :meth:`params_for` gives a configuration's sliced parameters; :meth:`forward_config` runs it;
    :meth:`extract` returns a stand-alone network of a configuration with copied weights.
    """

    def __init__(self, largest: ArchSpec, *, init: bool = True) -> None:
        super().__init__()
        check_supported(largest)
        from mgsearch.families import build

        self.largest = largest
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.transfer_init: dict[str, float] = {}  # MGIC restriction / prolongation sites: 1/s
        net = build(largest)
        self._super_keys: dict[str, str] = {}  # a path of the largest network -> its module's site prefix
        self._add_sites(net)
        self.bank = nn.ParameterDict({_safe(k): nn.Parameter(torch.empty(shape)) for k, shape in self.shapes.items()})
        if init:
            self.reset_parameters()
        self._models: OrderedDict[str, MgsearchNet] = OrderedDict()

    # ------------------------------------------------------------------ sites
    def _add_sites(self, net: nn.Module) -> None:
        modules = _aliases(net)
        inside_mgic = _inside_mgic(modules)
        for module, paths in modules.values():
            key = paths[-1]
            for p in paths:
                self._super_keys[p] = key
            if id(module) in inside_mgic:
                continue
            if isinstance(module, MGICConv2d):
                s, ci, co = module.group_size, module.in_channels, module.out_channels
                for level in _site_levels(ci, co, s):
                    self.shapes[f"{key}.L{level}"] = (co >> level, ci >> level, 3, 3)
                    if (ci >> (level + 1)) >= s and (co >> (level + 1)) >= s:
                        self.shapes[f"{key}.R{level}"] = (ci >> (level + 1), ci >> level, 1, 1)
                        self.shapes[f"{key}.P{level}"] = (co >> level, co >> (level + 1), 1, 1)
                        self.transfer_init[f"{key}.R{level}"] = self.transfer_init[f"{key}.P{level}"] = 1.0 / s
            elif isinstance(module, nn.Conv2d):
                self.shapes[f"{key}.weight"] = (module.out_channels, module.in_channels, *module.kernel_size)
            elif isinstance(module, (nn.BatchNorm2d, nn.Linear)):
                for name, p in module.named_parameters(recurse=False):
                    self.shapes[f"{key}.{name}"] = tuple(p.shape)
            elif any(True for _ in module.parameters(recurse=False)):
                raise OneShotUnsupported(f"not supported by oneshot yet: module {key} ({type(module).__name__})")
        # a stage narrower than its input needs a projection shortcut: a site for it wherever it may occur
        w_in = self.largest.stem.width
        for i, stage in enumerate(self.largest.stages):
            path = f"stages.{i}.blocks.0.shortcut"
            if f"{path}.conv.weight" not in self.shapes:
                self.shapes[f"{path}.conv.weight"] = (stage.width, w_in, 1, 1)
                self.shapes[f"{path}.bn.weight"] = (stage.width,)
                self.shapes[f"{path}.bn.bias"] = (stage.width,)
            w_in = stage.width

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Fresh weights as the families initialise theirs: Kaiming-normal (fan-out) convs, BN 1 / 0,
        MGIC restrictions and prolongations ``1/s``, PyTorch's default for the classifier."""
        for key, shape in self.shapes.items():
            t = self.bank[_safe(key)]
            if key in self.transfer_init:
                t.fill_(self.transfer_init[key])
            elif len(shape) == 4:
                nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
            elif key.endswith(".bias") and len(shape) == 1 and self._is_linear(key):
                bound = 1.0 / math.sqrt(self.shapes[key[: -len("bias")] + "weight"][1])
                nn.init.uniform_(t, -bound, bound)
            elif len(shape) == 2:
                nn.init.kaiming_uniform_(t, a=math.sqrt(5))
            elif key.endswith(".weight"):
                t.fill_(1.0)
            else:
                t.zero_()

    def _is_linear(self, key: str) -> bool:
        return len(self.shapes.get(key[: -len("bias")] + "weight", ())) == 2

    def site(self, key: str) -> torch.Tensor:
        return self.bank[_safe(key)]

    # ------------------------------------------------------------------ configurations
    def model(self, spec: ArchSpec) -> MgsearchNet:
        """The family's network of ``spec`` (cached; its own parameters are never used for training)."""
        key = spec.hash
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        from mgsearch.families import build

        check_supported(spec)
        if len(spec.stages) != len(self.largest.stages) or any(
                a.depth != b.depth for a, b in zip(spec.stages, self.largest.stages)):
            raise SupernetCoverage(f"spec {spec.short_hash} has another structure than the supernet's")
        model = build(spec).to(next(iter(self.bank.values())).device)
        self._models[key] = model
        while len(self._models) > 16:
            self._models.popitem(last=False)
        return model

    def params_for(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Every parameter name of ``model`` (shared ones under each of their names) -> its slice."""
        out: dict[str, torch.Tensor] = {}
        modules = _aliases(model)
        inside = _inside_mgic(modules)
        for module, paths in modules.values():
            if id(module) in inside:
                continue
            if isinstance(module, MGICConv2d):
                site = self._site_prefix(paths)
                coarsest = len(module.levels) - 1
                parts = [(f"G.{l}", g, f"L{l}") for l, g in enumerate(module.G)]
                parts += [("D", module.D, f"L{coarsest}")]
                parts += [(f"R.{l}", r, f"R{l}") for l, r in enumerate(module.R)]
                parts += [(f"P.{l}", p, f"P{l}") for l, p in enumerate(module.P)]
                for child, conv, level_key in parts:
                    w = self._conv(f"{site}.{level_key}", conv)
                    for path in paths:
                        out[f"{path}.{child}.weight" if path else f"{child}.weight"] = w
            elif isinstance(module, nn.Conv2d):
                w = self._conv(f"{self._site_prefix(paths)}.weight", module)
                for path in paths:
                    out[f"{path}.weight"] = w
            elif isinstance(module, nn.BatchNorm2d):
                site = self._site_prefix(paths)
                n = module.num_features
                w, b = self._vector(f"{site}.weight", n), self._vector(f"{site}.bias", n)
                for path in paths:
                    out[f"{path}.weight"], out[f"{path}.bias"] = w, b
            elif isinstance(module, nn.Linear):
                site = self._site_prefix(paths)
                full = self.site(f"{site}.weight")
                if module.in_features > full.shape[1] or module.out_features != full.shape[0]:
                    raise SupernetCoverage(f"classifier {module.in_features} -> {module.out_features} does not fit "
                                           f"the supernet's {full.shape[1]} -> {full.shape[0]}")
                for path in paths:
                    out[f"{path}.weight"] = full[:, : module.in_features]
                    out[f"{path}.bias"] = self.site(f"{site}.bias")
        return out

    def forward_config(self, spec: ArchSpec, x: torch.Tensor) -> torch.Tensor:
        """The logits of configuration ``spec`` on ``x``, differentiable w.r.t. the supernet's sites."""
        model = self.model(spec)
        return torch.func.functional_call(model, self.params_for(model), (x,), strict=False)

    @torch.no_grad()
    def extract(self, spec: ArchSpec) -> MgsearchNet:
        """A stand-alone network of ``spec`` holding copies of its slices (BatchNorm statistics fresh)."""
        from mgsearch.families import build

        check_supported(spec)
        model = build(spec).to(next(iter(self.bank.values())).device)
        named = dict(model.named_parameters(remove_duplicate=False))
        for name, value in self.params_for(model).items():
            named[name].copy_(value)
        return model

    # ------------------------------------------------------------------ helpers
    def _site_prefix(self, paths: list[str]) -> str:
        path = paths[-1]
        return self._super_keys.get(path, path)

    def _conv(self, key: str, conv: nn.Conv2d) -> torch.Tensor:
        if _safe(key) not in self.bank:
            raise SupernetCoverage(f"the supernet has no weights for {key} (a configuration wider than its "
                                   "largest network, or of another structure)")
        return block_slice(self.site(key), conv.out_channels, conv.in_channels, conv.groups)

    def _vector(self, key: str, n: int) -> torch.Tensor:
        if _safe(key) not in self.bank:
            raise SupernetCoverage(f"the supernet has no weights for {key}")
        full = self.site(key)
        if n > full.shape[0]:
            raise SupernetCoverage(f"{key} needs {n} channels; the supernet has {full.shape[0]}")
        return full[:n]


def _safe(key: str) -> str:
    """A site key as a ParameterDict key (no dots allowed there)."""
    return key.replace(".", ":")
