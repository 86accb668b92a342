"""Pictures a person looks at after training: curves, confusion matrix, mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    tmp = path.with_name(path.stem + ".partial.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)


def plot_training_curves(history: dict, path: Path, title: str) -> None:
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        ax_loss.plot(epochs, history[key], style, label=key.replace("_", " "))
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        ax_acc.plot(epochs, np.asarray(history[key]) * 100, style, label=key.replace("_", " "))
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)


def plot_confusion(confusion: np.ndarray, path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    # Log colour scale: the diagonal (~1000) would otherwise hide the handful of errors.
    image = ax.imshow(np.log1p(confusion), cmap="Blues")
    for true in range(confusion.shape[0]):
        for pred in range(confusion.shape[1]):
            count = confusion[true, pred]
            if count:
                colour = "white" if true == pred else "black"
                ax.text(pred, true, str(count), ha="center", va="center", fontsize=7, color=colour)
    ax.set(xlabel="predicted", ylabel="true", title=title,
           xticks=range(10), yticks=range(10))
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    _save(fig, path)
    plt.close(fig)


def plot_misclassified(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                       confidence: np.ndarray, path: Path, title: str, limit: int = 48) -> None:
    plt = _pyplot()
    wrong = np.flatnonzero(labels != predicted)
    wrong = wrong[np.argsort(-confidence[wrong])][:limit]  # most confident mistakes first
    columns = 8
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.45))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, index in zip(np.ravel(axes), wrong):
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"{labels[index]}→{predicted[index]} {confidence[index]:.2f}", fontsize=8, color="crimson")
    fig.suptitle(f"{title}: {len(np.flatnonzero(labels != predicted))} errors "
                 "(true→predicted, confidence)")
    _save(fig, path)
    plt.close(fig)
