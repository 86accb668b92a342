"""Stage 5, deskew: the text direction from the paper's edges (neighbouring digits choose between
the two edge directions; without a paper they give the direction too), and the ink window turned
upright (+-45 degrees), computing only the pixels near ink."""

from __future__ import annotations

import math

import numpy as np

from .arrays import active_tiles, opencv, warp_pixels
from .config import DeskewConfig, ReaderConfig
from .ink import closing_size, containers, window_reach
from .records import DigitSize, Direction, Page, Upright


def text_direction(size: DigitSize, page: Page, config: ReaderConfig) -> Direction:
    """In-plane rotation of the text in degrees, in [-50, 50], whether the neighbouring digits
    clearly told rows from columns, and whether they clearly lie across the near-level angle kept
    (:func:`pick_orientation`). On a paper the text follows one of its edge directions unless the
    neighbours tell one of their own (:func:`written_across`)."""
    cfg = config.deskew
    stats, height, paper_hull = size.stats, size.height, page.hull
    paper_angle = None if paper_hull is None else paper_angle_of(paper_hull)
    w, h = stats[:, 2], stats[:, 3]
    # Solid, digit-sized components only: a box drawn around digits would pair with its contents.
    keep = (h >= cfg.min_height * height) & (h <= cfg.max_height * height) & (w <= cfg.max_width * height) \
        & (stats[:, 4] >= cfg.min_fill * w * h)
    keep &= ~containers(stats, keep, config.ink)
    chosen = np.flatnonzero(keep)
    if chosen.size > cfg.max_points:  # neighbours are found among all pairs: keep the largest
        chosen = chosen[np.argsort(-stats[chosen, 4], kind="stable")[:cfg.max_points]]
    pts = (stats[chosen, :2] + stats[chosen, 2:4] / 2.0).astype(np.float64)
    angle, sure, across = None, len(pts) < cfg.min_digits, False  # too few digits to compare readings
    if len(pts) >= 2:
        d = pts[None, :, :] - pts[:, None, :]  # d[i, j] = pts[j] - pts[i]
        dist = np.hypot(d[..., 0], d[..., 1])
        np.fill_diagonal(dist, np.inf)
        order = np.argsort(dist, axis=1)
        close = dist < cfg.neighbour_reach * height
        pairs = {(min(i, j), max(i, j)) for i in range(len(pts)) for j in order[i, :cfg.neighbours] if close[i, j]}
        nearest = np.array([d[i, order[i, 0]] for i in range(len(pts)) if close[i, order[i, 0]]])
        if pairs and (len(pairs) >= cfg.min_pairs or paper_hull is None):
            vecs = np.array([d[i, j] for i, j in pairs])
            theta = np.arctan2(vecs[:, 1], vecs[:, 0])
            # Directions to neighbours in the same line and in the same column agree modulo 90 degrees.
            sines, cosines = float(np.sin(4 * theta).sum()), float(np.cos(4 * theta).sum())
            angle = math.degrees(math.atan2(sines, cosines) / 4)
            agreement = math.hypot(sines, cosines) / len(theta)
            angle, sure, across = pick_orientation(angle, nearest if len(nearest) else vecs, cfg)
            if paper_angle is not None and written_across(angle, agreement, len(pairs), paper_angle, cfg):
                return Direction(float(angle), sure, across)
    if paper_angle is not None:
        # Text runs along the paper's edges, and the edges (hundreds of pixels long) give the
        # direction more precisely than a few neighbouring digits: keep the neighbours' say
        # only on which of the two edge directions the lines follow.
        if angle is None:
            angle = paper_angle
        else:
            vecs = nearest if len(nearest) else np.array([d[i, j] for i, j in pairs])  # (pairs gave the angle)
            angle, sure, across = pick_orientation(paper_angle, vecs, cfg)
    return Direction(float(angle or 0.0), sure, across)


def paper_angle_of(hull: np.ndarray) -> float:
    """The direction of the paper's edges in degrees, modulo 90, in [-45, 45)."""
    (_, _), (_, _), rect_angle = opencv().minAreaRect(hull)
    return ((rect_angle + 45) % 90) - 45


def written_across(angle: float, agreement: float, pairs: int, paper_angle: float, cfg: DeskewConfig) -> bool:
    """Whether the neighbouring digits tell a direction of their own, not the paper's edges': at
    least ``own_min_pairs`` neighbour pairs, whose directions agree modulo 90 degrees (`agreement`,
    the mean resultant length of their quadrupled angles, 1 when all agree) in at least
    ``own_agreement``, at an `angle` at least ``own_min_turn`` degrees from both of the paper's edge
    directions (`paper_angle`, :func:`paper_angle_of`): a number written diagonally across an
    upright sheet."""
    turn = abs((angle - paper_angle + 45) % 90 - 45)
    return pairs >= cfg.own_min_pairs and agreement >= cfg.own_agreement and turn >= cfg.own_min_turn


def quarter_turn(angle: float) -> float:
    """The other of the two directions an angle known modulo 90 degrees allows."""
    return angle - 90 if angle > 0 else angle + 90


def pick_orientation(angle: float, vecs: np.ndarray, cfg: DeskewConfig = DeskewConfig()) -> Direction:
    """The direction: `angle` is only known modulo 90; a steep one is chosen so that neighbours lie
    mostly side by side, a near-level one kept. Says whether the neighbours clearly told rows from
    columns (scattered digits do not), and whether they clearly lie across a kept angle (a page
    lying sideways, or a column of digits)."""
    scores = []
    for candidate in (angle, quarter_turn(angle)):
        t = math.radians(candidate)
        c, s = math.cos(t), math.sin(t)
        x = vecs[:, 0] * c + vecs[:, 1] * s
        y = -vecs[:, 0] * s + vecs[:, 1] * c
        scores.append(float(np.mean(np.abs(x) > np.abs(y))))
    sure = len(vecs) >= cfg.min_digits and abs(scores[0] - 0.5) >= cfg.sure_side
    if abs(angle) < cfg.choose_above:
        return Direction(angle, sure, across=sure and scores[0] < 0.5)
    best = int(np.argmax(np.array(scores) + [1e-9, 0]))  # a tie keeps the angle
    return Direction((angle, quarter_turn(angle))[best], sure)


def turn_upright(window: np.ndarray, offset: tuple[int, int], angle: float, threshold: float, size: DigitSize,
                 config: ReaderConfig) -> Upright:
    """The ink window `window` (at `offset` in the working copy) turned by `angle` when it is more
    than ``min_angle``; crops later look a little beyond the closed components."""
    close = closing_size(size, config.ink)
    rotation = None
    if abs(angle) > config.deskew.min_angle:
        window, rotation = rotate(window, angle, threshold, reach=close // 2 + config.deskew.crop_reach,
                                  margin=window_reach(size, config.ink), cfg=config.deskew)
    return Upright(window, rotation, offset, close)


def rotate(image: np.ndarray, angle: float, threshold: float, reach: int, margin: int,
           cfg: DeskewConfig = DeskewConfig()):
    """Rotate so text of the given angle becomes horizontal.

    Only the values that later steps look at are computed: ink (above `threshold`) and what
    lies within `reach` px of it (the crops' soft edges); elsewhere the result is 0. Returns the
    rotated image cropped to the ink plus `margin`, and (the inverse map from the uncropped
    rotated canvas, the crop's top-left in it).
    """
    cv2 = opencv()
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    c, s = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(math.ceil(h * s + w * c)), int(math.ceil(h * c + w * s))
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    inverse = cv2.invertAffineTransform(matrix)
    # (A bilinear value exceeds the threshold only if a neighbour does; the slack is for rounding.)
    tile = cfg.tile
    tile_y, tile_x = active_tiles(image > cfg.threshold_slack * threshold, inverse, (0, 0, new_w, new_h), reach, tile)
    if tile_y.size == 0:
        return np.zeros((1, 1), np.float32), (inverse, (0, 0))
    x0, y0 = max(0, int(tile_x.min()) - margin), max(0, int(tile_y.min()) - margin)
    x1 = min(new_w, min(new_w - 1, int(tile_x.max()) + tile - 1) + 1 + margin)
    y1 = min(new_h, min(new_h - 1, int(tile_y.max()) + tile - 1) + 1 + margin)
    # Whole tiles are computed into a tile-aligned canvas (as (tile, tile) blocks: no per-pixel
    # indices), then the canvas is cropped; pixels beyond the rotated frame are cut off there.
    top, left = y0 // tile * tile, x0 // tile * tile
    rows, cols = -(-(y1 - top) // tile), -(-(x1 - left) // tile)
    canvas = np.zeros((rows, tile, cols, tile), np.float32)
    offsets = np.arange(tile, dtype=np.int32)
    values = warp_pixels(image, inverse, tile_y[:, None, None] + offsets[None, :, None],
                         tile_x[:, None, None] + offsets[None, None, :])
    canvas[(tile_y - top) // tile, :, (tile_x - left) // tile, :] = values
    canvas = canvas.reshape(rows * tile, cols * tile)
    rotated = canvas[y0 - top: y1 - top, x0 - left: x1 - left]
    return rotated, (inverse, (x0, y0))
