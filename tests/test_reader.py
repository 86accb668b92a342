"""Frame reader and MNIST normalization tests.

The classifier is a stand-in small CNN (tests/reader_fixtures.py) trained once and cached; the
frames come from benchmarks/framegen.py built from MNIST *test* digits.

Accuracy on generated frames (see benchmarks.framegen.score_read for the exact definition):
  digit accuracy = sum over frames of digits_right / sum of true digits, where per frame
      digits_right = max(0, true digits - sum over true lines of edit_distance(read text, true text)
                             - read digits lying in no true line)
  line accuracy  = true lines read exactly (one read line, same text) / true lines.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from benchmarks.framegen import FrameOptions, edit_distance, generate_frame, generate_frames, score_read  # noqa: E402
from edgedigits.preprocess import normalize_digit, prepare_crop  # noqa: E402
from edgedigits.reader import FrameReader, ReadResult, draw_annotations  # noqa: E402
from edgedigits.reader import blobs as blobs_stage, deskew as deskew_stage, ink as ink_stage  # noqa: E402
from edgedigits.reader import measure as measure_stage, page as page_stage, rules as rules_stage  # noqa: E402
from edgedigits.reader import scale as scale_stage  # noqa: E402
from edgedigits.reader.arrays import (active_tiles, array_median, histogram_percentile, percentile,  # noqa: E402
                                     uint8_histogram, uint8_medians, warp_pixels)
from edgedigits.reader.arrays import labelled, nearest_upscale, open_by_line  # noqa: E402
from edgedigits.reader.classify import path_pieces, separate, split_columns, split_margin, trailing_one_cut  # noqa: E402
from edgedigits.reader.classify import best_segmentation, profile_minima, segment_cuts, usual_width  # noqa: E402
from edgedigits.reader.config import BlobsConfig, ClassifyConfig, DeskewConfig, OrientConfig, ReaderConfig  # noqa: E402
from edgedigits.reader.config import ShadeConfig  # noqa: E402
from edgedigits.reader.light import relative_darkness  # noqa: E402
from edgedigits.reader.records import Blob, DigitSize, Ink, Lines, Page, Parts, Ruled, Upright, Working  # noqa: E402

from reader_fixtures import TFLiteDigitClassifier, ensure_test_classifier, load_mnist_split  # noqa: E402

FRAMES = 200
SEED = 2024
# Targets from the issue, both met: with the stand-in classifier the reader measured 0.9725 digits
# (65 errors in 2363; the target allows 70) and 0.8882 lines (453/510: a line is a row as written,
# its groups included; 0.9026 of 606 when each group counted as a line) on these frames. The digit assertion is
# the target itself; the line assertion a regression floor a little under the measurement, above its
# target. (The stand-in is retrained per machine; TF CPU training reproduced these numbers exactly
# in fresh clones here, but is not promised to be bit-exact elsewhere.)
TARGET_DIGIT_ACCURACY = 0.97
TARGET_LINE_ACCURACY = 0.85
MIN_DIGIT_ACCURACY = TARGET_DIGIT_ACCURACY
MIN_LINE_ACCURACY = 0.87


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist_split("test")


@pytest.fixture(scope="session")
def digit_classifier():
    return TFLiteDigitClassifier(ensure_test_classifier())


@pytest.fixture(scope="session")
def reader(digit_classifier):
    return FrameReader(digit_classifier)


# ---------------------------------------------------------------- preprocess

def test_normalize_digit_reproduces_mnist(mnist_test):
    images, _ = mnist_test
    correlations = []
    for image in images[:200]:
        out = normalize_digit(image)
        assert out.shape == (28, 28) and out.dtype == np.float32
        correlations.append(np.corrcoef(out.ravel(), image.ravel().astype(np.float32))[0, 1])
    assert np.median(correlations) > 0.99
    assert np.min(correlations) > 0.9


def test_fast_percentile_equals_numpy():
    rng = np.random.default_rng(3)
    for size in (1, 2, 3, 4, 7, 50, 301):
        values = rng.random(size, dtype=np.float32)
        for q in (0, 50, 75, 80, 90, 100):
            assert percentile(values.copy(), q) == float(np.percentile(values, q))
        assert array_median(values) == float(np.median(values))
    grid = rng.random((7, 9), dtype=np.float32)  # a 2-D sample (a frame without a paper mask)
    assert percentile(grid, 50) == float(np.percentile(grid, 50))
    assert array_median(grid) == float(np.median(grid))


def test_histogram_medians_equal_numpy():
    rng = np.random.default_rng(5)
    for size in (2, 3, 10, 101, 4000):
        image = rng.integers(0, 256, (size, 3), dtype=np.uint8)
        mask = (rng.random((size, 3)) > 0.4).astype(np.uint8)
        assert uint8_medians(image, mask) == (float(np.median(image[mask > 0])), float(np.median(image[mask == 0])))


def test_histogram_percentiles_equal_numpys_lower_method():
    rng = np.random.default_rng(6)
    for size in (1, 2, 10, 101, 4000):
        image = rng.integers(0, 256, (size, 3), dtype=np.uint8)
        for q in (0, 10, 50, 90, 100):
            expected = int(np.percentile(image, q, method="lower"))
            assert histogram_percentile(uint8_histogram(image), q) == expected


def test_fast_components_equal_opencv_default():
    rng = np.random.default_rng(11)
    for shape, density in (((64, 80), 0.45), ((300, 500), 0.2), ((1, 7), 0.5)):
        mask = (rng.random(shape) < density).astype(np.uint8)
        for connectivity in (4, 8):
            count, labels, stats, _ = labelled(mask, connectivity)
            ref_count, ref_labels, ref_stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
            assert count == ref_count and count > 1
            np.testing.assert_array_equal(labels, ref_labels)
            np.testing.assert_array_equal(stats, ref_stats)


def test_nearest_upscale_repeats_blocks():
    rng = np.random.default_rng(12)
    for factor, shape in ((1, (5, 7)), (2, (41, 63)), (3, (100, 151)), (7, (99, 120))):
        small = rng.integers(0, 2, (shape[0] // factor, shape[1] // factor), dtype=np.uint8)
        big = nearest_upscale(small, factor, shape)
        assert big.shape == shape
        expected = np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)
        expected = np.pad(expected, ((0, shape[0] - expected.shape[0]), (0, shape[1] - expected.shape[1])), mode="edge")
        np.testing.assert_array_equal(big, expected)


def test_line_opening_on_candidate_rows_equals_full_opening():
    rng = np.random.default_rng(13)
    mask = (rng.random((120, 200)) < 0.3).astype(np.uint8)
    mask[40, 10:150] = 1   # a long horizontal run
    mask[5:100, 170] = 1   # a long vertical run
    mask[118, 150:] = 1    # a run that reaches the border
    for length in (15, 36, 90):
        for axis, kernel in ((1, (1, length)), (0, (length, 1))):
            full = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones(kernel, np.uint8))
            np.testing.assert_array_equal(open_by_line(mask, length, axis), full)
        assert open_by_line(mask, length, 1)[40].sum() >= 140


def test_sparse_warp_computes_every_pixel_near_ink():
    # A page of faint noise with a few ink blobs: only tiles near ink are computed.
    rng = np.random.default_rng(7)
    image = (rng.random((300, 400)) * 0.1).astype(np.float32)
    for y, x in ((40, 50), (150, 300), (260, 120)):
        image[y: y + 20, x: x + 6] = 0.8
    inverse = cv2.invertAffineTransform(cv2.getRotationMatrix2D((200, 150), 23.0, 1.0))
    window = (10, 5, 390, 290)
    ys, xs = np.mgrid[5:290, 10:390].astype(np.int32)
    dense = warp_pixels(image, inverse, ys.ravel(), xs.ravel()).reshape(ys.shape)
    reach = 4
    tile = 8
    tile_ys, tile_xs = active_tiles(image > 0.3, inverse, window, reach, tile)
    offsets = np.arange(tile, dtype=np.int32)
    sparse_ys, sparse_xs = np.broadcast_arrays(tile_ys[:, None, None] + offsets[None, :, None],
                                               tile_xs[:, None, None] + offsets[None, None, :])
    inside = (sparse_ys < window[3]) & (sparse_xs < window[2])
    sparse_ys, sparse_xs = sparse_ys[inside], sparse_xs[inside]
    computed = np.zeros(dense.shape, np.uint8)
    computed[sparse_ys - 5, sparse_xs - 10] = 1
    # Every pixel above the threshold, and everything within `reach` of one, is computed.
    near_ink = cv2.dilate((dense > 0.3).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    assert near_ink.any() and np.all(computed[near_ink > 0] == 1)
    assert computed.mean() < 0.3  # most of the page was skipped
    np.testing.assert_array_equal(warp_pixels(image, inverse, sparse_ys, sparse_xs), dense[sparse_ys - 5, sparse_xs - 10])
    # A bilinear warp: cv2's (fixed-point weights) agrees to within a few 1/32 steps.
    expected = cv2.warpAffine(image, cv2.invertAffineTransform(inverse), (400, 300), flags=cv2.INTER_LINEAR)
    np.testing.assert_allclose(dense, expected[5:290, 10:390], atol=0.03)

def test_rotate_matches_a_dense_warp_near_ink(reader):
    rng = np.random.default_rng(8)
    image = (rng.random((230, 350)) * 0.05).astype(np.float32)
    for y, x in ((30, 40), (120, 200), (200, 330)):  # the last one near the corner: tiles cut by the canvas edge
        image[y: y + 25, x: x + 7] = 0.9
    threshold, reach, margin = 0.3, 3, 11
    rotated, (inverse, (x0, y0)) = deskew_stage.rotate(image, 31.0, threshold, reach=reach, margin=margin)
    ys, xs = np.mgrid[y0: y0 + rotated.shape[0], x0: x0 + rotated.shape[1]]
    dense = warp_pixels(image, inverse, ys, xs)
    near_ink = cv2.dilate((dense > threshold).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    assert (dense > threshold).sum() > 3 * 25 * 7 * 0.8  # all three strokes are in the crop
    np.testing.assert_array_equal(rotated[near_ink > 0], dense[near_ink > 0])
    computed = rotated != 0
    np.testing.assert_array_equal(rotated[computed], dense[computed])  # elsewhere: exact or 0
    assert computed.mean() < 0.5


def test_normalize_digit_empty_and_errors():
    assert not normalize_digit(np.zeros((10, 7))).any()
    with pytest.raises(ValueError, match="2-D"):
        normalize_digit(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        normalize_digit(np.zeros((0, 5)))


def test_prepare_crop_large_inverted_digit_classified_like_original(mnist_test, digit_classifier):
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    originals, pasted = [], []
    for image in images[:300]:
        size = int(rng.integers(60, 240))
        big = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        canvas = np.full((size + 80, size + 120), 210.0, np.float32)
        canvas += np.linspace(-20, 20, canvas.shape[1])[None, :]  # mild shading
        canvas[40: 40 + size, 60: 60 + size] -= big * 150 / 255  # dark ink on light paper
        pasted.append(prepare_crop(np.clip(canvas, 0, 255).astype(np.uint8)))
        originals.append(image.astype(np.float32) / 255)
    a = digit_classifier.predict(np.stack(originals)).digits
    b = digit_classifier.predict(np.stack(pasted)).digits
    agreement = float(np.mean(a == b))
    print(f"\nprepare_crop agreement with the original digits: {agreement:.3f}")
    assert agreement >= 0.97
    assert np.mean(b == labels[:300]) >= 0.95


# ---------------------------------------------------------------- reader: edge cases

def test_all_black_and_all_white_frames_have_no_lines(reader):
    for value in (0, 255, 128):
        result = reader.read(np.full((480, 640, 3), value, np.uint8))
        assert result.lines == []
    assert reader.read(np.full((480, 640), 0, np.uint8)).lines == []


def test_tiny_frame(reader):
    assert reader.read(np.full((3, 2), 200, np.uint8)).lines == []
    assert isinstance(reader.read(np.zeros((1, 1, 3), np.uint8)), ReadResult)


def test_huge_frame_is_downscaled(reader, mnist_test):
    images, labels = mnist_test
    frame, truth = generate_frame(np.random.default_rng(5), images, labels,
                                  options=FrameOptions(clean=True, min_digit_height=60, max_digit_height=60,
                                                       max_lines=1, max_digits_per_line=4),
                                  frame_size=(640, 480))
    huge = cv2.resize(frame, (8000, 6000), interpolation=cv2.INTER_LINEAR)
    start = time.perf_counter()
    result = reader.read(huge)
    elapsed = time.perf_counter() - start
    assert elapsed < 10
    assert [line.text for line in result.lines] == [line.text for line in truth]
    for digit in result.lines[0].digits:
        x, y, w, h = digit.box
        assert 0 <= x and x + w <= 8000 and 0 <= y and y + h <= 6000 and h > 300  # original-frame pixels


def test_small_digits_are_read_on_an_enlarged_copy(reader, mnist_test):
    """Digits under half the working height are read again on a copy twice the size; the boxes
    stay in the frame's pixels."""
    images, labels = mnist_test
    grey = np.full((480, 640), 215, np.float32)  # the sheet fills the frame
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (3, 1, 4, 7, 5)]
    for k, i in enumerate(picks):
        digit = cv2.resize(images[i], (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        grey[228: 252, 240 + 30 * k: 264 + 30 * k] *= 1 - 0.85 * digit  # ink ~17 px tall
    debug = {}
    result = reader.read(grey.astype(np.uint8), debug=debug)
    assert debug["grey"].shape == (960, 1280)
    assert [line.text for line in result.lines] == ["31475"]
    for k, digit in enumerate(result.lines[0].digits):
        x, y, w, h = digit.box
        assert abs(x + w / 2 - (252 + 30 * k)) < 4 and abs(y + h / 2 - 240) < 4 and 12 <= h <= 22


def _page_of_big_and_small_digits(images, labels, small: bool, big: int = 360) -> np.ndarray:
    """A 2400x1800 page: two rows of `big` px digits (360: read on a shrunk copy) and, between
    them, a row of two 60 px digits when `small`."""
    grey = np.full((1800, 2400), 215, np.float32)

    def write(digit, x, y, size):
        ink = cv2.resize(images[int(np.flatnonzero(labels == digit)[0])], (size, size), interpolation=cv2.INTER_AREA)
        grey[y: y + size, x: x + size] *= 1 - 0.85 * ink.astype(np.float32) / 255

    for k, digit in enumerate((2, 5, 8)):
        write(digit, 300 + 600 * k, 200, big)
        write((4, 0, 6)[k], 300 + 600 * k, 1200, big)
    if small:
        write(3, 880, 850, 60)
        write(7, 1480, 850, 60)
    return grey.astype(np.uint8)


def _big_digits_on_a_sheet(images, labels, small: bool = False) -> np.ndarray:
    """The 2400x1800 page of 440 px digits (ink ~300 px tall at 2000 px) on a sheet with a darker
    desk around it."""
    sheet = cv2.resize(_page(paper=(40, 20, 600, 460), desk=90), (2400, 1800), interpolation=cv2.INTER_NEAREST)
    digits = _page_of_big_and_small_digits(images, labels, small=small, big=440)
    return (sheet * (digits / np.float32(215))).astype(np.uint8)


def test_small_digits_among_big_ones_are_read_once_the_big_ones_are_erased(reader, mnist_test, monkeypatch):
    from edgedigits.reader import small as small_stage

    images, labels = mnist_test
    reads = []
    erase = small_stage.erase_digits
    monkeypatch.setattr(small_stage, "erase_digits", lambda *a: reads.append(1) or erase(*a))
    debug = {}
    result = reader.read(_page_of_big_and_small_digits(images, labels, small=True), debug=debug)
    texts = [line.text for line in result.lines]
    from edgedigits.debug import draw_stages

    window, looked_at = debug["small"]  # the window read again, for --debug's 9-small picture
    assert sum(added for _, added in looked_at) == 2 and draw_stages(debug)["9-small"].shape == (*window.shape, 3)
    assert texts == ["258", "406", "37"] and len(reads) == 1  # the small ones: a line of their own
    for digit in result.lines[2].digits:
        assert 40 <= digit.box[3] <= 75 and 840 <= digit.box[1] <= 880  # frame pixels
    # The shrunk reading alone loses them; a page without small ink is not read again.
    alone = FrameReader(reader.classifier, config=replace(reader.config, small=replace(
        reader.config.small, min_big_height=10_000)))
    assert [line.text for line in alone.read(_page_of_big_and_small_digits(images, labels, True)).lines] == texts[:2]
    reads.clear()
    assert [line.text for line in reader.read(_page_of_big_and_small_digits(images, labels, False)).lines] == texts[:2]
    assert not reads
    # Upside down: the small digits are read turned over as the page was (alone, too few to tell).
    turned = reader.read(np.ascontiguousarray(_page_of_big_and_small_digits(images, labels, True)[::-1, ::-1]))
    turned_texts = [line.text for line in turned.lines]
    assert turned.angle % 360 == pytest.approx(180, abs=5)
    assert turned_texts[:2] == texts[:2] and sorted("".join(turned_texts[2:])) == ["3", "7"]
    with pytest.raises(ValueError, match="min_height"):
        replace(reader.config.small, min_height=0.5)


def test_small_digits_are_added_only_in_the_pages_pen(reader, mnist_test):
    """A faint small 1 among the big digits (a printed grid's piece, a pencil mark: 0.4 of the
    pen's darkness) is read as a sure 1 once the big digits are erased (the window's own ink is
    all faint); it is not in the page's pen (small.pen_share of the big digits' contrast) and is
    not added. The page's small 3 and 7, in its pen, are."""
    images, labels = mnist_test
    one = cv2.resize(images[int(np.flatnonzero(labels == 1)[0])], (60, 60), interpolation=cv2.INTER_AREA)

    def with_one(small: bool, darkness: float) -> np.ndarray:
        page = _page_of_big_and_small_digits(images, labels, small=small).astype(np.float32)
        page[850:910, 1180:1240] *= 1 - darkness * one.astype(np.float32) / 255
        return page.astype(np.uint8)

    anything = FrameReader(reader.classifier, config=replace(reader.config, small=replace(
        reader.config.small, pen_share=0.0)))
    assert [line.text for line in anything.read(with_one(False, 0.4)).lines][2:] == ["1"]  # (what it mends)
    assert [line.text for line in reader.read(with_one(False, 0.4)).lines][2:] == []
    assert [line.text for line in reader.read(with_one(True, 0.85)).lines][2:] == ["317"]


def test_a_small_digit_beside_the_big_ones_is_read_up_to_around_big_heights_away(reader, mnist_test):
    """Scattered digits of mixed sizes: a small 3 written level with the first row, about a big
    digit's height beyond its last digit, is looked for (small.around 1.5 big heights); at 0.5 it
    was not, and one twice as far still is not."""
    images, labels = mnist_test
    three = cv2.resize(images[int(np.flatnonzero(labels == 3)[0])], (60, 60), interpolation=cv2.INTER_AREA)

    def page_with_three(x: int) -> np.ndarray:
        page = _page_of_big_and_small_digits(images, labels, small=False).astype(np.float32)
        page[330:390, x: x + 60] *= 1 - 0.85 * three.astype(np.float32) / 255
        return page.astype(np.uint8)

    assert [line.text for line in reader.read(page_with_three(2080)).lines] == ["258", "406", "3"]
    near = FrameReader(reader.classifier, config=replace(reader.config, small=replace(reader.config.small, around=0.5)))
    assert [line.text for line in near.read(page_with_three(2080)).lines] == ["258", "406"]  # (what it mends)
    assert [line.text for line in reader.read(page_with_three(2300)).lines] == ["258", "406"]


def test_a_small_digit_cut_by_the_frames_border_is_not_added():
    """The window read for small digits has no margin at the frame's border, so what the border
    cuts (a notebook's edge, a margin line read as a sure 1) is dropped there, as the window's own
    edge drops what it cuts (small.cut_by_frame)."""
    from edgedigits.reader import small as small_stage

    shape = (480, 640)
    for box in ((0, 100, 16, 40), (300, 0, 20, 30), (620, 100, 20, 40), (300, 450, 20, 30)):
        assert small_stage.cut_by_frame(box, shape)
    assert not small_stage.cut_by_frame((1, 1, 20, 30), shape)
    assert not small_stage.cut_by_frame((300, 100, 20, 40), shape)


def test_small_digits_beside_big_ones_are_read_on_a_copy_read_as_it_is(reader, mnist_test, monkeypatch):
    """The same page at 800x600: its big digits (~90 px of ink) are read without shrinking, and
    that reading drops the 20 px ones beside them as specks; they are read once the big ones are
    erased (once), as on a shrunk copy."""
    from edgedigits.reader import small as small_stage

    images, labels = mnist_test
    reads = []
    erase = small_stage.erase_digits
    monkeypatch.setattr(small_stage, "erase_digits", lambda *a: reads.append(1) or erase(*a))
    page = cv2.resize(_page_of_big_and_small_digits(images, labels, small=True), (800, 600),
                      interpolation=cv2.INTER_AREA)
    debug = {}
    result = reader.read(page, debug=debug)
    assert [line.text for line in result.lines] == ["258", "406", "37"] and len(reads) == 1
    assert debug["grey"].shape == (600, 800)  # read as it is, not shrunk
    for digit in result.lines[2].digits:
        assert 12 <= digit.box[3] <= 26 and 278 <= digit.box[1] <= 296
    alone = FrameReader(reader.classifier, config=replace(reader.config, small=replace(
        reader.config.small, min_big_height=10_000)))
    assert [line.text for line in alone.read(page).lines] == ["258", "406"]


def test_very_tall_digits_are_measured_on_a_preview_and_the_working_copy_is_never_measured(reader, mnist_test,
                                                                                          monkeypatch):
    """A big working copy is measured first on its preview (half its size); digits surely tall
    enough to be read on a 640 px copy are shrunk for from there, and the 2000 px copy is never
    thresholded (counted by the sizes measured). Digits of a middling height are measured again at
    full size, and so is a copy whose preview sized a reading without a digit."""
    from edgedigits.reader import pipeline

    images, labels = mnist_test
    measured = []
    measure = pipeline._measure
    windows = []  # the small digits' windows, read as copies of their own (scale 1)
    monkeypatch.setattr(pipeline, "_measure", lambda work, *a: (windows if work.scale == 1.0 else measured).append(
        work.grey.shape) or measure(work, *a))
    page = _big_digits_on_a_sheet(images, labels, small=True)  # ink ~300 px at 2000 px, a desk around
    result = reader.read(page)
    texts = [line.text for line in result.lines]
    assert texts == ["258", "406", "37"] and measured[0] == (750, 1000) and max(measured[1]) == 640
    assert (1500, 2000) not in measured and windows  # (the small digits' window is read again, measured)
    for digit in result.lines[2].digits:  # found among the preview's ink pieces, boxed in frame pixels
        assert 40 <= digit.box[3] <= 75 and 840 <= digit.box[1] <= 880
    without = FrameReader(reader.classifier, config=replace(reader.config, scale=replace(
        reader.config.scale, preview_margin=100)))
    measured.clear()
    alone = without.read(page)
    assert [line.text for line in alone.lines] == texts and measured[1] == (1500, 2000)
    boxes = [np.array([d.box for line in r.lines for d in line.digits]) for r in (result, alone)]
    assert np.abs(boxes[0] - boxes[1]).max() <= 8  # frame pixels: 1 px of the 640 px copy is 3.75
    # The 360 px digits' ink is ~210 px at 2000 px, under 1.5x the 150 px from which on a 2000 px copy
    # is shrunk to 640 px whatever their height: measured at full size too, and read all the same.
    measured.clear()
    texts = [line.text for line in reader.read(_page_of_big_and_small_digits(images, labels, small=True)).lines]
    assert measured[:2] == [(750, 1000), (1500, 2000)] and texts == ["258", "406", "37"]
    # A preview's guess that reads no digit (rows of small digits merged into one big blob) is not
    # trusted: the working copy is measured itself.
    monkeypatch.setattr(pipeline, "_read_shrunk", lambda *a: ReadResult([]))
    monkeypatch.setattr(pipeline, "_read_past_shade", lambda work, result, *a: result)  # (a page that read
    measured.clear()                                                  # nothing is looked past: measured again)
    reader.read(page)
    assert measured == [(750, 1000), (1500, 2000)]
    with pytest.raises(ValueError, match="preview_margin"):
        replace(reader.config.scale, preview_margin=0.5)
    with pytest.raises(ValueError, match="preview_factor"):
        replace(reader.config.scale, preview_factor=1)


def test_width_is_judged_against_a_row_of_flat_digits_but_not_against_pairs():
    """In a row of flat 0s a 0 a little wider than the rest is no pair: its width is judged against
    the others' usual width. A lone pair, or one beside another pair, keeps its width (regression:
    a median over the whole group, the pair included, stopped splitting them)."""
    cfg = ReaderConfig().classify

    def blob(w):
        return Blob(0, 0, w, 30, [1])

    flat = [blob(w) for w in (50, 52, 54, 70, 51)]
    assert usual_width(flat[3], flat, cfg) == 51.5 and 70 / max(30, usual_width(flat[3], flat, cfg)) < 1.4
    pair = blob(44)
    assert usual_width(pair, [pair], cfg) == 0.0
    two_pairs = [blob(44), blob(46)]
    assert usual_width(two_pairs[0], two_pairs, cfg) == 0.0
    mixed = [blob(20), blob(44), blob(21), blob(19)]
    assert usual_width(mixed[1], mixed, cfg) == 20


def test_the_enlarged_copy_is_bounded_and_only_made_for_small_digits():
    cfg = ReaderConfig().scale
    frame = np.random.default_rng(0).integers(0, 256, (1950, 2600), dtype=np.uint8)
    work = Working(cv2.resize(frame, (2000, 1500), interpolation=cv2.INTER_AREA), 2000 / 2600, frame)
    big, height = scale_stage.enlarged_copy(work, DigitSize(12.0, None), cfg)
    assert max(big.grey.shape) == cfg.max_enlarged_side  # 1.5x here, not 2x
    # Made from the frame's own pixels, not from the smaller working copy.
    assert np.array_equal(big.grey, cv2.resize(frame, (3000, 2250), interpolation=cv2.INTER_CUBIC))
    assert big.scale == pytest.approx(cfg.max_enlarged_side / 2600) and height == pytest.approx(18.0)
    assert scale_stage.enlarged_copy(work, DigitSize(cfg.enlarge_below_height, None), cfg) is None
    # A copy already at its largest is not enlarged by a few per cent.
    at_most = Working(cv2.resize(frame, (2900, 2175)), 2900 / 2600, frame)
    assert scale_stage.enlarged_copy(at_most, DigitSize(12.0, None), cfg) is None


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 10), np.uint8), "non-empty"),
    (np.zeros((10, 0, 3), np.uint8), "non-empty"),
    (np.zeros((10, 10), np.float32), "uint8"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((2, 10, 10, 3), np.uint8), "shape"),
])
def test_bad_frames_raise_value_error(reader, bad, message):
    with pytest.raises(ValueError, match=message):
        reader.read(bad)


def test_bad_classifier_and_options():
    with pytest.raises(TypeError, match="predict"):
        FrameReader(object())

    class Dummy:
        def predict(self, images):
            raise AssertionError("not called")

    with pytest.raises(ValueError, match="reject_threshold"):
        FrameReader(Dummy(), reject_threshold=1.5)


def test_a_count_or_pixel_knob_takes_whole_numbers_only():
    from edgedigits.reader.config import InkConfig, PageConfig

    with pytest.raises(ValueError, match="middle_divisor must be a whole number"):
        PageConfig(middle_divisor=3.5)  # (it slices the frame: a float would fail later, mid-read)
    with pytest.raises(ValueError, match="border_band_min must be a whole number"):
        InkConfig(border_band_min=2.0)
    assert PageConfig(middle_divisor=4).middle_divisor == 4 and InkConfig(window_reach=0.5).window_reach == 0.5


# ---------------------------------------------------------------- reader: results

@pytest.fixture(scope="module")
def clean_frame(mnist_test):
    images, labels = mnist_test
    # Digits the stand-in classifier gets right in isolation, so the test is about the reader.
    chosen = [int(np.flatnonzero(labels == d)[0]) for d in (1, 2, 4, 7, 6, 7, 3)]
    frame, truth = generate_frame(np.random.default_rng(1), images[chosen], labels[chosen],
                                  options=FrameOptions(clean=True, min_digit_height=40, max_digit_height=40,
                                                       max_lines=1, max_digits_per_line=8),
                                  frame_size=(640, 480))
    return frame, truth


def test_clean_frame_read_exactly(reader, clean_frame):
    frame, truth = clean_frame
    result = reader.read(frame)
    assert [line.text for line in result.lines] == [line.text for line in truth]
    assert all(d.confidence > 0.5 for line in result.lines for d in line.digits)


def test_to_dict_is_json_with_the_documented_shape(reader, clean_frame):
    frame, _ = clean_frame
    data = json.loads(json.dumps(reader.read(frame).to_dict()))
    assert set(data) == {"lines"} and data["lines"]
    for line in data["lines"]:
        assert set(line) == {"text", "groups", "digits"}
        assert len(line["text"]) == len(line["digits"]) and "".join(line["groups"]) == line["text"]
        for ch, digit in zip(line["text"], line["digits"]):
            assert set(digit) == {"digit", "confidence", "box"}
            assert (digit["digit"] is None and ch == "?") or str(digit["digit"]) == ch
            assert 0.0 <= digit["confidence"] <= 1.0
            assert len(digit["box"]) == 4 and all(isinstance(v, int) for v in digit["box"])


def test_a_row_written_in_groups_is_one_line_with_its_groups(reader, mnist_test):
    """`12 34   567` written on one row is one line; its groups are kept apart in the JSON."""
    images, labels = mnist_test
    grey = np.full((300, 900), 215, np.float32)
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (1, 2, 4, 7, 3, 6, 0)]
    xs = [60, 110, 160, 210, 520, 570, 620]  # a gap of seven digit widths after the fourth
    for x, i in zip(xs, picks):
        digit = cv2.resize(images[i], (44, 44)).astype(np.float32) / 255
        y = 120 + (x - 60) // 25  # the row drifts down along its length, as handwriting does
        grey[y: y + 44, x: x + 44] *= 1 - 0.85 * digit
    result = reader.read(grey.astype(np.uint8))
    assert [line.text for line in result.lines] == ["1247360"]
    assert result.lines[0].groups == ("1247", "360")
    assert result.to_dict()["lines"][0]["groups"] == ["1247", "360"]


def test_annotations_keep_frame_shape(reader, clean_frame):
    frame, _ = clean_frame
    result = reader.read(frame)
    annotated = draw_annotations(frame, result)
    assert annotated.shape == frame.shape and annotated.dtype == np.uint8
    assert not np.array_equal(annotated, frame)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert draw_annotations(grey, result).shape == frame.shape


def test_digits_written_across_a_rule_are_still_found(reader, clean_frame):
    # A rule through every digit joins them into one long component: nothing looks digit-sized
    # until the rule is taken out, so the reader used to return nothing for such a page.
    frame, truth = clean_frame
    frame = frame.copy()
    bottom = int(truth[0].quad[:, 1].max())
    cv2.line(frame, (0, bottom - 8), (frame.shape[1] - 1, bottom - 8), (70, 70, 70), 2)
    turn = cv2.getRotationMatrix2D((320, 240), 20, 1.0)
    frame = cv2.warpAffine(frame, turn, (640, 480), borderValue=(255, 255, 255))
    text = reader.read(frame).text
    assert edit_distance(text.replace("\n", ""), truth[0].text) <= 2, text


def test_a_row_is_read_in_the_order_of_its_digits_middles():
    """An 8 whose blob holds a box's corner reaching out to its left starts left of the 1 before it:
    read by where the blobs start, the row would be '81'."""
    from edgedigits.reader.lines import group_lines
    from edgedigits.reader.records import Candidates

    one, eight = Blob(100, 50, 8, 40, [1]), Blob(92, 50, 44, 44, [2])
    rows = group_lines(Candidates([eight, one]), ReaderConfig().lines).rows
    assert [[b for group in row for b in group] for row in rows] == [[one, eight]]


def test_a_stroke_crossing_a_rule_keeps_its_ink_where_the_rule_was_taken_out():
    height = 40
    mask = np.zeros((120, 300), np.uint8)
    mask[60:62, :] = 1        # a ruled line
    mask[30:90, 100:103] = 1  # an upright stroke through it (a 4's stem, a 9's tail)
    mask[62:80, 200:203] = 1  # a stroke that only touches the rule from below
    out, rules = rules_stage.remove_long_lines(mask.copy(), height, ReaderConfig().rules, hough=False)
    assert rules is not None and not out[60:62, :95].any() and not out[60:62, 110:195].any()
    # The crossing stroke is whole again: one piece from top to bottom...
    assert out[30:90, 100:103].all()
    # ...and the stroke ending at the rule gets nothing of the rule back.
    assert not out[55:62, 195:210].any()
    count, _, stats, _ = labelled(out, 8)
    assert count == 3 and max(int(h) for h in stats[1:count, 3]) == 60
    # At the window's edge too: off the mask is no ink on the far side of the rule.
    edge = np.zeros((120, 300), np.uint8)
    edge[0:2, :] = 1
    edge[2:42, 100:103] = 1
    out, _ = rules_stage.remove_long_lines(edge, height, ReaderConfig().rules, hough=False)
    assert not out[:2].any()


def test_a_grid_is_taken_out_without_its_crossings_coming_back():
    # A guard on giving crossings back, not on the rules' removal (which took grids out before):
    # where rules cross, no ink goes on beyond either band once both are out.
    height = 30
    grid = np.zeros((200, 200), np.uint8)
    grid[::25, :] = 1
    grid[:, ::25] = 1
    out, _ = rules_stage.remove_long_lines(grid.copy(), height, ReaderConfig().rules, hough=False)
    assert out.sum() == 0


def test_the_short_piece_of_a_broken_rule_goes_with_it_and_strokes_beside_it_stay(mnist_test):
    """A rule broken by a gap wider than the bridge: its long stretch is found, the short piece
    beyond the gap is too short to be a rule by itself and was read as a 1. A piece no thicker
    than a rule, in line with a horizontal rule within remnant_reach digit heights of a stretch's
    end, goes with it, whole; strokes beside a rule (also a slightly tilted one), a 1 crossing a
    piece, a digit under the rule and a 1 below a vertical rule's end stay."""
    cfg = ReaderConfig().rules
    mask = np.zeros((200, 400), np.uint8)
    mask[50:52, 0:300] = 1      # a rule...
    mask[50:52, 312:330] = 1    # ...broken: its last 18 px beyond a 12 px gap
    mask[53:55, 100:130] = 1    # a stroke beside it, 1 px below
    mask[60:80, 200:202] = 1    # a 1 under it
    mask[120:122, 0:300] = 1    # another rule, broken too...
    mask[120:122, 312:340] = 1
    mask[110:132, 325:327] = 1  # ...with a 1 across its piece
    mask[0:40, 380:382] = 1     # a vertical rule ending above a 1 in line with it
    mask[46:66, 380:382] = 1
    out, rules = rules_stage.remove_long_lines(mask.copy(), 20.0, cfg, hough=False)
    assert not out[50:52, :340].any() and rules[50:52, 312:330].all()
    assert out[53:55, 100:130].all() and out[60:80, 200:202].all()
    assert out[110:132, 325:327].all() and out[46:66, 380:382].all()
    kept, _ = rules_stage.remove_long_lines(mask.copy(), 20.0, replace(cfg, remnant_reach=0.0), hough=False)
    assert kept[50:52, 312:330].all()  # (what it mends)
    # A digit just past a rule's end, its top level with the rule: the line pass's band cuts its top
    # arc off; the arc is part of a taller stroke, not a piece of the rule.
    eight = cv2.resize(mnist_test[0][9394], (42, 42), interpolation=cv2.INTER_LINEAR) > 100  # an 8
    ys, xs = np.nonzero(eight)
    eight = eight[ys.min():, xs.min(): xs.max() + 1].astype(np.uint8)
    beyond = np.zeros((120, 400), np.uint8)
    beyond[60:62, 0:300] = 1
    beyond[57: 57 + eight.shape[0], 304: 304 + eight.shape[1]] |= eight[: 120 - 57]  # 4 px past the end
    alone, _ = rules_stage.remove_long_lines(beyond.copy(), 30.0, replace(cfg, remnant_reach=0.0), hough=False)
    assert np.array_equal(rules_stage.remove_long_lines(beyond.copy(), 30.0, cfg, hough=False)[0], alone)
    # A rule tilted by a degree is found as a staircase of stretches; a short stroke just above
    # its middle is beside it, not in line with it.
    tilted = np.zeros((120, 600), np.uint8)
    cv2.line(tilted, (0, 50), (599, 60), 1, 2)
    tilted[51:53, 280:300] = 1  # 1-2 px above it
    assert rules_stage.remove_long_lines(tilted, 40.0, cfg, hough=False)[0][51:53, 280:300].all()


def test_a_faint_rule_thresholded_into_dashes_is_taken_out_and_a_pen_crossing_it_stays():
    from edgedigits.reader.records import Upright

    height, threshold = 20, 0.4
    darkness = np.zeros((200, 400), np.float32)
    darkness[20:22, :] = 0.9                  # a dark rule: the page is ruled
    darkness[100:102, :] = darkness[:, 350:352] = 0.3   # faint rules, below the threshold...
    for k in range(0, 400, 12):
        darkness[100:102, k: k + 6] = darkness[k: k + 6, 350:352] = 0.45  # ...but for 6 px dashes above it
    darkness[90:112, 200:203] = 0.5           # a faint pen across the horizontal one (a 4's stem)
    darkness[140:160, 300:303] = 0.9          # a 1 away from the rules
    size = DigitSize(float(height), np.array([[300, 140, 3, 20, 60]]))
    upright = Upright(darkness, None, (0, 0), 1)
    cfg = ReaderConfig().rules
    dashes = (darkness > threshold).view(np.uint8)
    before, _ = rules_stage.remove_long_lines(dashes.copy(), height, cfg, hough=False)
    assert before[100:102, :190].sum() > 100 and before[30:, 350:352].sum() > 100  # the line pass keeps them
    ruled = rules_stage.remove_rules(upright, threshold, size, cfg)
    assert not ruled.mask[100:102, :195].any() and not ruled.mask[100:102, 208:345].any()
    assert not ruled.mask[30:, 350:352].any()
    assert ruled.rules[100:102, :195].any()   # the horizontal dashes are rules (box sides end at them)
    # The pen is no darker than the dashes: only its crossing gives it back.
    assert ruled.mask[90:112, 200:203].all() and ruled.mask[140:160, 300:303].all()
    assert not ruled.mask[20:22].any()
    # Ink much darker than the line's sustained level is not the line's.
    darker = darkness.copy()
    darker[100:102, 40:46] = 0.9
    assert rules_stage.remove_rules(upright._replace(darkness=darker), threshold, size, cfg).mask[100:102, 40:46].all()
    # An even grey area (a shaded cell, a highlighter band) sustains its level along any line: a
    # thin stroke on it is no rule.
    grey = darkness.copy()
    grey[130:190, 20:300] = 0.25
    grey[140:160, 100:103] = 0.45             # a faint 1 on it
    grey[175:177, 40:60] = 0.45               # a short bar
    ruled = rules_stage.remove_rules(upright._replace(darkness=grey), threshold, size, cfg)
    assert ruled.mask[140:160, 100:103].all() and ruled.mask[175:177, 40:60].all()


def _leaning_grid(lean: float) -> np.ndarray:
    """Darkness of a 300x600 ruled page (a dark rule at its top) with a faint grid below it whose
    columns lean `lean` (dx/dy, perspective), every line 0.3 dark but for 6 px dashes at 0.45
    (above a 0.4 threshold), and a 1 (0.9) in a cell."""
    darkness = np.zeros((300, 600), np.float32)
    darkness[10:12, :] = 0.9
    for y in range(40, 300, 30):
        darkness[y: y + 2, :] = 0.3
        for k in range(0, 600, 12):
            darkness[y: y + 2, k: k + 6] = 0.45
    for x0 in range(20, 600, 30):
        for y in range(30, 300):
            x = int(round(x0 + lean * y))
            if 0 <= x < 599:
                darkness[y, x: x + 2] = np.maximum(darkness[y, x: x + 2], 0.45 if y % 12 < 6 else 0.3)
    darkness[160:180, 305:308] = 0.9
    return darkness


def test_the_dashes_of_a_faint_grids_leaning_columns_are_taken_out():
    """Perspective leaves a faint grid's columns leaning once its rows are levelled: the upright
    pass misses their dashes (rows of 1s on squared paper); sheared upright they are found, and a
    1 in a cell stays."""
    from edgedigits.reader.records import Upright

    height, threshold, lean = 20, 0.4, math.tan(math.radians(6))
    darkness = _leaning_grid(lean)
    size = DigitSize(float(height), np.array([[305, 160, 3, 20, 60]]))
    cfg = ReaderConfig().rules
    ink = (darkness > threshold).view(np.uint8)
    assert abs(rules_stage.column_tilt(ink[30:], height, cfg) - lean) < math.tan(math.radians(0.6))
    assert rules_stage.column_tilt((_leaning_grid(0.0) > threshold).view(np.uint8)[30:], height, cfg) == 0.0
    stroke = ink.copy()
    stroke[60:280, 400:412] = 1                # a marker's broad upright stroke does not hide the lean
    assert abs(rules_stage.column_tilt(stroke[30:], height, cfg) - lean) < math.tan(math.radians(0.6))
    upright = Upright(darkness, None, (0, 0), 1)
    columns = ink.copy()                      # the columns' ink: off the rows, the top rule and the 1
    columns[np.isin(np.arange(300) % 30, (10, 11))] = 0
    columns[:30] = columns[160:180, 305:308] = 0
    kept_upright = rules_stage.remove_rules(upright, threshold, size, replace(cfg, tilt_passes=0)).mask
    kept = rules_stage.remove_rules(upright, threshold, size, cfg).mask
    assert (kept_upright & columns).sum() > 0.5 * columns.sum()  # leaning, most of their dashes stay...
    assert (kept & columns).sum() < 0.05 * columns.sum()         # ...unless sheared upright
    assert kept[160:180, 305:308].all()
    # Sheared and back: a mask comes back the same.
    back = rules_stage.unsheared(rules_stage.sheared(ink, lean), lean, ink.shape)
    assert np.array_equal(back, ink)


def test_a_faint_grids_crossings_are_taken_out_and_a_1_up_to_a_rule_stays():
    """Faint grid lines each below the threshold add up where they cross: a lattice of dots, read
    as digits where few are written. They are taken out, but not as rules: a 1 written up to a
    grid's line is no box's side."""
    from edgedigits.reader.records import Upright

    height, threshold = 20, 0.4
    darkness = np.zeros((200, 300), np.float32)
    darkness[8:10, :] = 0.9                            # a dark rule: the page is ruled
    for k in range(30, 200, 20):
        darkness[k: k + 2, :] = 0.2
    for k in range(10, 300, 20):
        darkness[20:, k: k + 2] = 0.2
    crossings = np.zeros(darkness.shape, bool)
    crossings[30:200:20] = crossings[31:200:20] = True
    crossings &= np.isin(np.arange(300) % 20, (10, 11))[None, :]
    darkness[crossings] = 0.46                         # above the threshold, over twice either line
    darkness[70:90, 146:149] = 0.9                     # a 1 from a grid line down, by a crossing
    size = DigitSize(float(height), np.array([[146, 70, 3, 20, 60]]))
    upright = Upright(darkness, None, (0, 0), 1)
    cfg = ReaderConfig().rules
    dots = (darkness > threshold)[30:, :]
    dots[:, 146:149] = False
    assert dots.sum() > 100
    ruled = rules_stage.remove_rules(upright, threshold, size, cfg)
    assert not (ruled.mask[30:] > 0)[dots].any()
    assert ruled.mask[70:90, 146:149].all()
    assert not rules_stage.is_box_side(ruled.rules, 146, 70, 3, 20, height, cfg)
    kept = rules_stage.remove_rules(upright, threshold, size, replace(cfg, crossing_size=0.01)).mask
    assert (kept[30:] > 0)[dots].all()                 # without it, the lattice stays


def test_touching_rings_are_separated_along_their_contact(reader):
    # Two "0"s joined by a thin contact, the second lower and overlapping the first's columns, so
    # no straight cut parts them: eroding breaks the contact, and every pixel goes to the nearer ring.
    rings = [np.zeros((52, 70), np.uint8) for _ in range(2)]
    cv2.circle(rings[0], (18, 16), 14, 1, 3)  # strokes 5 px wide
    cv2.circle(rings[1], (49, 34), 14, 1, 3)
    mask = rings[0] | rings[1]
    cv2.line(mask, (31, 23), (36, 26), 1, 1)  # the contact
    count, _, stats, _ = labelled(mask, 8)
    assert count == 2  # one component
    x, y, w, h = (int(v) for v in stats[1, :4])
    left, right = separate(Blob(x, y, w, h, [1], stroke=5.0), mask[y: y + h, x: x + w])
    first, second = (ring[y: y + h, x: x + w] for ring in rings)
    assert (left & first).sum() == first.sum() and (right & second).sum() == second.sum()
    assert (left & second).sum() == 0 and (right & first).sum() == 0
    assert left.sum() + right.sum() == mask[y: y + h, x: x + w].sum()
    # One ring alone does not come apart.
    _, _, stats, _ = labelled(rings[0], 8)
    x, y, w, h = (int(v) for v in stats[1, :4])
    assert separate(Blob(x, y, w, h, [1], stroke=5.0), rings[0][y: y + h, x: x + w]) is None


def _ring(height: int, width: int, stroke: int) -> np.ndarray:
    """A 0: an elliptic ring of the given box and stroke width (0/1 uint8)."""
    ring = np.zeros((height, width), np.uint8)
    cv2.ellipse(ring, (width // 2, height // 2), (width // 2 - stroke, height // 2 - stroke), 0, 0, 360, 1, stroke)
    return ring


def test_a_1_touching_a_digits_right_side_is_cut_off_but_a_0s_right_side_is_not():
    """A 1 touching the digit before it meets it in one stroke, and is nearly as tall; a 0's right
    side is met by two strokes (its arcs) wherever it is cut, and a short tail is no 1."""
    cfg = ClassifyConfig()
    square_zero = np.zeros((40, 36), np.uint8)
    cv2.rectangle(square_zero, (2, 2), (33, 37), 1, 4)  # its weakest column near the right crosses two strokes
    assert trailing_one_cut(Blob(100, 0, 36, 40, [1]), square_zero, cfg) is None
    zero = _ring(40, 26, 4)
    pair = np.zeros((40, 34), np.uint8)
    pair[:, :26] = zero
    pair[1:39, 30:34] = 1                    # a 1, 38 of the 40 rows tall
    pair[18:22, 20:30] = 1                   # touching the 0 in one stroke
    cut = trailing_one_cut(Blob(100, 0, 34, 40, [1]), pair, cfg)
    assert cut is not None and 100 + 25 <= cut <= 100 + 30  # past the 0 (its columns 2-24), before the 1
    tail = pair.copy()
    tail[1:16, 30:34] = 0                    # only the lower 23 rows: a tail, not a 1
    assert trailing_one_cut(Blob(100, 0, 34, 40, [1]), tail, cfg) is None


class _ByWidth:
    """A classifier that reads a crop by how many of its 28 columns hold ink: under a third, a sure
    1; at least `wide` of them, a sure 3; else a sure `other`."""

    def __init__(self, wide: int = 0, other: int = 3):
        self.wide, self.other = wide, other

    def predict(self, images):
        from edgedigits.classifier import Prediction

        columns = np.array([np.count_nonzero((image > 0.3).any(axis=0)) for image in images])
        digits = np.where(columns < 28 / 3, 1, np.where(columns >= self.wide, 3, self.other))
        probabilities = np.full((len(images), 10), 0.001, np.float32)
        probabilities[np.arange(len(images)), digits] = 0.99
        return Prediction(digits, probabilities, np.full(len(images), 0.99, np.float32), None)


def _digit_with_a_touching_1_and_a_lone_digit() -> np.ndarray:
    grey = np.full((480, 640), 225, np.uint8)
    cv2.rectangle(grey, (200, 200), (236, 248), 40, 5)        # a digit, 37 px wide
    cv2.rectangle(grey, (246, 201), (250, 247), 40, -1)       # a 1 beside it, as tall
    cv2.rectangle(grey, (236, 222), (246, 226), 40, -1)       # touching it in one stroke
    cv2.rectangle(grey, (300, 200), (336, 248), 40, 5)        # a lone digit of the same width
    return grey


def test_a_1_touching_a_digit_is_read_beside_it():
    """The classifier reads a digit with a 1 touching its right side as that digit alone, sure of it;
    cut off, the 1 reads as 1 and the rest as the same digit, so the reader reports both."""
    grey = _digit_with_a_touching_1_and_a_lone_digit()
    assert [line.text for line in FrameReader(_ByWidth()).read(grey).lines] == ["313"]
    config = ReaderConfig()
    no_cut = replace(config, classify=replace(config.classify, one_min_aspect=10.0))
    assert [line.text for line in FrameReader(_ByWidth(), config=no_cut).read(grey).lines] == ["33"]


class _WideIsNoDigit:
    """A classifier that calls a crop with ink in at least 14 of its 28 columns no digit, and reads
    any narrower one as a sure 4."""

    def predict(self, images):
        from edgedigits.classifier import Prediction

        wide = np.array([np.count_nonzero((image > 0.3).any(axis=0)) >= 14 for image in images])
        probabilities = np.full((len(images), 10), 0.001, np.float32)
        probabilities[:, 4] = 0.991
        return Prediction(np.full(len(images), 4), probabilities, probabilities[:, 4], np.where(wide, 0.99, 0.01))


def test_two_digits_written_into_each_other_are_split_though_narrower_than_a_row_height():
    grey = np.full((480, 640), 225, np.uint8)
    for x in (100, 160, 220):
        cv2.rectangle(grey, (x, 200), (x + 21, 248), 40, 4)   # three digits, 26 px wide, 53 tall as drawn
    cv2.rectangle(grey, (280, 200), (301, 248), 40, 4)        # and two written into each other: one
    cv2.rectangle(grey, (300, 200), (321, 248), 40, 4)        # blob 46 px wide, 0.87 row heights
    assert [line.text for line in FrameReader(_WideIsNoDigit()).read(grey).lines] == ["44444"]
    config = ReaderConfig()
    old = replace(config, classify=replace(config.classify, split_aspect=0.95))
    assert [line.text for line in FrameReader(_WideIsNoDigit(), config=old).read(grey).lines] == ["444"]


class _ShiftedReadsSix:
    """A classifier unsure of the crops of its first batch (the reader's first looks) and of those
    crops again (a 5 at `centred_conf`, else a 6), and sure of a 6 in any other image (a copy
    moved off centre); it keeps the size of every batch it is given."""

    def __init__(self, centred_conf: float):
        self.centred_conf, self.batches, self.first = centred_conf, [], set()

    def predict(self, images):
        from edgedigits.classifier import Prediction

        if not self.batches:
            self.first = {np.asarray(image, np.float32).tobytes() for image in images}
        self.batches.append(len(images))
        probabilities = np.full((len(images), 10), 0.0, np.float32)
        for i, image in enumerate(images):
            if np.asarray(image, np.float32).tobytes() in self.first:
                probabilities[i, 5], probabilities[i, 6] = self.centred_conf, 1 - self.centred_conf
            else:
                probabilities[i, 6], probabilities[i, 5] = 0.9, 0.1
        return Prediction(probabilities.argmax(axis=1), probabilities, probabilities.max(axis=1), None)


def _three_boxes() -> np.ndarray:
    grey = np.full((480, 640), 225, np.uint8)
    for x in (200, 260, 320):
        cv2.rectangle(grey, (x, 200), (x + 29, 248), 40, 5)
    return grey


def test_the_reader_takes_a_second_look_at_unsure_digits_only():
    """A digit reported less sure than second_look_below is classified again with four shifted
    copies (five looks per digit, one batch, counted) and reported as the five looks' likeliest
    digit with their mean probability; sure digits, or second_look_below 0, get no second look."""
    from edgedigits.debug import draw_stages

    grey = _three_boxes()
    unsure = _ShiftedReadsSix(centred_conf=0.6)
    debug = {}
    result = FrameReader(unsure).read(grey, debug=debug)
    assert [line.text for line in result.lines] == ["666"]
    looked = debug["second_look"]  # for --debug's 12-second_look picture: five looks, before, after
    assert [(len(looks), before.digit, after.digit) for looks, before, after in looked] == [(5, 5, 6)] * 3
    assert draw_stages(debug)["12-second_look"].shape == (3 * 56, 5 * 56 + 150, 3)
    assert [round(d.confidence, 3) for d in result.lines[0].digits] == [round((0.4 + 4 * 0.9) / 5, 3)] * 3
    assert unsure.batches[-1] == 3 * 5

    config = ReaderConfig()
    off = replace(config, classify=replace(config.classify, second_look_below=0.0))
    unlooked = _ShiftedReadsSix(centred_conf=0.6)
    assert [line.text for line in FrameReader(unlooked, config=off).read(grey).lines] == ["555"]
    sure = _ShiftedReadsSix(centred_conf=0.85)
    assert [line.text for line in FrameReader(sure).read(grey).lines] == ["555"]
    assert sure.batches == unlooked.batches


class _ByOffset:
    """A classifier that reads a crop by how far its ink's centre lies from the 28x28 image's:
    `table` maps (dy, dx) in whole pixels to (digit, probability) pairs; it keeps every offset asked."""

    def __init__(self, table: dict, reject: float = 0.2):
        self.table, self.asked, self.reject = table, [], reject

    def predict(self, images):
        from edgedigits.classifier import Prediction

        positions = np.arange(28) + 0.5
        probabilities = np.zeros((len(images), 10), np.float32)
        for i, image in enumerate(images):
            cy = (image.sum(axis=1) * positions).sum() / image.sum()
            cx = (image.sum(axis=0) * positions).sum() / image.sum()
            offset = (int(round(cy - 14)), int(round(cx - 14)))
            self.asked.append(offset)
            for digit, probability in self.table[offset]:
                probabilities[i, digit] = probability
        return Prediction(probabilities.argmax(axis=1), probabilities, probabilities.max(axis=1),
                          np.full(len(images), self.reject, np.float32))


def test_second_look_averages_the_crop_and_its_four_shifts():
    from edgedigits.reader.classify import second_look
    from edgedigits.reader.records import Digit, Line

    crop = np.zeros((28, 28), np.float32)
    crop[10:18, 10:18] = 1.0
    table = {(0, 0): [(5, 0.6), (6, 0.4)], (-2, 0): [(6, 0.9), (5, 0.1)], (2, 0): [(6, 0.7), (5, 0.3)],
             (0, -2): [(5, 0.5), (6, 0.5)], (0, 2): [(8, 1.0)]}
    mean_six = (0.4 + 0.9 + 0.7 + 0.5) / 5 * 0.8  # 0.4: times the mean probability of being a digit
    classifier = _ByOffset(table)
    config = ReaderConfig()
    config = replace(config, classify=replace(config.classify, second_look_shift=2))
    unsure = Digit(5, 0.6, (0, 0, 1, 1), crop)
    kept = [Digit(7, 0.95, (0, 0, 1, 1), crop), Digit(4, 0.6, (0, 0, 1, 1))]
    result = ReadResult([Line("574", [unsure, *kept], ("57", "4"))])
    looked = second_look(result, classifier, config)
    assert sorted(classifier.asked) == sorted(table)  # five looks of the one unsure digit with a crop
    line = looked.lines[0]
    assert (line.text, line.groups) == ("674", ("67", "4"))
    assert line.digits[0].digit == 6 and line.digits[0].box == unsure.box
    assert line.digits[0].confidence == pytest.approx(mean_six)
    assert line.digits[1:] == kept
    off = replace(config, classify=replace(config.classify, second_look_below=0.0))
    assert second_look(result, _ByOffset({}), off) is result

    # A '?' becomes the five looks' digit only when their mean reaches reject_threshold.
    rejected = ReadResult([Line("?", [Digit(None, 0.3, (0, 0, 1, 1), crop)], ("?",))])
    assert second_look(rejected, _ByOffset(table), config).lines[0].text == "?"
    lower = replace(config, reject_threshold=0.35)
    rescued = second_look(rejected, _ByOffset(table), lower).lines[0]
    assert rescued.text == "6" and rescued.digits[0].confidence == pytest.approx(mean_six)
    # ... and only when the looks find it a digit at all (min_is_digit), however low the threshold.
    no_digit = second_look(rejected, _ByOffset(table, reject=0.7), replace(config, reject_threshold=0.1))
    assert no_digit.lines[0].text == "?" and no_digit.lines[0].digits[0].confidence == 0.3


def test_shifted_moves_an_image_and_leaves_blank_where_it_was():
    from edgedigits.reader.arrays import shifted

    image = np.arange(16, dtype=np.float32).reshape(4, 4) + 1
    down_left = shifted(image, 1, -1)
    assert np.array_equal(down_left[1:, :3], image[:3, 1:])
    assert not down_left[0].any() and not down_left[:, 3].any()
    assert np.array_equal(shifted(shifted(image, 0, 2), 0, -2)[:, :2], image[:, :2])


class _OneRingIsZero:
    """A classifier that reads a crop holding exactly one closed loop, no wider than 16 of its 28
    px (a 0 is narrower than tall; a loop with a neighbour's arc beside it is not), as a 0 `sure`
    surely (times 0.99 that it is a digit), and calls any other crop (half a ring, two rings) no
    digit."""

    def __init__(self, sure: float = 0.991):
        self.sure = sure

    def predict(self, images):
        from edgedigits.classifier import Prediction

        def holes(image):
            count, labels = cv2.connectedComponents((image <= 0.3).astype(np.uint8), connectivity=4)
            border = set(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]).tolist())
            return len(set(range(1, count)) - border)

        ring = np.array([holes(image) == 1 and np.count_nonzero((image > 0.3).any(axis=0)) <= 16
                         for image in images])
        probabilities = np.full((len(images), 10), 0.001, np.float32)
        probabilities[:, 0] = self.sure
        return Prediction(np.zeros(len(images), int), probabilities, probabilities[:, 0], np.where(ring, 0.01, 0.99))


def _rings(starts: tuple, joined: tuple) -> np.ndarray:
    """A grey frame with a 0 (a ring 29 px wide, 55 tall) at each x of `starts`, and at each x of
    `joined` one joined by a thin stroke to the one before it."""
    grey = np.full((480, 640), 225, np.uint8)
    for x in starts + joined:
        cv2.ellipse(grey, (x + 13, 226), (12, 25), 0, 0, 360, 40, 5)
    for x in joined:
        cv2.rectangle(grey, (x - 9, 225), (x + 2, 227), 40, -1)
    return grey


def _without_parting(config: ReaderConfig = ReaderConfig(), **classify) -> ReaderConfig:
    """`config` with classify.segment_runs turned off (and any other classify knobs given)."""
    return replace(config, classify=replace(config.classify, segment_aspect=math.inf, **classify))


def test_a_run_of_four_touching_digits_is_cut_into_four():
    """One cut leaves two pieces of two digits each; beside a sure digit, cut_again weighs each
    piece for a cut of its own (a run alone it does not: junk beside a page cut into pieces reads
    as digits; segment_runs may, into very sure pieces only). With segment_runs on, the reading
    stays right."""
    grey = _rings((90, 130, 170, 210), (246, 282, 318))  # three lone 0s, then four in one run
    for config in (_without_parting(), ReaderConfig()):  # cut_again alone, and with segment_runs first
        assert [line.text for line in FrameReader(_OneRingIsZero(), config=config).read(grey).lines] == ["0000000"]
    one_cut = _without_parting(split_rounds=0)
    assert [line.text for line in FrameReader(_OneRingIsZero(), config=one_cut).read(grey).lines] == ["000"]
    alone = _rings((210,), (246, 282, 318))  # the run without the 0s before it
    assert [line.text for line in FrameReader(_OneRingIsZero(), config=_without_parting()).read(alone).lines] == []


def test_a_lone_run_is_parted_only_when_every_piece_reads_very_surely():
    """segment_runs parts a run with no sure digit beside it only into pieces each read at least
    segment_lone_min_conf surely (0.98); beside sure digits, recut_min_conf (0.9) is enough."""
    alone = _rings((210,), (246, 282, 318))
    cfg = ReaderConfig().classify
    assert cfg.recut_min_conf < 0.95 * 0.99 < cfg.segment_lone_min_conf <= 0.991 * 0.99
    assert [line.text for line in FrameReader(_OneRingIsZero(0.991)).read(alone).lines] == ["0000"]
    assert [line.text for line in FrameReader(_OneRingIsZero(0.95)).read(alone).lines] == []
    beside = _rings((90, 130, 170, 210), (246, 282, 318))
    parting_alone = replace(ReaderConfig(), classify=replace(ReaderConfig().classify, split_rounds=0))  # no cut_again
    assert [line.text for line in FrameReader(_OneRingIsZero(0.95), config=parting_alone).read(beside).lines] \
        == ["0000000"]


def test_profile_minima_count_a_flat_bottom_once_at_its_middle():
    assert profile_minima(np.array([3, 1, 1, 1, 3, 2, 3, 3, 4], np.float32)) == [2, 5]
    assert profile_minima(np.array([3, 1, 1, 3], np.float32)) == [1]
    for ends in ([1, 2, 2, 3], [3, 1, 1], [2, 1], [1], []):  # a bottom at an end is no minimum
        assert profile_minima(np.array(ends, np.float32)) == []


def test_segment_cuts_are_the_gaps_and_the_even_cuts_away_from_the_ends():
    own = np.ones((30, 90), np.uint8)
    own[:, 17:22] = 0  # two gaps five columns wide (blank over three columns once smoothed)
    own[:, 52:57] = 0
    cfg = replace(ClassifyConfig(), segment_narrowest=10.0)  # even cuts: only the half, 45
    assert segment_cuts(own, 30.0, cfg) == [0, 19, 45, 54, 90]  # each gap once, at its middle
    for gap, cuts in ((slice(84, 87), [0, 45, 85, 90]), (slice(85, 88), [0, 45, 90])):
        near_end = np.ones((30, 90), np.uint8)
        near_end[:, gap] = 0  # a cut may lie 0.15 row heights (4.5, so 5 px) from the end, no nearer
        assert segment_cuts(near_end, 30.0, cfg) == cuts
    assert segment_cuts(np.ones((30, 10), np.uint8), 30.0, cfg) == [0, 5, 10]
    assert segment_cuts(np.ones((30, 9), np.uint8), 30.0, cfg) == [0, 9]  # no room 5 px from both ends
    with pytest.raises(ValueError, match="odd"):
        ClassifyConfig(segment_smooth=4)
    cfg = ClassifyConfig()
    cuts = segment_cuts(own, 30.0, cfg)
    assert cuts[0] == 0 and cuts[-1] == 90 and cuts == sorted(cuts) and {19, 54} <= set(cuts)
    end = cfg.segment_end * 30  # px
    assert all(end <= c <= 90 - end for c in cuts[1:-1]) and len(cuts) <= cfg.segment_max_cuts + 2
    assert all(b - a >= cfg.min_cut_distance for a, b in zip(cuts, cuts[1:]))
    assert segment_cuts(own, 30.0, replace(cfg, segment_max_cuts=2)) == [0, 19, 54, 90]  # the gaps first
    assert segment_cuts(own[:, :8], 30.0, cfg) == [0, 8]  # too narrow for a cut away from both ends


def test_best_segmentation_pays_for_each_piece_and_for_width():
    cfg = ClassifyConfig()
    cuts = [0, 10, 20, 30]
    conf = np.array([0.99, 0.99, 0.99, 0.99, 0.5])
    pieces = {(0, 1): 0, (1, 2): 1, (2, 3): 2, (0, 2): 3, (1, 3): 4}
    score, seg = best_segmentation(cuts, pieces, conf, 15.0, cfg.recut_min_conf, cfg)
    # (0, 2) is 1.33 row heights wide: it pays 3 x 0.33 = 1.0 for its width, more than the 0.6 a
    # third piece costs
    assert seg == [(0, 1, 0), (1, 2, 1), (2, 3, 2)]
    assert score == pytest.approx(3 * (math.log(0.99) - cfg.segment_piece_cost))
    wide = replace(cfg, segment_wide=1.5)  # (0, 2) no longer pays for its width: two pieces win
    assert best_segmentation(cuts, pieces, conf, 15.0, cfg.recut_min_conf, wide)[1] == [(0, 2, 3), (2, 3, 2)]
    free = replace(cfg, segment_width_weight=0.0)  # nor when width costs nothing
    assert best_segmentation(cuts, pieces, conf, 15.0, cfg.recut_min_conf, free)[1] == [(0, 2, 3), (2, 3, 2)]
    assert best_segmentation(cuts, {(0, 1): 0, (1, 3): 4}, conf, 15.0, 0.9, cfg) == (-math.inf, [])


def test_parting_runs_does_bounded_work(monkeypatch):
    """Counting: every blob parted has at most segment_max_cuts cuts between its ends (so at most
    (cuts + 2) choose 2 pieces are classified), and a run wider than segment_max_aspect is not parted."""
    from edgedigits.reader import classify as classify_stage

    seen, grown, widest = [], [], []
    cuts_of, runs_of = classify_stage.segment_cuts, classify_stage.segment_runs

    def counting_cuts(own, scale, cfg):
        cuts = cuts_of(own, scale, cfg)
        seen.append((own.shape[1] / scale, len(cuts)))
        return cuts

    def counting_runs(entries, parts, upright, ink, classifier, cfg, probs, is_digit, halves, wholes):
        before = len(halves)
        widest.append(max(entry["blob"].w / entry["scale"] for entry in entries))
        result = runs_of(entries, parts, upright, ink, classifier, cfg, probs, is_digit, halves, wholes)
        grown.append(len(halves) - before)
        return result

    monkeypatch.setattr(classify_stage, "segment_cuts", counting_cuts)
    monkeypatch.setattr(classify_stage, "segment_runs", counting_runs)
    grey = _rings((20, 60), (96, 132, 168, 204))  # a lone 0, then a run of five: 3.1 row heights
    for x in range(300, 560, 26):  # and a run of ten rings overlapping a little: 4.8 row heights
        cv2.ellipse(grey, (x + 13, 226), (12, 25), 0, 0, 360, 40, 5)
    config = replace(ReaderConfig(), classify=replace(ReaderConfig().classify, segment_max_cuts=6,
                                                      segment_max_aspect=4.0))
    FrameReader(_OneRingIsZero(), config=config).read(grey)
    assert max(widest) > 4.0 and sum(grown) > 0  # the run of ten reached segment_runs, pieces of the five were read
    assert len(seen) == 1 and all(aspect <= 4.0 and count <= 6 + 2 for aspect, count in seen)
    assert sum(grown) <= sum(count * (count - 1) // 2 for _, count in seen)


def test_a_1_is_not_cut_off_when_the_rest_reads_as_another_digit():
    """When the rest reads otherwise than the whole did (here: a narrower crop, a 5), the piece was
    part of the digit, not a 1 beside it."""
    grey = _digit_with_a_touching_1_and_a_lone_digit()
    assert [line.text for line in FrameReader(_ByWidth(wide=18, other=5)).read(grey).lines] == ["35"]


def test_a_curved_cut_parts_touching_digits_that_share_columns():
    # Two slanted strokes 7 px wide, side by side but sharing columns, joined by a contact 5 px
    # thick: every straight cut runs through a stroke, erosion by half a stroke leaves them joined,
    # and the path between them crosses only the contact.
    strokes = [np.zeros((50, 44), np.uint8) for _ in range(2)]
    cv2.line(strokes[0], (6, 46), (20, 4), 1, 7)
    cv2.line(strokes[1], (22, 46), (36, 4), 1, 7)
    mask = strokes[0] | strokes[1]
    cv2.line(mask, (13, 25), (29, 25), 1, 5)
    count, _, stats, _ = labelled(mask, 8)
    assert count == 2  # one component
    x, y, w, h = (int(v) for v in stats[1, :4])
    own = mask[y: y + h, x: x + w]
    blob, cfg = Blob(x, y, w, h, [1], stroke=7.0), ClassifyConfig()
    first, second = (stroke[y: y + h, x: x + w] for stroke in strokes)
    for cut, _ in split_columns(blob, own, cfg):
        assert first[:, cut - x].any() or second[:, cut - x].any()
    assert separate(blob, own, cfg) is None
    left, right = path_pieces(blob, own, cfg)
    # (where the contact meets a stroke, the path may take a few of the stroke's pixels)
    assert (left & second).sum() <= 0.03 * second.sum() and (right & first).sum() <= 0.03 * first.sum()
    assert left.sum() + right.sum() == own.sum() and (left & right).sum() == 0
    # A path that may not step sideways cannot follow the slant: no better than a straight cut.
    assert path_pieces(blob, own, replace(cfg, path_side_cost=100.0)) is None
    # Two staggered dashes 3 px thick: every straight cut crosses one, a bent path none. Under 1.5
    # strokes of ink is a thin contact that straight cuts part well enough: no curved cut then.
    dashes, dashed = np.zeros((40, 30), np.uint8), Blob(0, 0, 30, 40, [1], stroke=3.0)
    dashes[10:13, :16] = dashes[30:33, 13:] = 1
    assert path_pieces(dashed, dashes, replace(cfg, path_min_straight=0.0)) is not None
    assert path_pieces(dashed, dashes, cfg) is None
    # Solid ink: every path crosses as much as a straight cut.
    assert path_pieces(Blob(0, 0, 30, 40, [1], stroke=6.0), np.ones((40, 30), np.uint8), cfg) is None


def test_split_rule_weighs_confidence_width_and_the_shorter_half():
    # A saturated whole is not split while the blob is not wider than 1.2 row heights...
    assert split_margin(1.15, 0.999, 1.0) <= 0
    # ...but a blob twice as wide as tall is, when both halves are sure and equally tall.
    assert split_margin(2.0, 0.999, 0.99) > 0
    # A short half (a 7's bar, a 2's tail) counts against the split.
    assert split_margin(1.5, 0.9, 0.99, halves_height=1.0) > 0
    assert split_margin(1.5, 0.9, 0.99, halves_height=0.6) < 0
    # Sure halves of an unsure whole win at a moderate width.
    assert split_margin(1.2, 0.6, 0.99) > 0 > split_margin(1.2, 0.99, 0.6)


def test_box_sides_ended_by_a_removed_rule():
    height = 50
    rules = np.zeros((200, 200), np.uint8)
    rules[20:22, :] = 1  # a removed top border; the bottom one was too short to be found
    # A thin upright stroke hanging from the rule, taller than a digit: a box's side.
    assert rules_stage.is_box_side(rules, 40, 22, 3, 70, height)
    # With the stubs of the box's corners (an L wider than a thin stroke) as well.
    assert rules_stage.is_box_side(rules, 40, 22, 40, 70, height)
    # A digit-tall stroke that touches the rule is a '1' on ruled paper, not a box's side...
    assert not rules_stage.is_box_side(rules, 40, 22, 3, 50, height)
    # ...and a wide digit-sized shape is a digit.
    assert not rules_stage.is_box_side(rules, 40, 22, 40, 55, height)
    # Away from any removed rule nothing is a box's side.
    assert not rules_stage.is_box_side(rules, 40, 60, 3, 70, height)
    assert not rules_stage.is_box_side(None, 40, 22, 3, 70, height)


def test_non_digit_marks_are_not_read_as_confident_digits(reader):
    frame = np.full((480, 640, 3), 220, np.uint8)
    cv2.circle(frame, (320, 240), 1, (30, 30, 30), -1)             # a speck
    cv2.line(frame, (20, 400), (620, 400), (60, 60, 60), 2)          # a ruled line
    cv2.rectangle(frame, (100, 100), (300, 200), (40, 40, 40), 2)    # an empty box
    result = reader.read(frame)
    assert all(d.digit is None for line in result.lines for d in line.digits)


def test_edit_distance():
    assert edit_distance("1234", "1234") == 0
    assert edit_distance("1234", "124") == 1
    assert edit_distance("", "12") == 2
    assert edit_distance("1x34", "1234") == 1


def test_generated_frames_are_deterministic(mnist_test):
    images, labels = mnist_test
    a = [f for f, _ in generate_frames(3, 7, images, labels)]
    b = [f for f, _ in generate_frames(3, 7, images, labels)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- accuracy on realistic frames

def test_reader_accuracy_on_generated_frames(reader, mnist_test, record_property, capsys):
    images, labels = mnist_test
    true_digits = digits_right = true_lines = lines_right = 0
    times = []
    for frame, truth in generate_frames(FRAMES, SEED, images, labels):
        start = time.perf_counter()
        result = reader.read(frame)
        times.append(time.perf_counter() - start)
        score = score_read(result, truth)
        true_digits += score.true_digits
        digits_right += score.digits_right
        true_lines += score.true_lines
        lines_right += score.lines_right
    digit_accuracy = digits_right / true_digits
    line_accuracy = lines_right / true_lines
    record_property("digit_accuracy", digit_accuracy)
    record_property("line_accuracy", line_accuracy)
    with capsys.disabled():
        print(f"\nreader on {FRAMES} generated frames (seed {SEED}): digit accuracy {digit_accuracy:.4f} "
              f"({digits_right}/{true_digits}), line accuracy {line_accuracy:.4f} ({lines_right}/{true_lines}), "
              f"median read {1000 * np.median(times):.1f} ms; targets {TARGET_DIGIT_ACCURACY} / "
              f"{TARGET_LINE_ACCURACY}, floors {MIN_DIGIT_ACCURACY} / {MIN_LINE_ACCURACY}")
    assert digit_accuracy >= MIN_DIGIT_ACCURACY
    assert line_accuracy >= MIN_LINE_ACCURACY


# ---------------------------------------------------------------- real-frame mechanisms and work bounds


def _colour_of(frame: np.ndarray, config):
    """What a working copy of `frame` gives the page finder: its small colour copy, on demand."""
    return lambda: page_stage.small_colour(frame, config.small_side)


def _page(shape=(480, 640), paper=(80, 120, 560, 400), desk=90, white=200, ramp=False) -> np.ndarray:
    """A grey frame: a sharp-edged sheet on a darker desk, or (ramp) an evenly written page whose
    brightness falls off smoothly towards one side (vignetting) with no sheet edge at all."""
    ys, xs = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    if ramp:
        return np.clip(white - 120 * (xs / shape[1]) ** 2, 0, 255).astype(np.uint8)
    grey = np.full(shape, desk, np.float32)
    x0, y0, x1, y1 = paper
    grey[y0:y1, x0:x1] = white
    return grey.astype(np.uint8)


def test_paper_edge_must_be_a_step_not_a_shading_ramp():
    for grey, expected in ((_page(), True), (_page(desk=170), True), (_page(ramp=True), False)):
        small = cv2.GaussianBlur(cv2.resize(grey, (320, 240), interpolation=cv2.INTER_AREA), (5, 5), 0)
        _, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.convexHull(max(contours, key=cv2.contourArea))
        assert page_stage.is_step_edge(small, hull) is expected


def test_the_page_is_found_once_per_frame_and_scaled_to_its_other_copies(reader, mnist_test, monkeypatch):
    """The page finder works on a ~320 px copy, so every copy of a frame shows the same sheet: it
    runs on the first copy measured (here the preview) and the shrunk copy gets that page scaled,
    much as if it had found it there itself. The small colour copy is made once per frame."""
    images, labels = mnist_test
    frame = _big_digits_on_a_sheet(images, labels)
    found, coloured = [], []
    find_paper, small_colour = page_stage.find_paper, scale_stage.small_colour
    monkeypatch.setattr(page_stage, "find_paper", lambda grey, *a: found.append(grey.shape) or find_paper(grey, *a))
    monkeypatch.setattr(scale_stage, "small_colour", lambda *a: coloured.append(1) or small_colour(*a))
    debug = {}
    assert [line.text for line in reader.read(frame, debug=debug).lines] == ["258", "406"]
    assert found == [(750, 1000)] and debug["paper"].shape == (480, 640) and debug["paper"][240, 320] == 1
    # A sticky note found by its colour on a 2560 px photo: its preview, the working copy and the
    # shrunk copy each look for it (the digits are not tall enough to trust the preview), with one
    # small colour copy.
    found.clear()
    big_note = cv2.resize(_note_on_a_table(images, labels), (2560, 1920), interpolation=cv2.INTER_LINEAR)
    assert [line.text for line in reader.read(big_note).lines] == ["38150"]
    assert len(found) == 3 and len(coloured) == 1
    config = ReaderConfig()
    work = scale_stage.working_copy(frame, config)
    preview = scale_stage.preview_copy(work, config.scale)
    first = find_paper(preview.grey, config.page)
    for shape in ((480, 640), (500, 600)):  # a shrunk copy; and other scales across and down
        own = find_paper(cv2.resize(work.grey, shape[::-1], interpolation=cv2.INTER_AREA), config.page)
        scaled = page_stage.scaled_page(first, shape)
        # (the preview's mask was eroded by 5 of its pixels: ~3 px here, not 5; the rest is rounding)
        assert scaled.mask.shape == shape and np.count_nonzero(scaled.mask != own.mask) < 0.02 * own.mask.size
        assert np.count_nonzero(own.mask > scaled.mask) < 0.002 * own.mask.size
        box = [np.r_[hull.min(axis=0), hull.max(axis=0)] for hull in (scaled.hull, own.hull)]
        assert np.abs(box[0] - box[1]).max() < 4  # px of the copy
    assert page_stage.scaled_page(Page(None, None), (480, 640)).mask is None


def test_a_sheet_lit_from_one_side_is_found_whole_in_evened_light():
    """Light falling to 30% across the frame leaves the sheet's far side (70) darker than the desk's
    lit side (120): growing the bright region into shadow stops short of it. With the light on the
    page fitted as a plane and divided out, the sheet is found whole, and the desk stays out."""
    xs = np.mgrid[:480, :640][1].astype(np.float32)
    grey = np.full((480, 640), 120, np.float32)
    grey[60:420, 100:540] = 235
    grey = (grey * (1 - 0.7 * xs / 639)).astype(np.uint8)
    sheet = np.zeros(grey.shape, bool)
    sheet[60:420, 100:540] = True
    config = ReaderConfig().page
    page = page_stage.find_bright_paper(grey, config)
    assert page.mask[sheet].mean() > 0.9 and page.mask[~sheet].mean() < 0.01
    not_evened = page_stage.find_bright_paper(grey, replace(config, even_min_falloff=1.0))
    assert not_evened.mask[sheet].mean() < 0.8
    # The evened page is ~1.3x the first one here: asked for more, the first one stands.
    first_stands = page_stage.find_bright_paper(grey, replace(config, even_min_gain=1.5))
    assert np.array_equal(first_stands.mask, not_evened.mask)
    evenly_lit = np.full((240, 320), 200, np.uint8)
    assert page_stage.even_light(evenly_lit, np.ones_like(evenly_lit), config) is None


def test_a_sheet_on_a_grey_desk_lit_from_a_corner_is_found_in_evened_light(monkeypatch):
    """Light falling from the top right to 40% at the far corner, and a lit patch of desk (1.2x)
    touching the sheet's top edge: the desk's lit corner (150) is as bright as the sheet's shadowed
    side (225 x 0.4), so the bright region takes in desk, and its outline is no step all round.
    Evened over the smooth part of what is bright, the sheet is found, and the desk stays out; grown
    into "shadow" as the first search grows (in evened light there is none), it takes in the patch."""
    ys, xs = np.mgrid[:480, :640].astype(np.float32)
    grey = np.full((480, 640), 150, np.float32)
    grey[90:430, 60:560] = 225
    grey *= 1 - 0.6 * np.clip(np.hypot(ys / 480, (639 - xs) / 640), 0, 1)
    grey[:90] *= 1 + 0.2 * np.exp(-((xs[:90] - 250) ** 2 + (ys[:90] - 60) ** 2) / (2 * 70 ** 2))
    grey = grey.astype(np.uint8)
    sheet = np.zeros(grey.shape, bool)
    sheet[90:430, 60:560] = True
    config = ReaderConfig().page
    assert page_stage.find_bright_paper(grey, config).mask is None
    page = page_stage.find_paper(grey, config)  # (no colour, and the desk is as smooth as the page)
    assert page.mask[sheet].mean() > 0.9 and page.mask[~sheet].mean() == 0
    assert np.array_equal(page.mask, page_stage.find_evened_paper(grey, config).mask)
    bright_region = page_stage._bright_region
    monkeypatch.setattr(page_stage, "_bright_region", lambda *args, grow=True: bright_region(*args, grow=True))
    assert page_stage.find_evened_paper(grey, config).mask[~sheet].mean() > 0.05
    monkeypatch.undo()
    evenly_lit = np.full((480, 640), 200, np.uint8)
    evenly_lit[90:430, 60:560] = 230  # a bright region with an outline, but light that needs no evening
    assert page_stage.find_evened_paper(evenly_lit, config).mask is None
    # The evened finder alone, on a page filling the frame with its bottom third in a hard shadow:
    # the lit part's outline runs along the frame's border on three sides, so it is no sheet on a
    # desk (it would be without that rule). (find_paper never asks it here: the brightness finder
    # takes the lit part, as it always has; a real gamma-darkened page reached it, see README.)
    shadowed = np.full((480, 640), 225, np.float32)
    shadowed[320:] *= 0.6
    shadowed = (shadowed * (1 - 0.3 * xs / 639)).astype(np.uint8)
    assert page_stage.find_evened_paper(shadowed, config).mask is None
    assert page_stage.find_evened_paper(shadowed, replace(config, evened_min_inner=0.0)).mask is not None


def _big_digit_on_a_note(image: np.ndarray, height: int = 240, gap: int = 30) -> np.ndarray:
    """A 640x480 grey frame: a 300x400 px white note on a dark desk holding one MNIST digit drawn
    `height` px tall, its top `gap` px below the note's top edge (a digit that fills its note)."""
    ys, xs = np.nonzero(image > 50)
    crop = image[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    width = max(1, round(crop.shape[1] * height / crop.shape[0]))
    digit = cv2.resize(crop, (width, height)).astype(np.float32) / 255
    frame = np.full((480, 640), 70, np.float32)
    frame[40:440, 170:470] = 225
    frame[40 + gap: 40 + gap + height, 320 - width // 2: 320 - width // 2 + width] *= 1 - 0.85 * digit
    return frame.astype(np.uint8)


def test_a_digit_that_fills_its_note_is_not_cut_at_the_note_edge(reader, mnist_test):
    """The paper's edge is cleared of darkness for 0.35 digit heights, but at most ``edge_clear_max``
    of the working copy's longer side (32 px here): cleared by 0.35 of a 240 px digit (84 px), a 7
    whose bar lies 30 px below the note's top edge loses it and reads as 1 (a 2 and a 9 likewise)."""
    images, labels = mnist_test
    config = reader.config
    uncapped = FrameReader(reader.classifier, config=replace(config, page=replace(config.page, edge_clear_max=1.0)))
    wrong_uncapped = 0
    for d in (7, 2, 9):
        frame = _big_digit_on_a_note(images[int(np.flatnonzero(labels == d)[0])])
        assert reader.read(frame).text == str(d)
        wrong_uncapped += uncapped.read(frame).text != str(d)
    assert wrong_uncapped >= 2
    # The clearing itself, down the note's middle column: ~32 px wide on this 640 px frame, not 84.
    work = scale_stage.working_copy(_big_digit_on_a_note(images[0]), config)
    light = relative_darkness(work.grey, page_stage.find_paper(work.grey, config.page), config.light)
    light.darkness[:] = 1.0
    column = 320 - light.origin[0]
    cleared = page_stage.clear_paper_edge(light, work, DigitSize(240.0, None), config.page).darkness[:, column]
    paper_top = int(np.argmax(light.paper[:, column]))
    assert 28 <= int(np.argmax(cleared > 0)) - paper_top <= 36


def test_ink_running_along_the_cleared_paper_edge_is_desk():
    """A page outline that took in glare or a light desk holds pieces of desk that run along its
    cleared edge; they are dropped. A 1 whose top reaches the edge, a 7 whose bar lies along it
    (less than ``edge_run_share`` of its height; without that share it is dropped too) and a stub
    shorter than ``edge_run_length`` are kept, on the page as drawn and turned by 10-45 degrees
    (the contact is counted once per pixel of a tilted edge's length; a wedge's box grows with
    the turn, so it may be kept)."""
    cfg = ReaderConfig().page
    inside = np.zeros((200, 300), np.uint8)
    inside[10:-10, 10:-10] = 1
    parts = {name: np.zeros_like(inside) for name in ("sliver", "wedge", "one", "seven", "stub")}
    parts["sliver"][40:160, 10:14] = 1  # desk along the left edge, 120 px
    parts["wedge"][150:190, 200:260] = np.tril(np.ones((40, 60), np.uint8))[:, ::-1]  # on the bottom edge
    parts["one"][10:50, 100:104] = 1
    parts["seven"][10:14, 150:174] = 1
    parts["seven"][10:50, 170:174] = 1
    parts["stub"][10:13, 230:240] = 1  # along the top edge, 10 px

    def dropped(turn: float, share: float = cfg.edge_run_share) -> set[str]:
        rotation = cv2.getRotationMatrix2D((200, 200), turn, 1.0)

        def turned(a):
            canvas = np.zeros((400, 400), np.uint8)
            canvas[100:300, 50:350] = a
            return cv2.warpAffine(canvas, rotation, (400, 400), flags=cv2.INTER_NEAREST)

        mask = turned(sum(parts.values()).clip(0, 1).astype(np.uint8))
        runs = page_stage.runs_along_edge(mask, turned(inside), 40.0, replace(cfg, edge_run_share=share))
        return {name for name, part in parts.items() if runs[turned(part) == 1].any()}

    assert dropped(0) == {"sliver", "wedge"}
    for turn in (10, 20, 30, 45):
        assert "sliver" in dropped(turn) <= {"sliver", "wedge"}
    assert "seven" in dropped(0, share=0.0) and "seven" in dropped(20, share=0.0)


def test_vignetted_page_is_read_to_its_dark_side(reader, mnist_test):
    """The dark side of a page lit from one side is still paper: its digits are read."""
    images, labels = mnist_test
    grey = _page(ramp=True).astype(np.float32)
    truth = ""
    for k, i in enumerate((0, 1, 2, 3, 4, 5)):
        digit = cv2.resize(images[i], (40, 40)).astype(np.float32) / 255
        x = 60 + 95 * k
        grey[200:240, x: x + 40] *= 1 - 0.85 * digit
        truth += str(labels[i])
    assert reader.read(grey.astype(np.uint8)).text.replace("\n", "") == truth


def test_specks_crowding_a_candidate_mark_it_as_texture():
    height = 20.0
    rng = np.random.default_rng(0)
    # One digit-sized box alone, one amid as many 2 px specks as desk grain leaves (per pixel).
    cell_area = 9 * (2 * height) ** 2
    n = int(3 * BlobsConfig().clutter_max_density * cell_area)
    speck_x = 400 + rng.uniform(-40, 40, n)
    speck_y = 100 + rng.uniform(-40, 40, n)
    x = np.concatenate([[100, 400], speck_x]).astype(np.float64)
    y = np.concatenate([[100, 100], speck_y]).astype(np.float64)
    w = np.concatenate([[12, 12], np.full(n, 2.0)])
    h = np.concatenate([[20, 20], np.full(n, 2.0)])
    cluttered = blobs_stage.cluttered(x, y, w, h, height)
    assert not cluttered[0] and cluttered[1]


def test_small_digits_in_the_pages_pen_are_kept_specks_are_not():
    big = [Blob(0, 0, 20, 40, [1], ink=0.5, stroke=3.0) for _ in range(5)]
    small_digit = Blob(0, 0, 8, 14, [2], ink=0.5, stroke=3.0)      # same pen, 4.7 strokes tall
    thin_fragment = Blob(0, 0, 8, 14, [3], ink=0.5, stroke=1.0)    # a hairline: not this pen
    blot = Blob(0, 0, 8, 9, [4], ink=0.5, stroke=3.0)              # 3 strokes tall: a dot
    faint = Blob(0, 0, 8, 14, [5], ink=0.2, stroke=3.0)            # show-through
    kept = blobs_stage.same_pen([small_digit, thin_fragment, blot, faint], big)
    assert kept == [small_digit]


def _broken_row(faint_extra=None):
    """(parts, upright, ruled, ink, lines) of a row of four 20 px digits (ink 0.9, threshold 0.4)
    whose third is broken: its firm lower 10 px and a faint upper stroke (0.3, under the threshold)
    joined to it; `faint_extra` draws more into the darkness first. The frame's typical height
    (12 px) is not the row's."""
    darkness = np.zeros((60, 200), np.float32)
    for x in (20, 60, 140):
        darkness[20:40, x: x + 3] = 0.9                  # three 1s
    darkness[30:40, 100:112] = 0.9                       # the firm piece, next to...
    darkness[20:31, 100:103] = 0.3                       # ...the faint stroke joined to it
    darkness[20:40, 116:118] = 0.3                       # faint, not joined to it: beside it
    if faint_extra is not None:
        faint_extra(darkness)
    mask = (darkness > 0.4).view(np.uint8)
    count, labels, stats, _ = labelled(mask, 8)
    blobs = sorted((Blob(*(int(v) for v in stats[i, :4]), [i]) for i in range(1, count)), key=lambda b: b.x)
    parts = Parts(labels, stats[1:], 12.0)
    return parts, Upright(darkness, None, (0, 0), 1), Ruled(mask, None), Ink(0.4, 0.9, mask), Lines([[blobs]])


def _mended(parts, upright, ruled, ink, lines, cfg=BlobsConfig(), candidates=None):
    """The broken blob of :func:`_broken_row` after mend_broken."""
    candidates = lines.rows[0][0] if candidates is None else candidates
    return blobs_stage.mend_broken(lines, candidates, parts, upright, ruled, ink, cfg).rows[0][0][2]


def test_a_blob_much_shorter_than_its_row_takes_in_the_faint_ink_joined_to_it():
    """A faint stroke thresholds into pieces: the firm piece alone reads as another digit. The
    row's digits tell how tall it should be; the faint ink joined to it is taken in, but not faint
    ink beside it, not when that makes it bigger than a digit or hardly taller, and never another
    candidate's pixels or a removed rule."""
    parts, upright, ruled, ink, lines = _broken_row()
    assert (lines.rows[0][0][2].y, lines.rows[0][0][2].h) == (30, 10)
    broken = _mended(parts, upright, ruled, ink, lines)
    assert (broken.x, broken.y, broken.w, broken.h) == (100, 20, 12, 20)
    assert (lines.rows[0][0][2].y, lines.rows[0][0][2].h) == (30, 10)  # a new blob: the first reading's stays
    assert (parts.labels[20:31, 100:103] == broken.labels[0]).all()
    assert not parts.labels[:, 116:118].any()            # the stroke beside it stays out
    # Faint ink joined beyond a digit's size (grain, a faint rule): wider or taller than the row's digits.
    def wide(d):
        d[25:27, 94:118] = 0.3

    def running_on(d):
        d[32:34, 112:130] = 0.3

    def tall(d):
        d[17:20, 100:103] = d[40:43, 100:103] = 0.3      # 26 px with the stroke above

    for extra in (wide, running_on, tall):
        assert _mended(*_broken_row(extra)).h == 10
    # A flat piece wider than a digit is no broken one (its window would hold less than itself).
    parts, upright, ruled, ink, lines = _broken_row(lambda d: d.__setitem__((slice(36, 40), slice(150, 200)), 0.9))
    flat = lines.rows[0][0][4]
    mended = blobs_stage.mend_broken(lines, lines.rows[0][0], parts, upright, ruled, ink, BlobsConfig())
    assert len(lines.rows[0][0]) == 5 and mended.rows[0][0][2].h == 20 and mended.rows[0][0][4] is flat
    # Ink fainter than mend_level is no stroke; a blob nearly a digit's height is no broken piece.
    parts, upright, ruled, ink, lines = _broken_row(lambda d: d.__setitem__((slice(20, 30), slice(100, 103)), 0.2))
    assert _mended(parts, upright, ruled, ink, lines).h == 10

    def nearly_whole(d):
        d[23:30, 100:112] = 0.9                          # the firm piece 17 px tall (0.85 of the row)...
        d[20:23, 100:103] = 0.3                          # ...and faint ink that would make it 20

    assert _mended(*_broken_row(nearly_whole)).h == 17
    # A pixel of faint halo does not make it a digit.
    parts, upright, ruled, ink, lines = _broken_row(lambda d: d.__setitem__((slice(20, 29), slice(100, 103)), 0))
    assert _mended(parts, upright, ruled, ink, lines).h == 10
    # Taken out as a rule: not taken back.
    parts, upright, ruled, ink, lines = _broken_row()
    rules = np.zeros_like(ruled.mask)
    rules[20:31, 100:103] = 1
    assert _mended(parts, upright, ruled._replace(rules=rules), ink, lines).h == 10

    # Another candidate (here one dropped from the row, as a box's side is) is never taken in, even
    # joined by faint ink.
    def neighbour(d):
        d[35:37, 112:116] = 0.3
        d[20:40, 116:119] = 0.9

    parts, upright, ruled, ink, lines = _broken_row(neighbour)
    one = parts.labels[30, 117]
    row = lines.rows[0][0]
    side = next(b for b in row if b.labels == [one])
    broken = _mended(parts, upright, ruled, ink, Lines([[[b for b in row if b is not side]]]), candidates=row)
    assert broken.h == 20 and (parts.labels[20:40, 116:119] == one).all()
    # A row of fewer than mend_min_row blobs does not tell a digit's height.
    parts, upright, ruled, ink, lines = _broken_row()
    assert _mended(parts, upright, ruled, ink, lines, replace(BlobsConfig(), mend_min_row=5)).h == 10


@pytest.mark.parametrize("size", [(480, 640), (720, 1280), (1080, 1920)])
def test_noise_frames_do_bounded_work_and_read_nothing_at_full_hd(reader, size, monkeypatch):
    """A frame of pure noise is the worst texture: the work is bounded by counting what reaches the
    pairwise steps (candidates) and the text direction (points), not by the clock."""
    seen = {"candidates": 0, "angle_points": 0}
    merge = blobs_stage.merge_fragments
    pick = deskew_stage.pick_orientation

    def counting_merge(blobs, height, cfg):
        seen["candidates"] = max(seen["candidates"], len(blobs))
        return merge(blobs, height, cfg)

    def counting_pick(angle, vecs, cfg):
        seen["angle_points"] = max(seen["angle_points"], len(vecs))
        return pick(angle, vecs, cfg)

    monkeypatch.setattr(blobs_stage, "merge_fragments", counting_merge)
    monkeypatch.setattr(deskew_stage, "pick_orientation", counting_pick)
    frame = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    result = reader.read(frame)
    assert seen["candidates"] <= BlobsConfig().max_candidates
    assert seen["angle_points"] <= 2 * DeskewConfig().max_points  # two nearest neighbours each
    if size == (1080, 1920):
        assert result.lines == []


def test_more_candidates_than_the_cap_is_reported_not_read(reader, clean_frame, monkeypatch):
    frame, truth = clean_frame
    config = replace(reader.config, blobs=replace(reader.config.blobs, max_candidates=2))
    result = FrameReader(reader.classifier, config=config).read(frame)
    assert result.lines == []
    assert result.warnings and "too much texture" in result.warnings[0]
    assert json.loads(json.dumps(result.to_dict()))["warnings"] == list(result.warnings)


@pytest.mark.parametrize("digit_px, times", [(44, 1), (24, 1), (44, 3)])  # as is, enlarged, shrunk via a preview
def test_too_much_texture_on_the_page_is_read_again_on_its_smooth_part(reader, mnist_test, monkeypatch,
                                                                     digit_px, times):
    """A page whose bright region took in a rough desk (one the rough check let through: here it is
    switched off) gives more candidates than the cap; instead of reading nothing, the reader reads
    again within the part of the bright region that is smooth, the sheet, on every copy it reads
    (short digits enlarged, a big frame's preview and shrunk copy) without looking for a page again."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=235.0, desk=(120.0, 255.0), period=40.0, digit_px=digit_px)
    frame = cv2.resize(frame, None, fx=times, fy=times, interpolation=cv2.INTER_CUBIC)
    config = reader.config
    # (the desk pieces running along the page's edge are left in too, so that the stripes outnumber the cap)
    page = replace(config.page, max_rough=1.0, edge_run_length=1e6)
    config = replace(config, page=page, blobs=replace(config.blobs, max_candidates=10))
    grey = frame[..., 0]
    assert page_stage.find_paper(grey, config.page).mask.mean() > 0.5  # the stripes are page
    smooth = page_stage.find_smooth_bright_paper(grey, config.page)
    assert smooth.mask[240 * times, 320 * times] == 1 and smooth.mask.mean() < 0.2
    calls = []
    find, find_smooth = page_stage.find_paper, page_stage.find_smooth_bright_paper
    monkeypatch.setattr(page_stage, "find_paper", lambda *a: calls.append("paper") or find(*a))
    monkeypatch.setattr(page_stage, "find_smooth_bright_paper", lambda *a: calls.append("smooth") or find_smooth(*a))
    result = FrameReader(reader.classifier, config=config).read(frame)
    assert [line.text for line in result.lines] == ["38150"] and result.warnings == ()
    assert calls[0] == "paper" and calls.count("smooth") == 1
    assert "paper" not in calls[calls.index("smooth"):]  # the smooth page is kept on every copy read again


def test_scattered_digits_on_a_page_turned_a_quarter_are_read_upright(reader, mnist_test):
    """Four digits far apart on a sheet do not say which way its rows run: the reader also reads the
    page a quarter turn further and keeps the reading the classifier is surer of."""
    images, labels = mnist_test
    grey = np.full((480, 640), 60, np.float32)
    grey[40:440, 60:580] = 215  # a sheet on a dark desk: its edges give the angle modulo 90
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (2, 4, 7, 5)]
    for (x, y), i in zip([(110, 80), (440, 110), (150, 320), (450, 330)], picks):
        digit = cv2.resize(images[i], (56, 56)).astype(np.float32) / 255
        grey[y: y + 56, x: x + 56] *= 1 - 0.85 * digit
    turned = np.ascontiguousarray(np.rot90(grey.astype(np.uint8), -1))  # a quarter turn clockwise

    def digits(result):
        return sorted("".join(line.text for line in result.lines))

    assert digits(reader.read(turned)) == ["2", "4", "5", "7"]
    assert not deskew_stage.text_direction(*_first_pass_stats(reader, turned), reader.config).sure


def test_a_page_read_with_its_lit_part_keeps_a_hard_shadows_edge_out_of_the_ink():
    """A page in a hard shadow past a slanted edge (half the light, a 3 px penumbra) with a stroke
    across the edge. Estimated as one paper, the light ramps across the edge and the shaded side
    along it is as dark as faint ink; given the lit part (the page finder's mask, off the edge by
    4 px), each side has its own light: the edge is paper, the stroke as dark on both sides."""
    config = ReaderConfig()
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    side = x - (300 + 0.3 * (y - 240))  # px right of the edge (along x)
    grey = 200 * (1 - 0.5 * (0.5 + 0.5 * np.tanh(side / 3)))
    grey[236:244, 150:500] *= 0.3
    grey = grey.astype(np.uint8)
    lit = (side < -4).astype(np.uint8)
    along_edge = (np.abs(side) < 12) & ((y < 200) | (y > 280))  # (away from the stroke)
    whole = relative_darkness(grey, Page(None, None), config.light).darkness
    two_sided = relative_darkness(grey, Page(None, None, region=lit), config.light).darkness
    assert whole[along_edge].max() > 0.25
    assert two_sided[along_edge].max() < 0.05
    assert two_sided[240, 200] > 0.6 and two_sided[240, 450] > 0.6  # the stroke on the lit and the shaded side
    assert two_sided[100, 560] == two_sided[400, 100] == 0  # the paper on each side
    scaled = page_stage.scaled_page(Page(None, None, region=lit), (240, 320))
    assert scaled.mask is None and scaled.region.shape == (240, 320) and scaled.region[120, 100] == 1
    with pytest.raises(ValueError, match="smoothing's reach"):  # a band past it: no light either side
        replace(config.light, shadow_edge=0.03)


def _first_pass_stats(reader, frame):
    """(digit size, page) as the reader's first pass measures them, for text_direction."""
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    config = reader.config
    page = page_stage.find_paper(grey, config.page)
    light = relative_darkness(grey, page, config.light)
    ink = ink_stage.threshold_ink(light, grey.shape, config)
    return measure_stage.measure_digits(ink, config, darkness=light.darkness), page


def _page_of_rows(mnist_test, rows: tuple[str, ...], top_left: tuple[int, int], step: tuple[int, int]) -> np.ndarray:
    """A light page on a dark desk with `rows` of 48 px MNIST digits, the first at `top_left`
    (x, y) and the others `step` (x, y) px apart: the row's i-th test image of each digit."""
    images, labels = mnist_test
    grey = np.full((480, 640), 60, np.float32)
    grey[40:440, 60:580] = 215
    for row, text in enumerate(rows):
        for column, d in enumerate(text):
            i = int(np.flatnonzero(labels == int(d))[row])
            digit = cv2.resize(images[i], (48, 48)).astype(np.float32) / 255
            x, y = top_left[0] + step[0] * column, top_left[1] + step[1] * row
            grey[y: y + 48, x: x + 48] *= 1 - 0.85 * digit
    return grey.astype(np.uint8)


def test_a_number_written_diagonally_on_an_upright_sheet_is_one_line(reader, mnist_test):
    """Text runs along the paper's edges, so the edges set the direction; but a row of digits
    whose neighbour pairs all agree on a direction far from both edge directions was written
    across the sheet (webcam frames of a number written at 30 degrees), and is read as one line."""
    images, labels = mnist_test
    grey = np.full((480, 640), 60, np.float32)
    grey[40:440, 60:580] = 215  # an upright sheet on a dark desk
    text, turn = "237845", 30.0
    for k, d in enumerate(text):
        digit = cv2.resize(images[int(np.flatnonzero(labels == int(d))[0])], (48, 48))
        digit = cv2.warpAffine(digit, cv2.getRotationMatrix2D((24, 24), turn, 1.0), (48, 48)).astype(np.float32) / 255
        x, y = int(110 + 52 * k * np.cos(np.radians(turn))), int(330 - 52 * k * np.sin(np.radians(turn)))
        grey[y: y + 48, x: x + 48] *= 1 - 0.85 * digit
    page = grey.astype(np.uint8)
    size, found = _first_pass_stats(reader, page)
    assert found.hull is not None and deskew_stage.paper_angle_of(found.hull) == pytest.approx(0, abs=2)
    assert deskew_stage.text_direction(size, found, reader.config).angle == pytest.approx(-turn, abs=5)
    assert [line.text for line in reader.read(page).lines] == [text]
    edges_only = replace(reader.config, deskew=replace(reader.config.deskew, own_min_pairs=100))
    assert deskew_stage.text_direction(size, found, edges_only).angle == pytest.approx(0, abs=2)
    assert len(FrameReader(reader.classifier, config=edges_only).read(page).lines) > 1
    # Pairs at 8 degrees off the edges (a row not quite level, perspective) or disagreeing (a
    # zigzag: quadrupled directions at +-120 degrees) leave the direction to the paper's edges.
    cfg = reader.config.deskew
    assert not deskew_stage.written_across(8.0, 1.0, 5, 0.0, cfg)
    assert not deskew_stage.written_across(30.0, abs(float(np.cos(np.radians(120)))), 5, 0.0, cfg)
    assert deskew_stage.written_across(30.0, 1.0, 5, 0.0, cfg) and deskew_stage.written_across(-62.0, 1.0, 5, -2.0, cfg)


def test_a_reading_that_gives_up_on_texture_is_not_read_at_other_turns():
    from edgedigits.reader import orient
    from edgedigits.reader.config import OrientConfig
    from edgedigits.reader.records import Direction

    angles = []

    from edgedigits.reader import blobs
    from edgedigits.reader.config import BlobsConfig

    def read_at(angle, stage, warnings=(blobs.too_much_texture(BlobsConfig()),)):
        angles.append(angle)
        return ReadResult([], warnings)

    for direction in (Direction(3.0, sure=False), Direction(3.0, sure=True, across=True)):
        angles.clear()
        assert orient.best_reading(read_at, direction, OrientConfig()).warnings and angles == [3.0]
    angles.clear()
    orient.best_reading(lambda angle, stage: read_at(angle, stage, ()), Direction(3.0, sure=False), OrientConfig())
    assert len(angles) == 2  # without the warning, scattered digits are read a quarter turn further too


def test_a_page_whose_rows_were_found_is_not_turned_to_a_reading_of_short_columns():
    """A quarter turn of a page with rows reads them as columns of a digit or two, which the
    classifier may be surer of than the upright, unsure reading: such a reading wins only when very
    sure (a sideways list's rows, test_a_sideways_list_of_short_numbers_is_read_at_its_quarter_turn);
    a reading that keeps the rows (turned over) wins on confidence as before."""
    from edgedigits.reader import orient
    from edgedigits.reader.config import OrientConfig
    from edgedigits.reader.records import Digit, Direction, Line

    def reading(texts, confidence):
        return ReadResult([Line(t, [Digit(int(c), confidence, (0, 0, 1, 1)) for c in t]) for t in texts])

    upright = reading(("1367", "2015"), 0.86)              # unsure: read at the other turns too
    columns = reading(("2", "0", "15", "7", "0", "02"), 0.94)
    readings = {0: upright, 90: columns, 180: reading(("5102", "7621"), 0.8), -90: columns}

    def read_at(angle, stage):
        return readings[round(angle)]

    sure = Direction(0.0, sure=True, across=False)
    assert not orient.may_turn(upright, columns, OrientConfig())
    assert orient.best_reading(read_at, sure, OrientConfig()) is upright
    # Without the rows' check (turned_rows 0) the columns win on confidence alone.
    assert orient.best_reading(read_at, sure, OrientConfig(turned_rows=0.0)) is columns
    # Scattered digits (no sure direction) are still compared on confidence alone.
    assert orient.best_reading(read_at, Direction(0.0, sure=False), OrientConfig()) is columns
    # Short lines read very sure win; so does a sure reading that keeps the rows.
    readings[90] = readings[-90] = sure_columns = reading(("2", "0", "15", "7", "0", "02"), 0.99)
    assert orient.best_reading(read_at, sure, OrientConfig()) is sure_columns
    readings[90] = readings[-90] = columns
    readings[180] = rows_over = reading(("5102", "7621"), 0.97)
    assert orient.best_reading(read_at, sure, OrientConfig()) is rows_over


def test_a_reading_at_another_turn_with_digits_far_shorter_than_the_first_ones_does_not_win():
    """A lightly drawn box broken into dashes, read a quarter turn further, is a column of sure 1s
    half the digits' height (a generated note on a white table: 0.985 against the upright 0.934)."""
    from edgedigits.reader import orient
    from edgedigits.reader.config import OrientConfig
    from edgedigits.reader.records import Digit, Direction, Line

    def reading(texts, confidence, box):
        return ReadResult([Line(t, [Digit(int(c), confidence, box) for c in t]) for t in texts])

    upright = reading(("411188772",), 0.93, (0, 0, 12, 20))           # digits 20 px tall
    dashes = reading(("1", "11", "1", "1", "111", "1"), 1.0, (0, 0, 9, 3))  # sideways: 9 px along its up
    readings = {0: upright, 90: dashes, 180: reading(("886681114",), 0.88, (0, 0, 12, 20)), -90: dashes}
    sure = Direction(0.0, sure=True, across=False)
    assert orient.up_height(dashes, 90.0) == 9 and orient.up_height(upright, 0.0) == 20
    assert orient.best_reading(lambda angle, stage: readings[round(angle)], sure, OrientConfig()) is upright
    assert orient.best_reading(lambda angle, stage: readings[round(angle)], sure,
                               OrientConfig(turned_min_height=0.0)) is dashes
    # A page lying sideways, read first along its columns (digits 12 px along that reading's up): the
    # true turn shows the same digits 20 px tall and wins.
    readings[0] = reading(("2", "0", "15", "7", "0", "02", "3"), 0.9, (0, 0, 20, 12))
    readings[90] = rows = reading(("1367", "2015"), 0.99, (0, 0, 20, 12))
    readings[-90] = reading(("5102", "7621"), 0.6, (0, 0, 20, 12))
    assert orient.best_reading(lambda angle, stage: readings[round(angle)], sure, OrientConfig()) is rows


def test_a_sheet_beside_the_page_read_turned_over_is_read_as_the_page_was_turned(monkeypatch):
    """Digits of a note turned over can read surer than its upright row with a '?' (a generated
    two-note frame: 576046084 at 0.95 against 4309?0425 at 0.89): a sheet read a half turn from the
    page is read at the page's turn too (on the copy its first reading chose: rescaled), and keeps
    its own reading only when clearly surer, or when the turned one reports too few digits."""
    from edgedigits.reader import orient, pipeline
    from edgedigits.reader.records import Digit, Line

    def reading(text, confidence, angle, x=300):  # a '?' read 0.3 sure
        return ReadResult([Line(text, [Digit(None, 0.3, (x + 14 * k, 10, 12, 20)) if c == "?" else
                                       Digit(int(c), confidence, (x + 14 * k, 10, 12, 20))
                                       for k, c in enumerate(text)])], angle=angle)

    page = reading("26167", 0.99, 13.6, x=0)
    readings = {None: reading("576046084", 0.95, 174.8), 13.6: reading("4309?0425", 0.96, -5.2)}  # mean 0.89
    asked = []

    def read_working(work, classifier, config, stage, rescale, known_height=None, turned_as=None, page=None):
        assert rescale  # both readings of the sheet on the copy its digits call for, small digits added
        asked.append(turned_as)
        return readings[turned_as]

    monkeypatch.setattr(pipeline, "_read_working", read_working)
    monkeypatch.setattr(page_stage, "other_sheets", lambda *a: [_square_page(300, 0, 400, 100)])
    work = Working(np.zeros((300, 400), np.uint8), 1.0, np.zeros((300, 400), np.uint8))
    paper = np.ones((300, 400), np.uint8)

    def rows(config=ReaderConfig(), first=page):
        asked.clear()
        result = pipeline._read_other_sheets(work, first, paper, lambda: None, None, config, lambda *a: None)
        return [line.text for line in result.lines[len(first.lines):]]

    assert rows() == ["4309?0425"] and asked == [None, 13.6]
    assert rows(replace(ReaderConfig(), orient=OrientConfig(page_turn_margin=0.01))) == ["576046084"]
    # A page unsure of its turn (or a lone digit) is no guide: the sheet keeps its own reading.
    assert rows(first=reading("26167", 0.9, 13.6, x=0)) == ["576046084"] and asked == [None]
    assert rows(first=reading("7", 0.99, 13.6, x=0)) == ["576046084"] and asked == [None]
    readings[13.6] = reading("4309", 0.99, -5.2)  # most of its digits dropped as no digit: not surer
    assert rows() == ["576046084"] and asked == [None, 13.6]
    readings[13.6] = ReadResult([], angle=-5.2)  # nothing read at the page's turn
    assert rows() == ["576046084"]
    readings[None] = reading("576046084", 0.95, 84.8)  # a quarter turn from the page: no second reading
    assert rows() == ["576046084"] and asked == [None]
    assert orient.half_turn_apart(-170.0, 20.0) and orient.half_turn_apart(530.0, -10.0)
    assert not orient.half_turn_apart(100.0, -20.0) and not orient.half_turn_apart(135.0, 0.0)


def test_a_page_upside_down_is_read_turned_over(reader, mnist_test):
    """Digits turned half a turn read as other digits, or as nothing the classifier is sure of: an
    unsure reading of enough digits is compared with the page read turned by 180 degrees."""
    rows = ("2345", "7532")
    page = _page_of_rows(mnist_test, rows, (150, 120), (70, 150))
    assert len("".join(rows)) >= OrientConfig().unsure_min_digits
    assert [line.text for line in reader.read(page).lines] == list(rows)
    assert [line.text for line in reader.read(np.ascontiguousarray(page[::-1, ::-1])).lines] == list(rows)


def test_a_sideways_page_is_read_at_its_quarter_turn(reader, mnist_test):
    """Rows as close as the digits in them: turned a quarter turn, the page still looks like level
    text to the direction finder (neighbours one beside the other, a row apart), so the unsure
    reading there is compared with the readings at the other turns."""
    rows = ("15720", "43896")
    page = _page_of_rows(mnist_test, rows, (100, 100), (70, 60))
    assert [line.text for line in reader.read(page).lines] == list(rows)
    for turns in (1, 3):
        sideways = np.ascontiguousarray(np.rot90(page, turns))
        assert [line.text for line in reader.read(sideways).lines] == list(rows)


@pytest.mark.parametrize("text, spacing", [("32680", 52), ("96241", 56)])
def test_a_short_number_lying_sideways_is_read_at_both_quarter_turns(reader, mnist_test, text, spacing):
    """Five digits close together, turned a quarter turn: the neighbours clearly lie one above the
    other at a near-level angle (``Direction.across``), too few digits for the unsure reading to be
    turned, so the page is also read at both quarter turns (one of them reads it upside down)."""
    page = _page_of_rows(mnist_test, (text,), (100, 200), (spacing, 0))
    assert [line.text for line in reader.read(page).lines] == [text]
    for turns in (1, 3):
        sideways = np.ascontiguousarray(np.rot90(page, turns))
        assert [line.text for line in reader.read(sideways).lines] == [text]


@pytest.mark.parametrize("rows", [("15", "72", "04", "38", "96"), ("157", "720", "043", "389", "961")])
def test_a_sideways_list_of_short_numbers_is_read_at_its_quarter_turn(reader, mnist_test, rows):
    """More rows than digits in a row, as close as the digits: turned a quarter, the direction
    finder sees level text whose lines are the list's columns, longer than its rows. The quarter
    turn that reads the rows must still win (a rule that a quarter turn of a sure direction read
    lines at least as long lost all of these)."""
    page = _page_of_rows(mnist_test, rows, (120, 60), (60, 58))
    assert [line.text for line in reader.read(page).lines] == list(rows)
    for turns in (1, 3):
        sideways = np.ascontiguousarray(np.rot90(page, turns))
        assert [line.text for line in reader.read(sideways).lines] == list(rows)


def test_a_lone_sideways_digit_is_read_at_its_turn(reader, mnist_test):
    """A lone digit read sideways is often read unsure: a lone digit read under ``lone_below`` is also
    read at the other turns, and a very sure one (``lone_min_confidence``) wins. When only readings
    of 6 digits or more were turned, 18 of these 100 sideways digits read right with the stand-in
    classifier here."""
    images, labels = mnist_test
    upright = sideways = 0
    for d in range(10):
        for i in np.flatnonzero(labels == d)[:5]:
            grey = np.full((480, 640), 60, np.float32)
            grey[40:440, 60:580] = 215
            grey[180:300, 260:380] *= 1 - 0.85 * cv2.resize(images[i], (120, 120)).astype(np.float32) / 255
            page = grey.astype(np.uint8)
            upright += [line.text for line in reader.read(page).lines] == [str(d)]
            for turns in (1, 3):
                turned = np.ascontiguousarray(np.rot90(page, turns))
                sideways += [line.text for line in reader.read(turned).lines] == [str(d)]
    assert upright >= 46  # 49 of 50 here, with or without the rule
    assert sideways >= 30


class _SameAnswer:
    """A classifier that gives every crop the same digit probabilities and "not a digit" probability."""

    def __init__(self, digit: int, reject):
        self.digit, self.reject = digit, reject

    def predict(self, images):
        from edgedigits.classifier import Prediction

        n = len(images)
        probabilities = np.zeros((n, 10), np.float32)
        probabilities[:, self.digit] = 1.0
        reject = None if self.reject is None else np.full(n, self.reject, np.float32)
        return Prediction(np.full(n, self.digit), probabilities, np.ones(n, np.float32), reject)


def test_the_reader_drops_what_the_classifier_calls_no_digit(clean_frame):
    frame, truth = clean_frame
    n = len("".join(line.text for line in truth))

    def text(classifier):
        return "".join(line.text for line in FrameReader(classifier).read(frame).lines)

    assert text(_SameAnswer(7, None)) == "7" * n  # a classifier without the output: as before
    assert text(_SameAnswer(7, 0.3)) == "7" * n
    assert text(_SameAnswer(7, 0.8)) == ""  # no digit: nothing is reported, not even a '?'


def test_what_the_frame_edge_cuts_through_is_not_read(reader, mnist_test):
    """A window's bars beyond the page, cut by the frame's left edge, are not digits; a digit whose
    stroke only grazes the right edge is still read."""
    images, labels = mnist_test
    grey = np.full((480, 640), 200, np.uint8)
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (2, 5, 3, 4)]
    xs = [250, 320, 390, 584]
    for x, i in zip(xs, picks):
        digit = cv2.resize(images[i], (56, 56))
        window = grey[200:256, x: x + 56]
        window[:] = np.minimum(window, 255 - digit)
    bar = 200 + int(np.argmax((grey[200:256, 600:630] < 150).sum(axis=1)))  # the 4's crossbar
    grey[bar - 2: bar + 3, 600:640] = np.minimum(grey[bar - 2: bar + 3, 600:640], 60)  # runs to the edge
    for top in (40, 130, 300, 380):  # blinds: short dark bars running out of the frame
        grey[top: top + 60, 0:24] = 30
    result = reader.read(grey)
    assert [line.text for line in result.lines] == ["2534"]


def test_scene_options_change_the_desk_and_paper_not_the_writing(mnist_test):
    from benchmarks.framegen import DESKS, STICKY_NOTE_TINTS_BGR
    from benchmarks.scenes import scene_options

    images, labels = mnist_test
    made = {}
    for desk in DESKS:
        frame, truth = generate_frame(np.random.default_rng(3), images, labels, frame_size=(320, 240),
                                      options=FrameOptions(desk=desk))
        made[desk] = (frame, [line.text for line in truth])
    assert all(texts == made["dark"][1] for _, texts in made.values())  # desks are drawn after the page
    corner = {desk: float(frame[:8, :8].mean()) for desk, (frame, _) in made.items()}  # desk, not page, here
    assert corner["light"] > corner["dark"] + 20 and corner["white"] > corner["dark"] + 20, corner
    assert not np.array_equal(made["glare"][0], made["dark"][0])
    frame, _ = generate_frame(np.random.default_rng(3), images, labels, frame_size=(320, 240),
                              options=FrameOptions(papers="sticky", desk="white"))
    assert frame.shape == (240, 320, 3) and len(STICKY_NOTE_TINTS_BGR) == 5
    assert set(scene_options()) >= {"default", "light desk", "sticky notes, white table"}
    with pytest.raises(ValueError, match="desk"):
        FrameOptions(desk="marble")
    side, side_truth = generate_frame(np.random.default_rng(3), images, labels, frame_size=(320, 240),
                                      options=FrameOptions(light="side"))
    assert [line.text for line in side_truth] == made["dark"][1] and side.mean() < made["dark"][0].mean()
    with pytest.raises(ValueError, match="light"):
        FrameOptions(light="moon")
    squared, squared_truth = generate_frame(np.random.default_rng(3), images, labels, frame_size=(320, 240),
                                            options=FrameOptions(ruling="squared"))
    assert [line.text for line in squared_truth] == made["dark"][1]  # the same writing, on squared paper
    assert not np.array_equal(squared, made["dark"][0]) and "squared paper" in scene_options()
    with pytest.raises(ValueError, match="ruling"):
        FrameOptions(ruling="dotted")
    two, two_truth = generate_frame(np.random.default_rng(3), images, labels, frame_size=(320, 240),
                                    options=FrameOptions(papers="sticky", sheets=2))
    left = [bool(line.quad[:, 0].max() <= 160) for line in two_truth]
    right = [bool(line.quad[:, 0].min() >= 160) for line in two_truth]
    assert two.shape == (240, 320, 3) and any(left) and any(right)  # a sheet in each half, apart
    assert all(a or b for a, b in zip(left, right)) and "two sticky notes, white table" in scene_options()
    with pytest.raises(ValueError, match="sheets"):
        FrameOptions(sheets=3)


def _note_on_a_table(images, labels, note_bgr=(40, 140, 250)):
    """A 640x480 colour frame: a white table and a darker sticky note (orange by default) that
    holds the row 3 8 1 5 0 near its edge; the note is no brighter than the table, only another colour."""
    frame = np.empty((480, 640, 3), np.float32)
    frame[:] = (228, 230, 232)
    frame[140:340, 170:470] = note_bgr
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (3, 8, 1, 5, 0)]
    for column, i in enumerate(picks):
        digit = cv2.resize(images[i], (44, 44)).astype(np.float32) / 255
        y, x = 215, 200 + 52 * column
        frame[y: y + 44, x: x + 44] *= 1 - 0.85 * digit[..., None]
    return frame.astype(np.uint8)


def test_a_sticky_note_on_a_white_table_is_found_by_its_colour(reader, mnist_test):
    """A note as bright as the table (or darker) has no bright region of its own; its colour tells
    it from the table, and the table's brightness does not darken the note's edge and the 3 beside
    it (read from the grey alone, that 3 is read as 5)."""
    frame = _note_on_a_table(*mnist_test)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    config = reader.config.page
    assert page_stage.find_bright_paper(grey, config).mask is None
    page = page_stage.find_paper(grey, config, _colour_of(frame, config))
    assert page.mask is not None
    assert page.mask[240, 320] == 1 and page.mask[60, 60] == 0 and page.mask[400, 560] == 0
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_one_colour_all_over_finds_no_coloured_page(mnist_test):
    """A grey frame saved as colour, and a frame of one tint, have no region of another colour."""
    frame = _note_on_a_table(*mnist_test, note_bgr=(200, 202, 204))
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert page_stage.find_coloured_paper(frame, grey.shape, ReaderConfig().page).mask is None
    tinted = np.zeros_like(frame)
    tinted[:] = (90, 215, 240)
    assert page_stage.find_coloured_paper(tinted, grey.shape, ReaderConfig().page).mask is None


def _sheet_on_a_patterned_desk(images, labels, paper: float, desk: tuple[float, float], period: float,
                               digit_px: int = 44) -> np.ndarray:
    """A grey 640x480 frame: a blank sheet of brightness `paper` holding 3 8 1 5 0 (`digit_px` boxes),
    on a desk of wavy stripes (wood grain) from desk[0] to desk[1] brightness, `period` px apart."""
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    frame = (desk[0] + desk[1]) / 2 + (desk[1] - desk[0]) / 2 * np.sin(
        2 * np.pi * (x + 0.6 * y + 18 * np.sin(y / 30)) / period)
    frame[140:340, 170:470] = paper
    top = 237 - digit_px // 2
    for column, d in enumerate((3, 8, 1, 5, 0)):
        digit = cv2.resize(images[int(np.flatnonzero(labels == d)[0])], (digit_px, digit_px)).astype(np.float32) / 255
        frame[top: top + digit_px, 200 + 52 * column: 200 + 52 * column + digit_px] *= 1 - 0.85 * digit
    return np.repeat(frame[..., None], 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("paper, period", [(190.0, 14.0), (230.0, 14.0), (210.0, 30.0)])
def test_a_sheet_on_a_patterned_desk_as_bright_as_itself_is_found_by_smoothness(reader, mnist_test, paper, period):
    """A light, grained desk is no darker than the sheet and of no other colour: only its texture
    tells it from blank paper. Read without a page, its stripes were read as rows of 1s."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=paper, desk=(150.0, 250.0), period=period)
    grey = frame[..., 0]
    config = reader.config.page
    assert page_stage.find_bright_paper(grey, config).mask is None
    assert page_stage.find_coloured_paper(frame, grey.shape, config).mask is None
    page = page_stage.find_paper(grey, config, _colour_of(frame, config))
    assert page.mask is not None
    assert page.mask[240, 320] == 1 and page.mask[60, 60] == 0 and page.mask[400, 560] == 0
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_a_page_found_by_smoothness_leaves_out_a_brighter_smooth_part_of_the_desk(reader, mnist_test):
    """A wide, smooth light band of the desk touching the sheet joins its smooth region (the edge
    between them is thinner than rough_open); it is brighter than the paper, so the page leaves it
    out. The level is the paper's lit part: a shadow over most of the sheet does not lower it (at
    the median it would, and the lit part would be left out)."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=190.0, desk=(150.0, 250.0), period=14.0)
    frame[340:370, 170:470] = 250                             # the light band, below the sheet
    frame[140:340, 170:402] = (frame[140:340, 170:402] * 0.75).astype(np.uint8)  # the shadow: 4 digits
    grey = frame[..., 0]
    config = reader.config.page
    joined = page_stage.find_smooth_paper(grey, replace(config, smooth_brighter=1.0))
    page = page_stage.find_smooth_paper(grey, config)
    at_median = page_stage.find_smooth_paper(grey, replace(config, smooth_level_percentile=50.0))
    assert joined.mask[355, 320] == 1                         # without the check: the band is page
    assert page.mask[355, 320] == 0 and page.mask[240, 240] == 1 and page.mask[240, 430] == 1
    assert at_median.mask[240, 430] == 0                      # the lit part, cut at the median
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_without_brighter_desk_keeps_the_region_when_no_sheet_is_left():
    """The brighter part left out, what is left must still be a sheet reaching the frame's middle;
    else the smooth region is kept as found (None)."""
    config = ReaderConfig().page
    small = np.full((240, 320), 240, np.uint8)
    small[40:200, 60:260] = 150                             # the sheet, the desk brighter
    region = np.zeros_like(small)
    region[40:230, 60:260] = 1                              # the sheet and a band of desk below it
    filled, _ = page_stage.without_brighter_desk(small, region, config)
    assert filled[120, 160] == 1 and filled[215, 160] == 0 and filled[20, 20] == 0
    small[:] = 240
    small[:75, :] = 150                                     # a sheet-sized part along the top edge
    region[:] = 0
    region[:100, :] = 1                                     # and a brighter strip reaching the middle
    assert page_stage.without_brighter_desk(small, region, config) is None   # off the middle: no sheet


def test_a_bright_page_that_took_in_a_desks_light_stripes_keeps_only_the_smooth_part(reader, mnist_test):
    """Otsu's bright region joins the sheet to the light stripes of a desk that touch it; the
    stripes are rough where the sheet is blank, so the page is the bright region that is smooth.
    Before, two thirds of the frame were taken for the page and the stripes read as 1s."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=235.0, desk=(120.0, 255.0), period=40.0)
    grey = frame[..., 0]
    config = reader.config.page
    whatever_its_texture = replace(config, max_rough=1.0)
    assert page_stage.find_bright_paper(grey, whatever_its_texture).mask.mean() > 0.5
    page = page_stage.find_bright_paper(grey, config)
    assert page.mask is not None
    assert page.mask[240, 320] == 1 and page.mask.mean() < 0.2
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_a_dim_grained_ruled_sheet_on_a_dark_desk_is_the_whole_bright_region(reader):
    """A sheet lit from one side on a black desk: its dim half's grain is rough, and the rules cut
    its smooth part into strips. The desk has no light parts, so the roughness is the sheet's own
    and the page stays the whole bright region; before, it was one strip between two rules."""
    rng = np.random.default_rng(0)
    frame = np.full((480, 640), 12.0, np.float32)
    frame[100:400, 120:520] = np.linspace(160, 60, 400)[None, :] + rng.normal(0, 6, (300, 400))
    for y in range(140, 400, 45):
        frame[y:y + 2, 120:520] *= 0.6
    grey = np.clip(frame, 0, 255).astype(np.uint8)
    config = reader.config.page
    page = page_stage.find_bright_paper(grey, config)
    assert page.rough > config.max_rough  # (the case the check is for)
    assert page.mask.mean() > 0.35 and page.mask[110, 130] == 1 and page.mask[390, 510] == 1
    as_before = page_stage.find_bright_paper(grey, replace(config, desk_light_ratio=0.0))
    assert as_before.mask.mean() < 0.1


def _sheet_in_a_light_region(desk_speckle: float, shadowed: bool = False, rough_border: bool = False) -> np.ndarray:
    """A 640x480 frame: dark surroundings (40) around a light region (150, speckled with
    `desk_speckle` grey levels of blurred noise) holding a white sheet (235); `shadowed`: the light
    region is a page instead (225), its left third in a hard-edged smooth shadow (160);
    `rough_border`: the shadow's outer edges speckled 20 px wide (a patterned edge in the outer band)."""
    rng = np.random.default_rng(0)
    frame = np.full((480, 640), 40.0, np.float32)
    speckle = cv2.GaussianBlur(rng.normal(0, 1, (420, 580)).astype(np.float32), (0, 0), 1.5)
    frame[30:450, 30:610] = 150 + desk_speckle * speckle / speckle.std()
    frame[120:360, 200:460] = 235 + rng.normal(0, 2, (240, 260))
    if shadowed:
        frame[30:450, 30:610] = 225 + rng.normal(0, 2, (420, 580))
        frame[30:450, 30:220] = 160 + rng.normal(0, 2, (420, 190))
    if rough_border:
        border = np.ones((420, 580), bool)
        border[20:-20, 20:] = border[:, 190:] = False
        frame[30:450, 30:610][border] += 15 * (speckle / speckle.std())[border]
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_a_sheet_on_a_light_patterned_desk_amid_darker_surroundings_is_the_sheet():
    config = ReaderConfig().page
    grey = _sheet_in_a_light_region(15)
    sheet = np.zeros(grey.shape, bool)
    sheet[120:360, 200:460] = True
    page = page_stage.find_bright_paper(grey, config)
    assert page.mask[sheet].mean() > 0.9 and not page.mask[~sheet].any()
    whole = page_stage.find_bright_paper(grey, replace(config, nested_max_share=0.0))
    assert whole.rough > config.colour_check_rough and whole.mask[~sheet].mean() > 0.5  # sheet and desk
    # A page with a hard-edged shadow is also a bright region with a brighter part inside, but
    # the shadowed part is smooth: it stays page.
    shadowed = _sheet_in_a_light_region(0, shadowed=True)
    copies = page_stage.small_copies(shadowed, config)
    filled, _ = page_stage._bright_region(copies.blurred, config)
    assert page_stage.nested_sheet(copies.blurred, filled, copies.smooth, config) is None
    lit_part = page_stage.nested_sheet(copies.blurred, filled, copies.smooth, replace(config, nested_ring_rough=0.0))
    assert lit_part is not None and lit_part[0][0].mean() < 0.8 * filled.mean()  # (what the guards keep out)
    # With a rough border the outer band passes the precheck, and the smooth ring keeps it page.
    bordered = _sheet_in_a_light_region(0, shadowed=True, rough_border=True)
    copies = page_stage.small_copies(bordered, config)
    filled, _ = page_stage._bright_region(copies.blurred, config)
    assert page_stage.outer_rough_share(copies.smooth, filled, config) >= config.nested_ring_rough
    assert page_stage.nested_sheet(copies.blurred, filled, copies.smooth, config) is None


def test_a_bright_page_that_took_in_a_desks_light_stripes_of_another_colour_is_the_part_of_the_papers_colour(
        reader, mnist_test):
    """Orange stripes as bright as a white sheet, with a grain that leaves most of them smooth:
    the bright region is most of the frame, rough in about a quarter of its area, and only the colour
    tells the sheet from the desk's light stripes (read with the whole frame as the page, the dark
    stripes were read as rows of 1s)."""
    images, labels = mnist_test
    light = np.sin((np.arange(640)[None, :] + 0.6 * np.arange(480)[:, None]) / 9.0) > 0
    frame = np.where(light[..., None], np.float32([140, 195, 240]), np.float32([50, 100, 165]))
    frame += np.random.default_rng(0).normal(0, 5, (480, 640, 1))  # the grain
    frame[140:340, 170:470] = (212, 214, 216)
    for column, d in enumerate((3, 8, 1, 5, 0)):
        digit = cv2.resize(images[int(np.flatnonzero(labels == d)[0])], (44, 44)).astype(np.float32) / 255
        frame[215: 259, 200 + 52 * column: 244 + 52 * column] *= 1 - 0.85 * digit[..., None]
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    config = reader.config.page
    bright = page_stage.find_bright_paper(grey, config)
    assert bright.mask.mean() > 0.5 and config.colour_check_rough < bright.rough <= config.max_rough
    page = page_stage.find_paper(grey, config, _colour_of(frame, config))
    assert page.mask[240, 320] == 1 and page.mask.mean() < 0.2
    assert [line.text for line in reader.read(frame).lines] == ["38150"]
    unchecked = replace(reader.config, page=replace(config, colour_check_rough=1.0))
    assert page_stage.find_paper(grey, unchecked.page, _colour_of(frame, unchecked.page)).mask.mean() > 0.5
    assert [line.text for line in FrameReader(reader.classifier, config=unchecked).read(frame).lines] != ["38150"]


def test_a_rough_bright_region_gives_way_to_the_smooth_sheet(reader, mnist_test):
    """A grey sheet darker than a grained desk's light stripes: Otsu's bright region is a rough
    piece of the desk (rough in nearly all its area), not the sheet; the largest smooth region is
    the sheet, and it is taken instead."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=160.0, desk=(110.0, 250.0), period=30.0).astype(np.float32)
    desk = np.ones(frame.shape[:2], bool)
    desk[140:340, 170:470] = False
    frame[desk] += np.random.default_rng(0).normal(0, 6, (int(desk.sum()), 1))  # the grain
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    grey = frame[..., 0]
    config = reader.config.page
    bright = page_stage.find_bright_paper(grey, config)
    assert bright.rough > config.max_rough and bright.mask[240, 320] == 0
    page = page_stage.find_paper(grey, config, _colour_of(frame, config))
    assert page.mask[240, 320] == 1 and page.mask[60, 60] == 0 and page.mask.mean() < 0.2
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_a_frame_whose_small_copy_is_one_level_has_no_page(reader):
    """A fine checkerboard of 0 and 40 passes the blank test (range 40) but its averaged copy is one
    grey level, all of it "bright" by Otsu: there is no desk, so no page (this used to raise
    ValueError on the desk's NaN median)."""
    frame = np.zeros((480, 640), np.uint8)
    frame[::2, ::2] = 40
    frame[1::2, 1::2] = 40
    assert page_stage.find_bright_paper(frame, reader.config.page).mask is None
    assert reader.read(frame).lines == []


@pytest.mark.parametrize("scene", ["blank", "desk only", "page filling the frame"])
def test_no_smooth_page_without_a_patterned_desk(mnist_test, scene):
    """One texture all over (a blank frame, a desk and nothing on it), or a page filling the frame
    beside a strip of desk, is not a sheet amid a patterned desk."""
    frame = _sheet_on_a_patterned_desk(*mnist_test, paper=190.0, desk=(150.0, 250.0), period=14.0)
    if scene == "blank":
        frame[:] = 200
    elif scene == "desk only":
        frame[140:340, 170:470] = frame[0:200, 0:300]
    else:
        frame[:, 40:] = 190
    grey = frame[..., 0]
    assert page_stage.find_smooth_paper(grey, ReaderConfig().page).mask is None


def test_tilted_rules_are_not_sought_in_texture(monkeypatch):
    """The Hough transform's work grows with the ink: a window inked like desk texture (30%) is not
    searched for tilted rules, a page's worth of ink (3%) is."""
    from edgedigits.reader.config import RulesConfig

    calls = []
    hough = cv2.HoughLinesP
    monkeypatch.setattr(cv2, "HoughLinesP", lambda *a, **k: calls.append(1) or hough(*a, **k))
    rng = np.random.default_rng(0)
    for share, expected in ((0.30, 0), (0.03, 1)):
        calls.clear()
        mask = (rng.random((400, 600)) < share).astype(np.uint8)
        assert share - 0.01 < mask.mean() < share + 0.01
        rules_stage.remove_long_lines(mask, 30.0, RulesConfig(), hough=True)
        assert len(calls) == expected


@pytest.mark.parametrize("scene", ["label in a corner of a white page", "note filling most of the frame"])
def test_a_coloured_region_away_from_the_centre_is_not_the_page(reader, mnist_test, scene):
    """What the camera points at is the page: a yellow label in a corner of a white page, or a strip
    of table beside a note that fills most of the frame, is not taken for it."""
    images, labels = mnist_test
    if scene == "label in a corner of a white page":
        frame = _note_on_a_table(images, labels, note_bgr=(232, 232, 232))  # the "note" is white paper
        frame[0:115, 0:160] = (90, 215, 240)  # a yellow label, 6% of the frame
    else:
        frame = _note_on_a_table(images, labels, note_bgr=(90, 215, 240))
        frame[:, :520][frame[:, :520].sum(axis=2) > 600] = (90, 215, 240)  # the note spreads to x = 520
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert page_stage.find_coloured_paper(frame, grey.shape, reader.config.page).mask is None
    assert [line.text for line in reader.read(frame).lines] == ["38150"]


def test_the_pen_sets_the_ink_level_over_a_far_fainter_grid():
    """The ink level is a high percentile of the darkness above the paper's noise; a grid printed on
    the page can outnumber the pen's pixels, and the level is then the pen's, not the grid's. Pencil
    less than pen_separation times fainter than the marker beside it stays writing."""
    cfg = ReaderConfig().ink
    rng = np.random.default_rng(0)
    pen = rng.normal(0.8, 0.03, 300)
    grid = np.concatenate([rng.normal(0.15, 0.02, 9000), pen])
    assert percentile(grid, cfg.ink_percentile) < 0.2
    assert ink_stage.pen_level(grid, cfg) > 0.7
    pencil = np.concatenate([rng.normal(0.3, 0.03, 9000), pen])  # 2.7x fainter: kept as writing
    assert ink_stage.pen_level(pencil, cfg) == percentile(pencil, cfg.ink_percentile) < 0.4
    assert ink_stage.pen_level(pen, cfg) == percentile(pen, cfg.ink_percentile)  # one class: as ever


def test_a_pen_too_few_pixels_in_the_sample_is_counted_on_every_pixel():
    """A few small digits on a big page of faint grid lines: the ~20k-pixel sample holds only a few
    pixels of the pen, too few for pen_level's darker class, and the grid set the threshold (rows
    of 1s). When the sample looks as if the pen's class were there but thin, every pixel is
    looked at and the pen sets the level."""
    from edgedigits.reader.records import Light

    cfg = ReaderConfig()
    darkness = np.zeros((1000, 1000), np.float32)
    darkness[::20, :] = darkness[:, ::20] = 0.15   # the grid: ~100k pixels
    darkness[500:520, 503:508] = darkness[500:505, 503:518] = 0.7  # a small "7": ~150 pixels
    light = Light(darkness, (0, 0), None)
    ink = ink_stage.threshold_ink(light, darkness.shape, cfg)
    assert 0.15 < ink.threshold and ink.level > 0.6 and not ink.mask[::20, 600:].any()
    sampled = ink_stage.threshold_ink(light, darkness.shape, replace(cfg, ink=replace(cfg.ink, min_sampled_ink=1)))
    assert sampled.threshold < 0.15 and sampled.mask[::20, 600:].all()  # (what looking at every pixel mends)
    rng = np.random.default_rng(0)
    grid, pen = rng.normal(0.15, 0.02, 500), rng.normal(0.7, 0.03, 7)
    def undersampled(values):
        return ink_stage.undersampled_pen(values, ink_stage.two_classes(values), cfg.ink)

    assert undersampled(np.concatenate([grid, pen]))
    assert not undersampled(np.concatenate([grid, rng.normal(0.3, 0.03, 7)]))  # 2x: pencil
    assert not undersampled(np.concatenate([grid, rng.normal(0.7, 0.03, 60)]))  # sampled
    with pytest.raises(ValueError, match="min_sampled_ink"):  # 0 would split an empty sample
        replace(cfg.ink, min_sampled_ink=0)


def _joined(darkness, threshold, join, **bounds):
    """ink.joined_ink of the ink above `threshold`."""
    return ink_stage.joined_ink(darkness, (darkness > threshold).view(np.uint8), join, **bounds)


def test_the_broken_pieces_of_a_thin_stroke_are_joined_through_its_fainter_ink():
    """Hysteresis (ink.joined_ink): a thin stroke fading between its firm parts is one piece again.
    Faint ink alone, a faint piece holding one piece of the ink (a tail), a faint blanket far
    bigger than the ink it holds (noise linking specks) and faint ink wider or taller than
    `largest` stay out."""
    darkness = np.zeros((60, 120), np.float32)
    darkness[10:40, 10:12] = 0.5
    darkness[20:24, 10:12] = 0.2                                   # the stroke fades in its middle
    darkness[10:40, 50:52] = 0.2                                   # faint ink alone
    darkness[10:30, 80:82] = 0.5
    darkness[30:40, 80:82] = 0.2                                   # a faint tail on one piece
    darkness[50:52, 90:100] = darkness[50:52, 110:120] = 0.5
    darkness[50:52, 100:110] = 0.2                                 # a flat stroke, 30 px wide, fading
    mask = _joined(darkness, 0.4, 0.15)
    assert cv2.connectedComponents(mask[:, :30])[0] - 1 == 1 and mask[10:40, 10:12].all()
    assert not mask[:, 40:60].any() and not mask[30:40, 80:82].any() and mask[10:30, 80:82].all()
    assert mask[50:52, 90:120].all()
    assert cv2.connectedComponents(_joined(darkness, 0.4, None)[:, :30])[0] - 1 == 2  # (none joined)
    short = _joined(darkness, 0.4, 0.15, largest=25)  # the stroke 30 tall, the flat one 30 wide
    assert not short[20:24, 10:12].any() and not short[50:52, 100:110].any()
    blanket = darkness.copy()
    blanket[:, :30] = np.maximum(blanket[:, :30], 0.2)            # 1800 faint px holding 52 of ink
    assert _joined(blanket, 0.4, 0.15)[20:24, 10:12].all()
    assert not _joined(blanket, 0.4, 0.15, growth=4.0)[20:24, 10:12].any()


def _broken_stroke(width: int, noise: float = 0.0):
    """Light over a 200x200 paper: a stroke `width` px wide and 80 tall, 0.8 dark, fading to 0.3 in
    its middle, on paper of Gaussian noise `noise` (sigma, darkness)."""
    from edgedigits.reader.records import Light

    darkness = np.abs(np.random.default_rng(0).normal(0, noise, (200, 200))).astype(np.float32)
    darkness[60:140, 100: 100 + width] = 0.8
    darkness[95:105, 100: 100 + width] = 0.3
    return Light(darkness, (0, 0), None)


def test_fainter_ink_is_joined_only_for_a_thin_pen():
    """A broad pen's strokes do not break, and faint ink between them would merge its digits: only a
    thin one's (mean stroke at most ink.join_max_stroke) is joined into the ink mask, within the
    growth and size bounds, and never through ink fainter than the paper's noise floor."""
    config = ReaderConfig()

    def pieces(light, **ink):
        found = ink_stage.threshold_ink(light, (200, 200), replace(config, ink=replace(config.ink, **ink)))
        return found, cv2.connectedComponents(found.mask)[0] - 1

    thin, count = pieces(_broken_stroke(2))
    assert thin.join == pytest.approx(config.ink.join_level * thin.threshold) and thin.join < 0.3 < thin.threshold
    assert count == 1
    broad, count = pieces(_broken_stroke(6))
    assert broad.join is None and count == 2
    assert pieces(_broken_stroke(2), join_level=1.0)[0].join is None
    assert pieces(_broken_stroke(2), join_max_share=0.3)[1] == 2  # 80 px against 60
    assert pieces(_broken_stroke(2), join_growth=1.1)[1] == 2     # 160 faint px holding 140 of ink
    noisy, _ = pieces(_broken_stroke(2, noise=0.05))
    assert config.ink.join_level * noisy.threshold < noisy.join < noisy.threshold  # the noise floor sets it
    nearer, _ = pieces(_broken_stroke(2, noise=0.05), join_noise_floor=4.0)
    assert nearer.join == pytest.approx(config.ink.join_level * nearer.threshold)


def test_the_upright_ink_joins_a_thin_digits_broken_stroke(reader):
    """The join reaches the reader's masks: a thin ring (a 0) whose sides fade is one piece
    on the first ink mask and on the upright one the candidates come from, two pieces without
    the join; a faint stroke taller than ink.join_max_size digit heights is not joined there."""
    grey = np.full((240, 320), 220, np.uint8)
    cv2.ellipse(grey, (160, 120), (20, 30), 0, 0, 360, 40, 2)
    for start in (-20, 160):                                        # the stroke fades on both sides
        cv2.ellipse(grey, (160, 120), (20, 30), 0, start, start + 40, 180, 2)
    config = reader.config
    for join_level, pieces in ((config.ink.join_level, 1), (1.0, 2)):
        cfg = replace(config, ink=replace(config.ink, join_level=join_level))
        debug = {}
        FrameReader(reader.classifier, config=cfg).read(grey, debug)
        ink_mask, upright_mask = debug["ink"][0], debug["upright"][0]
        assert cv2.connectedComponents(ink_mask)[0] - 1 == pieces
        assert cv2.connectedComponents(upright_mask)[0] - 1 == pieces
    darkness = np.zeros((200, 100), np.float32)
    darkness[20:180, 50:52] = 0.8
    darkness[95:105, 50:52] = 0.3
    upright = Upright(darkness, None, (0, 0), 1)  # 160 px: joined within 1.5 x 120, not 1.5 x 100 (nor a rule)
    tall = rules_stage.remove_rules(upright, 0.4, DigitSize(100.0, np.zeros((0, 5), np.int32)), config.rules, 0.2,
                                    config.ink)
    short = rules_stage.remove_rules(upright, 0.4, DigitSize(120.0, np.zeros((0, 5), np.int32)), config.rules, 0.2,
                                     config.ink)
    assert not tall.mask[95:105, 50:52].any() and tall.mask[20:95, 50:52].all() and tall.mask[105:180, 50:52].all()
    assert short.mask[20:180, 50:52].all()


def _light_with_a_dark_piece_at_the_edge(piece_darkness: float):
    """Darkness over a 300x400 paper: faint strokes (0.3) and, touching the paper's left edge, a
    big piece of `piece_darkness` (desk inside the page's outline)."""
    from edgedigits.reader.records import Light

    darkness = np.abs(np.random.default_rng(0).normal(0, 0.01, (300, 400))).astype(np.float32)
    darkness[120:200, 200:206] = darkness[120:126, 200:260] = darkness[194:200, 200:260] = 0.3
    darkness[:, :60] = piece_darkness
    return Light(darkness, (0, 0), np.ones(darkness.shape, np.uint8))


def test_a_dark_piece_at_the_paper_edge_does_not_set_the_ink_level():
    """Desk or a shadow taken in by the page's outline is far darker than the faint pen: from the
    paper's edge it would set the ink level, and the threshold would lose the writing."""
    config = ReaderConfig()
    ink = ink_stage.threshold_ink(_light_with_a_dark_piece_at_the_edge(0.9), (480, 640), config)
    assert ink.threshold < 0.3 and ink.mask[150, 202]
    old = replace(config, ink=replace(config.ink, edge_darker=100.0))
    assert ink_stage.threshold_ink(_light_with_a_dark_piece_at_the_edge(0.9), (480, 640), old).threshold > 0.3
    # A piece at the edge no darker than the pen is writing's company (a grid, a rule): as before.
    same = ink_stage.threshold_ink(_light_with_a_dark_piece_at_the_edge(0.35), (480, 640), config)
    assert same.level == ink_stage.threshold_ink(_light_with_a_dark_piece_at_the_edge(0.35), (480, 640), old).level


def test_digits_on_squared_paper_are_read(reader, mnist_test):
    """A faint grid across the page, its lines far more pixels than the digits: the grid is not ink."""
    rows = ("2345", "7532")
    page = _page_of_rows(mnist_test, rows, (150, 120), (70, 150)).astype(np.float32)
    lines = np.zeros(page.shape, bool)
    lines[40:440:12, 60:580] = lines[40:440, 60:580:12] = True  # squares a quarter of a digit high
    page[lines] *= 0.8
    page = cv2.warpAffine(page, cv2.getRotationMatrix2D((320, 240), 8, 1.0), (640, 480), borderValue=60)
    page = np.clip(page + np.random.default_rng(0).normal(0, 4, page.shape), 0, 255).astype(np.uint8)
    assert [line.text for line in reader.read(page).lines] == list(rows)
    grid_is_ink = FrameReader(reader.classifier, config=replace(
        ReaderConfig(), ink=replace(ReaderConfig().ink, pen_separation=100.0)))
    assert [line.text for line in grid_is_ink.read(page).lines] != list(rows)


# ---------------------------------------------------------------- a page cut by shade
def _rows_of_digits(images, labels, shadow_from: int | None = None, beyond: float = 0.5, size: int = 1):
    """A 640x480 page (`size` times larger) filling the frame: four rows of twelve 48 px MNIST
    digits at a pitch of 40 px; from column `shadow_from` on (cutting the fifth digit of every row)
    a hard shadow at `beyond` of the light, or with `beyond` > 1 a desk of that grey level.
    Returns (grey frame, the rows' text)."""
    grey = np.full((480, 640), 205, np.float32)
    digits = (1, 2, 4, 7, 6, 3) * 2
    rows = []
    for r in range(4):
        text = ""
        for k in range(12):
            d = digits[(k + r) % 12]
            ink = cv2.resize(images[np.flatnonzero(labels == d)[r]], (48, 48), interpolation=cv2.INTER_AREA)
            grey[50 + 105 * r: 98 + 105 * r, 60 + 40 * k: 108 + 40 * k] *= 1 - 0.85 * ink.astype(np.float32) / 255
            text += str(d)
        rows.append(text)
    if shadow_from is not None:
        if beyond > 1:
            grey[:, shadow_from:] = beyond
        else:
            grey[:, shadow_from:] *= beyond
    grey = cv2.resize(grey, (640 * size, 480 * size), interpolation=cv2.INTER_LINEAR)
    return grey.astype(np.uint8), rows


def _no_look_past_the_page() -> ReaderConfig:
    """The reader that never looks past the page's edge when it read digits: neither digits at the
    edge nor rows running into it ask for the look."""
    return replace(ReaderConfig(), shade=replace(ReaderConfig().shade, min_cut_digits=10 ** 6, row_run_on=0))


def test_a_page_cut_by_a_shadow_is_read_again_past_the_shadows_edge(digit_classifier, mnist_test, monkeypatch):
    from edgedigits.debug import draw_stages
    from edgedigits.reader import pipeline, shade

    off = _no_look_past_the_page()
    looks, firsts = [], []  # (the first reading is given too: its digits seen whole keep a row)
    rows_on_page = shade.rows_on_page
    monkeypatch.setattr(shade, "rows_on_page", lambda result, *args: looks.append(result) or firsts.append(args[-1])
                        or rows_on_page(result, *args))
    for size in (1, 2):  # (2: read on a shrunk copy, its page mask smaller than the frame)
        frame, rows = _rows_of_digits(*mnist_test, shadow_from=345, size=size)
        cut = FrameReader(digit_classifier, config=off).read(frame)
        assert len(cut.lines) == 4 and all(len(line.text) <= 7 for line in cut.lines), size  # the lit part: the page
        looks.clear()
        debug = {}
        whole = FrameReader(digit_classifier).read(frame, debug=debug)
        assert [line.text for line in whole.lines] == rows and len(looks) == 2, size  # the probe, then all again
        assert all(isinstance(first, ReadResult) and first.lines for first in firsts)
        (_, beyond, within), ratio, chroma, verdict = debug["shade"]  # for --debug's 10-shade picture
        assert beyond.any() and within.any() and 0.4 < ratio < 0.6 and chroma == 0 and "that reading kept" in verdict
        assert draw_stages(debug)["10-shade"].shape == (2 * beyond.shape[0], 2 * beyond.shape[1], 3)
    # No digit at the edge counted: the rows running into it ask for the look alone, and its reading
    # is kept while it leaves each first row in one row.
    rows_only = replace(ReaderConfig(), shade=replace(ReaderConfig().shade, min_cut_digits=10 ** 6))
    frame, rows = _rows_of_digits(*mnist_test, shadow_from=345)
    assert [line.text for line in FrameReader(digit_classifier, config=rows_only).read(frame).lines] == rows
    rows_parted = shade.rows_parted
    monkeypatch.setattr(shade, "rows_parted", lambda *args: True)
    debug = {}
    parted = FrameReader(digit_classifier, config=rows_only).read(frame, debug=debug)
    assert len(parted.lines) == 4 and all(len(line.text) <= 7 for line in parted.lines)
    assert "a first row read in two, the first kept" in debug["shade"][3]
    assert [line.text for line in FrameReader(digit_classifier).read(frame).lines] == rows  # (digits at the edge)
    monkeypatch.setattr(shade, "rows_parted", rows_parted)
    looks.clear()
    desk, rows = _rows_of_digits(*mnist_test, shadow_from=345, beyond=40)  # the same cut rows beside a dark desk
    debug = {}
    read = FrameReader(digit_classifier).read(desk, debug=debug)
    assert len(read.lines) == 4 and all(len(line.text) <= 7 for line in read.lines) and not looks
    assert debug["shade"][1] < 0.4 and "not read again" in debug["shade"][3]  # its rows are cut at the page's edge too, but the band beyond is no paper in shade
    # A probe that reads no more sure digits than the page did ends the look: the frame is not
    # read again as a whole (on a wooden desk that passes for shade that costs seconds).
    frame, rows = _rows_of_digits(*mnist_test, shadow_from=345)
    cut = FrameReader(digit_classifier, config=off).read(frame)
    probes, whole = [], []
    read_working = pipeline._read_working
    monkeypatch.setattr(pipeline, "_read_at_height", lambda *args: probes.append(args[1]) or cut)
    monkeypatch.setattr(pipeline, "_read_working", lambda work, *args, page=None, **kw: whole.append(page) or
                        read_working(work, *args, page=page, **kw))
    debug = {}
    probed = FrameReader(digit_classifier).read(frame, debug=debug)
    assert [line.text for line in probed.lines] == [line.text for line in cut.lines] and "probed" in debug["shade"][3]
    assert len(probes) == 1 and 28 < probes[0] < 40  # the page's digits' height (~34 px ink), working pixels
    assert not any(page is not None and page.mask is None for page in whole)  # no reading as all paper


def test_the_probe_wins_over_a_whole_reading_without_the_page_that_reads_fewer_sure_digits(monkeypatch):
    """A whole reading without the page (made when the probe read more sure digits than the page)
    that reads fewer sure digits than the probe gives way to it; as many or more, it is kept."""
    from edgedigits.reader import pipeline
    from edgedigits.reader.records import Digit, Line

    def reading(sure: int) -> ReadResult:  # `sure` digits at 0.99, and two unsure ones
        digits = [Digit(1, 0.99 if k < sure else 0.5, (12 * k, 0, 10, 20)) for k in range(sure + 2)]
        return ReadResult([Line("1" * len(digits), digits, ("1" * len(digits),))])

    work = scale_stage.working_copy(np.full((120, 160), 200, np.uint8), ReaderConfig())
    paper = np.ones((120, 160), np.uint8)
    probe, whole = reading(6), {}
    monkeypatch.setattr(pipeline, "_read_at_height", lambda *args: probe)
    monkeypatch.setattr(pipeline, "_read_working", lambda *args, **kwargs: whole["reading"])
    monkeypatch.setattr(pipeline.shade, "rows_on_page", lambda result, *args: result)

    def read_without_page(first_sure: int) -> tuple[ReadResult, str]:
        return pipeline._read_without_page(work, reading(first_sure), paper, paper, 20.0, None, ReaderConfig())

    whole["reading"] = reading(4)
    kept, how = read_without_page(2)
    assert kept is probe and how.startswith("probed") and "fewer" in how  # read whole: 4 sure against the probe's 6
    for sure in (6, 7):
        whole["reading"] = reading(sure)
        kept, how = read_without_page(2)
        assert kept is whole["reading"] and how == "read again"  # as many or more: the whole reading
    kept, how = read_without_page(6)
    assert kept is probe and how == "probed"  # the probe read no more than the page: not read whole


def test_a_lone_digit_wholly_in_a_shadow_is_read_when_the_lit_page_reads_nothing(digit_classifier, mnist_test):
    """A hard shadow over the right half of a sheet, one digit in it: the page finder takes the lit
    half, which reads nothing; the band beyond its edge is the paper in shade, so the frame is read
    without the page and the rows on the page's part in shade kept. A blank sheet so shadowed, or
    the digit beside a dark desk, reads nothing; a grained desk as bright as shade with a small
    smooth patch at the edge (under ``min_shade_share`` of the frame off the page) is not read again."""
    images, labels = mnist_test

    def frame(digit: bool, beyond: float, grain: int = 0) -> np.ndarray:
        grey = np.full((480, 640), 205, np.float32)
        if digit:
            ink = cv2.resize(images[np.flatnonzero(labels == 3)[0]], (150, 150), interpolation=cv2.INTER_AREA)
            grey[160:310, 420:570] *= 1 - 0.85 * ink.astype(np.float32) / 255
        grey[:, 330:] *= beyond
        texture = np.random.default_rng(0).choice(np.array([-grain, grain]), (480, 310))
        texture[200:230, :24] = 0  # a smooth patch at the edge: ~0.003 of the frame off the page
        grey[:, 330:] += texture
        return np.clip(grey, 0, 255).astype(np.uint8)

    def read(*args):
        debug = {}
        return [line.text for line in FrameReader(digit_classifier).read(frame(*args), debug=debug).lines], \
            debug["shade"][3]

    texts, verdict = read(True, 0.55)
    assert texts == ["3"] and "the page read nothing; read without it: 1 sure" in verdict
    assert read(False, 0.55)[0] == []
    texts, verdict = read(True, 0.2)  # a dark desk: no paper in shade, the digit on it not read
    assert texts == [] and "no paper in shade beyond" in verdict
    texts, verdict = read(False, 0.55, 40)  # a grained desk as bright as shade, a sliver of smooth paper on it
    assert texts == [] and "of the rest is paper in shade: not read again" in verdict
    at_zero = replace(ReaderConfig(), shade=replace(ReaderConfig().shade, min_shade_share=0.0))
    debug = {}
    FrameReader(digit_classifier, config=at_zero).read(frame(False, 0.55, 40), debug=debug)
    assert "read without it" in debug["shade"][3]  # the patch itself is some paper in shade


def test_a_tie_in_sure_digits_goes_to_the_reading_that_saw_the_cut_digits_whole(digit_classifier, mnist_test,
                                                                                   monkeypatch):
    from edgedigits.reader import pipeline
    from edgedigits.reader.records import Digit, Line

    frame, _ = _rows_of_digits(*mnist_test, shadow_from=345)
    off = _no_look_past_the_page()
    first = FrameReader(digit_classifier, config=off).read(frame)
    digits = [d for line in first.lines for d in line.digits]
    sure = sum(d.confidence >= ReaderConfig().shade.sure for d in digits)

    def again_with(grow: int):
        boxes = [(x - grow, y - grow, w + 2 * grow, h + 2 * grow) for x, y, w, h in (d.box for d in digits)]
        return ReadResult([Line("8" * len(boxes), [Digit(8, 1.0 if k < sure else 0.5, b) for k, b in enumerate(boxes)],
                                ("8" * len(boxes),))])

    seen_again = pipeline.shade.seen_again
    monkeypatch.setattr(pipeline.shade, "seen_again", lambda *args: 1.0)  # (all 8s: the page's digits not seen)
    for grow, wins in ((10, True), (0, False)):  # the cut digits seen whole; the same boxes read again
        again = again_with(grow)
        monkeypatch.setattr(pipeline, "_read_without_page", lambda *args, again=again: (again, "probed"))
        read = FrameReader(digit_classifier).read(frame)
        assert (read.lines[0].text.startswith("8")) is wins, grow
    monkeypatch.setattr(pipeline, "_read_without_page", lambda *args: (again_with(10), "probed"))
    monkeypatch.setattr(pipeline.shade, "seen_again", seen_again)  # the page's own digits read as 8s: not kept
    assert not FrameReader(digit_classifier).read(frame).lines[0].text.startswith("8")
    monkeypatch.setattr(pipeline.shade, "seen_again", lambda *args: 1.0)
    monkeypatch.setattr(pipeline.shade, "sure_digits", lambda *args: 0)  # no sure digit either way: no tie won
    assert not FrameReader(digit_classifier).read(frame).lines[0].text.startswith("8")


def test_a_lone_digit_across_a_shadows_edge_is_read_when_the_lit_page_reads_nothing(digit_classifier, mnist_test):
    """A hard shadow's edge through a lone digit, its centre on the lit side: the lit page reads
    nothing of its part; the reading without the page keeps the digit, which lies on both sides
    (``straddle_share``), not only where its centre is on the page in shade."""
    images, labels = mnist_test
    grey = np.full((480, 640), 205, np.float32)
    ink = cv2.resize(images[np.flatnonzero(labels == 0)[0]], (150, 150), interpolation=cv2.INTER_AREA)
    grey[160:310, 240:390] *= 1 - 0.85 * ink.astype(np.float32) / 255
    grey[:, 330:] *= 0.55
    frame = np.clip(grey, 0, 255).astype(np.uint8)

    def read(config: ReaderConfig):
        debug = {}
        return FrameReader(digit_classifier, config=config).read(frame, debug=debug).lines, debug["shade"][3]

    lines, verdict = read(ReaderConfig())
    assert [line.text for line in lines] == ["0"] and "the page read nothing; read without it: 1 sure" in verdict
    x, _, w, _ = lines[0].digits[0].box
    assert x + w / 2 < 330 < x + w  # its box centre on the lit side, the box across the edge
    lines, verdict = read(replace(ReaderConfig(), shade=replace(ReaderConfig().shade, straddle_share=1.0)))
    assert lines == [] and "0 sure digits on the page in shade" in verdict


def test_the_share_of_the_frame_off_the_page_that_is_paper_in_shade():
    from edgedigits.reader import shade

    paper = np.zeros((100, 200), np.uint8)
    paper[:, :100] = 1
    shaded = np.zeros((50, 100), np.uint8)  # (the small copy: half the size)
    shaded[:, 50:75] = 1
    assert shade.off_page_share(shaded, paper) == 0.5
    assert shade.off_page_share(shaded, np.ones_like(paper)) == 0.0  # the page fills the frame


def _sheet_half_in_shade(images, labels, desk: float = 40.0, gain: float = 0.5) -> np.ndarray:
    """A grey 640x480 frame: a sheet (210) on a grained desk, a hard shadow (`gain` of the light)
    over the frame left of x = 300; in the shade a row 3 8 1, on the lit part a 5 and a 0 in rows of
    their own, far from the shadow's edge (no digit of theirs asks for a look past the lit page)."""
    frame = desk + np.random.default_rng(0).normal(0, 12, (480, 640)).astype(np.float32)
    frame[60:420, 60:580] = 210
    for x, y, d in ((110, 300, 3), (170, 300, 8), (230, 300, 1), (440, 150, 5), (440, 250, 0)):
        digit = cv2.resize(images[int(np.flatnonzero(labels == d)[0])], (44, 44)).astype(np.float32) / 255
        frame[y - 22: y + 22, x - 22: x + 22] *= 1 - 0.85 * digit
    frame[:, :300] *= gain
    return np.repeat(np.clip(frame, 0, 255)[..., None], 3, axis=2).astype(np.uint8)


def test_a_row_wholly_in_a_shadow_across_the_sheet_is_read_as_a_page_of_its_own(reader, mnist_test):
    """The page finder takes the lit part of the sheet; the row written in the shade never reaches
    its edge, so no digit asks for a look past it. The paper in shade lies along one side of the
    lit page (a grey desk passing for it would lie all around): it is read as a page of its own."""
    frame = _sheet_half_in_shade(*mnist_test)
    page = page_stage.find_paper(frame[..., 0], reader.config.page)
    assert page.mask[240, 200] == 0 and page.mask[240, 440] == 1   # the lit part alone
    debug = {}
    assert [line.text for line in reader.read(frame, debug).lines] == ["5", "0", "381"]
    assert "read as a page, rows with a sure digit added: 1" in debug["shade"][-1]
    all_around = replace(reader.config, shade=replace(reader.config.shade, across_max_along=0.2))
    assert [line.text for line in FrameReader(reader.classifier, config=all_around).read(frame).lines] == ["5", "0"]


def test_paper_in_shade_along_the_pages_edge_is_a_share_of_the_band_beyond():
    """A shadow's edge across the sheet: paper in shade beyond one side of the lit page; a grey desk
    that passes for paper in shade lies beyond all of it."""
    from edgedigits.reader import shade

    beyond = np.zeros((100, 200), np.uint8)
    beyond[10:90, 40:45] = 1            # beyond the page's left side (80 px)
    beyond[10:90, 155:160] = 1          # and its right side
    beyond[5:10, 40:160] = 1            # and its top (5 x 120 px: 600 of 1400 band px)
    shaded = np.zeros_like(beyond)
    shaded[10:90, :45] = 1              # the shadow's side (beside the left side only)
    bands = (np.zeros_like(beyond), beyond, np.zeros_like(beyond))
    assert shade.along_share(shaded, bands) == 400 / 1400
    assert shade.along_share(np.ones_like(beyond), bands) == 1.0
    assert shade.along_share(shaded, (beyond, np.zeros_like(beyond), beyond)) == 0.0  # no band beyond


def test_the_paper_in_shade_as_a_page_and_its_sure_rows_added_in_reading_order():
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    shaded = np.zeros((60, 80), np.uint8)
    shaded[10:50, 0:30] = 1
    lit = np.zeros((240, 320), np.uint8)                                # (the working copy's page mask)
    lit[40:200, 120:280] = 1
    page = shade.shaded_page(shaded, lit, 4, (240, 320), ReaderConfig().page)
    assert page.mask.shape == (240, 320) and page.mask[100, 60] == 1 and page.mask[100, 200] == 0
    assert page.mask[100, 116] == 0 and page.mask[100, 2] == 1          # clear of its edge (the frame's is none)
    assert page.hull[:, 0].min() == 2 and page.hull[:, 0].max() == 278  # the whole sheet: (small px + 0.5) x 4
    assert page.hull[:, 1].min() == 42 and page.hull[:, 1].max() == 198

    def line(text, y, confidence=0.99):
        return Line(text, [Digit(int(text), confidence, (10, y, 20, 20))], (text,))

    first = ReadResult([line("1", 10), line("3", 90)])
    rows = shade.sure_rows(ReadResult([line("2", 50), line("4", 130, confidence=0.5)]), ShadeConfig())
    assert [row.text for row in rows] == ["2"]                         # the unsure row left out
    assert [row.text for row in shade.with_rows(first, rows).lines] == ["1", "2", "3"]
    assert shade.with_rows(first, []).lines == first.lines
    # A page read turned a quarter (its rows run down the frame, the first at the right): the
    # rows are placed by their order on the page turned upright, not by the frame's y.
    def column(text, x):
        return Line(text, [Digit(int(text), 0.99, (x, 40, 20, 20))], (text,))

    turned = ReadResult([column("1", 200), column("3", 40)], angle=90.0)
    assert [row.text for row in shade.with_rows(turned, [column("2", 120)]).lines] == ["1", "2", "3"]
    assert not shade.reports_digit(ReadResult([Line("?", [Digit(None, 0.3, (0, 0, 9, 9))], ("?",))]))


def test_rows_read_where_the_page_read_nothing_are_kept_on_its_part_in_shade():
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    shaded = np.zeros((100, 200), np.uint8)
    shaded[:, 120:] = 1

    def line(x):
        return Line("8", [Digit(8, 0.99, (x, 40, 20, 20))], ("8",))

    paper = np.zeros((100, 200), np.uint8)
    paper[:, :100] = 1  # (the lit page; a band of the shadow's edge between them is neither)
    cfg = ShadeConfig()
    ring, lone = line(50), line(150)  # (a ring around the lit page is centred on it)
    assert shade.rows_in_shade(ReadResult([ring, lone]), shaded, paper, (100, 200), cfg).lines == [lone]
    assert shade.rows_in_shade(ReadResult([line(300)]), shaded, paper, (200, 400), cfg).lines == [line(300)]  # frame px
    # A lone digit across the shadow's edge (its centre in the band between), 0.25 of its box each side:
    across = Line("8", [Digit(8, 0.99, (90, 40, 40, 20))], ("8",))
    assert shade.rows_in_shade(ReadResult([across]), shaded, paper, (100, 200), cfg).lines == [across]
    stricter = ShadeConfig(straddle_share=0.3)
    assert shade.rows_in_shade(ReadResult([across]), shaded, paper, (100, 200), stricter).lines == []
    unsure = Line("?", [Digit(None, 0.3, (90, 40, 40, 20))], ("?",))
    assert shade.rows_in_shade(ReadResult([unsure]), shaded, paper, (100, 200), cfg).lines == []
    barely_lit = Line("8", [Digit(8, 0.99, (95, 40, 40, 20))], ("8",))  # 0.125 lit, 0.375 in shade, centre between
    assert shade.rows_in_shade(ReadResult([barely_lit]), shaded, paper, (100, 200), cfg).lines == []


def test_a_digit_straddles_the_shadows_edge_only_by_a_share_on_each_side_and_smaller_than_the_page():
    from edgedigits.reader import shade

    page = np.zeros((100, 200), np.uint8)
    page[:, :100] = 1
    shaded = np.zeros((100, 200), np.uint8)
    shaded[:, 110:] = 1
    cfg = ShadeConfig()
    assert shade.straddles((80, 40, 40, 20), page, shaded, (100, 200), cfg)      # 0.5 lit, 0.25 in shade
    assert not shade.straddles((60, 40, 40, 20), page, shaded, (100, 200), cfg)  # wholly lit
    assert not shade.straddles((70, 40, 45, 20), page, shaded, (100, 200), cfg)  # 0.67 lit, 0.11 in shade
    assert not shade.straddles((95, 40, 40, 20), page, shaded, (100, 200), cfg)  # 0.125 lit, 0.625 in shade
    assert shade.straddles((160, 80, 80, 40), page, shaded, (200, 400), cfg)     # frame px: half the copy's
    assert not shade.straddles((0, 0, 200, 100), page, shaded, (100, 200), cfg)  # the page's outline around it


def test_digits_at_the_pages_edge_count_only_inside_the_frame():
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    paper = np.zeros((100, 200), np.uint8)
    paper[:, :120] = 1  # the page: the frame's left part, its edge at x = 120
    boxes = [(100, 40, 10, 20),  # centre 15 px from the edge: within one height (20)
             (112, 70, 10, 20),  # centre on the page's last column
             (80, 40, 10, 20),   # 35 px: not
             (0, 0, 10, 20)]     # at the frame's corner: its border is no page edge
    cfg = ReaderConfig().shade

    def at_edge(factor, page):
        digits = [Digit(1, 0.99, tuple(v * factor for v in box)) for box in boxes]
        digits.append(Digit(None, 0.3, (105 * factor, 60 * factor, 10 * factor, 20 * factor)))  # a '?' is none
        result = ReadResult([Line("1111?", digits, ("1111?",))])
        return shade.digits_at_edge(result, page, (100 * factor, 200 * factor), cfg)

    assert at_edge(1, paper) == 2
    assert at_edge(2, paper) == 2  # boxes in the pixels of a frame twice the mask's size
    assert at_edge(1, np.ones_like(paper)) == 0  # a page filling the frame has no edge inside it


def test_a_row_runs_into_the_pages_edge_when_its_line_drawn_on_leaves_the_page():
    """A shadow's edge in the gap after a row's last lit digit: the row's line, drawn on for
    row_run_on pitches, leaves the page inside the frame. A row ending well inside the page, a
    lone digit, or a line that leaves the frame first does not count."""
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    cfg = ReaderConfig().shade
    edge, pitch = 250, 30  # the page's edge (x) and the rows' distance between digit centres
    paper = np.zeros((100, 400), np.uint8)
    paper[:, :edge] = 1  # the lit page

    def row(*xs, y=40):
        return Line("1" * len(xs), [Digit(1, 0.99, (x, y, 10, 20)) for x in xs], ("1" * len(xs),))

    def ends(*lines, page=paper):
        return shade.rows_into_edge(ReadResult(list(lines)), page, (100, 400), cfg)

    near = edge - 5 - int(0.6 * cfg.row_run_on * pitch)  # the last centre 0.6 of the reach before the edge
    far = edge - 5 - int(1.5 * cfg.row_run_on * pitch)
    assert ends(row(near - 2 * pitch, near - pitch, near)) == 1
    assert ends(row(far - 2 * pitch, far - pitch, far)) == 0  # ends further inside than row_run_on pitches
    assert ends(row(near)) == 0  # a lone digit has no line
    assert ends(row(5, 5 + pitch)) == 0  # its line leaves the frame on the left before any page edge
    with_unsure = row(near)
    with_unsure.digits.insert(0, Digit(None, 0.3, (near - pitch, 40, 10, 20)))  # a '?' is no centre of a row
    assert ends(with_unsure) == 0
    assert ends(row(330, 360), page=np.ones_like(paper)) == 0  # a page filling the frame: its border is no edge
    lit_right = 1 - paper  # the page's edge on the row's left: its start runs into it
    start = edge + 5 + int(0.6 * cfg.row_run_on * pitch) - 10
    assert ends(row(start, start + pitch, start + 2 * pitch), page=lit_right) == 1
    assert ends(row(start + 2 * pitch, start + 3 * pitch), page=lit_right) == 0  # starts further from it


def test_a_reading_without_the_page_that_parts_a_row_is_seen():
    """Read with a desk that passes for shade, the rows of the page can tilt: one first row's digits
    end up in two rows. A row grown by the digits beyond the edge is no parting."""
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    cfg = ReaderConfig().shade

    def row(*xs, y=10):
        return Line("1" * len(xs), [Digit(1, 0.99, (x, y, 10, 20)) for x in xs], ("1" * len(xs),))

    first = ReadResult([row(10, 30, 50), row(10, 30, y=50)])
    assert not shade.rows_parted(first, ReadResult([row(10, 30, 50, 70, 90), row(10, 30, y=50)]), cfg)
    merged = ReadResult([Line("11111", first.lines[0].digits + first.lines[1].digits, ("11111",))])
    assert not shade.rows_parted(first, merged, cfg)  # two first rows in one: a merge, no parting
    assert shade.rows_parted(first, ReadResult([row(10, 30), row(50, 70, y=12), row(10, 30, y=50)]), cfg)
    assert not shade.rows_parted(first, ReadResult([]), cfg)


def test_the_band_beyond_a_shadows_edge_looks_like_shaded_paper_and_a_desk_does_not():
    from edgedigits.reader import shade

    cfg = ReaderConfig()

    def band(frame):
        work = scale_stage.working_copy(frame, cfg)
        paper = np.zeros(frame.shape[:2], np.uint8)
        paper[:, :400] = 1  # the page found: the lit part
        blurred = page_stage.small_blurred(work.grey, cfg.page)
        bands = shade.edge_bands(blurred, paper, cfg.page.edge_border_px, cfg.shade)
        ratio, chroma = shade.brightness_ratio(bands), shade.colour_shift(work, bands)
        smooth = lambda: shade.smooth_share(page_stage.small_copies(work.grey, cfg.page), bands[1])  # noqa: E731
        return round(ratio, 2), round(chroma, 1), shade.looks_shaded(ratio, lambda: chroma, smooth, cfg.shade)

    page = np.full((480, 640, 3), 210, np.uint8)
    shaded = page.copy()
    shaded[:, 400:] = 115  # paper at 0.55 of the light, its colour kept
    assert band(shaded) == (0.55, 0.0, True)
    assert band(shaded[..., 0].copy()) == (0.55, 0.0, True)  # a grey frame: brightness alone
    wood = shaded.copy()
    wood[:, 400:] = (60, 110, 160)  # a wooden desk as bright as that shade (BGR): another colour
    assert band(wood)[2] is False and band(wood)[1] > cfg.shade.max_chroma
    dark = page.copy()
    dark[:, 400:] = 50  # a dark desk
    assert band(dark)[2] is False and band(dark)[0] < cfg.shade.ratio[0]
    dimmed = page.copy()
    dimmed[:, 400:] = 190  # smooth, in the paper's colour, at 0.9: paper where the light falls off gently
    assert band(dimmed) == (0.9, 0.0, True) and cfg.shade.ratio[1] < 0.9 < cfg.shade.falloff_ratio
    assert band(np.where(dimmed == 190, 205, dimmed).astype(np.uint8))[2] is True  # 0.98: nearly as bright
    grain = np.random.default_rng(0).choice(np.array([-20, 20], np.int16), (480, 240, 1))
    light = dimmed.copy()
    light[:, 400:] = np.clip(203 + grain, 0, 255).astype(np.uint8)  # a light desk's grain, nearly as bright
    ratio, chroma, taken = band(light)  # refused for its texture alone
    assert not taken and cfg.shade.mild_ratio < ratio < cfg.shade.falloff_ratio and chroma == 0
    milder = page.copy()
    milder[:, 400:] = np.clip(168 + grain, 0, 255).astype(np.uint8)  # a milder shadow over writing, its colour kept
    ratio, chroma, taken = band(milder)  # taken however textured: writing in the band is not smooth either
    assert taken and cfg.shade.ratio[1] < ratio < cfg.shade.mild_ratio and chroma <= cfg.shade.mild_chroma
    lighter = page.copy()
    lighter[:, 400:] = 225  # a desk brighter than the paper: no shade of it
    assert band(lighter)[2] is False and band(lighter)[0] > cfg.shade.falloff_ratio


def test_the_band_is_measured_for_colour_and_smoothness_only_where_its_brightness_needs_them():
    from edgedigits.reader import shade

    cfg = ReaderConfig().shade

    def never():
        raise AssertionError("smoothness or colour measured for a band its brightness decides")

    def grey():
        return 0.0

    assert shade.looks_shaded(0.55, grey, never, cfg)  # a hard shadow's share of the light
    # The colour (a colour copy: most of the look's cost) is not measured when the brightness decides.
    assert not shade.looks_shaded(0.3, never, never, cfg) and not shade.looks_shaded(1.03, never, never, cfg)
    assert not shade.looks_shaded(0.8, lambda: cfg.max_chroma + 1, never, cfg)  # another colour
    assert shade.looks_shaded(0.8, grey, never, cfg)  # a milder shadow, in the page's very colour
    tinted = lambda: (cfg.mild_chroma + cfg.max_chroma) / 2  # noqa: E731  (close, not close enough for it)
    assert shade.looks_shaded(0.8, tinted, lambda: cfg.falloff_smooth, cfg)
    assert not shade.looks_shaded(0.8, tinted, lambda: cfg.falloff_smooth - 0.01, cfg)
    past = (cfg.mild_ratio + cfg.falloff_ratio) / 2  # past the milder zone: smooth only
    assert shade.looks_shaded(past, grey, lambda: cfg.falloff_smooth, cfg)
    assert not shade.looks_shaded(past, grey, lambda: cfg.falloff_smooth - 0.01, cfg)
    with pytest.raises(ValueError, match="falloff_ratio"):
        replace(cfg, falloff_ratio=0.7)
    with pytest.raises(ValueError, match="mild_ratio"):
        replace(cfg, mild_ratio=0.7)
    with pytest.raises(ValueError, match="mild_chroma"):
        replace(cfg, mild_chroma=cfg.max_chroma + 1)


def test_the_digits_height_is_upright_and_in_working_pixels():
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    digits = [Digit(1, 0.99, (0, 0, 20, 40)), Digit(7, 0.95, (30, 0, 24, 48)), Digit(None, 0.3, (60, 0, 90, 90))]
    work = scale_stage.working_copy(np.zeros((100, 200), np.uint8), ReaderConfig())._replace(scale=0.5)
    level = ReadResult([Line("17?", digits, ("17?",))])
    sideways = replace(level, angle=90.0)
    assert shade.digit_height(level, work) == 22.0 and shade.digit_height(sideways, work) == 11.0  # '?' not counted


def test_the_page_in_shade_is_the_smooth_region_as_bright_as_the_band_beyond_its_edge():
    """A sheet whose lower half is in a hard shadow, rows of writing on both halves; the page finder
    took the lit half: the shaded half, writing and all, is the page in shade; a textured desk as
    bright is not."""
    from edgedigits.reader import shade

    grey = np.full((480, 640), 200, np.uint8)
    grey[240:] = 110                                   # the shaded half
    for y in (100, 330, 400):
        for x in range(60, 560, 50):
            cv2.putText(grey, "8", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30 if y < 240 else 15, 3)
    paper = np.zeros(grey.shape, np.uint8)
    paper[:236] = 1
    cfg, page_cfg = ReaderConfig().shade, ReaderConfig().page

    def in_shade(grey: np.ndarray, paper: np.ndarray, height: float = 30.0) -> np.ndarray:
        work = scale_stage.working_copy(grey, ReaderConfig())
        copies = page_stage.small_copies(work.grey, page_cfg)
        bands = shade.edge_bands(copies.blurred, paper, page_cfg.edge_border_px, cfg)
        return shade.paper_in_shade(copies, paper, bands, height, cfg)

    shaded = in_shade(grey, paper)
    sy, sx = shaded.shape[0] / 480, shaded.shape[1] / 640
    for y, x in ((330, 300), (400, 75), (460, 600)):  # on the rows' digits and beyond them
        assert shaded[int(y * sy), int(x * sx)], (y, x)
    assert not shaded[int(100 * sy), int(300 * sx)]  # the lit page is not in shade
    # A row of big digits in the shade (a close-up): closed over as its digits' height asks.
    big = np.full((480, 640), 200, np.uint8)
    big[240:] = 110
    for x in range(40, 600, 80):
        cv2.putText(big, "8", (x, 400), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 15, 5)
    assert all(in_shade(big, paper, height=54.0)[int(380 * sy), int((x + 20) * sx)] for x in range(40, 600, 80))
    rough = grey.copy()
    rough[240:] = np.random.default_rng(0).integers(60, 160, (240, 640))  # a grained desk as bright
    assert in_shade(rough, paper).mean() < 0.1
    # A second sheet on a smooth desk that passes for shade is no part of it: only gaps as wide
    # as a row of writing are closed.
    desk = np.full((480, 640), 120, np.uint8)
    desk[40:200, 40:300] = 200                        # the sheet read
    desk[260:440, 360:600] = 205                      # another sheet
    sheet = np.zeros(desk.shape, np.uint8)
    sheet[44:196, 44:296] = 1
    shaded = in_shade(desk, sheet)
    assert shaded[int(300 * sy), int(100 * sx)]       # the desk
    assert not shaded[int(350 * sy), int(480 * sx)] and not shaded[int(120 * sy), int(170 * sx)]
    # The band beyond runs along a brighter desk on three sides and along the page in shade on the
    # fourth: each part of it is compared with the band next to it, not with the band's median
    # (the desk's brightness: the shade is a third below it).
    room = np.full((480, 640), 165, np.uint8)
    room[40:460, 60:580] = 200
    room[300:460, 60:580] = 110                        # the sheet's lower part in shade
    for x in range(90, 540, 50):
        cv2.putText(room, "8", (x, 400), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 15, 3)
    lit = np.zeros(room.shape, np.uint8)
    lit[44:296, 64:576] = 1
    shaded = in_shade(room, lit)
    for y, x in ((390, 300), (440, 100), (330, 500)):  # on the row's digits and beside them
        assert shaded[int(y * sy), int(x * sx)], (y, x)
    # A part of the desk past a step from the band next to it (darker by more than shade_spread) is not.
    far = room.copy()
    far[:, :30] = 60                                   # a dark strip of the desk, away from the band
    assert not in_shade(far, lit)[int(240 * sy), int(10 * sx)]
    assert in_shade(far, lit)[int(240 * sy), int(45 * sx)]  # the desk next to the band: as bright as it


def test_each_pixel_takes_the_brightness_of_the_band_pixel_nearest_it():
    from edgedigits.reader import shade

    blurred = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    beyond = np.zeros((6, 10), np.uint8)
    beyond[0, 2] = beyond[5, 8] = 1
    level = shade.nearest_band_level(blurred, beyond)
    assert level.dtype == np.float32 and level.shape == (6, 10)
    assert level[0, 0] == level[1, 3] == blurred[0, 2] and level[5, 9] == level[4, 7] == blurred[5, 8]


def test_rows_read_without_the_page_are_kept_if_they_reach_onto_it():
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    paper = np.zeros((100, 200), np.uint8)
    paper[:, :100] = 1

    def line(*xs):
        return Line("1" * len(xs), [Digit(1, 0.99, (x, 10 * len(xs), 10, 10)) for x in xs], ("1" * len(xs),))

    across, beyond, on = line(80, 120), line(150, 170), line(10, 30)
    cfg = ReaderConfig().shade
    kept = shade.rows_on_page(ReadResult([across, beyond, on]), paper, (100, 200), cfg)
    assert kept.lines == [across, on]  # the row wholly beyond the edge (the desk's side) is dropped
    many = ReadResult([across] * cfg.straddle_rows + [beyond])
    assert shade.rows_on_page(many, paper, (100, 200), cfg).lines == many.lines  # writing runs on: all kept
    # Rows on the page's part in shade are the page's when they are rows of writing, not specks.
    shaded = 1 - paper
    row = line(*range(110, 110 + 20 * cfg.shade_row_digits, 20))
    specks = line(*range(110, 110 + 20 * (cfg.shade_row_digits - 1), 20))
    kept = shade.rows_on_page(ReadResult([row, specks, on]), paper, (100, 200), cfg, shaded)
    assert kept.lines == [row, on]
    # A big lone digit that a shadow's edge cuts: its centre lies in the shade, and it holds the
    # piece the reading on the page saw at the edge; a lone digit elsewhere in the shade does not.
    whole = Line("6", [Digit(6, 0.99, (90, 10, 60, 80))], ("6",))
    cut = ReadResult([Line("1", [Digit(1, 0.99, (92, 12, 8, 30))], ("1",))])
    kept = shade.rows_on_page(ReadResult([whole, line(170)]), paper, (100, 200), cfg, shaded, cut)
    assert kept.lines == [whole]
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, shaded).lines == []  # without it
    # A box around several of the page's digits (a desk's grain read as one big 1) is no digit seen whole.
    pieces = [Digit(1, 0.99, (92, 12, 8, 30)), Digit(1, 0.99, (92, 50, 8, 30))]
    two = ReadResult([Line("11", pieces, ("11",)), Line("1", [Digit(1, 0.99, (10, 10, 8, 30))], ("1",))])
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, shaded, two).lines == []
    # (The guard's test needs a page digit outside the box: a box holding all the page read, across
    # the edge and each piece at the edge, is a lone digit the shadow's edge cut: holds_all_across.)
    only = ReadResult([Line("11", pieces, ("11",))])
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, shaded, only).lines == [whole]
    lit_less = replace(cfg, straddle_share=0.2)  # the box is 10/60 lit: not across the edge by that share
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), lit_less, shaded, only).lines == []
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, None, only).lines == []  # no shade known
    unsure_beside = ReadResult([Line("11?", pieces + [Digit(None, 0.3, (10, 10, 8, 30))], ("11?",))])
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, shaded, unsure_beside).lines == []
    wide = Line("6", [Digit(6, 0.99, (60, 10, 90, 80))], ("6",))  # 40/90 lit, its centre in the shade
    inner = [Digit(1, 0.99, (65, 12, 8, 20)), Digit(1, 0.99, (65, 50, 8, 20))]  # 1.5 heights off the edge
    away = ReadResult([Line("11", inner, ("11",))])
    assert shade.straddles(wide.digits[0].box, paper, shaded, (100, 200), cfg)
    assert shade.rows_on_page(ReadResult([wide]), paper, (100, 200), cfg, shaded, away).lines == []
    half_out = (92, 80, 8, 20)  # a second digit half inside the box: at least seen_overlap of it is covered
    assert 0.5 * 8 * 20 >= cfg.seen_overlap * 8 * 20 and 0.5 < cfg.whole_cover
    beside = ReadResult([Line("11", [Digit(1, 0.99, (92, 12, 8, 30)), Digit(1, 0.99, half_out)], ("11",))])
    assert shade.rows_on_page(ReadResult([whole]), paper, (100, 200), cfg, shaded, beside).lines == []
    unsure = Line("1?", [Digit(1, 0.5, (5, 5, 10, 10)), Digit(None, 0.95, (25, 5, 10, 10))], ("1?",))
    assert shade.sure_digits(ReadResult([across, line(5), unsure]), cfg) == 3  # not 0.5 sure, nor a '?'


def test_a_reading_that_sees_the_cut_digits_whole_wins_a_tie():
    """A shadow's edge cuts a 2 to the top of a 7; read without the page, the 2 is one bigger box
    around the 7's. The same digits read again (same boxes), a digit not covered, or nothing read
    first do not count as seen whole."""
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    cfg = ReaderConfig().shade

    def reading(*boxes):
        return ReadResult([Line("7" * len(boxes), [Digit(7, 1.0, b) for b in boxes], ("7" * len(boxes),))])

    cut, whole = (48, 31, 33, 41), (30, 31, 80, 71)
    assert shade.saw_whole(reading(cut), reading(whole), cfg)
    assert not shade.saw_whole(reading(cut), reading(cut), cfg)                      # read the same: no bigger
    assert not shade.saw_whole(reading(cut, (200, 31, 30, 40)), reading(whole), cfg)  # one digit not seen whole
    assert not shade.saw_whole(ReadResult([]), reading(whole), cfg)
    shifted = (whole[0] + whole[2] - cut[2] // 2, *cut[1:])                           # half of it outside
    assert not shade.saw_whole(reading(shifted), reading(whole), cfg)


def test_a_reading_without_the_page_must_see_the_pages_own_digits_again():
    """Of the first reading's sure digits away from the page's edge, the share the reading without
    the page reads as the same digit over half of its box: a digit at the edge, an unsure one, a
    '?', a different digit or a box moved off do not count as seen; no digit away from the edge is
    1. The page mask is a copy half the frame's size (boxes are in frame pixels)."""
    from edgedigits.reader import shade
    from edgedigits.reader.records import Digit, Line

    cfg = ReaderConfig().shade
    paper = np.zeros((50, 100), np.uint8)
    paper[:, :60] = 1  # the page's edge at x = 120 in the frame's pixels
    frame = (100, 200)

    def reading(*digits):
        return ReadResult([Line("".join(str(d[0]) for d in digits), [Digit(*d) for d in digits], ("",))])

    inner = [(3, 0.99, (20, 40, 10, 20)), (4, 0.99, (50, 40, 10, 20))]
    edge = (5, 0.99, (110, 40, 10, 20))        # its square holds the page's edge: not counted
    unknown = (None, 0.3, (110, 40, 10, 20))   # a '?' first in the line (at the edge, not a digit)
    first = reading(unknown, *inner, edge, (6, 0.6, (80, 40, 10, 20)))  # the 6 is not sure: not counted
    assert shade.seen_again(first, reading(*inner), paper, frame, cfg) == 1.0
    assert shade.seen_again(first, reading(inner[0], (7, 0.99, (50, 40, 10, 20))), paper, frame, cfg) == 0.5
    moved = (4, 0.99, (56, 40, 10, 20))        # 40% of the box still shared: not seen
    assert shade.seen_again(first, reading(inner[0], moved), paper, frame, cfg) == 0.5
    assert shade.seen_again(first, ReadResult([]), paper, frame, cfg) == 0.0
    assert shade.seen_again(reading(edge), ReadResult([]), paper, frame, cfg) == 1.0
    near = reading((4, 0.99, (96, 40, 10, 20)))  # 19 px from the edge: at it (one height), not counted
    assert shade.seen_again(near, ReadResult([]), paper, frame, cfg) == 1.0


def test_too_much_texture_is_read_again_on_the_preview(reader, monkeypatch):
    """When neither the working copy nor the smooth part of its page is read for more candidates
    than the cap, a big frame is read again on its preview (half its size: its block means smooth
    away a grain that crowded the copy's measure); a frame too small for a preview keeps the
    warning."""
    from edgedigits.reader import pipeline
    from edgedigits.reader.records import Digit, Line

    warning = blobs_stage.too_much_texture(reader.config.blobs)
    read = []

    big = np.full((1200, 1600), 200, np.uint8)
    preview = scale_stage.preview_copy(scale_stage.working_copy(big, reader.config), reader.config.scale)

    def read_working(work, *args, **kwargs):
        read.append(work.grey.shape)
        if work.grey.shape == preview.grey.shape:  # the preview: the digits
            return ReadResult([Line("7", [Digit(7, 0.99, (10, 10, 20, 30))], ("7",))])
        return ReadResult([], (warning,))

    monkeypatch.setattr(pipeline, "_read_working", read_working)
    monkeypatch.setattr(pipeline, "_read_on_smooth_part", lambda work, result, *a: result)
    result = reader.read(big)
    assert [line.text for line in result.lines] == ["7"] and read == [big.shape, preview.grey.shape]
    read.clear()
    small = reader.read(np.full((480, 640), 200, np.uint8))
    assert small.lines == [] and small.warnings == (warning,) and read == [(480, 640)]
    monkeypatch.setattr(pipeline, "_read_working", lambda work, *a, **k: read.append(work.grey.shape) or ReadResult([]))
    read.clear()
    assert reader.read(big).lines == [] and read == [big.shape]  # nothing read, with no warning: not read again


def _ink_of_texture_and_digits(texture_darkness: float, digits: int, digit_height: int = 60):
    """(mask, darkness): twenty 16 px blobs of desk texture at `texture_darkness` (a little
    apart) and `digits` digit-like strokes `digit_height` px tall at 0.8."""
    mask = np.zeros((400, 800), np.uint8)
    darkness = np.zeros(mask.shape, np.float32)
    for k in range(20):
        y, x = 20 + (k // 10) * 40, 20 + (k % 10) * 40
        mask[y:y + 16, x:x + 10] = 1
        darkness[y:y + 16, x:x + 10] = texture_darkness + 0.002 * k
    for k in range(digits):
        x = 100 + k * 120
        mask[200:200 + digit_height, x:x + 8] = 1  # a 7-like stroke: a bar and a stem
        mask[200:208, x:x + 30] = 1
        darkness[200:200 + digit_height, x:x + 30] = 0.8
    return mask, darkness * mask


def test_the_digit_height_is_the_pens_when_a_lighter_class_of_texture_outnumbers_it():
    """Desk texture let into the ink (twenty light 16 px blobs) beside four dark 60 px digits: the
    plain measure is the texture's; told the components' darkness it is the digits', through the
    first pass (measure_digits) as in the upright one (typical_height)."""
    config = ReaderConfig()
    mask, darkness = _ink_of_texture_and_digits(0.3, 4)
    labels, stats = ink_stage.components(mask)
    means = measure_stage.component_darkness(labels, stats, darkness, np.ones(len(stats), bool))
    assert max(means) == pytest.approx(0.8) and min(means) == pytest.approx(0.3)
    assert measure_stage.typical_height(stats, config) == 16
    assert measure_stage.typical_height(stats, config, labels, darkness) == 60
    ink = Ink(0.1, 0.8, mask)
    assert measure_stage.measure_digits(ink, config).height == 16
    assert measure_stage.measure_digits(ink, config, darkness=darkness).height == 60


@pytest.mark.parametrize("texture, digits, height, why", [
    (0.7, 4, 60, "texture as dark as the pen: one class"),
    (0.3, 2, 60, "two dark components: a desk's edge as often as digits"),
    (0.3, 4, 20, "the pen's height within texture_height_change of the plain one"),
])
def test_the_plain_digit_height_stays_without_a_clear_pen_class(texture, digits, height, why):
    config = ReaderConfig()
    mask, darkness = _ink_of_texture_and_digits(texture, digits, height)
    labels, stats = ink_stage.components(mask)
    plain = measure_stage.typical_height(stats, config)
    assert plain == 16, why
    assert measure_stage.typical_height(stats, config, labels, darkness) == plain, why


@pytest.mark.parametrize("cap, height", [(23, 16), (24, 60)])
def test_no_pen_class_is_looked_for_among_more_components_than_the_cap(cap, height):
    """24 digit-like components (the four digits of the first test with their texture): up to
    texture_max_components of them have their darkness read, more are measured plainly."""
    config = ReaderConfig()
    config = replace(config, ink=replace(config.ink, texture_max_components=cap))
    mask, darkness = _ink_of_texture_and_digits(0.3, 4)
    labels, stats = ink_stage.components(mask)
    assert len(stats) == 24
    assert measure_stage.typical_height(stats, config, labels, darkness) == height
    with pytest.raises(ValueError, match="both labels and darkness"):
        measure_stage.typical_height(stats, config, labels)


def test_the_reader_measures_both_passes_with_the_components_darkness(reader, mnist_test, monkeypatch):
    """The first pass (over the light-corrected darkness) and the upright one (over the upright
    darkness, its labels from the closed mask) both give the measure the components' labels and
    the darkness they lie over, of one shape."""
    seen = []
    measure = measure_stage.typical_height

    def spy(stats, config, labels=None, darkness=None):
        seen.append(None if darkness is None else (labels.shape == darkness.shape, int(labels.max()) == len(stats)))
        return measure(stats, config, labels, darkness)

    monkeypatch.setattr(measure_stage, "typical_height", spy)
    images, labels = mnist_test
    frame, _ = generate_frame(np.random.default_rng(3), images, labels)
    reader.read(frame)
    assert len(seen) >= 2 and all(s == (True, True) for s in seen)


def test_the_lighter_class_is_below_the_widest_step_in_darkness():
    cfg = ReaderConfig().ink
    darkness = np.array([0.30, 0.31, 0.32, 0.33, 0.70, 0.72, 0.75, 0.9])
    everything = np.ones(len(darkness), bool)
    assert measure_stage.lighter_class(darkness, everything, cfg).tolist() == [True] * 4 + [False] * 4
    some = everything.copy()
    some[0] = some[7] = False  # not digit-like: neither counted nor returned
    assert measure_stage.lighter_class(darkness, some, cfg).tolist() == [False] + [True] * 3 + [False] * 4
    some[4] = False  # two above the step: no pen class (texture_min_pen 3)
    assert measure_stage.lighter_class(darkness, some, cfg) is None
    assert measure_stage.lighter_class(darkness, everything, replace(cfg, texture_gap=2.5)) is None  # 0.33 -> 0.70
    assert measure_stage.lighter_class(darkness[:4], everything[:4], cfg) is None  # no step wide enough


def _square_page(x0: int, y0: int, x1: int, y1: int, shape=(300, 400)) -> Page:
    mask = np.zeros(shape, np.uint8)
    mask[y0:y1, x0:x1] = 1
    hull = np.float32([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    return Page(mask, hull)


def test_a_larger_coloured_page_beside_a_bright_one_off_the_middle_is_the_page():
    """A piece of bright table above a green note the camera is pointed at: the bright page misses
    the frame's middle, and the page found by colour is larger and shares under
    colour_beside_max_share of itself with it; a bright sheet in the middle, a smaller coloured page
    or one overlapping the bright one keep the bright page."""
    cfg = ReaderConfig().page
    table = _square_page(0, 0, 400, 100)        # the frame's middle (row 150, column 200) is below it
    note = _square_page(20, 95, 380, 280)       # 66600 px^2, sharing 5 rows (1800 px^2, 2.7%)
    assert not page_stage.covers_middle(table) and page_stage.covers_middle(note)
    assert page_stage.covers_middle(_square_page(180, 140, 220, 160))  # row 150, column 200
    assert not page_stage.covers_middle(_square_page(140, 180, 160, 220))  # row 200, column 150
    assert page_stage.is_beside(note, table, cfg)
    assert page_stage.is_beside(note, table, replace(cfg, colour_beside_max_share=0.03))  # of the note's area
    assert not page_stage.is_beside(note, table, replace(cfg, colour_beside_max_share=0.02))
    assert not page_stage.is_beside(_square_page(100, 120, 200, 200), table, cfg)  # smaller than the table's
    assert not page_stage.is_beside(_square_page(0, 0, 400, 250), table, cfg)     # holds the table's piece


def test_the_page_finder_takes_the_coloured_page_beside_a_bright_one_off_the_middle(monkeypatch):
    """find_paper's wiring: the bright finder's smooth page (a piece of table) off the frame's
    middle gives way to the colour finder's larger page beside it; in the middle it stays, and a
    grey frame (no colour) never asks the colour finder."""
    table, note = _square_page(0, 0, 400, 100), _square_page(20, 95, 380, 280)
    asked = []
    monkeypatch.setattr(page_stage, "find_bright_paper", lambda grey, cfg, copies=None: table)
    monkeypatch.setattr(page_stage, "find_coloured_paper", lambda colour, shape, cfg: asked.append(1) or note)
    grey, cfg = np.zeros((300, 400), np.uint8), ReaderConfig().page
    colour = lambda: np.zeros((300, 400, 3), np.uint8)  # noqa: E731
    assert page_stage.find_paper(grey, cfg, colour) is note and len(asked) == 1
    assert page_stage.find_paper(grey, cfg) is table and len(asked) == 1
    monkeypatch.setattr(page_stage, "find_bright_paper", lambda grey, cfg, copies=None: note)
    assert page_stage.find_paper(grey, cfg, colour) is note and len(asked) == 1  # in the middle: not asked
    nothing = page_stage.Page(None, None)
    monkeypatch.setattr(page_stage, "find_bright_paper", lambda grey, cfg, copies=None: table)
    monkeypatch.setattr(page_stage, "find_coloured_paper", lambda colour, shape, cfg: asked.append(1) or nothing)
    assert page_stage.find_paper(grey, cfg, colour) is table and len(asked) == 2  # no page by colour


def _sheets_on_a_desk(notes: list[tuple[int, tuple[int, int, int, int]]]) -> np.ndarray:
    """The page finder's blurred small copy (320x240, of a 640x480 working copy) of a desk at 60
    with a page at 200 on its left and each note (level, (x0, y0, x1, y1)) drawn on it."""
    small = np.full((240, 320), 60, np.uint8)
    small[40:200, 20:150] = 200
    for level, (x0, y0, x1, y1) in notes:
        small[y0:y1, x0:x1] = level
    return cv2.GaussianBlur(small, (5, 5), 0)


def test_other_sheets_beside_the_page_are_found_but_not_a_lighter_part_of_the_desk():
    cfg = ReaderConfig().page
    paper = np.zeros((480, 640), np.uint8)  # the page's mask, at the working copy's size
    paper[84:396, 44:296] = 1

    def found(notes, config=cfg):
        sheets = page_stage.other_sheets(_sheets_on_a_desk(notes), paper, (480, 640), config)
        return [tuple(np.round([s.hull[:, 0].min(), s.hull[:, 1].min(), s.hull[:, 0].max(), s.hull[:, 1].max()],
                               -1).astype(int)) for s in sheets]

    note, small_note = (185, (190, 60, 300, 180)), (185, (200, 200, 230, 230))
    assert found([note]) == [(380, 120, 600, 360)]  # working px: the small copy is half as big
    assert found([note, (185, (160, 5, 280, 55))], replace(cfg, max_other_sheets=1)) == [(380, 120, 600, 360)]
    # A note at 120 with a glint at 200 over its top: enough bright pixels to search, but its median
    # lies less than halfway from the desk to the page.
    assert found([(120, note[1]), (200, (190, 60, 300, 90))]) == []
    assert found([note, (170, (160, 5, 280, 55))]) == [(380, 120, 600, 360), (320, 10, 560, 110)]  # largest first
    assert found([(125, note[1])]) == []  # less than halfway from the desk's 60 to the page's 200: desk
    assert found([(135, note[1])]) == [(380, 120, 600, 360)]
    assert found([small_note]) == []  # under a tenth of the page's area
    # A note smaller than a page may be (3.6% of the frame), but over a tenth of the page's area.
    little_note = (185, (200, 60, 255, 110))
    assert found([little_note]) == [(400, 120, 510, 220)]
    assert found([little_note], replace(cfg, other_min_area=cfg.min_paper_area)) == []
    assert found([note], replace(cfg, max_other_sheets=0)) == []
    assert found([note], replace(cfg, other_min_contrast=0.95)) == []
    assert page_stage.other_sheets(_sheets_on_a_desk([note]), paper, (480, 640), replace(cfg, other_min_share=1e-9))
    everything = np.ones((480, 640), np.uint8)  # a page (its mask grown off its edge) covering the copy
    assert page_stage.other_sheets(_sheets_on_a_desk([note]), everything, (480, 640), cfg) == []
    assert page_stage.other_sheets(_sheets_on_a_desk([note]), 0 * everything, (480, 640), cfg) == []


def test_two_sticky_notes_on_one_desk_are_both_read(digit_classifier, mnist_test):
    """The page finder takes the larger note for the page: the other one's digits were never read.
    Two generated notes on dark desks side by side, each 640x480."""
    from edgedigits.debug import draw_stages

    images, labels = mnist_test
    notes = [generate_frame(np.random.default_rng(seed), images, labels, frame_size=(640, 480),
                            options=FrameOptions(papers="sticky", max_lines=2, max_digits_per_line=10))
             for seed in (1, 2)]
    frame = np.hstack([notes[0][0], notes[1][0]])
    true_digits = [sum(len(line.text) for line in truth) for _, truth in notes]

    def digits_per_note(config: ReaderConfig, debug=None) -> list[int]:
        result = FrameReader(digit_classifier, config=config).read(frame, debug=debug)
        centres = [d.box[0] + d.box[2] / 2 for line in result.lines for d in line.digits if d.digit is not None]
        return [sum(x < 640 for x in centres), sum(x >= 640 for x in centres)]

    debug = {}
    both = digits_per_note(ReaderConfig(), debug)
    page_alone = digits_per_note(replace(ReaderConfig(), page=replace(ReaderConfig().page, max_other_sheets=0)))
    assert min(true_digits) >= 5 and 0 in page_alone, (true_digits, page_alone)
    assert all(n >= 0.8 * t for n, t in zip(both, true_digits)), (both, true_digits)
    right = notes[1][1]
    for line in right:
        line.quad = line.quad + np.float32([640, 0])
    score = score_read(FrameReader(digit_classifier).read(frame), notes[0][1] + right)
    assert score.digits_right >= 0.8 * sum(true_digits), (score, true_digits)
    grey, _, hulls, verdict = debug["sheets"]  # for --debug's 11-sheets picture
    assert len(hulls) == 1 and verdict.startswith("1 other sheet(s) read")
    assert draw_stages(debug)["11-sheets"].shape == grey.shape + (3,)


def test_rows_read_already_are_not_added_again():
    from edgedigits.reader.lines import rows_not_read
    from edgedigits.reader.records import Digit, Line

    read = ReadResult([Line("12", [Digit(1, 0.9, (100, 100, 20, 30)), Digit(2, 0.9, (125, 100, 20, 30))])])
    again = Line("2", [Digit(2, 0.95, (128, 104, 16, 24))])  # its centre in the read 2's box
    beside = Line("7", [Digit(7, 0.95, (150, 100, 20, 30))])
    assert rows_not_read([again, beside], read) == [beside]
    assert rows_not_read([again], ReadResult([])) == [again]


def test_sheets_beside_the_page_on_a_table_brighter_than_them_are_found_by_colour():
    """A yellow note (the page) and a pink one on a white table: in grey the table is the brightest,
    and only colour tells the notes from it."""
    cfg = ReaderConfig().page
    colour = np.full((240, 320, 3), 225, np.uint8)
    colour[40:200, 20:150] = (90, 215, 230)    # yellow (BGR)
    colour[60:180, 190:300] = (200, 160, 240)  # pink
    colour = cv2.GaussianBlur(colour, (5, 5), 0)
    small = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    paper = np.zeros((480, 640), np.uint8)
    paper[84:396, 44:296] = 1
    by_colour = page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: colour)
    assert len(by_colour) == 1 and 370 <= by_colour[0].hull[:, 0].min() and by_colour[0].hull[:, 0].max() <= 610
    assert page_stage.other_sheets(small, paper, (480, 640), cfg) == []  # a grey frame: no colour to go by
    grey_notes = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    assert page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: grey_notes) == []
    # A pink note smaller than a page may be (3.6% of the frame) is found by colour too.
    colour = np.full((240, 320, 3), 225, np.uint8)
    colour[40:200, 20:150] = (90, 215, 230)
    colour[60:110, 200:255] = (200, 160, 240)
    colour = cv2.GaussianBlur(colour, (5, 5), 0)
    small = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    assert len(page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: colour)) == 1
    assert page_stage.other_sheets(small, paper, (480, 640), replace(cfg, other_min_area=cfg.min_paper_area),
                                   lambda: colour) == []


def test_a_coloured_note_in_shade_on_a_dark_desk_is_found_by_colour():
    """A green note, lit only along its top, beside a bright page on a dark desk: by brightness its
    median lies less than halfway from the desk's level to the page's (a lighter part of a desk),
    but its colour is not the desk's."""
    cfg = ReaderConfig().page
    colour = np.full((240, 320, 3), 60, np.uint8)
    colour[40:200, 20:150] = 200
    colour[60:180, 190:300] = (70, 140, 80)   # green in shade: grey ~114, halfway is 130
    colour[60:90, 190:300] = (110, 220, 130)  # its lit top: grey ~181, enough bright pixels to search
    colour = cv2.GaussianBlur(colour, (5, 5), 0)
    small = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    paper = np.zeros((480, 640), np.uint8)
    paper[84:396, 44:296] = 1
    assert page_stage.other_sheets(small, paper, (480, 640), cfg) == []  # by brightness alone: desk
    by_colour = page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: colour)
    assert len(by_colour) == 1 and 370 <= by_colour[0].hull[:, 0].min() and by_colour[0].hull[:, 0].max() <= 610
    assert by_colour[0].hull[:, 1].max() >= 340  # the whole note, its shaded part too
    grey_notes = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    assert page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: grey_notes) == []
    # Lit down to its middle, its lower part in deep shade: by brightness the lit part alone is a
    # sheet; the region found by colour holds it and is all of the note.
    colour[60:180, 190:300] = (55, 110, 62)  # grey ~89
    colour[60:130, 190:300] = (110, 220, 130)
    colour = cv2.GaussianBlur(colour, (5, 5), 0)
    small = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    (lit,) = page_stage.other_sheets(small, paper, (480, 640), cfg)  # (the shade too dark to grow into)
    (whole,) = page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: colour)
    assert lit.hull[:, 1].max() <= 280 and whole.hull[:, 1].max() >= 340, (lit.hull, whole.hull)
    (kept,) = page_stage.other_sheets(small, paper, (480, 640), replace(cfg, other_lit_part=2.0), lambda: colour)
    assert kept.hull[:, 1].max() <= 280  # the colour region, 1.7x the lit part, is not that much larger
    # In shade all over (no part halfway up, too few bright pixels to search by brightness), but a
    # quarter of the way up: still looked for by colour.
    colour = np.full((240, 320, 3), 60, np.uint8)
    colour[40:200, 20:150] = 200
    colour[60:180, 190:300] = (70, 140, 80)  # grey ~114: over 95 (a quarter up), under 130 (halfway)
    colour = cv2.GaussianBlur(colour, (5, 5), 0)
    small = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    (dim,) = page_stage.other_sheets(small, paper, (480, 640), cfg, lambda: colour)
    assert 370 <= dim.hull[:, 0].min() and dim.hull[:, 1].max() >= 340
    assert page_stage.other_sheets(small, paper, (480, 640), replace(cfg, other_dim_contrast=0.5), lambda: colour) == []


def test_a_region_found_by_colour_holds_a_bright_one_only_inside_and_larger():
    cfg = ReaderConfig().page
    bright = np.zeros((100, 100), np.uint8)
    bright[10:50, 10:90] = 1
    whole, shifted = bright.copy(), np.zeros_like(bright)
    whole[50:90, 10:90] = 1
    shifted[40:90, 10:90] = 1
    assert page_stage.holds((whole, None), (bright, None), cfg)
    assert not page_stage.holds((bright, None), (bright, None), cfg)  # the same outline: not larger
    assert not page_stage.holds((shifted, None), (bright, None), cfg)  # a quarter of it outside
    assert not page_stage.holds(None, (bright, None), cfg)


def test_no_other_sheet_is_looked_for_by_colour_with_nothing_bright_beside_the_page():
    """Most frames: the histogram test stops the search before the colour distance is made."""
    paper = np.zeros((480, 640), np.uint8)
    paper[84:396, 44:296] = 1
    assert page_stage.other_sheets(_sheets_on_a_desk([]), paper, (480, 640), ReaderConfig().page,
                                   lambda: pytest.fail("the colour distance was made")) == []
