"""The optimizer: SGD with momentum and weight decay, optionally MMAction2's TSM parameter groups (``fc_lr5``)."""
import torch

from .configs import option as _opt  # a config's value or the optional key's default


def build_optimizer(model, cfg, lr):
    """SGD with momentum and weight decay; each parameter group carries an ``lr_mult`` the schedule multiplies.

    ``fc_lr5=True`` builds the groups of MMAction2's TSMOptimizerConstructor (0.24.1), used by the MMiT row:
    the first conv's weight at (lr, decay) and its bias at (2 lr, no decay); other conv and linear weights at
    (lr, decay), their biases at (2 lr, no decay); normalisation parameters that train at (lr, no decay); the
    classifier (the last Linear) at (5 lr, decay) for the weight and (10 lr, no decay) for the bias.
    """
    decay = cfg.get("weight_decay", 1e-4)
    if not _opt(cfg, "fc_lr5"):
        groups = [dict(params=list(model.parameters()), lr_mult=1.0)]
    else:
        first_conv, weights, biases, norms, linears = [], [], [], [], []
        for module in model.modules():
            params = list(module.parameters(recurse=False))
            if isinstance(module, torch.nn.modules.conv._ConvNd):
                (first_conv if not first_conv else weights).append(module.weight)
                if module.bias is not None:
                    biases.append(module.bias)  # the first conv's bias has the same (2 lr, no decay) as the rest
            elif isinstance(module, torch.nn.Linear):
                linears.append(module)
            elif isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)):
                norms += [p for p in params if p.requires_grad]
            elif params:
                raise ValueError(f"fc_lr5: no learning-rate rule for a {type(module).__name__} layer (MMAction2's "
                                 f"TSMOptimizerConstructor knows conv, linear and normalisation layers only)")
        if not linears:
            raise ValueError("fc_lr5 needs a Linear classifier, and this model has none")
        *others, fc = linears
        weights += [m.weight for m in others]
        biases += [m.bias for m in others if m.bias is not None]
        groups = [dict(params=first_conv + weights, lr_mult=1.0), dict(params=biases, lr_mult=2.0, weight_decay=0.0),
                  dict(params=norms, lr_mult=1.0, weight_decay=0.0), dict(params=[fc.weight], lr_mult=5.0),
                  dict(params=[fc.bias], lr_mult=10.0, weight_decay=0.0)]
        groups = [g for g in groups if g["params"]]
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=cfg.get("momentum", 0.9), weight_decay=decay)
    set_lr(optimizer, lr)
    return optimizer


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
