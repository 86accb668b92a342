"""Configuration of one training run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from train.zoo import get_entry


@dataclass(frozen=True)
class TrainConfig:
    model: str
    epochs: int | None = None       # None: the model's recipe
    batch_size: int | None = None   # None: the model's recipe
    seed: int = 0
    data_dir: Path | None = None
    out_dir: Path | None = None     # None: artifacts/<model>
    val_size: int = 5000
    train_limit: int | None = None  # use only the first N training images (quick runs, tests)
    test_limit: int | None = None   # evaluate on the first N test images (quick runs, tests)

    def __post_init__(self):
        get_entry(self.model)  # raises with a did-you-mean for unknown names
        for name in ("epochs", "batch_size", "train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        if self.val_size <= 0:
            raise ValueError(f"--val-size must be a positive integer, got {self.val_size}")
        if self.train_limit is not None and self.train_limit <= self.val_size:
            raise ValueError(
                f"--train-limit ({self.train_limit}) must exceed --val-size ({self.val_size}): "
                "the validation images are carved from the training images"
            )

    @property
    def recipe(self):
        return get_entry(self.model).recipe

    @property
    def resolved_epochs(self) -> int:
        return self.epochs or self.recipe.epochs

    @property
    def resolved_batch_size(self) -> int:
        return self.batch_size or self.recipe.batch_size

    @property
    def resolved_out_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("artifacts") / self.model
