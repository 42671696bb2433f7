"""`load_accuracy_predictor`: a predictor from a path, a registry name, a supernet name or an object.

Checkpoints come in two forms: the official one (a bare state dict of the MLP, keys 0.*, 2.*,
4.*, 6.*; its layout is the official encoding of the supernet it is used with) and ours
({'state_dict', 'encoder', 'supernet', 'source', 'provenance'}), which carries its encoding."""
from __future__ import annotations

from pathlib import Path
from typing import Any


from ..errors import BadArgumentError, FileFormatError, MissingFileError, OfaDeployError, WeightsUnavailableError
from ..fileio import load_torch_file
from .encoder import ArchEncoder
from .predictor import AccuracyPredictor, build_mlp, mlp_shape
from .proxy import MacsProxy

# Spaces without a predictor of their own that borrow another's, and what the card says about it.
PROXY_FOR = {
    "ofa_mbv3_d234_e346_k357_w1.0": (
        "ofa_mbv3_d234_e346_k357_w1.2",
        "no official predictor exists for w1.0; the official w1.2 predictor scores the same arch "
        "(identical genes and encoding, 1.2x wider). It ranks w1.0 archs; its top-1 overestimates w1.0 "
        "by roughly the w1.2-w1.0 gap (about 1-2 points)"),
}


def load_accuracy_predictor(spec: Any = None, supernet: str | None = None, *, cache_dir: str | Path | None = None,
                            offline: bool | None = None):
    """An accuracy predictor for `supernet`.

    spec: None (the supernet's registered predictor), an object with `predict`, 'macs' (MACs proxy),
    a checkpoint path, a hub asset name, or a supernet name whose predictor to use."""
    from ..registry import ASSETS, SUPERNETS

    if spec is not None and not isinstance(spec, (str, Path)):
        if not callable(getattr(spec, "predict", None)):
            raise BadArgumentError(f"accuracy_predictor must be a path, a name or an object with predict(archs); "
                                   f"got {type(spec).__name__}", "accuracy_predictor")
        return spec
    sup = SUPERNETS.get(supernet).name if supernet else None
    if spec is None:
        if sup is None:
            raise BadArgumentError("load_accuracy_predictor needs a spec or a supernet name")
        return _for_supernet(sup, cache_dir, offline)
    text = str(spec)
    if text.lower() == "macs":
        if sup is None:
            raise BadArgumentError("the 'macs' proxy needs the supernet: pass supernet=<name>")
        return MacsProxy(sup)
    if Path(text).expanduser().is_file():
        return load_checkpoint(Path(text).expanduser(), sup)
    if text in ASSETS:
        from .. import hub

        return load_checkpoint(hub.fetch(ASSETS.get(text), cache_dir=cache_dir, offline=offline), sup,
                               source=_asset_source(text), asset=text)
    if text in SUPERNETS:
        return _for_supernet(SUPERNETS.get(text).name, cache_dir, offline, target=sup)
    if any(c in text for c in "/\\") or text.endswith((".pth", ".pt")):
        raise MissingFileError(f"accuracy predictor file {text} does not exist; pass an existing checkpoint path, "
                                f"a predictor asset name ({', '.join(ASSETS.names('acc_*'))}) or 'macs'")
    from ..errors import UnknownNameError

    raise UnknownNameError("accuracy predictor", text, ASSETS.names("acc_*") + ["macs"],
                           "Pass a checkpoint path, a supernet name or 'macs'.")


def _asset_source(name: str) -> str:
    return "official" if name == "acc_predictor_ofa_mbv3_w1.2" else "trained"


def _for_supernet(name: str, cache_dir, offline, target: str | None = None):
    """The predictor registered for supernet `name`, or the one PROXY_FOR names (labelled proxy)."""
    from .. import hub
    from ..registry import SUPERNETS

    target = target or name
    rec = SUPERNETS.get(name)
    note = None
    if rec.accuracy_predictor is None and name in PROXY_FOR:
        donor, note = PROXY_FOR[name]
        rec = SUPERNETS.get(donor)
    if note is None and target != rec.name:
        note = f"the predictor of {rec.name} scores archs of {target}: a ranking proxy, not a calibrated top-1"
    if rec.accuracy_predictor is None:
        raise WeightsUnavailableError(f"{name} has no accuracy predictor; pass accuracy_predictor=<checkpoint> "
                                      f"(train one with tools/build_accuracy_dataset.py) or 'macs' for a MACs proxy")
    asset = rec.accuracy_predictor
    path = hub.fetch(asset, cache_dir=cache_dir, offline=offline)
    pred = load_checkpoint(path, target, source="proxy" if note else _asset_source(asset.name), asset=asset.name)
    if note:
        pred.provenance.update({"proxy_for": target, "predictor_of": rec.name, "note": note})
    return pred


def load_checkpoint(path: str | Path, supernet: str | None = None, source: str | None = None,
                    asset: str | None = None) -> AccuracyPredictor:
    """Load an official bare state dict or our checkpoint, for archs of `supernet`."""
    from ..registry import SUPERNETS

    obj = load_torch_file(path, "an accuracy-predictor checkpoint", "build one with tools/train_accuracy_predictor.py "
                          "or omit it to use the shipped predictor")
    if not isinstance(obj, dict):
        raise OfaDeployError(f"{path}: not an accuracy-predictor checkpoint (a {type(obj).__name__}); expected a "
                             f"state dict with keys 0.*, 2.*, 4.*, 6.* or our {{'state_dict', 'encoder'}} form")
    ours = "state_dict" in obj and "encoder" in obj
    state = obj["state_dict"] if ours else obj
    try:
        n_in, hidden, n_hidden = mlp_shape(state)
    except FileFormatError as exc:   # name the file: the shape check alone cannot
        raise FileFormatError(f"{path}: {exc}; build one with tools/train_accuracy_predictor.py") from None
    name = supernet or (obj.get("supernet") if ours else None)
    space = SUPERNETS.get(name).space if name else None
    if ours:
        encoder = ArchEncoder.from_dict(obj["encoder"])
    elif space is not None:
        encoder = ArchEncoder.for_space(space)
    elif n_in == 128:
        encoder = ArchEncoder.for_space(SUPERNETS.get("ofa_mbv3_w1.2").space)
    else:
        raise OfaDeployError(f"{path}: a bare state dict with {n_in} inputs does not say which space it encodes; "
                             f"pass supernet=<name>")
    if space is not None and not encoder.fits(space):
        raise OfaDeployError(f"{path}: this predictor encodes {encoder.n_blocks} blocks with kernels "
                             f"{list(encoder.ks_choices)} and expands {list(encoder.e_choices)}, which does not fit "
                             f"{name}; use a predictor trained for {name}")
    model = build_mlp(n_in, hidden, n_hidden)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:   # missing, extra or wrong-shaped tensors
        raise FileFormatError(f"{path}: its tensors do not fit a {n_in}-input MLP "
                              f"({str(exc).splitlines()[-1].strip()[:120]}); rebuild it with "
                              "tools/train_accuracy_predictor.py") from None
    provenance = dict(obj.get("provenance") or {}) if ours else {}
    provenance.setdefault("file", str(path))
    if asset:
        provenance["asset"] = asset
    src = source or (obj.get("source", "trained") if ours else "official")
    return AccuracyPredictor(model, encoder, space, name, src, provenance)
