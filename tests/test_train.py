"""Training stage: zoo shapes, MAC counts, a short run that learns, determinism, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from train.__main__ import main as train_main
from train.zoo import ZOO, Augmentation, count_macs, get_entry

QUICK = ["--epochs", "1", "--train-limit", "3000", "--val-size", "500", "--test-limit", "1000"]


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


# Parameter counts worked out by hand from each architecture's description.
EXPECTED_PARAMS = {
    "baseline": conv_params(5, 1, 32) + dense_params(12 * 12 * 32, 128) + dense_params(128, 10),
    "larger": conv_params(5, 1, 30) + conv_params(3, 30, 15) + dense_params(5 * 5 * 15, 128)
    + dense_params(128, 50) + dense_params(50, 10),
    "mlp": dense_params(784, 512) + dense_params(512, 256) + dense_params(256, 10),
    "cnn": conv_params(3, 1, 32) + conv_params(3, 32, 64) + dense_params(12 * 12 * 64, 128)
    + dense_params(128, 10),
    "deep": conv_params(3, 1, 32) + conv_params(3, 32, 32) + conv_params(3, 32, 64)
    + conv_params(3, 64, 64) + dense_params(7 * 7 * 64, 512) + dense_params(512, 10),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_builds_with_mnist_contract(name):
    model = ZOO[name].model()
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    # Ten outputs; a recipe with negatives adds "not a digit" (none of the zoo's defaults has one).
    assert tuple(model.output_shape) == (None, ZOO[name].classes)
    assert tuple(ZOO[name].build(11).output_shape) == (None, 11)
    probabilities = model(np.zeros((2, 28, 28, 1), np.float32)).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    if name in EXPECTED_PARAMS:
        assert model.count_params() == EXPECTED_PARAMS[name]


def test_mac_count_of_baseline_matches_hand_count():
    macs = count_macs(ZOO["baseline"].build())
    assert macs == 24 * 24 * 32 * 5 * 5 + 12 * 12 * 32 * 128 + 128 * 10


def test_edge_meets_its_budget():
    baseline_macs = count_macs(ZOO["baseline"].build())
    edge = ZOO["edge"].model()
    assert count_macs(edge) <= baseline_macs / 4
    assert edge.count_params() <= 100_000  # one byte per int8 weight: fits 100 KB with room


def test_unknown_model_suggests_close_names():
    with pytest.raises(KeyError, match="Did you mean 'baseline'"):
        get_entry("baseline2")


def test_augmentation_is_deterministic_and_changes_images(mnist):
    from train.trainer import augment_batch

    images = mnist.train_images[:64]
    aug = Augmentation(rotation_degrees=15, zoom=0.1, translation=0.1)
    first = augment_batch(images, aug, np.random.default_rng(1))
    again = augment_batch(images, aug, np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert first.shape == images.shape and first.dtype == np.uint8
    assert np.mean(first != images) > 0.05


def test_elastic_distortion_bends_strokes_but_keeps_the_digit(mnist):
    from train.trainer import augment_batch, elastic_displacements

    images = mnist.train_images[:64]
    affine = Augmentation(rotation_degrees=8, zoom=0.08, translation=0.08)
    elastic = Augmentation(rotation_degrees=8, zoom=0.08, translation=0.08, elastic_alpha=16, elastic_sigma=4)
    plain = augment_batch(images, affine, np.random.default_rng(3))
    bent = augment_batch(images, elastic, np.random.default_rng(3))
    np.testing.assert_array_equal(bent, augment_batch(images, elastic, np.random.default_rng(3)))
    changed = np.abs(bent.astype(int) - plain.astype(int)).mean(axis=(1, 2))
    assert (changed > 1).all()  # every digit is bent
    # Same affine draw (the field is drawn after it), so the ink differs only by the bending.
    ink = bent.reshape(64, -1).sum(axis=1) / plain.reshape(64, -1).sum(axis=1)
    assert 0.75 < ink.min() and ink.max() < 1.33  # strokes moved and stretched, not erased or smeared
    assert abs(float(ink.mean()) - 1) < 0.05
    fields = elastic_displacements(500, 16, 4, np.random.default_rng(0))
    assert fields.shape == (500, 2, 28, 28)
    assert 0.2 < float(fields.std()) < 1.5  # a fraction of a pixel to about a pixel, smooth
    assert float(np.abs(np.diff(fields, axis=3)).mean()) < 0.2 * float(np.abs(fields).mean())


@pytest.mark.parametrize("kwargs, message", [
    ({"elastic_alpha": -1}, "elastic_alpha"),
    ({"elastic_sigma": 0.5}, "elastic_sigma"),
])
def test_bad_augmentation_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Augmentation(**kwargs)


def test_bad_ema_momentum_is_rejected():
    from train.zoo import Recipe

    with pytest.raises(ValueError, match="ema_momentum"):
        Recipe(optimizer="adamw", epochs=1, batch_size=8, ema_momentum=1.0)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    assert train_main(["--model", "baseline", "--out", str(out), *QUICK]) == 0
    return out


def test_short_run_learns_and_leaves_artifacts(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.6  # chance is 0.1
    assert metrics["data"] == {"train": 2500, "validation": 500, "test": 1000}
    assert metrics["params"] == EXPECTED_PARAMS["baseline"]
    assert np.asarray(metrics["confusion_matrix"]).sum() == 1000
    history = json.loads((quick_run / "history.json").read_text())
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for picture in ("training_curves.png", "confusion.png", "misclassified.png"):
        data = (quick_run / picture).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
    assert not list(quick_run.glob(".partial-*"))


def test_saved_model_reproduces_reported_accuracy(quick_run, mnist):
    import keras

    from train.trainer import to_model_input

    model = keras.models.load_model(quick_run / "model.keras")
    predicted = model.predict(to_model_input(mnist.test_images[:1000]), verbose=0).argmax(axis=1)
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert np.mean(predicted == mnist.test_labels[:1000]) == pytest.approx(metrics["test_accuracy"])


def test_same_seed_same_result(tmp_path):
    # edge: augmentation, batch norm, warm-up + cosine schedule — every source of randomness.
    args = ["--model", "edge", "--epochs", "2", "--train-limit", "1500", "--val-size", "300",
            "--test-limit", "500", "--seed", "7"]
    runs = []
    for name in ("a", "b"):
        assert train_main([*args, "--out", str(tmp_path / name)]) == 0
        runs.append(json.loads((tmp_path / name / "history.json").read_text()))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("args, message", [
    (["--model", "edgy"], "Did you mean 'edge'"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--batch-size", "-3"], "--batch-size must be a positive integer"),
    (["--train-limit", "100"], "must exceed --val-size"),
])
def test_bad_arguments_fail_with_clear_message(args, message, capsys):
    assert train_main(args) == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_dir_fails_cleanly(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert train_main(["--model", "mlp", "--out", str(blocker / "out"), *QUICK]) == 1
    assert "not writable" in capsys.readouterr().err


def test_capture_effects_are_seeded_and_keep_the_contract(mnist):
    from train.capture import Capture, capture_augment

    images = mnist.train_images[:64]
    everything = Capture(thicker=0.5, thinner=0.5, blur=1, gamma=1, noise=1, edge_cut=1, fragment=1, jpeg=1)
    first = capture_augment(images, everything, np.random.default_rng(3))
    again = capture_augment(images, everything, np.random.default_rng(3))
    assert first.dtype == np.uint8 and first.shape == images.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, images)
    np.testing.assert_array_equal(capture_augment(images, Capture(0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0),
                                                  np.random.default_rng(3)), images)  # every effect off
    with pytest.raises(ValueError, match="probability"):
        Capture(blur=1.5)


def test_seen_from_far_blurs_small_digits_and_keeps_other_effects_draws(mnist):
    from train.capture import Capture, capture_augment, seen_from_far

    images = mnist.train_images[:64]
    near, far = seen_from_far(images[0], 18), seen_from_far(images[0], 7)
    assert near.dtype == np.uint8 and near.max() >= 254 and far.max() >= 254  # stretched to a peak of 255
    # A digit seen 7 px tall loses more of its detail than one seen 18 px tall.
    assert np.abs(far.astype(int) - images[0]).sum() > np.abs(near.astype(int) - images[0]).sum()
    full = images[np.argmax(images.max(axis=(1, 2)))]
    np.testing.assert_array_equal(seen_from_far(full, 20), full)  # seen at its own size: unchanged
    rng = np.random.default_rng(5)
    without = capture_augment(images, Capture(), rng)
    # The shipped recipe's stream (far off) is the one it drew before the option existed.
    assert int(rng.integers(2**32)) == 102208
    rng = np.random.default_rng(5)
    with_far = capture_augment(images, Capture(far=0.5), rng)
    replay = np.random.default_rng(5)
    capture_augment(images, Capture(), replay)
    picked = np.flatnonzero(replay.random(len(images)) < 0.5)
    heights = replay.uniform(7.0, 14.0, picked.size)
    for i, height in zip(picked, heights):  # the other effects drew the same, then far on its picks
        np.testing.assert_array_equal(with_far[i], seen_from_far(without[i], height))
    untouched = np.setdiff1d(np.arange(len(images)), picked)
    np.testing.assert_array_equal(with_far[untouched], without[untouched])
    assert 16 <= picked.size <= 48
    for heights in ((10, 5), (2, 8), (7,), (7, 10, 14), "far"):
        with pytest.raises(ValueError, match="far_heights"):
            Capture(far_heights=heights)


def test_negatives_are_normalized_like_the_readers_crops(mnist):
    from edgedigits.preprocess import normalize_ink
    from train.capture import make_negatives

    crops = make_negatives(mnist.train_images[:200], mnist.train_labels[:200], 50, np.random.default_rng(0))
    assert crops.shape == (50, 28, 28) and crops.dtype == np.uint8
    for crop in crops:
        assert crop.max() == 255  # stretched as the reader stretches every crop
        # already MNIST-normalized: normalizing again moves nothing (up to rounding)
        assert np.abs(normalize_ink(crop.astype(np.float32)) * 255 - crop).max() <= 40


def test_batches_with_negatives_label_them_after_the_digits(mnist):
    from train.trainer import make_batches

    from dataclasses import replace

    from train.capture import Capture

    recipe = replace(get_entry("edge").recipe, capture=Capture(), negatives=0.15)
    batches = make_batches(mnist.train_images[:500], mnist.train_labels[:500], 100, recipe, 11, seed=0)
    x, y = batches[0]
    extra = int(round(recipe.negatives * 100))
    assert x.shape == (100 + extra, 28, 28, 1) and y.shape == (100 + extra, 11)
    assert (y.argmax(axis=1) == 10).sum() == extra
    np.testing.assert_array_equal(batches[0][0], x)  # the same batch for the same (seed, epoch, index)


def test_reader_crops_are_labelled_by_the_digit_under_them(mnist):
    """Crops the frame reader reports in generated frames of training digits, labelled by the true
    digit under each: the released model agrees with nearly all labels (a wrong match would agree
    about one time in ten)."""
    pytest.importorskip("cv2")
    from edgedigits.classifier import MANIFEST_NAME, PACKAGED_MODEL_DIR, load
    from train.readercrops import reader_crops
    from train.zoo import NUM_CLASSES

    images, labels = mnist.train_images[:3000], mnist.train_labels[:3000]
    crops, crop_labels = reader_crops(images, labels, frames=6, seed=5)
    assert crops.dtype == np.uint8 and crops.shape[1:] == (28, 28) and len(crops) == len(crop_labels) >= 20
    assert crop_labels.max() <= NUM_CLASSES
    digits = crop_labels < NUM_CLASSES
    model = load(str(PACKAGED_MODEL_DIR / MANIFEST_NAME), format="tflite-int8")
    predicted = model.predict(crops[digits].astype(np.float32) / 255).probabilities.argmax(axis=1)
    assert (predicted == crop_labels[digits]).mean() >= 0.9
    again, _ = reader_crops(images, labels, frames=6, seed=5)
    assert np.array_equal(crops, again)


def test_bad_reader_frames_is_rejected():
    from train.zoo import Recipe

    with pytest.raises(ValueError, match="reader_frames"):
        Recipe(optimizer="adamw", epochs=1, batch_size=8, reader_frames=-1)
