"""Stage 1, the page: find the sheet of paper (the large bright region against a darker desk, else
the large region whose colour differs from the desk's, else the large smooth region amid a
patterned desk, else the bright region in light evened across the frame), so the desk's texture
and the paper's edges are never read as ink; later keep off the paper's edge."""

from __future__ import annotations

import math
from functools import cache
from typing import Callable

import numpy as np

from .arrays import (block_means, histogram_median, histogram_percentile, labelled, nearest_upscale,
                     opencv, uint8_histogram, uint8_medians)
from .config import PageConfig
from .records import DigitSize, Ink, Light, Page, SmallCopies, Working

_SQUARE_2 = np.ones((2, 2), np.uint8)
_CROSS_3 = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)  # 4-neighbours: a pixel per pixel of a tilted edge
_TEXTURE_STEPS = 1000  # roughness is quantized in steps of 1/1000 to find its percentile
_EVEN_STEP = 4  # px of the page finder's copy: the light on the page is fitted to every 4th pixel, plenty for a plane
_EDGE_POINTS = 16  # points along each edge of an outline where its share clear of the frame's border is measured


def find_paper(grey: np.ndarray, cfg: PageConfig, colour: Callable[[], np.ndarray] | None = None) -> Page:
    """The paper's mask and convex hull in the working copy `grey` of a frame: by brightness
    (:func:`find_bright_paper`, which also finds a smooth sheet inside a rough bright region), else, when the frame is in colour, by colour
    (:func:`find_coloured_paper`: a white sheet on a light wooden desk, a sticky note on a white
    table; also when the bright page is rougher than blank paper in ``colour_check_rough`` of its
    area and the page found by colour is a part of it, :func:`is_part_of`: a desk with light
    stripes as bright as the sheet), else by smoothness (:func:`find_smooth_paper`: a sheet on a
    patterned desk as bright as itself; also when the bright region was rough in more than
    ``max_rough`` of its area: a piece of a grained desk, the sheet being darker than its light
    parts), else in evened light (:func:`find_evened_paper`: a sheet lit from one side on a grey
    desk); Page(None, None) when none finds a sheet (it fills the frame). A smooth page found by
    brightness that misses the frame's middle (:func:`covers_middle`) gives way to a larger one
    found by colour beside it (:func:`is_beside`: a coloured note on a table brighter than itself).
    `colour`, for a frame in colour, returns its :func:`small_colour` copy (``Working.colour`` makes
    it once per frame). The finders share one set of small copies (:func:`small_copies`)."""
    copies = small_copies(grey, cfg)
    page = bright = find_bright_paper(grey, cfg, copies)
    if colour is not None and (page.mask is None or page.rough > cfg.colour_check_rough):
        coloured = find_coloured_paper(colour(), grey.shape, cfg)
        if page.mask is None or (coloured.mask is not None and is_part_of(coloured, page, cfg)):
            page = coloured
    if page.mask is None or page.rough > cfg.max_rough:
        smooth = find_smooth_paper(grey, cfg, copies)
        if smooth.mask is not None or page.mask is None:
            page = smooth
    if page.mask is None:
        page = find_evened_paper(grey, cfg, copies)
    if colour is not None and page is bright and page.mask is not None and page.rough <= cfg.colour_check_rough \
            and not covers_middle(page):  # (so the colour finder was not asked above)
        coloured = find_coloured_paper(colour(), grey.shape, cfg)
        if coloured.mask is not None and is_beside(coloured, page, cfg):
            page = coloured
    return page


def other_sheets(small: np.ndarray, paper: np.ndarray, shape: tuple[int, int], cfg: PageConfig,
                 colour: Callable[[], np.ndarray] | None = None) -> list[Page]:
    """The sheets beside the page `paper` (its mask, on a copy of the frame of any size), found in
    the page finder's blurred small copy `small` (:func:`small_blurred`) of a working copy of
    `shape`: two sticky notes on a desk, a note beside a sheet, the part of a sheet beyond a
    shadow's band across it. At most ``max_other_sheets``, largest first, each found by
    :func:`next_sheet` with the page and the sheets before it painted over; the search ends at the
    first region that is no sheet (a sheet covers at least ``other_min_area`` of the frame, less
    than a page must, and ``other_min_share`` of the page's area)."""
    cv2 = opencv()
    taken = page_on(paper, small.shape)
    # A page's mask keeps _margin px off its outline (page_of): grown by that and a pixel, it covers the page.
    apart = np.ones((2 * _margin(small.shape, cfg) + 3,) * 2, np.uint8)
    taken = cv2.dilate((taken > 0).view(np.uint8), apart)
    page_area = np.count_nonzero(taken)
    if page_area == 0:
        return []
    page_level = histogram_median(uint8_histogram(small, taken))
    distance = None if colour is None else cache(lambda: chroma_distance(colour(), shape, cfg))
    sheets = []
    while len(sheets) < cfg.max_other_sheets:
        found = next_sheet(small, taken, page_level, cfg, distance)
        if found is None or np.count_nonzero(found[0] & taken) or \
                np.count_nonzero(found[0]) < cfg.other_min_share * page_area:
            break
        sheets.append(page_of(*found, _small_factor(shape, cfg), shape, cfg))
        taken |= cv2.dilate(found[0], apart)
    return sheets


def next_sheet(small: np.ndarray, taken: np.ndarray, page_level: float, cfg: PageConfig,
               distance: Callable[[], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(filled outline, hull) of the largest sheet-like region of the blurred small copy `small`
    beside `taken` (0/1: the page and the sheets found, painted over with the desk's median level,
    the rest's), or None. On a desk clearly darker than the page (its median at most
    ``desk_max_brightness`` of `page_level`, the page's median): the bright region
    (:func:`_bright_region`, at least ``other_min_area`` of the frame) when its median lies
    ``other_min_contrast`` of the way from the desk's level to the page's (with the page gone, Otsu
    splits a grained desk into a lighter and a darker part), or instead the region found by colour
    when that holds it and is ``other_lit_part`` times larger (:func:`holds`: a note lit only in
    part). When fewer pixels than ``other_min_share`` of `taken`'s area are that bright, the region
    found by colour if at least that many lie ``other_dim_contrast`` of the way up (a dark green or
    blue note, or one in shade all over, beside a bright page), else no search at all (most
    frames). On a desk about as bright as the page or brighter (a white table), and when the pixels
    that bright beside the page hold no such region (a white table just under
    ``desk_max_brightness`` of the page's level, which Otsu splits into its lit and shaded parts; a
    coloured note in shade on a dark desk), the region whose colour differs from the desk's
    (:func:`coloured_region` of `distance()`, :func:`chroma_distance`, painted over in the same
    way). A region found by colour has only the colour finder's own tests; None without `distance`.
    The colour region is made only when asked for."""
    rest = uint8_histogram(small, 1 - taken)
    if not rest.any():
        return None
    desk = histogram_median(rest)
    by_colour = None if distance is None else cache(
        lambda: coloured_region(np.where(taken > 0, np.float32(0), distance()), cfg, cfg.other_min_area))
    if desk <= cfg.desk_max_brightness * page_level:
        bright = desk + cfg.other_min_contrast * (page_level - desk)
        need = cfg.other_min_share * np.count_nonzero(taken)
        if rest[math.ceil(bright):].sum() < need:
            dim = desk + cfg.other_dim_contrast * (page_level - desk)
            return by_colour() if by_colour is not None and rest[math.ceil(dim):].sum() >= need else None
        found = _bright_region(np.where(taken > 0, np.uint8(desk), small), cfg, min_area=cfg.other_min_area)
        if found is not None and histogram_median(uint8_histogram(small, found[0])) >= bright:
            return by_colour() if by_colour is not None and holds(by_colour(), found, cfg) else found
    return None if by_colour is None else by_colour()


def holds(coloured: tuple[np.ndarray, np.ndarray] | None, bright: tuple[np.ndarray, np.ndarray],
          cfg: PageConfig) -> bool:
    """Whether the region found by colour (filled outline, hull; None: none) holds
    ``colour_within`` of the bright region's pixels and has ``other_lit_part`` times as many: the
    bright region is the lit part of a coloured sheet, the colour region all of it."""
    if coloured is None:
        return False
    inside, area = np.count_nonzero(coloured[0] & bright[0]), np.count_nonzero(bright[0])
    return inside >= cfg.colour_within * area and np.count_nonzero(coloured[0]) >= cfg.other_lit_part * area


def page_on(paper: np.ndarray, shape: tuple) -> np.ndarray:
    """The page mask `paper` (0/1 uint8, on a copy of the frame) resized (nearest) to a copy of
    `shape`: the page finder's small copy, where the page in shade and the sheets beside the page
    are found."""
    cv2 = opencv()
    return cv2.resize(paper, shape[::-1], interpolation=cv2.INTER_NEAREST)


def covers_middle(page: Page) -> bool:
    """Whether the page's mask holds the frame's middle pixel (what the camera is pointed at; the
    colour finder's own test, :func:`_reaches_middle`, asks for the middle third)."""
    h, w = page.mask.shape
    return bool(page.mask[h // 2, w // 2])


def is_beside(coloured: Page, bright: Page, cfg: PageConfig) -> bool:
    """Whether the page found by colour is larger than the one found by brightness and shares less
    than ``colour_beside_max_share`` of its outline's area with it: the bright "page" is a piece of
    a table, brighter than the coloured note beside it that the camera is pointed at."""
    area, bright_area, common = _hull_areas(coloured, bright)
    return area > bright_area and 0 <= common < cfg.colour_beside_max_share * area


def scaled_page(page: Page, shape: tuple[int, int]) -> Page:
    """`page`, found on another copy of the frame, on a copy of `shape`: its mask resized (nearest),
    its hull scaled (the page finder works on ~320 px, where every copy shows the same sheet). The
    mask's ``mask_erode`` scales with it: ~3 px on a 640 px copy of a page found on 1000 px. A
    page read without its mask keeps that mask (``Page.region``), resized the same way."""
    cv2 = opencv()
    if page.region is not None:
        page = page._replace(region=cv2.resize(page.region, (shape[1], shape[0]),
                                               interpolation=cv2.INTER_NEAREST_EXACT))
    if page.mask is None:
        return page
    mask = cv2.resize(page.mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
    hull = page.hull * np.float32((shape[1] / page.mask.shape[1], shape[0] / page.mask.shape[0]))
    return page._replace(mask=mask, hull=hull.astype(np.float32))


def is_part_of(coloured: Page, bright: Page, cfg: PageConfig) -> bool:
    """Whether the page found by colour lies within the one found by brightness (``colour_within``
    of its outline's area) and covers less than ``colour_max_share`` of it: the bright region took
    in the light parts of a desk of another colour than the paper (wood, a stained or patterned
    table), and the colour tells them apart."""
    area, bright_area, common = _hull_areas(coloured, bright)  # area > 0: a colour page is sheet-sized
    return common >= cfg.colour_within * area and area < cfg.colour_max_share * bright_area


def _hull_areas(coloured: Page, bright: Page) -> tuple[float, float, float]:
    """The areas of the coloured page's outline, of the bright page's, and of their intersection
    (-1 when OpenCV's convex intersection did not converge: then neither test holds)."""
    cv2 = opencv()
    common, _ = cv2.intersectConvexConvex(coloured.hull, bright.hull)
    return cv2.contourArea(coloured.hull), cv2.contourArea(bright.hull), common


def small_colour(frame: np.ndarray, side: int) -> np.ndarray:
    """A BGR copy of a colour `frame` whose longer side is about `side` pixels (every n-th pixel,
    then INTER_AREA: cheap on a 4000 px photo, and smooth enough for a sheet's colour)."""
    cv2 = opencv()
    step = max(1, max(frame.shape[:2]) // (2 * side))  # sampled to 2-4x the size, then averaged
    if step == 1:
        sampled = np.ascontiguousarray(frame[..., :3])
    else:  # frame[::step, ::step, :3] gathered from whole rows' bytes: 2-3x faster than numpy's strided copy
        rows = frame[::step]
        picked = (np.arange(0, frame.shape[1], step)[:, None] * frame.shape[2] + np.arange(3)).ravel()
        sampled = rows.reshape(rows.shape[0], -1)[:, picked].reshape(rows.shape[0], -1, 3)
    factor = min(1.0, side / max(sampled.shape[:2]))
    size = (max(1, round(sampled.shape[1] * factor)), max(1, round(sampled.shape[0] * factor)))
    return cv2.resize(sampled, size, interpolation=cv2.INTER_AREA)


def _small_factor(shape: tuple[int, int], cfg: PageConfig) -> int:
    """The block size that brings a working copy of `shape` to about ``small_side`` pixels."""
    return max(1, min(int(round(max(shape) / cfg.small_side)), *shape))


def small_copies(grey: np.ndarray, cfg: PageConfig, blurred: np.ndarray | None = None) -> SmallCopies:
    """The page finders' copies of the working copy `grey`: ~``small_side`` px, blurred, and its
    roughness (:func:`texture`) and smooth parts (:func:`smooth_mask`). `blurred`:
    :func:`small_blurred` of `grey`, if made already."""
    factor = _small_factor(grey.shape, cfg)
    plain = block_means(grey, factor)
    roughness = texture(plain, cfg)
    blurred = _blurred(plain, cfg) if blurred is None else blurred
    return SmallCopies(factor, blurred, roughness, smooth_mask(roughness, cfg))


def small_blurred(grey: np.ndarray, cfg: PageConfig) -> np.ndarray:
    """The page finders' blurred small copy of the working copy `grey` alone (``SmallCopies.blurred``,
    without the roughness that costs most of :func:`small_copies`)."""
    return _blurred(block_means(grey, _small_factor(grey.shape, cfg)), cfg)


def _blurred(plain: np.ndarray, cfg: PageConfig) -> np.ndarray:
    return opencv().GaussianBlur(plain, (cfg.blur, cfg.blur), 0)


def find_bright_paper(grey: np.ndarray, cfg: PageConfig, copies: SmallCopies | None = None) -> Page:
    """The paper as the large bright region of `grey` against a darker desk, grown into its
    shadowed parts; Page(None, None) without one (no desk, no step-shaped edge, or a "desk" as
    bright as the paper). When the light falls off across it, the region is looked for again, where
    smooth, in that light evened out (:func:`even_light`), and taken if ``even_min_gain`` times
    larger: a sheet's far side can be darker than the desk's lit side, beyond any growth into
    shadow, and it is the page as found (it was looked for only where smooth). Else, when the
    region is rougher than blank paper in more than ``max_rough`` of its area and the desk has
    light parts (:func:`desk_has_light_parts`), it took in the light parts of a patterned desk: the
    paper is then the bright region that is also smooth (:func:`smooth_mask`), if there is one.
    Then, when the paper is rougher than blank paper in more than ``colour_check_rough`` and holds
    a smooth sheet amid a rough ring (:func:`nested_sheet`: a sheet on a light patterned desk,
    darker surroundings beyond), the paper is that sheet. The page's ``rough`` is the first bright
    region's share (the nested sheet's, for one), so that :func:`find_paper` still tries the other
    finders on a rough one. `copies`: :func:`small_copies` of `grey`, if made already."""
    factor, small, _, smooth = copies or small_copies(grey, cfg)
    found = _bright_region(small, cfg)
    if found is None:
        return Page(None, None)
    evened = even_light(small, found[0] & smooth, cfg)
    again = None if evened is None else _bright_region(evened, cfg, smooth)
    if again is not None and np.count_nonzero(again[0]) >= cfg.even_min_gain * np.count_nonzero(found[0]):
        found = again  # light falling off across the sheet: its shadowed part looked like desk
    rough = rough_share(smooth, found[0], cfg)
    if found is again:  # (not after the evened search: that was only where smooth)
        return page_of(*found, factor, grey.shape, cfg)._replace(rough=rough)
    if rough > cfg.max_rough and desk_has_light_parts(small, found[0], cfg):
        found = _bright_region(small, cfg, smooth) or found
    if rough_share(smooth, found[0], cfg) > cfg.colour_check_rough and \
            (nested := nested_sheet(small, found[0], smooth, cfg)) is not None:
        found, rough = nested
    return page_of(*found, factor, grey.shape, cfg)._replace(rough=rough)


def nested_sheet(small: np.ndarray, filled: np.ndarray, smooth: np.ndarray, cfg: PageConfig):
    """((filled outline, hull), its rough share) of a sheet inside the bright region `filled` of the blurred small copy
    `small`, or None: a white sheet on a light patterned desk (a speckled floor, light wood) in a
    frame whose edges are darker still is found as sheet and desk together, one bright region
    against the dark edges. Within that region, its own bright region (:func:`_bright_region`, the
    rest of the frame taken as desk) is the sheet when it covers at most ``nested_max_share`` of it,
    is smooth (rough in at most ``colour_check_rough`` of its area) and the ring around it is rough
    (in at least ``nested_ring_rough``): a desk's texture, not a shadowed part of the page (smooth),
    which this leaves to the page. The region's outer band (:func:`outer_rough_share`) must be that
    rough before the sheet is looked for: the search costs ~0.9 ms, and most pages' margins are
    smooth."""
    if outer_rough_share(smooth, filled, cfg) < cfg.nested_ring_rough:  # (cheap: most pages stop here)
        return None
    darkest = histogram_percentile(uint8_histogram(small, filled), cfg.nested_fill_percentile)
    inner = _bright_region(np.where(filled > 0, small, np.uint8(darkest)), cfg)
    if inner is None or np.count_nonzero(inner[0]) > cfg.nested_max_share * np.count_nonzero(filled):
        return None
    rough = rough_share(smooth, inner[0], cfg)
    if rough > cfg.colour_check_rough or rough_share(smooth, filled & (1 - inner[0]), cfg) < cfg.nested_ring_rough:
        return None
    return inner, rough


def find_smooth_bright_paper(grey: np.ndarray, cfg: PageConfig, copies: SmallCopies | None = None) -> Page:
    """The paper as the largest bright region of `grey` within its smooth part (:func:`smooth_mask`),
    grown into shadow only where smooth: the page without any rough desk its bright region took in;
    Page(None, None) when that is no sheet. `copies`: as for :func:`find_bright_paper`."""
    factor, small, _, smooth = copies or small_copies(grey, cfg)
    found = _bright_region(small, cfg, smooth)
    return Page(None, None) if found is None else page_of(*found, factor, grey.shape, cfg)


def find_evened_paper(grey: np.ndarray, cfg: PageConfig, copies: SmallCopies | None = None) -> Page:
    """The paper as the bright region of `grey` in its light evened (:func:`even_light`) over the
    smooth part of what Otsu calls bright: a sheet lit from one side on a grey desk whose lit part
    is as bright as the sheet's shadowed part, so that no bright region has a step-shaped edge all
    round; Page(None, None) when none has one in evened light either, or when its outline runs
    along the frame's border in more than 1 - ``evened_min_inner`` of its length
    (:func:`inner_share`: a shadow across a page that fills the frame). `copies`: as for
    :func:`find_bright_paper`."""
    cv2 = opencv()
    factor, small, _, smooth = copies or small_copies(grey, cfg)
    _, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    evened = even_light(small, bright & smooth, cfg)
    # (not grown into shadow: in evened light there is none, and growing would take in a lit desk)
    found = None if evened is None else _bright_region(evened, cfg, smooth, grow=False)
    if found is None or inner_share(found[1], small.shape, cfg) < cfg.evened_min_inner:
        return Page(None, None)
    return page_of(*found, factor, grey.shape, cfg)._replace(rough=rough_share(smooth, found[0], cfg))


def inner_share(hull: np.ndarray, shape: tuple[int, int], cfg: PageConfig) -> float:
    """The share of the convex outline `hull` ((N, 2), pixels of a copy of `shape`) that runs at
    least ``edge_border_px`` from the frame's border, by length."""
    points = hull.reshape(-1, 2).astype(np.float64)
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    along = points[:, None, :] + np.linspace(0, 1, _EDGE_POINTS, endpoint=False)[None, :, None] * edges[:, None, :]
    inner = _clear_of_border(along, along, shape, cfg.edge_border_px)
    return float((inner.mean(axis=1) * lengths).sum() / lengths.sum()) if lengths.sum() > 0 else 0.0


def even_light(small: np.ndarray, paper: np.ndarray, cfg: PageConfig) -> np.ndarray | None:
    """`small` (uint8) divided by the light falling on the page: a plane fitted ``even_rounds`` times
    to the brightness of the pixels of `paper` (0/1 uint8: the smooth part of the page found), each
    fit after the first without those darker than ``even_keep`` of the last (ink, desk), brightening
    at most ``even_max_boost`` times; a sheet lit from one side is then one level from corner to
    corner. None when that light varies over the page by less than ``even_min_falloff``, or the
    pixels fix no plane (too few, or all on one line)."""
    ys, xs = np.nonzero(paper[::_EVEN_STEP, ::_EVEN_STEP])
    terms = np.stack([np.ones(xs.size), _EVEN_STEP * xs.astype(np.float64), _EVEN_STEP * ys.astype(np.float64)])
    values = small[::_EVEN_STEP, ::_EVEN_STEP][ys, xs].astype(np.float64)
    weights = np.ones(values.size)
    for _ in range(cfg.even_rounds):
        weighted = terms * weights
        try:  # the normal equations of a least-squares plane through the pixels kept
            plane = np.linalg.solve(weighted @ terms.T, weighted @ values)
        except np.linalg.LinAlgError:  # too few pixels, or all on one line
            return None
        fitted = plane @ terms
        keep = values >= cfg.even_keep * fitted
        weights = keep.astype(np.float64)
    lit = fitted[keep]
    if lit.size == 0 or lit.min() >= (1 - cfg.even_min_falloff) * lit.max():
        return None
    level = float(np.median(lit))
    h, w = small.shape
    a, b, c = plane.astype(np.float32)
    light = a + b * np.arange(w, dtype=np.float32) + c * np.arange(h, dtype=np.float32)[:, None]
    gain = level / np.maximum(light, np.float32(level / cfg.even_max_boost))
    return opencv().convertScaleAbs(small * gain)  # saturating to 0..255


def desk_has_light_parts(small: np.ndarray, filled: np.ndarray, cfg: PageConfig) -> bool:
    """Whether the desk (all of the small copy `small` outside the filled outline `filled`) has
    light parts: its ``desk_light_percentile`` percentile at least ``desk_light_ratio`` of the
    paper's median (True when there is no desk). Only then can a rough bright region have taken in
    a patterned desk's light parts; beside a dark desk the roughness is the sheet's own (a dim
    sheet's grain, marker strokes, rules), and its smooth part is only a strip between two rules."""
    inside = uint8_histogram(small, filled)
    outside = uint8_histogram(small) - inside
    if not outside.any():
        return True
    light = histogram_percentile(outside, cfg.desk_light_percentile)
    return light >= cfg.desk_light_ratio * histogram_median(inside)


def rough_share(smooth: np.ndarray, filled: np.ndarray, cfg: PageConfig) -> float:
    """The share of the filled outline `filled` that is not `smooth`, leaving out a band of
    ``rough_open`` // 2 px along its edge (the edge itself is a step, so rough)."""
    return _unsmooth_share(smooth, _inside_edge(filled, cfg.rough_open))


def outer_rough_share(smooth: np.ndarray, filled: np.ndarray, cfg: PageConfig) -> float:
    """The share of the band ``nested_band`` px wide inside the filled outline `filled` (beyond the
    ``rough_open`` // 2 px along its edge that :func:`rough_share` leaves out) that is not `smooth`:
    a desk around a sheet is rough there, a page's margin smooth."""
    band = _inside_edge(filled, cfg.rough_open) & (1 - _inside_edge(filled, cfg.rough_open + 2 * cfg.nested_band))
    return _unsmooth_share(smooth, band)


def _inside_edge(filled: np.ndarray, width: int) -> np.ndarray:
    """`filled` (uint8 0/1) without a band of `width` // 2 px along its edge."""
    return opencv().erode(filled, np.ones((width, width), np.uint8))


def _unsmooth_share(smooth: np.ndarray, area: np.ndarray) -> float:
    """The share of `area`'s pixels (uint8 0/1) that are not `smooth`; 0 for an empty area."""
    count = np.count_nonzero(area)
    return 1 - np.count_nonzero(smooth & area) / count if count else 0.0


def _bright_region(small: np.ndarray, cfg: PageConfig, smooth: np.ndarray | None = None, grow: bool = True,
                   min_area: float | None = None):
    """(filled outline, hull) of the paper in the blurred small copy `small` as the largest
    bright region (and within `smooth`, if given), with `grow` grown into shadow; None if it is not
    a sheet: too small or too large (:func:`_sheet_sized` with `min_area`, a fraction of the frame:
    ``min_paper_area`` unless given), on a desk not clearly darker, or without a step-shaped edge."""
    cv2 = opencv()
    level, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if smooth is not None:
        bright &= smooth
    region = _largest_component(bright)
    if region is None:
        return None
    filled, hull = _filled_hull(region)
    histogram = uint8_histogram(small)
    paper_level, desk_level = uint8_medians(small, region, histogram)
    if math.isnan(desk_level):  # the whole copy is one level, so "bright": no desk
        return None
    if grow:
        filled, hull = _grown(small, region, (filled, hull), level, (paper_level, desk_level), smooth, cfg)
    if not _sheet_sized(filled, cfg, min_area):
        return None
    # A desk must be clearly darker than the paper, else the "paper" is just the bright half.
    inside_level, outside_level = uint8_medians(small, filled, histogram)
    if outside_level > cfg.desk_max_brightness * inside_level:
        return None
    if not is_step_edge(small, hull, cfg):  # the bright part of an evenly lit page, not a sheet
        return None
    return filled, hull


def _grown(small: np.ndarray, region: np.ndarray, outline: tuple[np.ndarray, np.ndarray], level: float,
           levels: tuple[float, float], smooth: np.ndarray | None,
           cfg: PageConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (filled outline, hull) of the bright `region` (brighter than Otsu's `level` in `small`)
    grown into its shadowed parts: anything clearly brighter than the desk (``grow_level`` of the
    way from the desk's to the paper's median, `levels`) that touches it; else `outline` as it was."""
    cv2 = opencv()
    filled, hull = outline
    paper_level, desk_level = levels
    grow_level = desk_level + cfg.grow_level * (paper_level - desk_level)
    _, wide = cv2.threshold(small, grow_level, 1, cv2.THRESH_BINARY)
    if smooth is not None:
        wide &= smooth
    if math.floor(grow_level) <= level:
        # 8-bit thresholds compare with floor(level): the bright region lies within `wide`, so
        # (being connected) within exactly one of its 4-connected components: flood it from
        # any pixel of the region.
        y, x = np.unravel_index(int(np.argmax(region)), region.shape)
        flooded = np.zeros((wide.shape[0] + 2, wide.shape[1] + 2), np.uint8)
        cv2.floodFill(wide, flooded, (int(x), int(y)), 1, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
        grown = flooded[1:-1, 1:-1]
    else:
        count, wide_labels = cv2.connectedComponentsWithAlgorithm(wide, 4, cv2.CV_32S, cv2.CCL_SAUF)
        touching = np.bincount(wide_labels[region > 0], minlength=count) > 0
        touching[0] = False
        grown = touching.view(np.uint8)[wide_labels] if touching.any() else None
    if grown is not None:
        grown_filled, grown_hull = _filled_hull(grown)
        # Growing may only recover shadowed paper, not leak into a lighter part of the desk.
        if cv2.countNonZero(grown_filled) <= cfg.grow_max_area * cv2.countNonZero(filled):
            return grown_filled, grown_hull
    return filled, hull


def find_coloured_paper(colour: np.ndarray, shape: tuple[int, int], cfg: PageConfig) -> Page:
    """The paper in a working copy of `shape` as the largest region whose chroma differs from the
    desk's (:func:`coloured_region` of :func:`chroma_distance`): a page as bright as the desk or
    darker can still differ from it in colour. Page(None, None) unless the region reaches into the
    frame's middle third (what the camera is pointed at: not a label in a corner of a white page,
    nor a strip of table beside a note that fills most of the frame). `colour` is a small BGR copy
    of the frame (any size; resized to the page finder's copy)."""
    found = coloured_region(chroma_distance(colour, shape, cfg), cfg)
    if found is None or not _reaches_middle(found[0], cfg):
        return Page(None, None)
    return page_of(*found, _small_factor(shape, cfg), shape, cfg)


def chroma_distance(colour: np.ndarray, shape: tuple[int, int], cfg: PageConfig) -> np.ndarray:
    """The distance (float32) of each pixel's chroma (Lab a, b) in the page finder's copy of a
    working copy of `shape` from the desk's, the median chroma of the frame's outer band
    (``colour_border``). `colour`: as for :func:`find_coloured_paper`."""
    cv2 = opencv()
    factor = _small_factor(shape, cfg)
    h, w = shape[0] // factor, shape[1] // factor
    small = cv2.resize(colour, (w, h), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (cfg.blur, cfg.blur), 0)
    _, a, b = cv2.split(cv2.cvtColor(small, cv2.COLOR_BGR2LAB))
    band = max(1, int(round(cfg.colour_border * max(h, w))))
    ring = np.ones((h, w), np.uint8)
    ring[band:-band, band:-band] = 0
    # The desk's median a and b from 8-bit histograms; a and b less those medians are multiples of
    # 0.5, so the squares sum exactly in float32 and the square root equals np.hypot's, 6x faster.
    a = a.astype(np.float32) - np.float32(histogram_median(uint8_histogram(a, ring)))
    b = b.astype(np.float32) - np.float32(histogram_median(uint8_histogram(b, ring)))
    return np.sqrt(a * a + b * b)


def coloured_region(distance: np.ndarray, cfg: PageConfig,
                    min_area: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(filled outline, hull) of the largest region of `distance` (:func:`chroma_distance`) that
    Otsu calls far from the desk's chroma, when it is sheet-sized (:func:`_sheet_sized` with
    `min_area`, as for :func:`_bright_region`) and its median distance exceeds
    the rest's by ``colour_min_step``; None when not, or when the distance's
    ``colour_top_percentile`` stays under that step (one colour all over, or a grey frame saved
    as colour)."""
    cv2 = opencv()
    top = float(np.percentile(distance, cfg.colour_top_percentile))
    if top < cfg.colour_min_step:
        return None
    scaled = np.clip(distance * (255.0 / top), 0, 255).astype(np.uint8)
    _, region = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    region = _largest_component(region)
    if region is None:
        return None
    filled, hull = _filled_hull(region)
    if not _sheet_sized(filled, cfg, min_area) or \
            np.median(distance[filled > 0]) - np.median(distance[filled == 0]) < cfg.colour_min_step:
        return None
    return filled, hull


def find_smooth_paper(grey: np.ndarray, cfg: PageConfig, copies: SmallCopies | None = None) -> Page:
    """The paper as the largest smooth region of `grey` (:func:`smooth_mask`) amid a rough,
    patterned desk as bright as the page or brighter, less its parts brighter than its paper
    (:func:`without_brighter_desk`): Page(None, None) unless that region reaches
    into the frame's middle third, leaves ``smooth_min_desk`` of the frame to the desk, and the
    desk is rougher than it by ``texture_ratio`` (and than ``texture_min``). `copies`: as for
    :func:`find_bright_paper`."""
    factor, small, roughness, smooth = copies or small_copies(grey, cfg)
    region = _largest_component(smooth)
    if region is None:
        return Page(None, None)
    filled, hull = _filled_hull(region)
    inside = np.count_nonzero(filled)
    if not _sheet_sized(filled, cfg) or not _reaches_middle(filled, cfg) or inside > (1 - cfg.smooth_min_desk) * filled.size:
        return Page(None, None)
    page, desk = np.median(roughness[filled > 0]), np.median(roughness[filled == 0])
    if desk < cfg.texture_min or desk < cfg.texture_ratio * page:
        return Page(None, None)
    filled, hull = without_brighter_desk(small, region, cfg) or (filled, hull)
    return page_of(filled, hull, factor, grey.shape, cfg)


def without_brighter_desk(small: np.ndarray, region: np.ndarray,
                          cfg: PageConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """(filled outline, hull) of the largest 4-connected part of the smooth `region` (0/1 uint8) of
    the blurred small copy `small` left when its parts brighter than the paper (by
    ``smooth_brighter`` of the region's ``smooth_level_percentile`` level) are left out: a light
    desk's smooth bands that joined the sheet across its edge; None when that leaves no sheet
    (:func:`_sheet_sized`, :func:`_reaches_middle`: the region is kept as found)."""
    level = histogram_percentile(uint8_histogram(small, region), cfg.smooth_level_percentile)
    darker = (small <= (1 + cfg.smooth_brighter) * level).view(np.uint8)
    part = _largest_component(region & darker)
    if part is None:
        return None
    filled, hull = _filled_hull(part)
    return (filled, hull) if _sheet_sized(filled, cfg) and _reaches_middle(filled, cfg) else None


def texture(plain: np.ndarray, cfg: PageConfig) -> np.ndarray:
    """The roughness of the unblurred small grey copy `plain` (float32, same shape): the gradient
    magnitude averaged over ``texture_window`` px, as a fraction of the brightness there. Blank
    paper stays near 0.01; ink, rules and a grained or patterned desk are well above."""
    cv2 = opencv()
    values = plain.astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(values, cv2.CV_32F, 1, 0), cv2.Sobel(values, cv2.CV_32F, 0, 1))
    window = (cfg.texture_window, cfg.texture_window)
    brightness = cv2.blur(values, window) + 1
    return cv2.divide(cv2.blur(magnitude, window), brightness, scale=1 / 8)  # (Sobel's weights sum to 8)


def smooth_mask(roughness: np.ndarray, cfg: PageConfig) -> np.ndarray:
    """1 where the `roughness` (:func:`texture`) is that of blank paper, else 0 (uint8): at most
    ``texture_ratio`` times the frame's ``texture_percentile`` (and at least ``texture_min``),
    after rough parts thinner than ``rough_open`` (rules, strokes, shadow edges: the page goes on
    beyond them) and smooth parts thinner than ``smooth_open`` (a light band of the desk's pattern
    touching the page) are opened away."""
    cv2 = opencv()
    quantized = cv2.convertScaleAbs(roughness, alpha=_TEXTURE_STEPS)
    paper = histogram_percentile(uint8_histogram(quantized), cfg.texture_percentile)
    level = max(cfg.texture_min, cfg.texture_ratio * paper / _TEXTURE_STEPS)
    rough = (roughness > level).view(np.uint8)
    rough = cv2.morphologyEx(rough, cv2.MORPH_OPEN, np.ones((cfg.rough_open, cfg.rough_open), np.uint8))
    return cv2.morphologyEx(1 - rough, cv2.MORPH_OPEN, np.ones((cfg.smooth_open, cfg.smooth_open), np.uint8))


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The largest 4-connected component of the 0/1 uint8 `mask` (0/1 uint8), None if it is empty."""
    cv2 = opencv()
    count, labels = cv2.connectedComponentsWithAlgorithm(mask, 4, cv2.CV_32S, cv2.CCL_SAUF)
    if count < 2:
        return None
    # Areas by bincount: OpenCV 5's stats pass costs twice the labelling itself.
    biggest = 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count)[1:]))
    return (labels == biggest).view(np.uint8)


def _filled_hull(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the convex hull of the largest outline in the 0/1 `mask`, filled as 0/1 uint8; the hull)."""
    cv2 = opencv()
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    filled = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(filled, hull, 1)
    return filled, hull


def _sheet_sized(filled: np.ndarray, cfg: PageConfig, min_area: float | None = None) -> bool:
    """Whether the filled outline leaves ``min_desk_area`` of the frame and covers `min_area` of it
    (``min_paper_area`` unless given)."""
    inside = int(np.count_nonzero(filled))
    least = cfg.min_paper_area if min_area is None else min_area
    return filled.size - inside >= max(1, cfg.min_desk_area * filled.size) and inside >= least * filled.size


def _reaches_middle(filled: np.ndarray, cfg: PageConfig) -> bool:
    """Whether the filled outline reaches into the frame's middle, ``middle_divisor`` in from each
    side: what the camera is pointed at (not a label in a corner, nor a strip of table beside a note)."""
    h, w = filled.shape
    dy, dx = h // cfg.middle_divisor, w // cfg.middle_divisor
    return bool(filled[dy: h - dy, dx: w - dx].any())


def page_of(filled: np.ndarray, hull: np.ndarray, factor: int, shape: tuple[int, int], cfg: PageConfig) -> Page:
    """The Page of the filled outline `filled` (0/1 on the small copy, `factor` times smaller than
    a working copy of `shape`) and its `hull` (small copy's pixels)."""
    cv2 = opencv()
    # Stay clear of the paper's edge: blur, JPEG and the coarse mask make it look like ink.
    margin = _margin(filled.shape, cfg)
    filled = cv2.erode(filled, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    mask = nearest_upscale(filled, factor, shape)
    mask = cv2.erode(mask, np.ones((cfg.mask_erode, cfg.mask_erode), np.uint8))
    return Page(mask, (hull.reshape(-1, 2).astype(np.float32) + 0.5) * factor)


def _margin(shape: tuple[int, int], cfg: PageConfig) -> int:
    """How far (px of the small copy of `shape`) a page's mask keeps off its outline."""
    return max(cfg.min_margin, int(round(cfg.margin * max(shape))))


def is_step_edge(small: np.ndarray, hull: np.ndarray, cfg: PageConfig = PageConfig()) -> bool:
    """Whether the outline `hull` ((N, 2) convex polygon, pixels of `small`) of a region in the
    blurred grey `small` is a brightness step (a paper's edge) rather than a ramp (shading): the
    median brightness just inside minus just outside must be at least ``edge_min_jump`` of the
    paper's brightness and ``edge_min_share`` of the difference across a wider band. Brightness is
    sampled across the outline every ``edge_step_px`` along it, away from the frame's border; True
    when nothing is left to sample (the outline runs along the frame's border)."""
    points = hull.reshape(-1, 2).astype(np.float64)
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    real = lengths >= 1
    if not real.any():
        return True
    points, edges, lengths = points[real], edges[real], lengths[real]
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1) / lengths[:, None]
    inwards = np.einsum("ij,ij->i", points.mean(axis=0) - points, normals) >= 0  # a convex outline
    normals[~inwards] *= -1
    counts = np.maximum(1, (lengths // cfg.edge_step_px).astype(np.intp))
    edge = np.repeat(np.arange(len(points)), counts)
    along = (np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / counts[edge]
    samples = points[edge] + along[:, None] * edges[edge]
    normals = normals[edge]
    near = np.arange(1.0, cfg.edge_near_px + 1)
    far = np.linspace(*cfg.edge_far_px, 3)
    reach = cfg.edge_far_px[1]
    keep = _clear_of_border(samples - reach * np.abs(normals), samples + reach * np.abs(normals), small.shape,
                            cfg.edge_border_px)  # both sides on the frame, clear of its border
    if not keep.any():
        return True
    samples, normals = samples[keep], normals[keep]

    def level(offsets: np.ndarray) -> float:
        at = samples[:, None, :] + offsets[None, :, None] * normals[:, None, :]
        return float(np.median(small[np.rint(at[..., 1]).astype(np.intp), np.rint(at[..., 0]).astype(np.intp)]))

    jump = level(near) - level(-near)
    ramp = level(far) - level(-far)
    return jump >= cfg.edge_min_jump * level(far) and jump >= cfg.edge_min_share * ramp


def _clear_of_border(low: np.ndarray, high: np.ndarray, shape: tuple[int, int], border: float) -> np.ndarray:
    """Whether each (x, y) of `low` and of `high` (the low and high ends of what is looked at) lies at
    least `border` px inside a copy of `shape` (bool, the points' shape less the last axis)."""
    return np.all((low >= border) & (high <= [shape[1] - border - 1, shape[0] - border - 1]), axis=-1)


def clear_paper_edge(light: Light, work: Working, size: DigitSize, cfg: PageConfig,
                     ink: Ink | None = None) -> Light:
    """`light` with the darkness zeroed within ``edge_clear`` digit heights of the paper's edge, at
    most ``edge_clear_max`` of the working copy's longer side (in place): corners and edges of the
    paper (shadows, frame-edge cuts) make digit-sized junk, and writing keeps a margin. With `ink`,
    also the darkness of its components that run along that cleared edge (:func:`runs_along_edge`).
    Without a paper, `light` as it is."""
    if light.paper is None:
        return light
    cv2 = opencv()
    frame_shape = work.grey.shape
    width = min(cfg.edge_clear * size.height, cfg.edge_clear_max * max(frame_shape))
    darkness, paper = light.darkness, light.paper
    # A ring of zeros stands for the desk beyond the paper's bounding box, except at the
    # frame's own edges (distanceTransform does not count those as background).
    x0, y0 = light.origin
    top, left = int(y0 > 0), int(x0 > 0)
    bottom = int(y0 + paper.shape[0] < frame_shape[0])
    right = int(x0 + paper.shape[1] < frame_shape[1])
    # At half resolution: a quarter of the work, for a margin that is a heuristic anyway (the
    # result moves by a pixel or so). A 2x2 block counts as paper only if all of it is.
    half = cv2.erode(paper, _SQUARE_2, anchor=(0, 0))[::2, ::2]
    ringed = cv2.copyMakeBorder(half, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(ringed, cv2.DIST_L2, 3)[top: top + half.shape[0], left: left + half.shape[1]]
    keep = (2 * distance - 1 >= width).view(np.uint8)  # a block's pixels lie up to 1 px nearer
    keep = nearest_upscale(keep, 2, (2 * keep.shape[0], 2 * keep.shape[1]))[: paper.shape[0], : paper.shape[1]]
    if ink is not None:
        keep &= ~runs_along_edge(ink.mask, keep, size.height, cfg)
    darkness *= keep
    return light


def runs_along_edge(mask: np.ndarray, inside: np.ndarray, height: float, cfg: PageConfig) -> np.ndarray:
    """Which pixels of `mask` (ink, uint8 0/1) lie in its components within `inside` (the paper
    less its cleared edge, uint8 0/1) that touch the edge of `inside` along ``edge_run_length``
    digit heights or more, and along ``edge_run_share`` of their longer side: a page outline that
    took in glare or a light desk holds pieces of desk that run along its edge. (A 1 written
    along the page's side edge, its whole length touching it, is taken as desk too.)"""
    cv2 = opencv()
    ink = mask & inside
    touching = (cv2.dilate(1 - inside, _CROSS_3) & ink).view(bool)
    if np.count_nonzero(touching) < cfg.edge_run_length * height:  # (no component can run along it)
        return np.zeros(mask.shape, bool)
    count, labels, stats, _ = labelled(ink, 8)
    contact = np.bincount(labels[touching], minlength=count)
    longer = np.maximum(stats[:, 2], stats[:, 3])
    runs = (contact >= cfg.edge_run_length * height) & (contact >= cfg.edge_run_share * longer)
    runs[0] = False  # the background
    return runs[labels]
