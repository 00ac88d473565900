"""Models from configs and from checkpoint files: the one place where a config or any checkpoint becomes a TSN.

    model = build_model(cfg)                         # a fresh TSN as the config describes (load_from applied)
    model, info = load_model("work_dirs/x/best.pth")  # a tsnbook checkpoint, rebuilt from the config stored in it
    model, info = load_model("tsn_r50_1x1x3_100e_kinetics400_rgb_20200614-e508be42.pth")   # an MMAction2 file
    model, info = load_model("any.pth", cfg=cfg)     # either kind, into the model ``cfg`` describes

Every entry point that reads weights goes through here: ``train`` (``load_from``), ``evaluate_checkpoint`` and
``python -m tsnbook test``, ``predict``, and the notebooks. Loading is strict: missing or unexpected keys are an
error listing them (`tsnbook.checkpoints.fit_weights`), ``strict=False`` on request; a classifier of another
size under ``load_from`` is the one documented exception.
"""
from .checkpoints import check_architecture, fit_weights, read_checkpoint
from .configs import as_config, get_config, option, stacked_frames
from .mmaction2 import check_mmaction2_file, is_mmaction2_checkpoint, load_mmaction2_checkpoint, mmaction2_to_tsnbook
from .models import TSN


def build_model(cfg, trusted=False):
    """The TSN a config dict describes (keys: `tsnbook.configs`); ``load_from`` initialises it from a checkpoint.

    ``load_from`` may be a tsnbook checkpoint or an MMAction2 one (``trusted``: see `read_checkpoint`); a
    classifier of another size (fine-tuning Kinetics weights on HMDB51) is dropped with a printed note and keeps
    its fresh init. Every other key must match.
    """
    model = TSN(cfg["backbone"], cfg["num_classes"], cfg["num_segments"], cfg["modality"],
                clip_len=stacked_frames(cfg),
                dropout=cfg.get("dropout", 0.4), init_std=cfg.get("init_std", 0.01),
                partial_bn=cfg.get("partial_bn", False), norm_eval=cfg.get("norm_eval", False),
                pretrained=cfg.get("pretrained"), flow_init=cfg.get("flow_init", "average"),
                frozen_stages=cfg.get("frozen_stages", -1), densenet_relu=cfg.get("densenet_relu", False),
                multi_label=cfg.get("multi_label", False), multi_label_prob=option(cfg, "multi_label_prob"),
                consensus=option(cfg, "consensus"))
    if cfg.get("load_from"):
        load_weights(model, cfg["load_from"], trusted=trusted, drop_classifier=True)
    return model


def _weights(state, path):
    """The state dict of a checkpoint in tsnbook's key names, and the file's kind."""
    if is_mmaction2_checkpoint(state):
        return mmaction2_to_tsnbook(state.get("state_dict", state))[0], "MMAction2"
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        return state["model"], "tsnbook"
    raise ValueError(f"{path} is neither a tsnbook checkpoint (a dict with 'model') nor an MMAction2 one (a "
                     f"'state_dict' with backbone./cls_head. keys)")


def load_weights(model, path, trusted=False, strict=True, drop_classifier=False):
    """Load a tsnbook or MMAction2 checkpoint's weights into ``model``; ``(missing, unexpected)`` key lists. An
    MMAction2 file of another recognizer (TSM's weights fit a TSN exactly) loads with a note: a fine-tuning may
    start from it on purpose."""
    state = read_checkpoint(path, trusted)
    weights, kind = _weights(state, path)
    if kind == "MMAction2":
        check_mmaction2_file(state, model, path, strict=False)
    return fit_weights(model, weights, path, strict=strict, drop_classifier=drop_classifier)


def _stored_config(state, path):
    """The config a tsnbook checkpoint stores (``cfg``; older files only ``cfg_name``: today's config of that
    name, with a note); None for a file without one (MMAction2's)."""
    if not isinstance(state, dict) or is_mmaction2_checkpoint(state):
        return None
    if isinstance(state.get("cfg"), dict):
        return dict(state["cfg"])
    if state.get("cfg_name"):
        print(f"note: {path} stores only its config's name ({state['cfg_name']}); today's config of that name "
              f"is used, without the overrides the run may have had")
        return get_config(state["cfg_name"])
    return None


def checkpoint_config(path, trusted=False):
    """``(cfg, classes, stored)`` of a checkpoint: the config it was trained with and its class names (each None
    when the file has none: an MMAction2 file stores neither), so it can be tested and used without naming a
    config; ``stored``: the config dict the file itself holds (None for an older file that names its config
    only: ``cfg`` is then today's config of that name), which `check_architecture` compares. Its tensors are
    mapped, not read: only its records are needed."""
    state = read_checkpoint(path, trusted, mapped=True)
    ours = isinstance(state, dict) and not is_mmaction2_checkpoint(state)
    classes = state.get("classes") if ours else None
    stored = state.get("cfg") if ours and isinstance(state.get("cfg"), dict) else None
    return _stored_config(state, path), None if classes is None else list(classes), stored


def load_model(path, cfg=None, trusted=False, strict=True, num_segments=None):
    """``(model, info)`` for any TSN checkpoint: a tsnbook one, or an MMAction2 0.x / 1.x one. Eval mode.

    Without ``cfg`` the architecture comes from the file: a tsnbook checkpoint stores the resolved config it was
    trained with (``cfg``; files from before that store only ``cfg_name``, and today's config of that name is
    used, with a note), an MMAction2 file is read by `load_mmaction2_checkpoint` (architecture from the weights).
    With ``cfg`` (a dict, a config's name or file) the model is the one it describes, and the file's weights must
    fit it.
    ``info``: ``format`` ("tsnbook", "MMAction2 0.x", ...), ``cfg`` (None for an MMAction2 file without one),
    ``description`` (one line), ``classes`` (the class names a tsnbook checkpoint stores, in label order; None
    when it stores none, and for MMAction2 files, which carry no names), and ``epoch`` for tsnbook files.
    """
    cfg = as_config(cfg)  # a name or a config file's path, as the commands take
    state = read_checkpoint(path, trusted)
    if cfg is None and is_mmaction2_checkpoint(state):
        model, report = load_mmaction2_checkpoint(path, num_segments=num_segments, trusted=trusted, strict=strict)
        return model, dict(format=f"MMAction2 {report['format']}", cfg=None, report=report, classes=None,
                           description=f"MMAction2 {report['format']} checkpoint, {report['backbone']} "
                                       f"{report['modality']}, {report['num_classes']} classes")
    weights, kind = _weights(state, path)
    if cfg is not None and strict and kind == "tsnbook":  # the config the file stores, not a guess from its name
        check_architecture(state.get("cfg"), cfg, path, "load it with its own config, which it stores (without "
                           "cfg=; CLI: without --config)")
    if cfg is None:
        cfg = _stored_config(state, path)
        if cfg is None:
            raise ValueError(f"{path} stores no config: pass cfg= (CLI: give the config name)")
    if num_segments:
        cfg = dict(cfg, num_segments=num_segments)
    model = build_model(dict(cfg, pretrained=None, load_from=None))
    if kind == "MMAction2":  # another recognizer's file is refused here too, unless strict is off
        check_mmaction2_file(state, model, path, strict=strict)
    fit_weights(model, weights, path, strict=strict)
    name = cfg.get("name", "a config")
    epoch = state.get("epoch") if kind == "tsnbook" else None
    description = (f"tsnbook checkpoint of {name} (epoch {epoch})" if kind == "tsnbook" else
                   f"MMAction2 checkpoint loaded into {name}")
    classes = state.get("classes") if kind == "tsnbook" else None
    if classes is not None and len(classes) != model.num_classes:
        raise ValueError(f"{path} stores {len(classes)} class names for a model of {model.num_classes} classes: "
                         f"the file is inconsistent; pass the right names with --label-map")
    return model.eval(), dict(format=kind, cfg=cfg, epoch=epoch, description=description,
                              classes=None if classes is None else list(classes))
