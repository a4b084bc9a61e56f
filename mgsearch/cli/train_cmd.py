"""`mgsearch train NAME_OR_SPEC_JSON --dataset NAME`: train one architecture and report its accuracy."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser(
        "train",
        help="train one preset or spec on a dataset; validation / test accuracy, time, images/s",
        description="Train a preset, a spec JSON file or inline spec JSON on a dataset with the default recipe "
        "(SGD + Nesterov, label smoothing, warm-up then cosine). The spec's input channels, classes and input "
        "size are adapted to the dataset. Validation accuracy is measured on a seeded split carved from the "
        "training set; the test split is evaluated once at the end (skip it with --no-test).",
    )
    p.add_argument("spec", metavar="NAME_OR_SPEC_JSON", help="preset name (see `mgsearch presets`), JSON file or inline JSON")
    p.add_argument("--dataset", required=True, metavar="NAME",
                   help="cifar10, cifar100, svhn, mnist, fashion-mnist or imagefolder (or imagefolder:PATH)")
    p.add_argument("--data-root", metavar="DIR",
                   help="dataset folder (torchvision layout, IDX files or train/<class>/ + test/<class>/) or an archive "
                   "of an image folder; default: Debian files for fashion-mnist, else $MGSEARCH_DATA_ROOT or ./data")
    p.add_argument("--download", action="store_true", help="let torchvision download missing files (needs network)")
    p.add_argument("--epochs", type=int, default=5, metavar="E", help="training epochs (default 5)")
    p.add_argument("--train-fraction", type=float, default=1.0, metavar="F",
                   help="share of the training split used, a seeded stratified subset (default 1.0)")
    p.add_argument("--batch-size", type=int, default=128, metavar="B", help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=None, metavar="LR",
                   help="peak learning rate at batch size 128, scaled linearly with --batch-size (default 0.1)")
    p.add_argument("--schedule", choices=("cosine", "onecycle", "constant"), default="cosine",
                   help="learning-rate decay after the warm-up (default cosine)")
    p.add_argument("--warmup-epochs", type=float, default=None, metavar="W",
                   help="linear warm-up length in epochs, at most a quarter of the run (default 1)")
    p.add_argument("--weight-decay", type=float, default=None, metavar="WD", help="weight decay (default 5e-4)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of initialisation, batch order, augmentation")
    p.add_argument("--split-seed", type=int, default=0, metavar="S", help="seed of the validation split (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.1, metavar="V",
                   help="share of the training set held out for validation (default 0.1)")
    p.add_argument("--device", default="cpu", metavar="D", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: the CPUs available)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the result")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (default: a bar per epoch on a terminal, else a line per epoch)")
    # deprecated alias of --no-progress, hidden from --help (no note printed: stderr keeps one line per error)
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-test", action="store_true", help="do not evaluate the test split")
    p.set_defaults(func=run)


def _recipe(args: argparse.Namespace):
    from mgsearch.train import Recipe

    overrides = {"schedule": args.schedule}
    for key in ("lr", "warmup_epochs", "weight_decay"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    return Recipe(**overrides)


def run(args: argparse.Namespace) -> int:
    """Load the dataset, adapt and train the spec, print the result."""
    from mgsearch.cli.common import human_count, print_json
    from mgsearch.data import load_dataset
    from mgsearch.presets import resolve_spec
    from mgsearch.errors import ConfigError, clip
    from mgsearch.train import MAX_THREADS, Fidelity, check_training_memory, train

    fidelity = Fidelity(epochs=args.epochs, train_fraction=args.train_fraction, batch_size=args.batch_size)
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise ConfigError(f"--threads={args.threads} must be in 1..{MAX_THREADS}")
    recipe = _recipe(args)
    label = "inline spec" if args.spec.lstrip().startswith("{") else clip(args.spec)
    spec = resolve_spec(args.spec)  # a bad spec fails before the dataset is loaded
    check_training_memory(spec, batch_size=1, what=label)  # so does one too big to build
    ds = load_dataset(args.dataset, args.data_root, val_fraction=args.val_fraction, seed=args.split_seed,
                      download=args.download)
    spec = resolve_spec(spec, in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size)
    result = train(spec, ds, fidelity=fidelity, recipe=recipe, seed=args.seed, device=args.device,
                   evaluate_test=not args.no_test, progress=not (args.no_progress or args.quiet), threads=args.threads)
    if args.json:
        print_json({**result.to_dict(), "dataset": ds.describe(), "spec": spec.to_dict(), "spec_hash": spec.hash})
        return 0
    d = ds.describe()
    print(f"{label} on {ds.name} ({ds.source}): {d['train']:,} train / {d['val']:,} val / {d['test']:,} test images, "
          f"{ds.in_channels}x{ds.input_size}x{ds.input_size}, {ds.num_classes} classes")
    print(f"spec {spec.short_hash}: {result.params:,} params ({human_count(result.params)}), "
          f"{human_count(result.macs or 0)} MACs")
    print(f"trained {result.epochs} epochs in {result.train_seconds:.1f} s on {result.device} "
          f"({result.images_per_second:,.0f} images/s), batch {fidelity.batch_size}, "
          f"train fraction {fidelity.train_fraction:g}, peak lr {recipe.peak_lr(fidelity.batch_size):g}, seed {args.seed}")
    test = "not evaluated" if result.test_acc is None else f"{result.test_acc:.4f}"
    print(f"val acc {result.val_acc:.4f}  test acc {test}")
    return 0
