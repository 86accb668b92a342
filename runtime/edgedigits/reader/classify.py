"""Stage 9, classify: crop every candidate (with its own ink level, thin strokes given MNIST-like
thickness, MNIST-normalized), classify all crops in one batch, split wide blobs into two touching
digits where the classifier agrees (the best of the straight, eroded and curved cuts), part a 1
touching a digit's right side from it, part runs of three or more touching digits by the
classifier's reading of many ways to cut them (:func:`segment_runs`), take a second look at the
digits it is unsure of (:func:`second_look`), and report every digit with its confidence and its
box in the original frame's pixels ('?' below ``reject_threshold``)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..preprocess import normalize_ink
from .arrays import SQUARE_3, ink_height, labelled, member, median, opencv, percentile, shifted, stroke_width
from .config import ClassifyConfig, ReaderConfig
from .records import Blob, Digit, Ink, Line, Lines, Parts, Placement, ReadResult, Upright


def no_stage(name: str, value) -> None:
    """The stage hook of readings nobody looks at (the debug pictures show the first reading)."""


def logit(p: float, cfg: ClassifyConfig = ClassifyConfig()) -> float:
    """log-odds of a probability clipped to [logit_clip, 1 - logit_clip], so saturated confidences
    stay comparable."""
    p = min(max(float(p), cfg.logit_clip), 1 - cfg.logit_clip)
    return math.log(p / (1.0 - p))


def split_margin(aspect: float, whole_conf: float, halves_conf: float, halves_height: float = 1.0,
                 cfg: ClassifyConfig = ClassifyConfig()) -> float:
    """How strongly a wide blob reads as two digits (> 0: split it). The classifier is confident on
    half a digit and on two squeezed digits alike, so its vote (the less sure half against the
    whole, in log-odds) is weighed against the blob's width in row heights and against the height
    of the shorter half (a fraction of the blob's): two digits side by side are both about as tall
    as the pair, while cutting one digit often leaves a short piece (a 7's bar, a 2's tail).
    Fitted on the split decisions of generated frames. With halves_conf=1 it bounds what any cut
    (of that shorter height) could reach."""
    return logit(halves_conf, cfg) - logit(whole_conf, cfg) \
        + cfg.split_aspect_weight * (aspect - cfg.split_base_aspect) \
        + cfg.split_height_weight * (halves_height - 1.0)


def crop(blob: Blob, parts: Parts, upright: Upright, ink: Ink, cfg: ClassifyConfig, x0=None, x1=None,
         part=None) -> np.ndarray | None:
    """The blob's MNIST-normalized 28x28 crop (only columns x0..x1, only `part` of its box when
    given), or None when nothing of it is left."""
    cv2 = opencv()
    labels, darkness, threshold, ink_level = parts.labels, upright.darkness, ink.threshold, ink.level
    x0 = blob.x if x0 is None else x0
    x1 = blob.right if x1 is None else x1
    pad = cfg.pad
    ya, yb = max(0, blob.y - pad), min(labels.shape[0], blob.bottom + pad)
    xa, xb = max(0, x0 - pad), min(labels.shape[1], x1 + pad)
    own = member(labels[ya:yb, xa:xb], blob.labels)
    if part is not None:  # a mask over the blob's box: only these pixels
        own[blob.y - ya: blob.y - ya + blob.h, blob.x - xa: blob.x - xa + blob.w] &= part
    if x0 > blob.x:
        own[:, : x0 - xa] = 0
    if x1 < blob.right:
        own[:, x1 - xa:] = 0
    if cv2.countNonZero(own) == 0:
        return None
    own = cv2.dilate(own, SQUARE_3)
    low = cfg.soft_low * threshold
    region = darkness[ya:yb, xa:xb]
    # Stretch with this digit's own ink level: a light or blurred digit still gets solid strokes.
    strokes = region[own.view(bool) & (region > threshold)]
    level = percentile(strokes, cfg.stroke_percentile) if strokes.size >= cfg.min_stroke_pixels else ink_level
    soft = region - low
    soft /= max(level - low, 1e-3)
    np.maximum(soft, 0.0, out=soft)  # np.clip costs 3x more on these small arrays
    np.minimum(soft, 1.0, out=soft)
    soft *= own
    x, y, w, h = cv2.boundingRect((soft > cfg.crop_edge).view(np.uint8))
    if w == 0:
        return None
    soft = soft[y: y + h, x: x + w]
    # Tight: every border row/column holds ink above crop_edge, and thickening grows it by whole discs.
    return normalize_ink(thicken(soft, cfg), tight=True)


def thicken(soft: np.ndarray, cfg: ClassifyConfig) -> np.ndarray:
    """Dilate thin pen strokes so that, relative to the digit's size, they are as thick as MNIST's."""
    cv2 = opencv()
    h, w = soft.shape
    if max(h, w) < cfg.thicken_min_side:
        return soft
    stroke = stroke_width((soft > cfg.solid).view(np.uint8))
    if stroke == 0:  # no solid stroke at all
        return soft
    target = cfg.mnist_stroke * max(h, w)
    if stroke >= cfg.thick_enough * target:
        return soft
    radius = int(round((target - stroke) / 2))
    if radius < 1:
        return soft
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    padded = cv2.copyMakeBorder(soft, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    return cv2.dilate(padded, kernel)


def separate(blob: Blob, own: np.ndarray, cfg: ClassifyConfig = ClassifyConfig()):
    """Two masks (over the blob's box) for touching digits joined by a thin contact: erode `own`
    (the blob's pixels in its box) until it comes apart into two digit-tall pieces, then give
    every pixel to the nearer one."""
    cv2 = opencv()
    eroded = own
    for _ in range(max(1, int(round(blob.stroke / 2)))):  # half a stroke from each side parts any contact
        eroded = cv2.erode(eroded, SQUARE_3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        count, seeds, stats, _ = labelled(eroded, 8)
        tall = [i for i in range(1, count) if stats[i, 3] >= cfg.separate_tall * blob.h]
        if len(tall) >= 2:
            tall = sorted(tall, key=lambda i: -stats[i, 4])[:2]
            tall.sort(key=lambda i: stats[i, 0])
            far = [cv2.distanceTransform((seeds != i).view(np.uint8), cv2.DIST_L2, 3) for i in tall]
            left = (far[0] <= far[1]).astype(np.uint8) & own
            right = own & (1 - left)
            return left, right
        if count <= 1:
            break
    return None


def path_pieces(blob: Blob, own: np.ndarray, cfg: ClassifyConfig):
    """Two masks (over the blob's box) parted by the top-to-bottom path through the fewest ink
    pixels (moving at most a pixel sideways a row, within ``cut_range``): touching digits that
    overlap in their columns (slanted writing) have no clean straight cut, and erosion
    (:func:`separate`) does not part them when their contact is as thick as a stroke. None when the
    best straight cut crosses little ink (a thin contact), or as much as the path."""
    lo, _, hi = (int(f * blob.w) for f in cfg.cut_range)
    if hi - lo < cfg.min_cut_distance:
        return None
    ink = own[:, lo:hi].astype(np.float32)
    straight = ink.sum(axis=0).min()
    if straight <= cfg.path_min_straight * blob.stroke:
        return None
    side = np.float32(cfg.path_side_cost)
    costs = np.empty((ink.shape[0], ink.shape[1] + 2), np.float32)  # padded: no step out of the range
    costs[:, 0] = costs[:, -1] = np.inf
    costs[0, 1:-1] = ink[0]
    for y in range(1, ink.shape[0]):
        above = costs[y - 1]
        np.minimum(above[:-2], above[2:], out=costs[y, 1:-1])
        costs[y, 1:-1] += side
        np.minimum(costs[y, 1:-1], above[1:-1], out=costs[y, 1:-1])
        costs[y, 1:-1] += ink[y]
    x = int(costs[-1, 1:-1].argmin())
    if costs[-1, x + 1] >= straight:
        return None
    path = np.empty(ink.shape[0], np.int64)
    for y in range(ink.shape[0] - 1, 0, -1):  # back up: the cheapest way here from the row above
        path[y] = x
        above = costs[y - 1, x: x + 3] + (side, 0, side)
        x += int(above.argmin()) - 1
    path[0] = x
    columns = np.arange(blob.w)[None, :]
    left = (columns < (path + lo)[:, None]).astype(np.uint8) & own
    return left, own & (1 - left)


def split_columns(blob: Blob, own: np.ndarray, cfg: ClassifyConfig) -> list[tuple[int, float]]:
    """Candidate cuts through a wide blob whose pixels in its box are `own`: the weakest ink
    column in its middle, and the weakest left and right of the centre (touching digits of
    unequal width). Each as (absolute x, height of the shorter side's ink / the blob's height)."""
    profile = own.sum(axis=0).astype(np.float32)
    lo, mid, hi = (int(f * blob.w) for f in cfg.cut_range)
    if hi - lo < cfg.min_cut_distance:
        return []
    centre_penalty = np.abs(np.arange(blob.w) - blob.w / 2) / blob.w * profile.max() * cfg.centre_penalty
    cuts = [lo + int(np.argmin((profile + centre_penalty)[lo:hi]))]
    for a, b in ((lo, mid), (mid, hi)):
        if b > a:
            cut = a + int(np.argmin(profile[a:b]))
            if all(abs(cut - c) >= cfg.min_cut_distance for c in cuts):
                cuts.append(cut)
    good = []
    for cut in cuts:
        # Both sides must look like digits: ink over at least half the height (not a lone tail).
        shorter = min(ink_height(own[:, :cut]), ink_height(own[:, cut:]))
        if shorter >= cfg.half_height * blob.h:
            good.append((blob.x + cut, shorter / blob.h))
    return good


def trailing_one_cut(blob: Blob, own: np.ndarray, cfg: ClassifyConfig) -> int | None:
    """The cut (absolute x) that parts a 1 touching the digit on its left, which the classifier
    reads as that digit alone (`31` as 3, `41` as 4): the weakest column within ``one_max_width``
    digit heights of the blob's right end, crossing at most one stroke (the contact; a 0's or a
    9's right side is met by two), with a piece beyond it at least ``one_min_height`` of the blob
    tall and a rest at least that zone wide; None without one. `own`: the blob's pixels in its
    box. (Only the right end: on the left, a 6's or a 0's side read as a 1 beside the same digit.)"""
    zone = int(cfg.one_max_width * blob.h)
    lo, hi = max(1, blob.w - zone), blob.w - 1
    if hi <= lo:
        return None
    cut = lo + int(np.argmin(own[:, lo:hi].sum(axis=0)))
    column = own[:, cut].astype(np.int8)
    strokes = int(column[0]) + int(np.count_nonzero(np.diff(column) == 1))
    if strokes > 1 or ink_height(own[:, cut:]) < cfg.one_min_height * blob.h \
            or np.count_nonzero(own[:, :cut].any(axis=0)) < zone:
        return None
    return blob.x + cut


def usual_width(blob: Blob, group: list[Blob], cfg: ClassifyConfig) -> float:
    """The median width of the other blobs of `blob`'s group when there are at least
    ``wide_row_others`` of them, else 0: width is judged against it too, so in a row of flat 0s one
    a little wider than the rest is no pair (a lone pair, or one beside another, still is)."""
    others = [b.w for b in group if b is not blob]
    return median(others) if len(others) >= cfg.wide_row_others else 0.0


def own_pixels(blob: Blob, parts: Parts) -> np.ndarray:
    """The blob's pixels in its box (0/1 uint8): its components', not a neighbour's reaching in."""
    return member(parts.labels[blob.y: blob.bottom, blob.x: blob.right], blob.labels)


def crop_pair(blob: Blob, parts: Parts, upright: Upright, ink: Ink, cfg: ClassifyConfig, left_side: tuple,
              right_side: tuple, crops: list, first: int) -> tuple[int, int] | None:
    """The crops of the two sides of a cut (each side :func:`crop`'s (x0, x1, part)), appended to
    `crops` (which will sit from index `first` in the frame's list): their indices, or None when
    either side holds nothing."""
    left = crop(blob, parts, upright, ink, cfg, *left_side)
    right = crop(blob, parts, upright, ink, cfg, *right_side)
    if left is None or right is None:
        return None
    crops.extend((left, right))
    return first + len(crops) - 2, first + len(crops) - 1


def split_crops(blob: Blob, own: np.ndarray, parts: Parts, upright: Upright, ink: Ink, cfg: ClassifyConfig,
                aspect: float, whole_conf: float, crops: list, first: int) -> list:
    """Crops of the two halves of every candidate split of a wide blob (`own`: its pixels in its
    box) that could win against the whole (were its halves sure), appended to `crops` (which will
    sit from index `first` in the frame's list); returns [(cut x, left index, right index, shorter
    half's height fraction, whether the cut is a straight one)]."""
    splits = []

    def add(cut, shorter, left_side, right_side):  # sides: crop's (x0, x1, part)
        if split_margin(aspect, whole_conf, 1.0, shorter, cfg) <= 0:
            return
        pair = crop_pair(blob, parts, upright, ink, cfg, left_side, right_side, crops, first)
        if pair is not None:
            splits.append((cut, *pair, shorter, len(left_side) == 2))

    def add_pieces(pieces, min_shorter=0.0):  # two masks: the cut is reported after the left one's ink
        shorter = min(ink_height(pieces[0]), ink_height(pieces[1])) / blob.h
        if shorter >= min_shorter:
            cols = np.flatnonzero(pieces[0].any(axis=0))
            cut = blob.x + int(cols[-1]) + 1 if cols.size else blob.x + blob.w // 2
            add(cut, shorter, (None, None, pieces[0]), (None, None, pieces[1]))

    for cut, shorter in split_columns(blob, own, cfg):
        add(cut, shorter, (blob.x, cut), (cut, blob.right))
    pieces = separate(blob, own, cfg)  # touching digits may overlap: no straight cut parts them
    if pieces is not None:
        add_pieces(pieces)
    elif (pieces := path_pieces(blob, own, cfg)) is not None:  # nor erosion, when the contact is thick
        add_pieces(pieces, cfg.half_height)  # (both sides ink over half the height, as for straight cuts)
    return splits


def one_crops(blob: Blob, own: np.ndarray, parts: Parts, upright: Upright, ink: Ink, cfg: ClassifyConfig,
              crops: list, first: int) -> tuple[int, int, int] | None:
    """The crops of the rest and of the 1 that :func:`trailing_one_cut` parts from the blob (`own`:
    its pixels in its box), appended to `crops` as by :func:`crop_pair`: (cut x, rest's index, the
    1's index), or None."""
    cut = trailing_one_cut(blob, own, cfg)
    pair = None if cut is None else crop_pair(blob, parts, upright, ink, cfg, (blob.x, cut), (cut, blob.right),
                                               crops, first)
    return None if pair is None else (cut, *pair)


def probabilities(classifier, crops: list) -> tuple[np.ndarray, np.ndarray]:
    """((N, 10) probabilities of the digits, (N,) probability that each crop is a digit at all:
    1 - the classifier's "not a digit" output, or ones for a classifier without one)."""
    prediction = classifier.predict(np.stack(crops).astype(np.float32))
    probs = np.asarray(prediction.probabilities)
    if probs.shape != (len(crops), 10):
        raise ValueError(f"classifier returned probabilities of shape {probs.shape}, "
                         f"expected ({len(crops)}, 10)")
    reject = getattr(prediction, "reject", None)
    is_digit = np.ones(len(crops), np.float32) if reject is None else 1 - np.asarray(reject, np.float32)
    return probs, is_digit


def classify_more(classifier, crops: list, probs: np.ndarray, is_digit: np.ndarray, halves: list):
    """`probs` and `is_digit` with those of `crops` (one batch) appended, and `crops` appended to
    `halves`, whose crops they describe after the whole ones."""
    more_probs, more_is_digit = probabilities(classifier, crops)
    halves.extend(crops)
    return np.concatenate([probs, more_probs]), np.concatenate([is_digit, more_is_digit])


def classify_lines(lines: Lines, parts: Parts, upright: Upright, ink: Ink, placement: Placement, classifier,
                   config: ReaderConfig, stage=no_stage) -> ReadResult:
    """The digits of every line (rows of groups of blobs, box sides already dropped)."""
    cfg = config.classify
    # Every whole candidate of the frame goes into one batch; then into a second the halves of the
    # wide ones, only for the cuts that could win against the whole's confidence, and the pieces of
    # a 1 touching a digit (trailing_one_cut); then up to two for the pieces of runs of touching
    # digits (segment_runs), and one per round of cut_again.
    crops, plans, line_of = [], [], []
    for line_index, groups in enumerate(lines.rows):
        for group in groups:
            row_height = median([b.h for b in group])
            plan = []
            for b in group:
                whole = crop(b, parts, upright, ink, cfg)
                if whole is not None:
                    scale = max(b.h, row_height, usual_width(b, group, cfg))  # px per unit of aspect
                    plan.append({"blob": b, "whole": len(crops), "aspect": b.w / scale, "scale": scale,
                                 "splits": [], "one": None})
                    crops.append(whole)
            plans.append(plan)
            line_of.append(line_index)
    if not crops:
        return ReadResult([])
    probs, is_digit = probabilities(classifier, crops)
    # A crop's confidence is that it is a digit and this one: a pair of touching digits that
    # the classifier calls no digit leaves its cut halves room to win.
    conf = probs.max(axis=1) * is_digit
    halves = []
    whole_best = probs.argmax(axis=1)
    for entry in (entry for plan in plans for entry in plan):
        b, aspect, whole_conf = entry["blob"], entry["aspect"], float(conf[entry["whole"]])
        own = None  # the blob's pixels in its box, made once for every kind of cut
        if aspect > cfg.split_aspect and split_margin(aspect, whole_conf, 1.0, cfg=cfg) > 0:  # else no cut could win
            own = entry["own"] = own_pixels(b, parts)
            entry["splits"] = split_crops(b, own, parts, upright, ink, cfg, aspect, whole_conf, halves, len(crops))
        if aspect >= cfg.one_min_aspect and whole_best[entry["whole"]] != 1:
            own = entry["own"] = own_pixels(b, parts) if own is None else own
            entry["one"] = one_crops(b, own, parts, upright, ink, cfg, halves, len(crops))
    if halves:
        half_probs, half_is_digit = probabilities(classifier, halves)
        probs = np.concatenate([probs, half_probs])
        is_digit = np.concatenate([is_digit, half_is_digit])
        conf = probs.max(axis=1) * is_digit
    best = probs.argmax(axis=1)
    for plan in plans:
        sure = [bool(conf[entry["whole"]] >= cfg.recut_min_conf) for entry in plan]
        count = sum(sure)
        for entry, is_sure in zip(plan, sure):  # pieces as [(x0, x1, crop index, cut again?)]
            entry["pieces"] = first_pieces(entry, best, conf, cfg)
            entry["sure_beside"] = count - is_sure > 0  # another digit of its group is sure
    entries = [entry for plan in plans for entry in plan]
    probs, is_digit = segment_runs(entries, parts, upright, ink, classifier, cfg, probs, is_digit, halves, len(crops))
    for _ in range(cfg.split_rounds):
        probs, is_digit = cut_again(entries, parts, upright, ink, classifier, cfg, probs, is_digit, halves, len(crops))
    conf = probs.max(axis=1) * is_digit
    best = probs.argmax(axis=1)
    stage("crops", (crops, halves, best, conf, config.reject_threshold))

    everything = crops + halves
    texts: dict[int, list[str]] = {}
    line_digits: dict[int, list[Digit]] = {}
    line_crops: dict[int, list[int]] = {}  # crop index of each digit reported, for the debug stage
    for line_index, plan in zip(line_of, plans):
        digits = []
        for entry in plan:
            b = entry["blob"]
            for xa, xb, k, _ in entry["pieces"]:
                if not reported(is_digit[k], cfg):
                    continue  # the classifier says this is no digit: nothing to report
                box = frame_box(xa, b.y, xb - xa, b.h, placement)
                named = int(best[k]) if accepted(conf[k], config) else None
                digits.append(Digit(named, float(conf[k]), box, everything[k]))
                line_crops.setdefault(line_index, []).append(k)
        if digits:
            texts.setdefault(line_index, []).append(digit_text(digits))
            line_digits.setdefault(line_index, []).extend(digits)
    stage("digit_crops", [[everything[k] for k in line_crops[i]] for i in sorted(texts)])
    return ReadResult([Line("".join(texts[i]), line_digits[i], tuple(texts[i])) for i in sorted(texts)])


def second_look(result: ReadResult, classifier, config: ReaderConfig, stage=no_stage) -> ReadResult:
    """`result` with each digit read less sure than ``second_look_below`` read again: its crop and
    four copies shifted ``second_look_shift`` px up, down, left and right are classified, and the
    digit with the highest mean probability over the five looks is reported, with that mean (times
    the mean probability of being a digit) as its confidence. A crop the classifier is unsure of
    often reads its second choice when moved by a pixel, and five looks err less than one. Only
    the reading reported is looked at, after its cuts and the page's turn were decided on first
    looks. A '?' becomes a digit when the mean reaches ``reject_threshold``; a digit stays
    reported (its first look passed it) even when the mean is lower (with '?' below it, 5 more
    digits of the real photos were lost than won); a '?' not made a digit is left as it was.
    `stage` receives [(the five looks, the digit before, after)] for the digits looked at."""
    cfg = config.classify
    unsure = [d for d in result.digits
              if d.crop is not None and d.confidence < cfg.second_look_below]
    if not unsure:
        return result
    shift = cfg.second_look_shift
    moves = ((0, 0), (-shift, 0), (shift, 0), (0, -shift), (0, shift))
    looks = [shifted(d.crop, dy, dx) for d in unsure for dy, dx in moves]
    probs, is_digit = probabilities(classifier, looks)
    probs = probs.reshape(len(unsure), len(moves), -1).mean(axis=1)
    is_digit = is_digit.reshape(len(unsure), len(moves)).mean(axis=1)
    looked = {}
    for d, p, sure in zip(unsure, probs, is_digit):
        digit = int(p.argmax())
        confidence = float(p[digit] * sure)
        if d.digit is not None or (reported(sure, cfg) and accepted(confidence, config)):
            looked[id(d)] = replace(d, digit=digit, confidence=confidence)
    stage("second_look", [(looks[i * len(moves): (i + 1) * len(moves)], d, looked.get(id(d), d))
                          for i, d in enumerate(unsure)])
    return replace(result, lines=[with_digits(line, [looked.get(id(d), d) for d in line.digits])
                                  for line in result.lines])


def reported(is_digit: float, cfg: ClassifyConfig) -> bool:
    """Whether a crop the classifier finds this likely (0-1) to be a digit at all is reported."""
    return is_digit >= cfg.min_is_digit


def accepted(confidence: float, config: ReaderConfig) -> bool:
    """Whether a crop read this surely is reported as its digit (else as '?')."""
    return confidence >= config.reject_threshold


def digit_text(digits: list[Digit]) -> str:
    """The digits as text, '?' for each one not accepted."""
    return "".join("?" if d.digit is None else str(d.digit) for d in digits)


def with_digits(line: Line, digits: list[Digit]) -> Line:
    """`line` with `digits` (as many as it had) in place of its own: its text and groups follow."""
    text = digit_text(digits)
    groups, start = [], 0
    for group in line.groups or (line.text,):
        groups.append(text[start: start + len(group)])
        start += len(group)
    return Line(text, digits, tuple(groups))


def first_pieces(entry: dict, best: np.ndarray, conf: np.ndarray, cfg: ClassifyConfig) -> list[tuple]:
    """A planned blob's pieces as [(x0, x1, crop index, cut again?)]: the whole, the two sides of
    its surest cut when that wins against the whole (:func:`split_margin`; the sides of a straight
    cut may be cut again, :func:`cut_again`), or the digit and a 1 touching it
    (:func:`trailing_one_cut`)."""
    b, whole = entry["blob"], entry["whole"]
    if entry["splits"]:
        margins = [split_margin(entry["aspect"], conf[whole], min(conf[li], conf[ri]), shorter, cfg)
                   for _, li, ri, shorter, _ in entry["splits"]]
        if max(margins) > 0:
            cut, li, ri, _, straight = entry["splits"][int(np.argmax(margins))]
            return [(b.x, cut, li, straight), (cut, b.right, ri, straight)]
    if entry["one"] is not None:
        cut, li, ri = entry["one"]
        if best[ri] == 1 and best[li] == best[whole] and min(conf[li], conf[ri]) >= cfg.one_min_conf:
            return [(b.x, cut, li, False), (cut, b.right, ri, False)]  # the digit, and the 1 touching it
    return [(b.x, b.right, whole, False)]


def cut_again(entries: list[dict], parts: Parts, upright: Upright, ink: Ink, classifier, cfg: ClassifyConfig,
              probs: np.ndarray, is_digit: np.ndarray, halves: list, wholes: int):
    """One more round of cuts (three or more digits written into one run): each piece a straight
    cut left that is still wider than ``recut_aspect``, in a group with another digit at least
    ``recut_min_conf`` sure, is weighed for a straight cut of its own as its blob was
    (:func:`split_columns`, :func:`split_margin` against the piece's confidence), and cut when
    both new pieces are that sure. The new crops are classified in one batch and appended to
    `halves` (which sit after the `wholes` whole crops); returns `probs` and `is_digit` with theirs
    appended, and replaces the pieces cut in each entry's ``pieces`` (those weighed and not cut
    are not weighed again)."""
    conf = probs.max(axis=1) * is_digit
    more, asks = [], []
    first = wholes + len(halves)
    for entry in (entry for entry in entries if entry["sure_beside"]):
        b, scale = entry["blob"], entry["scale"]
        for p, (xa, xb, k, again) in enumerate(entry["pieces"]):
            aspect = (xb - xa) / scale
            if not again or aspect <= cfg.recut_aspect or split_margin(aspect, conf[k], 1.0, cfg=cfg) <= 0:
                continue
            piece = Blob(xa, b.y, xb - xa, b.h, b.labels)
            for cut, shorter in split_columns(piece, entry["own"][:, xa - b.x: xb - b.x], cfg):
                if split_margin(aspect, conf[k], 1.0, shorter, cfg) > 0:
                    pair = crop_pair(b, parts, upright, ink, cfg, (xa, cut), (cut, xb), more, first)
                    if pair is not None:
                        asks.append((entry, p, cut, *pair, shorter, aspect))
    if not more:
        return probs, is_digit
    probs, is_digit = classify_more(classifier, more, probs, is_digit, halves)
    conf = probs.max(axis=1) * is_digit
    chosen: dict[tuple[int, int], tuple[float, list]] = {}
    for entry, p, cut, li, ri, shorter, aspect in asks:
        xa, xb, k, _ = entry["pieces"][p]
        sure = min(conf[li], conf[ri])
        margin = split_margin(aspect, conf[k], sure, shorter, cfg)
        if sure >= cfg.recut_min_conf and margin > chosen.get((id(entry), p), (0.0,))[0]:
            chosen[(id(entry), p)] = (margin, [(xa, cut, li, True), (cut, xb, ri, True)])
    for entry in {id(entry): entry for entry, *_ in asks}.values():
        # A piece weighed and not cut would be weighed the same way again: only new pieces are.
        entry["pieces"] = [piece for p, (xa, xb, k, _) in enumerate(entry["pieces"])
                           for piece in chosen.get((id(entry), p), (0.0, [(xa, xb, k, False)]))[1]]
    return probs, is_digit


def profile_minima(profile: np.ndarray) -> list[int]:
    """The local minima of a column profile, weakest first: each column lower than the columns
    around it, a flat bottom (a gap of blank columns) counted once, at its middle."""
    minima, x = [], 1
    while x < len(profile) - 1:
        y = x
        while y + 1 < len(profile) - 1 and profile[y + 1] == profile[x]:
            y += 1
        if profile[x - 1] > profile[x] < profile[y + 1]:
            minima.append((x + y) // 2)
        x = y + 1
    return sorted(minima, key=lambda column: profile[column])


def segment_cuts(own: np.ndarray, scale: float, cfg: ClassifyConfig) -> list[int]:
    """Candidate straight cuts through a run of touching digits whose pixels in its box are `own`
    (`scale`: px per row height), as columns of the box, its two ends (0 and its width) first and
    last: the ``segment_minima`` weakest local minima of its column ink profile (smoothed over
    ``segment_smooth`` px), and the cuts that part it evenly into 2 up to width /
    ``segment_narrowest`` pieces (a weak column is often not where two overlapping digits meet).
    None lies nearer an end than ``segment_end`` row heights; a cut nearer than
    ``min_cut_distance`` px to one kept is dropped; at most ``segment_max_cuts`` are kept, the
    minima first and then the even cuts of the fewest pieces."""
    w = own.shape[1]
    end = max(1, cfg.min_cut_distance, math.ceil(cfg.segment_end * scale))
    if w - end < end:
        return [0, w]
    profile = own.sum(axis=0).astype(np.float32)
    width = min(cfg.segment_smooth, w)  # np.convolve's "same" output is as long as the longer input
    smooth = np.convolve(profile, np.ones(width, np.float32) / width, mode="same")
    most = max(2, round(w / (cfg.segment_narrowest * scale)))
    even = [round(k * w / n) for n in range(2, most + 1) for k in range(1, n)]
    apart = max(1, cfg.min_cut_distance)  # px: a cut is never kept twice
    cuts: list[int] = []
    minima = 0
    for x in profile_minima(smooth):
        if minima < cfg.segment_minima and end <= x <= w - end and all(abs(x - c) >= apart for c in cuts):
            cuts.append(x)
            minima += 1
    for x in even:
        if len(cuts) < cfg.segment_max_cuts and end <= x <= w - end and all(abs(x - c) >= apart for c in cuts):
            cuts.append(x)
    return [0] + sorted(cuts[: cfg.segment_max_cuts]) + [w]


def piece_score(conf: float, aspect: float, cfg: ClassifyConfig) -> float:
    """How well a piece of a run reads as one digit: the log of its confidence (clipped at
    ``logit_clip``), less ``segment_piece_cost`` (each cut must pay for itself: halves of a digit
    read surely too) and ``segment_width_weight`` per row height it is wider than
    ``segment_wide`` (`aspect`: its width in row heights; wider pieces hold two digits)."""
    return math.log(max(float(conf), cfg.logit_clip)) - cfg.segment_piece_cost \
        - cfg.segment_width_weight * max(0.0, aspect - cfg.segment_wide)


def best_segmentation(cuts: list[int], pieces: dict, conf: np.ndarray, scale: float, min_conf: float,
                      cfg: ClassifyConfig) -> tuple[float, list[tuple[int, int, int]]]:
    """The pieces [(i, j, crop index)] between cuts ``cuts[i]`` and ``cuts[j]`` that part a run from
    end to end with the highest sum of :func:`piece_score`, each read at least `min_conf` surely,
    and that sum; (-inf, []) when no such parting exists. `pieces` maps (i, j) to the crop index of
    the piece between those cuts; `scale` is px per row height."""
    n = len(cuts)
    best, back = [-math.inf] * n, [None] * n
    best[0] = 0.0
    for j in range(1, n):
        for i in range(j):
            k = pieces.get((i, j))
            if k is None or best[i] == -math.inf or conf[k] < min_conf:
                continue
            score = best[i] + piece_score(conf[k], (cuts[j] - cuts[i]) / scale, cfg)
            if score > best[j]:
                best[j], back[j] = score, (i, k)
    if best[-1] == -math.inf:
        return -math.inf, []
    seg, j = [], n - 1
    while j:
        i, k = back[j]
        seg.append((i, j, k))
        j = i
    return best[-1], seg[::-1]


def run_pieces(blob: Blob, cuts: list[int], scale: float, wanted, parts: Parts, upright: Upright, ink: Ink,
               cfg: ClassifyConfig, crops: list, first: int) -> dict[tuple[int, int], int]:
    """Crops of the pieces of a run between its cuts ``cuts[i]`` and ``cuts[j]`` (columns of its
    box; `scale`: px per row height) for the pairs i < j that ``wanted(i, j)`` takes and that are
    ``segment_end`` to ``segment_max_piece`` row heights wide, appended to `crops` (which will sit
    from index `first` in the frame's list): {(i, j): crop index}."""
    pieces = {}
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            if wanted(i, j) and cfg.segment_end * scale <= cuts[j] - cuts[i] <= cfg.segment_max_piece * scale:
                piece = crop(blob, parts, upright, ink, cfg, blob.x + cuts[i], blob.x + cuts[j])
                if piece is not None:
                    pieces[(i, j)] = first + len(crops)
                    crops.append(piece)
    return pieces


def segment_runs(entries: list[dict], parts: Parts, upright: Upright, ink: Ink, classifier, cfg: ClassifyConfig,
                 probs: np.ndarray, is_digit: np.ndarray, halves: list, wholes: int):
    """Runs of touching digits parted by the classifier: every blob at least ``segment_aspect`` row
    heights wide (and at most ``segment_max_aspect``) whose pieces so far (``entry["pieces"]``)
    score low enough that a parting could beat them is cut at its :func:`segment_cuts`, and the
    pieces between two cuts (:func:`run_pieces`) are classified: first those at either end of
    the run, in one batch for the frame, then, in a second batch, the inner ones of the runs whose
    two ends both read surely (most wide blobs that are no run of digits do not, and are
    left after a few crops). The parting of the highest sum of :func:`piece_score`
    (:func:`best_segmentation`, each piece ``recut_min_conf`` sure, or ``segment_lone_min_conf``
    in a group with no other sure digit: junk runs beside a page read as digits when cut) replaces
    the blob's pieces when it beats theirs by ``segment_margin``. One cut, then a cut of its
    pieces (:func:`cut_again`), misses where three or more digits overlap: the weakest column
    leaves a stroke on the wrong piece. The new crops are appended to `halves` (which sit after
    the `wholes` whole crops); returns `probs` and `is_digit` with theirs appended."""
    conf = probs.max(axis=1) * is_digit
    plans, more = [], []
    for entry in entries:
        b, scale = entry["blob"], entry["scale"]
        if not cfg.segment_aspect <= b.w / scale <= cfg.segment_max_aspect:
            continue
        current = sum(piece_score(conf[k], (xb - xa) / scale, cfg) for xa, xb, k, _ in entry["pieces"])
        # Every parting has at least width / segment_max_piece pieces, each paying segment_piece_cost:
        if current + cfg.segment_margin >= -cfg.segment_piece_cost * math.ceil(b.w / (cfg.segment_max_piece * scale)):
            continue  # no parting could win
        if entry.get("own") is None:
            entry["own"] = own_pixels(b, parts)
        cuts = segment_cuts(entry["own"], scale, cfg)
        last = len(cuts) - 1
        pieces = run_pieces(b, cuts, scale, lambda i, j: i == 0 or j == last, parts, upright, ink, cfg, more,
                            wholes + len(halves))  # those at the run's ends, for now
        min_conf = cfg.recut_min_conf if entry["sure_beside"] else cfg.segment_lone_min_conf
        plans.append((entry, cuts, pieces, current, min_conf))
    if not more:
        return probs, is_digit
    probs, is_digit = classify_more(classifier, more, probs, is_digit, halves)
    conf = probs.max(axis=1) * is_digit
    more, sure_ends = [], []
    for entry, cuts, pieces, current, min_conf in plans:
        last = len(cuts) - 1
        if any(conf[k] >= min_conf for (i, _), k in pieces.items() if i == 0) and \
                any(conf[k] >= min_conf for (_, j), k in pieces.items() if j == last):
            pieces.update(run_pieces(entry["blob"], cuts, entry["scale"], lambda i, j: 0 < i and j < last,
                                     parts, upright, ink, cfg, more, wholes + len(halves)))
            sure_ends.append((entry, cuts, pieces, current, min_conf))
    if more:
        probs, is_digit = classify_more(classifier, more, probs, is_digit, halves)
        conf = probs.max(axis=1) * is_digit
    for entry, cuts, pieces, current, min_conf in sure_ends:
        score, seg = best_segmentation(cuts, pieces, conf, entry["scale"], min_conf, cfg)
        if score > current + cfg.segment_margin:
            x = entry["blob"].x
            entry["pieces"] = [(x + cuts[i], x + cuts[j], k, False) for i, j, k in seg]
    return probs, is_digit


def frame_box(x, y, w, h, placement: Placement) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) of the upright working copy as a box in the original frame's pixels."""
    corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    if placement.rotation is not None:  # plain floats: numpy costs ~10 us per box here
        inverse, (cx, cy) = placement.rotation
        (a, b, c), (d, e, f) = inverse.tolist()
        corners = tuple(((px + cx) * a + (py + cy) * b + c, (px + cx) * d + (py + cy) * e + f) for px, py in corners)
    offset, scale, frame_shape = placement.offset, placement.scale, placement.frame_shape
    xs = [(px + offset[0]) / scale for px, _ in corners]
    ys = [(py + offset[1]) / scale for _, py in corners]
    x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    x1, y1 = min(frame_shape[1], math.ceil(max(xs))), min(frame_shape[0], math.ceil(max(ys)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))
