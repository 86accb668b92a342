"""python -m train: train a zoo model on MNIST into artifacts/<model>/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from train.zoo import DEFAULT_MODEL, ZOO


def parse_args(argv=None) -> argparse.Namespace:
    models = "\n".join(f"  {e.name:<9} {e.summary}" for e in ZOO.values())
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train a digit-recognition model of the zoo on MNIST.",
        epilog=f"models:\n{models}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="zoo model name (default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the model's recipe)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path,
                        help="MNIST folder (default: $MNIST_DIR, else the user cache; downloads if missing)")
    parser.add_argument("--out", type=Path, help="output folder (default: artifacts/<model>)")
    parser.add_argument("--val-size", type=int, default=5000,
                        help="validation images carved from the end of the training set (default: %(default)s)")
    parser.add_argument("--train-limit", type=int, help="use only the first N training images (quick runs)")
    parser.add_argument("--test-limit", type=int, help="evaluate on the first N test images (quick runs)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from train.config import TrainConfig

    try:
        config = TrainConfig(model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                             seed=args.seed, data_dir=args.data_dir, out_dir=args.out,
                             val_size=args.val_size, train_limit=args.train_limit,
                             test_limit=args.test_limit)
    except (KeyError, ValueError) as error:
        print(f"python -m train: error: {error.args[0]}", file=sys.stderr)
        return 2

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from train.data import MnistError
    from train.trainer import train

    try:
        train(config)
    except (MnistError, ValueError, OSError) as error:
        print(f"python -m train: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
