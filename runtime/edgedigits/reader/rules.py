"""Stage 6, rules: take boxes drawn around digits, ruled lines and other long straight strokes out of
the upright ink (they are bigger than any digit, and touch digits written across them)."""

from __future__ import annotations

import math

import numpy as np

from .arrays import close_by_line, labelled, open_by_line, opencv
from .config import InkConfig, RulesConfig
from .ink import components, joined_ink
from .records import DigitSize, Ruled, Upright


def remove_rules(upright: Upright, threshold: float, size: DigitSize, cfg: RulesConfig, join: float | None = None,
                 join_cfg: InkConfig = InkConfig()) -> Ruled:
    """The ink of `upright` (darkness above `threshold`, with the fainter ink above `join` that
    joins its pieces, within `join_cfg`'s bounds: :func:`.ink.joined_ink`) without boxes around
    digits and without long horizontal, vertical and (when some component is long enough to hold
    one) tilted rules."""
    height = size.height
    mask = joined_ink(upright.darkness, (upright.darkness > threshold).view(np.uint8), join,
                      join_cfg.join_max_size * height, join_cfg.join_growth)
    # Boxes around digits and long rules are bigger than any digit: without such a component in
    # the first pass there is nothing to erase (a 1.2 h component rotated is at most 1.7 h long).
    if (size.stats[:, 2:4].max(axis=1) > cfg.border_trigger * height).any():
        mask, longest = erase_frame_borders(mask, cfg)
    else:
        longest = 0
    inked = opencv().countNonZero(mask)
    mask, rules = remove_long_lines(mask, height, cfg, hough=longest >= cfg.hough_trigger * height)
    if opencv().countNonZero(mask) < inked:  # a ruled page: its fainter lines may have thresholded into dashes
        mask, faint = remove_faint_lines(mask, upright.darkness, threshold, height, cfg)
        if faint.any():
            rules = faint if rules is None else rules | faint
    return Ruled(mask, rules)


def line_slack(height: float, cfg: RulesConfig) -> int:
    """px (odd) across a line that a tilted or ragged rule may wander over while still counted as one."""
    return int(min(cfg.slack_range[1], max(cfg.slack_range[0], height // cfg.slack_per_height))) | 1


def rule_thickness(height: float, cfg: RulesConfig) -> float:
    """px: the thickest a rule is in most of its columns (``thin_max`` digit heights, at least
    ``thin_min_px``)."""
    return max(cfg.thin_min_px, cfg.thin_max * height)


def remove_faint_lines(mask: np.ndarray, darkness: np.ndarray, threshold: float, height: float,
                       cfg: RulesConfig) -> tuple[np.ndarray, np.ndarray]:
    """(`mask` without the dashes of horizontal and vertical rules too faint to be whole in it,
    the horizontal dashes taken out).

    A faint rule (squared or lined paper, a light print) has a darkness just about the ink
    threshold: it thresholds into dashes too short to be rules, read as 1s. The darkness a line
    sustains along ``faint_length`` digit heights (:func:`line_darkness`) stays through its
    dashes and gaps, while digits have gaps that short. Ink not much darker (``faint_ratio``) than
    the part of it above the line's surroundings is the rule's, when the sustained darkness is below
    the threshold (darker rules are whole in the mask and taken out before), and its pieces are
    thin and straight. A pen crossing the rule is either darker still, or given back where its
    stroke goes on both sides (:func:`crossing_strokes_back`). Only on a page where the line pass
    took a rule out: elsewhere it would cost time and find none. Columns that lean (perspective)
    are sheared upright first (:func:`leaning_dashes`); where a faint grid's lines cross, their
    darkness adds up (:func:`faint_crossings`: taken out, but not rules that a box's side ends at,
    so a 1 written up to a grid's line stays a digit)."""
    rows, columns = (faint_line_darkness(darkness, height, cfg, axis) for axis in (1, 0))
    on_h = faint_dashes(mask, darkness, threshold, rows, height, cfg, axis=1)
    on_v = faint_dashes(mask, darkness, threshold, columns, height, cfg, axis=0)
    on_v |= leaning_dashes(mask, darkness, on_h | on_v, height, cfg)
    dots = faint_crossings(mask, darkness, threshold, rows, columns, height, cfg)
    if not (on_h.any() or on_v.any()):
        return mask & (1 - dots), on_h
    kept = mask & (1 - (on_h | on_v | dots))
    return crossing_strokes_back(mask, kept, on_h, on_v, height, line_slack(height, cfg), cfg), on_h


def faint_line_darkness(darkness: np.ndarray, height: float, cfg: RulesConfig, axis: int):
    """:func:`line_darkness` along `axis` (1: rows, 0: columns) over ``faint_length`` digit
    heights, or None when `darkness` is too short that way to hold a rule that long."""
    length = int(max(cfg.min_length, cfg.faint_length * height))
    if darkness.shape[axis] <= length:
        return None
    slack = line_slack(height, cfg)
    return line_darkness(darkness, length, slack, int(math.ceil(rule_thickness(height, cfg))) + slack, axis)


def faint_dashes(mask: np.ndarray, darkness: np.ndarray, below: float, line, height: float, cfg: RulesConfig,
                 axis: int) -> np.ndarray:
    """The ink of `mask` that is a faint rule's along `axis` (1: rows, 0: columns): at most
    ``faint_ratio`` times as dark as the part of the darkness the line sustains above its
    surroundings (`line`: :func:`faint_line_darkness`, None for none), where that sustained
    darkness is below `below`, in thin, straight pieces."""
    if line is None:
        return np.zeros_like(mask)
    sustained, above = line
    found = ((mask > 0) & (darkness <= cfg.faint_ratio * above) & (sustained < below)).view(np.uint8)
    return thin_lines_only(found, mask, height, cfg) if axis == 1 else thin_columns_only(found, mask, height, cfg)


def faint_crossings(mask: np.ndarray, darkness: np.ndarray, threshold: float, rows, columns, height: float,
                    cfg: RulesConfig) -> np.ndarray:
    """The ink of `mask` where a faint horizontal rule crosses a faint vertical one (squared
    paper): there the two lines' darkness adds up, so a grid whose lines are each about or below
    the ink threshold leaves a lattice of dots at its crossings, too dark for either line's
    dashes and read as digits where few are written. Ink at most ``faint_ratio`` times as dark as
    both lines' darkness above their surroundings together, where both sustain less than
    `threshold`, in pieces at most ``crossing_size`` rule thicknesses wide and tall. `rows`,
    `columns`: :func:`faint_line_darkness` along each (None: no crossing)."""
    if rows is None or columns is None:
        return np.zeros_like(mask)
    (sustained_h, above_h), (sustained_v, above_v) = rows, columns
    both = (above_h > 0) & (above_v > 0) & (sustained_h < threshold) & (sustained_v < threshold)
    dots = ((mask > 0) & both & (darkness <= cfg.faint_ratio * (above_h + above_v))).view(np.uint8)
    if not dots.any():
        return dots
    count, labels, stats, _ = labelled(dots, 8)
    small = np.zeros(count, bool)
    small[1:] = stats[1:, 2:4].max(axis=1) <= cfg.crossing_size * rule_thickness(height, cfg)
    return (small[labels] & (dots > 0)).view(np.uint8)


def leaning_dashes(mask: np.ndarray, darkness: np.ndarray, found: np.ndarray, height: float,
                   cfg: RulesConfig) -> np.ndarray:
    """The dashes of `mask` on faint columns that lean (:func:`column_tilt` of the ink not `found`
    yet): perspective leaves a grid's columns leaning once its rows are levelled, each by its
    own amount, so that the upright pass finds few of their dashes (read as rows of 1s). Sheared
    upright, up to ``tilt_passes`` leans in turn, their dashes are found as the upright ones are,
    but however dark the column sustains (the Hough pass, the only one before that takes out
    leaning rules, misses those that threshold into dashes even at the ink's level)."""
    out = np.zeros_like(mask)
    for _ in range(cfg.tilt_passes):
        lean = column_tilt(mask & (1 - (found | out)), height, cfg)
        if not lean:
            break
        upright, dark = sheared(mask, lean), sheared(darkness, lean)
        dashes = faint_dashes(upright, dark, np.inf, faint_line_darkness(dark, height, cfg, 0), height, cfg, axis=0)
        if not dashes.any():  # (the same ink would show the same lean again)
            break
        out |= unsheared(dashes, lean, mask.shape) & mask
    return out


def column_tilt(mask: np.ndarray, height: float, cfg: RulesConfig) -> float:
    """The lean (dx/dy) of the columns that the thin upright parts of the ink of `mask` line up in
    (its horizontal runs no wider than a rule leaning ``tilt_max`` is thick: a grid's dashes, not
    a marker's broad stroke), when at least ``tilt_min`` degrees (else 0, as with under ``tilt_min_pixels`` of
    them): the shear, in ``tilt_step`` steps up to ``tilt_max``, whose column profile is the most
    peaked (sum of squared counts in bins a rule thick, of every n-th pixel, about
    ``tilt_sample_pixels``), if ``tilt_gain`` times as peaked as upright."""
    cv2 = opencv()
    width = rule_thickness(height, cfg)
    # (a rule's run across a row is its thickness over the cosine of its lean)
    thickest = int(width / math.cos(math.radians(cfg.tilt_max)))
    wide = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, thickest + 1), np.uint8))
    points = cv2.findNonZero(mask & (1 - wide))
    if points is None or len(points) < cfg.tilt_min_pixels:
        return 0.0
    step = -(-len(points) // cfg.tilt_sample_pixels)  # ceil: at most tilt_sample_pixels
    points = points.reshape(-1, 2)[::step].astype(np.float32)
    xs, ys = points[:, 0], points[:, 1]

    def peakedness(lean: float) -> float:
        columns = np.floor((xs - lean * ys) / width).astype(np.int64)
        counts = np.bincount(columns - columns.min()).astype(np.float64)
        return float(counts @ counts)

    leans = np.tan(np.radians(np.arange(-cfg.tilt_max, cfg.tilt_max + cfg.tilt_step / 2, cfg.tilt_step)))
    scores = [peakedness(float(lean)) for lean in leans]
    best = int(np.argmax(scores))
    lean = float(leans[best])
    if abs(lean) < math.tan(math.radians(cfg.tilt_min)) or scores[best] < cfg.tilt_gain * peakedness(0.0):
        return 0.0
    return lean


def sheared(image: np.ndarray, lean: float) -> np.ndarray:
    """`image` sheared so that columns leaning `lean` (dx/dy) stand upright: x - lean * y, shifted
    to start at 0 and widened to hold it all (nearest pixel: a mask stays 0/1)."""
    h, w = image.shape
    matrix = np.float32([[1, -lean, max(0.0, lean * (h - 1))], [0, 1, 0]])
    return _warped(image, matrix, (w + int(math.ceil(abs(lean) * (h - 1))), h))


def unsheared(image: np.ndarray, lean: float, shape: tuple[int, int]) -> np.ndarray:
    """A :func:`sheared` image of an image of `shape` turned back to it."""
    matrix = np.float32([[1, lean, -max(0.0, lean * (shape[0] - 1))], [0, 1, 0]])
    return _warped(image, matrix, (shape[1], shape[0]))


def _warped(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """cv2.warpAffine to `size` (w, h), nearest pixel, 0 beyond the image."""
    cv2 = opencv()
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def line_darkness(darkness: np.ndarray, length: int, slack: int, reach: int, axis: int):
    """(the darkness that a line along `axis` (1: rows, 0: columns) sustains through each pixel, the
    part of it above its surroundings): the grey opening by a `length` px line of the darkness maxed
    over `slack` px across (the wander of a tilted rule), and that less its least value within
    `reach` px across (an even grey area sustains its level everywhere, a line only on itself)."""
    cv2 = opencv()

    def line(n: int) -> np.ndarray:  # a kernel n px long across the line
        return np.ones((n, 1) if axis == 1 else (1, n), np.uint8)

    along = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    levels = cv2.convertScaleAbs(darkness, alpha=255)  # (in 1/255 steps: 8-bit morphology is 4x faster)
    sustained = cv2.morphologyEx(cv2.dilate(levels, line(slack)), cv2.MORPH_OPEN, along)
    above = cv2.subtract(sustained, cv2.erode(sustained, line(2 * reach + 1)))
    return sustained.astype(np.float32) / 255, above.astype(np.float32) / 255


def box_shaped(w, h, area, cfg: RulesConfig) -> np.ndarray:
    """Which components (arrays of sizes) could be a box drawn around digits: bigger than a
    digit, not too elongated, and mostly empty inside their bounding box."""
    short, long = np.minimum(w, h), np.maximum(w, h)
    return (short >= cfg.box_min_side) & (short >= cfg.box_min_aspect * long) & (area <= cfg.box_max_fill * w * h)


def hugs_its_box(labels, index, x, y, w, h, area, cfg: RulesConfig) -> bool:
    """A box-shaped component whose ink hugs its own bounding box (a frame, not a digit)."""
    m = max(cfg.hug_min_margin, int(cfg.hug_margin * min(w, h)) + 1)
    own = labels[y: y + h, x: x + w] == index
    interior = own[m: h - m, m: w - m].sum()
    return interior < cfg.hug_max_interior * area


def erase_frame_borders(mask: np.ndarray, cfg: RulesConfig) -> tuple[np.ndarray, int]:
    """(mask without boxes drawn around digits, longest side of any component's bounding box)."""
    # Labels from the start: nearly every frame that gets here has a box-shaped candidate.
    labels, stats = components(mask)
    longest = int(stats[:, 2:4].max()) if len(stats) else 0
    candidates = np.flatnonzero(box_shaped(stats[:, 2], stats[:, 3], stats[:, 4], cfg))
    for i in candidates:
        x, y, w, h, area = stats[i]
        if hugs_its_box(labels, i + 1, x, y, w, h, area, cfg):
            window = mask[y: y + h, x: x + w]
            window[labels[y: y + h, x: x + w] == i + 1] = 0
    return mask, longest


def remove_long_lines(mask: np.ndarray, height: float, cfg: RulesConfig, hough: bool = True):
    """(mask without horizontal and vertical straight strokes much longer than a digit (rules,
    borders), nor with `hough` tilted ones; what was removed or None). Strokes crossing a
    horizontal or vertical rule get its band back (:func:`crossing_strokes_back`); strokes
    crossing a tilted one stay cut (giving them back there read the light desk worse)."""
    cv2 = opencv()
    length = int(max(cfg.min_length, cfg.length * height))
    # A little slack across the line, so slightly tilted or ragged rules still form long runs.
    slack = line_slack(height, cfg)
    horizontal = None
    inked = mask
    if mask.shape[1] > length:
        # Also bridge small breaks along the line: faint rules threshold into dashes.
        band = cv2.dilate(mask, np.ones((slack, cfg.bridge), np.uint8))
        horizontal = open_by_line(band, length, axis=1)
        horizontal = thin_lines_only(horizontal, mask, height, cfg)
        if horizontal.any():
            horizontal |= rule_remnants(horizontal, mask, slack, height, cfg)
            mask = mask & (1 - horizontal)
        else:
            horizontal = None
    vertical = None
    if mask.shape[0] > length:
        band = cv2.dilate(mask, np.ones((cfg.bridge, slack), np.uint8))
        vertical = open_by_line(band, length, axis=0)
        vertical = thin_columns_only(vertical, mask, height, cfg)
        if vertical.any():
            mask = mask & (1 - vertical)
        else:
            vertical = None
    if horizontal is not None or vertical is not None:
        mask = crossing_strokes_back(inked, mask, horizontal, vertical, height, slack, cfg)
    # Rules that are not quite level after deskewing (perspective): straight segments at any
    # angle, much longer than a digit is tall.
    min_length = int(max(cfg.hough_min_length, cfg.hough_length * height))
    segments = None
    # Only when some component is long enough to hold such a segment, and not in texture: the
    # Hough transform's cost grows with the ink, and a window this inked holds no ruled page.
    if hough and cv2.countNonZero(mask) <= cfg.hough_max_ink * mask.size:
        segments = cv2.HoughLinesP(mask, 1, np.pi / cfg.hough_resolution,
                                   threshold=int(max(cfg.hough_min_votes, cfg.hough_votes * height)),
                                   minLineLength=min_length,
                                   maxLineGap=max(cfg.hough_min_gap, int(cfg.hough_gap * height)))
    if segments is not None:
        flat, upright = np.zeros_like(mask), np.zeros_like(mask)
        for x1, y1, x2, y2 in segments.reshape(-1, 4):
            target = flat if abs(x2 - x1) >= abs(y2 - y1) else upright
            cv2.line(target, (int(x1), int(y1)), (int(x2), int(y2)), 1, slack)
        erase = thin_lines_only(flat, mask, height, cfg) | thin_columns_only(upright, mask, height, cfg)
        if erase.any():
            mask = mask & (1 - erase)
            horizontal = erase if horizontal is None else (horizontal | erase)
    return mask, horizontal


def rule_remnants(found: np.ndarray, mask: np.ndarray, slack: int, height: float, cfg: RulesConfig) -> np.ndarray:
    """The pieces of `mask` in line with the horizontal rules `found` past the ends of their
    stretches: a rule broken by a gap wider than the bridge, or fading near its end, is found only
    in its long stretches, and its short pieces beyond were left as dashes read as 1s. A piece goes
    whole when some of it lies within ``remnant_reach`` digit heights along the rows from a
    stretch, none of that beside one (within `slack` px above or below the found band: a stroke
    along a rule, or beside a slightly tilted rule's staircase of stretches), and its whole stroke,
    as it was before the line pass cut it, is no taller than a rule is thick (a 1 crossing the
    piece, or a digit whose top arc the pass's band cut off, make it taller). Not for vertical
    rules: a 1 below a vertical rule's end is such a piece."""
    cv2 = opencv()
    reach = int(cfg.remnant_reach * height)
    rest = mask & (1 - found)
    beside = cv2.dilate(found, np.ones((2 * slack + 1, 1), np.uint8))
    near = rest & cv2.dilate(found, np.ones((1, 2 * reach + 1), np.uint8)) & (1 - beside)
    if not near.any():
        return near
    # Pieces are taken by the whole stroke they belong to before the line pass cut it, and only
    # when that stroke is no taller than a rule: a digit's arc level with a rule's end, cut off by
    # the pass's band, is part of a taller stroke. (Labelled without statistics: ~9x faster.)
    count, whole = cv2.connectedComponents(mask, connectivity=8)
    seeds = cv2.findNonZero(near).reshape(-1, 2)
    strokes = np.unique(whole[seeds[:, 1], seeds[:, 0]])
    index_of = np.full(count, -1)  # label -> index in strokes, -1 for the other strokes
    index_of[strokes] = np.arange(strokes.size)
    ink = cv2.findNonZero(mask).reshape(-1, 2)  # (x, y)
    index = index_of[whole[ink[:, 1], ink[:, 0]]]
    ink, index = ink[index >= 0], index[index >= 0]
    top, bottom = np.full(strokes.size, np.iinfo(np.int32).max), np.full(strokes.size, -1)
    np.minimum.at(top, index, ink[:, 1])
    np.maximum.at(bottom, index, ink[:, 1])
    thin = bottom - top + 1 <= rule_thickness(height, cfg)
    taken = ink[thin[index] & (rest[ink[:, 1], ink[:, 0]] > 0)]
    out = np.zeros_like(rest)
    out[taken[:, 1], taken[:, 0]] = 1
    return out


def crossing_strokes_back(inked: np.ndarray, mask: np.ndarray, horizontal, vertical, height: float, slack: int,
                          cfg: RulesConfig) -> np.ndarray:
    """`mask` (`inked` without the `horizontal` and `vertical` rules' bands, either may be None) with
    the ink given back where a stroke crosses a rule: in a horizontal band where ink goes on both
    above and below it (a 4's stem, a 9's tail through the line), in a vertical one where it goes on
    left and right. A stroke that runs along a rule stays cut."""
    # The widest band erased across a rule: the thickest rule kept plus the slack around it.
    reach = int(rule_thickness(height, cfg)) + slack + 1
    out = mask
    if horizontal is not None:
        out = out | (horizontal & inked & close_by_line(mask, reach, axis=0))
    if vertical is not None:
        out = out | (vertical & inked & close_by_line(out, reach, axis=1))
    return out


def thin_lines_only(found: np.ndarray, mask: np.ndarray, height: float, cfg: RulesConfig) -> np.ndarray:
    """Keep the horizontal runs of `found` that are a thin line in `mask` along most of their length.

    The slack that lets tilted rules form long runs also joins a row of small, closely spaced
    digits into one; but across a rule nearly every column holds a few ink pixels, while across
    digits many columns hold none (gaps, the insides of loops) or many (upright strokes).
    """
    cv2 = opencv()
    x0, y0, w0, h0 = cv2.boundingRect(np.ascontiguousarray(found))
    if w0 == 0:
        return found
    if w0 * h0 < found.size:  # work on the found strokes' bounding box only
        kept = thin_lines_only(found[y0: y0 + h0, x0: x0 + w0], mask[y0: y0 + h0, x0: x0 + w0], height, cfg)
        out = np.zeros_like(found)
        out[y0: y0 + h0, x0: x0 + w0] = kept
        return out
    count, labels, stats, _ = labelled(np.ascontiguousarray(found), 8)
    thick = rule_thickness(height, cfg)
    wander = max(cfg.straightness_min_px, cfg.straightness * height)
    keep = np.zeros(count, bool)
    if not ((found > 0) & (mask == 0)).any():
        # Found within the ink (a faint rule's dashes: thousands of them on squared paper): each
        # column of a component holds some of it, so one no taller than a rule's thickness is thin
        # all along, and its centre cannot wander by more than half its height.
        keep[1:] = (stats[1:, 3] <= thick) & (stats[1:, 3] - 1 <= 2 * wander)
    for i in np.flatnonzero(~keep[1:]) + 1:
        x, y, w, h = stats[i, :4]
        own = labels[y: y + h, x: x + w] == i
        ink = own & (mask[y: y + h, x: x + w] > 0)
        per_column = ink.sum(axis=0)
        thin = (per_column >= 1) & (per_column <= thick)
        if np.mean(thin) < cfg.thin_share:
            continue
        # And straight: the ink's centre row drifts steadily along a rule (tilt), not up and down.
        columns = np.flatnonzero(thin)
        if len(columns) < 3:  # a faint rule's dash (remove_faint_lines): too short to wander
            keep[i] = True
            continue
        centres = (ink[:, columns] * np.arange(h)[:, None]).sum(axis=0) / per_column[columns]
        slope, offset = np.polyfit(columns, centres, 1)
        residual = centres - (slope * columns + offset)
        keep[i] = float(np.sqrt(np.mean(residual ** 2))) <= wander
    if keep[1:].all():
        return found
    return keep[labels].astype(np.uint8)


def thin_columns_only(found: np.ndarray, mask: np.ndarray, height: float, cfg: RulesConfig) -> np.ndarray:
    """:func:`thin_lines_only` for vertical runs."""
    return np.ascontiguousarray(thin_lines_only(found.T, mask.T, height, cfg).T)


def is_box_side(rules, x, y, w, h, height, cfg: RulesConfig = RulesConfig()) -> bool:
    """An upright stroke that a removed horizontal rule ends: a box's side. A thin one running
    from rule to rule, or one taller than a digit from a rule (a box's other border may be too
    faint or short to be removed), then also with the stubs of the box's corners."""
    if rules is None or (w > cfg.side_max_width * h and h < cfg.side_min_height * height):
        return False
    x0, x1 = max(0, x - cfg.side_reach), min(rules.shape[1], x + w + cfg.side_reach)
    above = rules[max(0, y - cfg.side_out): y + cfg.side_in, x0:x1].any()
    below = rules[max(0, y + h - cfg.side_in): y + h + cfg.side_out, x0:x1].any()
    return bool(above and below) or (h >= cfg.side_tall * height and bool(above or below))
