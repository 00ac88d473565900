"""``configs`` (the names), ``config show`` (a resolved config) and ``config dump`` (a config file to edit)."""


def _configs(args):
    from ..configs import all_configs
    for name in sorted(all_configs()):
        print(name)
    return 0


def _config(args):
    from ..configs import get_config
    from ..configs.files import format_config
    cfg = get_config(args.config, args.cfg_options)
    if args.action == "show":
        header = [f"{args.config}, resolved" + (" with " + " ".join(args.cfg_options) if args.cfg_options else "")]
    else:  # a whole config to edit: no base to inherit from unseen, named after the file it is written to
        cfg.pop("name")
        header = [f"Every key of {args.config}" + (" with " + " ".join(args.cfg_options) if args.cfg_options else "") +
                  ", as plain assignments (read, never run).",
                  "Train it with `python -m tsnbook train FILE`; the file's name names its runs unless it sets name.",
                  "For other data set the data keys, num_classes and label_map, and drop Flip's flip_label_map",
                  "(class ids of this dataset's mirrored pairs) and zoo (the published facts of a zoo row)."]
    print(format_config(cfg, header=header), end="")
    return 0


def add_commands(sub, common):
    sub.add_parser("configs", help="list config names").set_defaults(func=_configs)

    co = sub.add_parser("config", help="show a resolved config, or dump one as a file to edit")
    co.add_argument("action", choices=["show", "dump"],
                    help="show: the resolved config; dump: every key as a config file (config dump NAME > mine.py)")
    co.add_argument("config", help="a config name, a config file (.py) or a run's config.json")
    co.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    co.set_defaults(func=_config)
