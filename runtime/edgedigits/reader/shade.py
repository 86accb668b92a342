"""Stage 12, a page cut by shade: a hard shadow across a sheet (a hand, a phone, a window's frame),
or light falling off towards its corners, can leave part of it as dark as a desk, and the page
finder then takes the lit part alone for the page, cutting the rows written across the shadow's
edge. When digits read sit at the page's edge inside the frame (:func:`digits_at_edge`: writing
keeps a margin from a sheet's real edge), or a row runs into it (:func:`rows_into_edge`: the
shadow's edge in the gap after its last lit digit), and the band beyond that edge looks like the
page in shade (:func:`edge_bands`, :func:`brightness_ratio`, :func:`looks_shaded`: the paper's
colour at a shadow's share of its brightness, or dimmed by less in its very colour, or smooth),
the frame is read again without the page; of that reading, the rows that reach onto the page or
lie on its part in shade (:func:`paper_in_shade`) are kept, or all of them when several run
across its edge (:func:`rows_on_page`), and it is reported if it reads more sure digits
(:func:`sure_digits`), or as many (at least one) with the first reading's digits seen whole
(:func:`saw_whole`), and reads again at least ``seen_again`` of the page's own digits away from
its edge (:func:`seen_again`), and, asked for by a row running into the edge alone, reads no first
row in two (:func:`rows_parted`). When the page read nothing at all (and the frame was not too
textured to read), and ``min_shade_share`` of the frame off the page is paper in shade
(:func:`off_page_share`), the rows of the reading without the page on that paper are reported if
one has a sure digit (:func:`rows_in_shade`: a lone digit wholly in a shadow, or across its edge:
:func:`straddles`). When no digit asks for a look past the page but the band beyond looks like the
page in shade, and that paper lies along only part of the page's edge (:func:`along_share`: a
shadow's edge across the sheet; a grey desk passing for paper in shade lies all around the page)
and is large, it is read as a page of its own (:func:`shaded_page`) and its rows with a sure digit
are added to the first reading's (:func:`sure_rows`, :func:`with_rows`): rows written wholly in
the shade."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from .arrays import median, opencv
from .config import PageConfig, ShadeConfig
from .page import page_of, page_on
from .records import Digit, Line, Page, ReadResult, SmallCopies, Working


def _centres(result: ReadResult, mask: np.ndarray, frame_shape: tuple) -> list[list[tuple[Digit, int, int, float]]]:
    """Per line, each reported digit (not a '?') with its box centre (clipped to the mask) and the
    line's median digit height, in the pixels of `mask` (a page mask of a copy of the frame)."""
    h, w = mask.shape
    sy, sx = h / frame_shape[0], w / frame_shape[1]
    out = []
    for line in result.lines:
        digits = [d for d in line.digits if d.digit is not None]
        height = float(np.median([d.box[3] for d in digits])) * sy if digits else 0.0
        out.append([(d, min(h - 1, max(0, int((d.box[1] + d.box[3] / 2) * sy))),
                     min(w - 1, max(0, int((d.box[0] + d.box[2] / 2) * sx))), height) for d in digits])
    return out


def digits_at_edge(result: ReadResult, paper: np.ndarray, frame_shape: tuple, cfg: ShadeConfig) -> int:
    """How many digits of `result` have the edge of the page mask `paper` (0/1 uint8, a copy of a
    frame of `frame_shape`) in the square around their box's centre reaching ``edge_heights``
    digit heights each way (the frame's border, which cuts the square, is no edge of the page)."""
    return sum(_at_edge(paper, y, x, height, cfg) for line in _centres(result, paper, frame_shape)
               for _, y, x, height in line)


def rows_into_edge(result: ReadResult, paper: np.ndarray, frame_shape: tuple, cfg: ShadeConfig) -> int:
    """How many ends of `result`'s rows of two reported digits or more run into the edge of the
    page mask `paper` (0/1 uint8, a copy of a frame of `frame_shape`): their line, drawn on from
    the end digit's centre for ``row_run_on`` times the row's median distance between centres,
    leaves the page before it leaves the frame."""
    h, w = paper.shape
    ends = 0
    for line in _centres(result, paper, frame_shape):
        if len(line) < 2:
            continue
        centres = np.array([(x, y) for _, y, x, _ in line], np.float64)
        # (no line inside the frame is longer than its two sides together)
        reach = min(cfg.row_run_on * float(np.median(np.hypot(*np.diff(centres, axis=0).T))), h + w)
        direction = centres[-1] - centres[0]
        direction /= max(float(np.hypot(*direction)), 1e-9)
        for end, sign in ((centres[-1], 1.0), (centres[0], -1.0)):
            steps = np.arange(1, int(reach) + 1)[:, None]  # one point per px along the line
            xs, ys = np.round(end + sign * steps * direction).astype(np.int64).T
            inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
            first_out = int(np.argmin(inside)) if not inside.all() else len(inside)
            ends += bool(first_out) and not paper[ys[:first_out], xs[:first_out]].all()
    return ends


def rows_parted(first: ReadResult, again: ReadResult, cfg: ShadeConfig) -> bool:
    """Whether `again` (read without the page) reads the digits of one row of `first` in two of its
    rows (a digit read again: the box of one of its digits covers ``seen_overlap`` of the first
    digit's box, whatever digit it reads): read with a desk that passes for shade, the rows tilt
    and a row's digits go to two (light desk scene of seed 11, frame 83: `3973716` read as `39107`
    and, joined to the `27` above, `3716`). Rows merged into one are no parting."""
    boxes = [(k, box) for k, line in enumerate(again.lines) for box in _digit_boxes([line])]
    for line in first.lines:
        rows = {k for first_box in _digit_boxes([line]) for k, box in boxes if _seen_in(first_box, box, cfg)}
        if len(rows) > 1:
            return True
    return False


def _at_edge(paper: np.ndarray, y: int, x: int, height: float, cfg: ShadeConfig) -> bool:
    """Whether the square reaching ``edge_heights`` times `height` each way around (`y`, `x`) on
    the page mask `paper` holds some of the page's edge."""
    r = int(cfg.edge_heights * height) + 1
    return not paper[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].all()


def seen_again(first: ReadResult, again: ReadResult, paper: np.ndarray, frame_shape: tuple,
               cfg: ShadeConfig) -> float:
    """The share of the digits `first` read at least ``sure`` confident away from the edge of the
    page mask `paper` (:func:`digits_at_edge`'s square wholly on the page) that `again` (read
    without the page) reads as the same digit over at least ``seen_overlap`` of its box; 1 when
    there are none. A reading without the page that loses the page's own digits took the desk's
    grain or the page's outline for writing (or for the text's direction), whatever it gained."""
    boxes = [(d.digit, d.box) for d in again.digits if d.digit is not None]
    inner = seen = 0
    for line in _centres(first, paper, frame_shape):
        for d, y, x, height in line:
            if not _is_sure(d, cfg) or _at_edge(paper, y, x, height, cfg):
                continue
            inner += 1
            seen += any(digit == d.digit and _seen_in(d.box, box, cfg) for digit, box in boxes)
    return seen / inner if inner else 1.0


def edge_bands(blurred: np.ndarray, paper: np.ndarray, border: int,
               cfg: ShadeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(blurred, beyond, within): the page finder's blurred small copy of the working copy
    (:func:`.page.small_blurred`), and on it (0/1 uint8) the band ``band`` wide just beyond the
    edge of the page mask `paper` (inside the frame, off its border by `border` px: the page
    finder's ``edge_border_px``) and the band just inside it."""
    cv2 = opencv()
    h, w = blurred.shape
    mask = page_on(paper, blurred.shape)
    k = _band_width(blurred.shape, cfg)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    beyond = cv2.dilate(mask, kernel) & (1 - mask)
    beyond[:border], beyond[h - border:], beyond[:, :border], beyond[:, w - border:] = 0, 0, 0, 0
    return blurred, beyond, mask & (1 - cv2.erode(mask, kernel))


def _band_width(shape: tuple[int, int], cfg: ShadeConfig) -> int:
    """The (odd) width in px of a kernel reaching ``band`` of the longer side of a copy of `shape`
    each way."""
    return 2 * max(1, int(cfg.band * max(shape))) + 1


def brightness_ratio(bands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """The median brightness of the band beyond the page's edge over the band inside it
    (:func:`edge_bands`); 0 when there is no band beyond."""
    blurred, beyond, within = bands
    if not beyond.any() or not within.any():
        return 0.0
    return float(np.median(blurred[beyond > 0])) / max(1.0, float(np.median(blurred[within > 0])))


def colour_shift(work: Working, bands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """The distance of the median Lab (a, b) of the band beyond the page's edge from the band
    inside it (:func:`edge_bands` of `work`'s grey copy); 0 for a grey frame, inf when there is no
    band beyond. (Its colour copy is most of the look's cost: measured only when the brightness
    leaves the question open, :func:`looks_shaded`.)"""
    blurred, beyond, within = bands
    if not beyond.any() or not within.any():
        return float("inf")
    if work.colour is None:
        return 0.0
    cv2 = opencv()
    h, w = blurred.shape
    lab = cv2.cvtColor(cv2.resize(work.colour(), (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2LAB)
    shift = np.median(lab[beyond > 0], axis=0)[1:] - np.median(lab[within > 0], axis=0)[1:]  # (a, b)
    return float(np.hypot(*shift))


def smooth_share(copies: SmallCopies, beyond: np.ndarray) -> float:
    """The share of the band `beyond` (:func:`edge_bands`) that is as smooth as blank paper
    (``copies.smooth``: the page finder's :func:`.page.smooth_mask` of the working copy)."""
    return float(copies.smooth[beyond > 0].mean()) if beyond.any() else 0.0


def looks_shaded(ratio: float, chroma: Callable[[], float], smooth: Callable[[], float], cfg: ShadeConfig) -> bool:
    """Whether a band beyond the page's edge of brightness `ratio` (:func:`brightness_ratio`) and
    colour distance `chroma` (called only for a ratio in range: :func:`colour_shift`) is the page
    in shade, in its colour: as bright as a hard shadow leaves paper (``ratio``), or as a milder
    one (up to ``mild_ratio``) in the page's very colour (``mild_chroma``), or else, up to
    ``falloff_ratio``, when ``falloff_smooth`` of it is smooth (`smooth`, called only then:
    :func:`smooth_share`): light falling off gently across a sheet (vignetting, a lamp's
    fall-off), where most light desks of the paper's colour show their texture (a smooth one passes)."""
    if not cfg.ratio[0] <= ratio <= cfg.falloff_ratio:
        return False
    shift = chroma()
    if shift > cfg.max_chroma:
        return False
    if ratio <= cfg.ratio[1] or (ratio <= cfg.mild_ratio and shift <= cfg.mild_chroma):
        return True
    return smooth() >= cfg.falloff_smooth


def paper_in_shade(copies: SmallCopies, paper: np.ndarray, bands: tuple[np.ndarray, np.ndarray, np.ndarray],
                   height: float, cfg: ShadeConfig) -> np.ndarray:
    """(0/1 uint8, on the copy of :func:`edge_bands`) the paper beyond the edge of the page mask
    `paper` in its shade: off the page, the smooth region (``copies.smooth``) as bright as the
    band beyond the edge next to it (within ``shade_spread`` of :func:`nearest_band_level`: the
    band may run along the page in shade on one side and along a brighter desk on another, and
    the light changes along the edge; so a smooth desk along the band counts too, whatever its
    brightness, and only a step of more than ``shade_spread`` from the band's nearest pixel
    parts a region from it), closed over its writing
    (gaps up to ``shade_close`` digit heights of `height` working px, and at least the band, across),
    that reaches that band. Its rows are the page's though none of their digits reach onto the lit
    page; a textured desk is not smooth, another sheet far bigger than the gaps closed. All 0
    without a band beyond."""
    cv2 = opencv()
    blurred, beyond, _ = bands
    if not beyond.any():
        return np.zeros_like(beyond)
    h, w = blurred.shape
    off_page = 1 - page_on(paper, blurred.shape)
    level = nearest_band_level(blurred, beyond)
    similar = (np.abs(blurred.astype(np.float32) - level) <= cfg.shade_spread * level).view(np.uint8) & copies.smooth
    k = max(_band_width(blurred.shape, cfg), int(cfg.shade_close * height / copies.factor) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    padded = cv2.copyMakeBorder(similar & off_page, k, k, k, k, cv2.BORDER_CONSTANT, value=0)  # (no ink beyond)
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)[k: k + h, k: k + w] & off_page
    count, labels = cv2.connectedComponents(closed, connectivity=8)
    reached = np.unique(labels[(beyond > 0) & (closed > 0)])
    keep = np.zeros(count, np.uint8)
    keep[reached[reached > 0]] = 1
    return keep[labels]


def nearest_band_level(blurred: np.ndarray, beyond: np.ndarray) -> np.ndarray:
    """(float32, `blurred`'s shape) at each pixel the brightness of `blurred` at the pixel of the
    band `beyond` (0/1 uint8, at least one pixel set) nearest to it."""
    cv2 = opencv()
    # Each band pixel is its own label; every pixel gets the label of the band pixel nearest it.
    _, nearest = cv2.distanceTransformWithLabels((beyond == 0).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    on_band = beyond > 0
    levels = np.zeros(int(nearest.max()) + 1, np.float32)
    levels[nearest[on_band]] = blurred[on_band]
    return levels[nearest]


def rows_on_page(result: ReadResult, paper: np.ndarray, frame_shape: tuple, cfg: ShadeConfig,
                 shaded: np.ndarray | None = None, first: ReadResult | None = None) -> ReadResult:
    """`result` (read without the page) with only its lines that have a digit on the page mask
    `paper`, or ``shade_row_digits`` digits on `shaded` (the page in shade, :func:`paper_in_shade`:
    a row of writing, not a speck of the desk), or a digit that holds one of `first`'s digits (the
    reading on the page) seen whole (:func:`_holds_one`: a big digit cut by a shadow's edge has its
    centre in the shade), or lies across the shadow's edge and holds all it read, cut at the edge
    (:func:`holds_all_across`); all of them when ``straddle_rows`` lines have digits both on and off
    the page."""
    on = [[bool(paper[y, x]) for _, y, x, _ in line] for line in _centres(result, paper, frame_shape)]
    if sum(1 for flags in on if any(flags) and not all(flags)) >= cfg.straddle_rows:
        return result
    if shaded is not None:
        on = [flags + [n >= cfg.shade_row_digits] for flags, n in zip(on, _digits_on(result, shaded, frame_shape))]
    if first is not None:
        cut = _digit_boxes(first.lines)
        page = None if shaded is None else page_on(paper, shaded.shape)

        def holds(box: tuple) -> bool:
            return _holds_one(box, cut, cfg) or \
                (page is not None and holds_all_across(box, first, paper, page, shaded, frame_shape, cfg))

        on = [flags + [any(holds(box) for box in _digit_boxes([line]))] for flags, line in zip(on, result.lines)]
    return replace(result, lines=[line for line, flags in zip(result.lines, on) if any(flags)])


def holds_all_across(box: tuple, first: ReadResult, paper: np.ndarray, page: np.ndarray, shaded: np.ndarray,
                     frame_shape: tuple, cfg: ShadeConfig) -> bool:
    """Whether the digit box `box` (read without the page) lies across the shadow's edge
    (:func:`straddles`; `page` and `shaded` on the small copy) and holds seen whole
    (:func:`_covered`) everything the page's reading `first` reported, its '?'s too, each of its
    digits at the edge of the page mask `paper` (:func:`digits_at_edge`'s square): a lone digit the
    edge cut into pieces that the page read as digits (ujwalkasturi's shadowed `3` read `1 1`).
    It is a box around several of the page's digits, which :func:`_holds_one` refuses (a desk's
    grain read as one box), but only of pieces cut at the edge, with nothing read outside it."""
    pieces = [d.box for d in first.digits]
    return bool(pieces) and straddles(box, page, shaded, frame_shape, cfg) and \
        all(_covered(piece, box, cfg) for piece in pieces) and \
        all(_at_edge(paper, y, x, height, cfg) for line in _centres(first, paper, frame_shape)
            for _, y, x, height in line)


def _digits_on(result: ReadResult, mask: np.ndarray, frame_shape: tuple) -> list[int]:
    """Per line of `result`, how many of its digits have their box centre on `mask`."""
    return [sum(bool(mask[y, x]) for _, y, x, _ in line) for line in _centres(result, mask, frame_shape)]


def off_page_share(shaded: np.ndarray, paper: np.ndarray) -> float:
    """The share of the frame off the page mask `paper` that `shaded` (:func:`paper_in_shade`, on
    the page finder's small copy) covers; 0 when the page fills the frame."""
    off = page_on(paper, shaded.shape) == 0
    return float(shaded[off].mean()) if off.any() else 0.0


def along_share(shaded: np.ndarray, bands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """The share of the band beyond the page's edge (:func:`edge_bands`) that lies on the paper in
    shade `shaded` (:func:`paper_in_shade`); 0 without a band beyond."""
    beyond = bands[1] > 0
    return float(np.count_nonzero(shaded[beyond])) / np.count_nonzero(beyond) if beyond.any() else 0.0


def shaded_page(shaded: np.ndarray, paper: np.ndarray, factor: int, shape: tuple[int, int], cfg: PageConfig) -> Page:
    """The paper in shade `shaded` (0/1 uint8, not empty, on the page finder's copy, `factor` times
    smaller than a working copy of `shape`) as a page of that working copy (:func:`.page.page_of`:
    its mask kept clear of its edges, the shadow's step among them), outlined by the hull of the
    whole sheet, the lit page `paper` with it (the paper's direction, :mod:`.deskew`, is the
    sheet's)."""
    cv2 = opencv()
    sheet = shaded | page_on(paper, shaded.shape)
    contours, _ = cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return page_of(shaded, cv2.convexHull(max(contours, key=cv2.contourArea)), factor, shape, cfg)


def with_rows(result: ReadResult, rows: list[Line]) -> ReadResult:
    """`result` with `rows` added, each before the first of its rows that lies below it on the page
    turned upright by the reading's angle (the mean of its digits' box centres; the first
    reading's own rows keep their order)."""
    turn = np.radians(result.angle)

    def level(line: Line) -> float:  # the upright y of the centre: cv2.getRotationMatrix2D's second row
        return float(np.mean([np.cos(turn) * (d.box[1] + d.box[3] / 2) - np.sin(turn) * (d.box[0] + d.box[2] / 2)
                              for d in line.digits]))

    lines = list(result.lines)
    for row in sorted(rows, key=level):
        lines.insert(next((i for i, line in enumerate(lines) if level(line) > level(row)), len(lines)), row)
    return replace(result, lines=lines)


def reports_digit(result: ReadResult) -> bool:
    """Whether `result` reports a digit (not only '?')."""
    return any(d.digit is not None for d in result.digits)


def rows_in_shade(result: ReadResult, shaded: np.ndarray, paper: np.ndarray, frame_shape: tuple,
                  cfg: ShadeConfig) -> ReadResult:
    """`result` (read without the page, where the page read nothing) with only its lines that have
    a digit on `shaded` (:func:`paper_in_shade`), or a digit across the shadow's edge
    (:func:`straddles`: a big lone digit cut by it has its centre on the lit side as often as in
    the shade, and the lit page read nothing of it): writing on the page's part in shade; not the
    page's own outline read as a ring around it (centred on the lit page), nor specks of a desk
    (not smooth paper as bright as the band beyond the edge next to it: digitless scene frames read
    no more)."""
    page = page_on(paper, shaded.shape)
    on = _digits_on(result, shaded, frame_shape)
    return replace(result, lines=[line for line, count in zip(result.lines, on)
                                  if count or any(straddles(d.box, page, shaded, frame_shape, cfg)
                                                  for d in line.digits if d.digit is not None)])


def straddles(box: tuple, page: np.ndarray, shaded: np.ndarray, frame_shape: tuple, cfg: ShadeConfig) -> bool:
    """Whether the digit box `box` (frame px) lies by ``straddle_share`` of its area both on the page
    mask `page` and on the page in shade `shaded` (:func:`paper_in_shade`; both 0/1 uint8 on the
    latter's small copy: :func:`page_on`) and covers less area than the page: a digit the
    shadow's edge cuts (:func:`rows_in_shade`, :func:`holds_all_across`), wherever its centre lies;
    not the page's outline read as a ring around it, nor a box around most of a glossy desk's page
    (a box merely not holding all of the page let one such through in 100 digitless glossy-desk
    frames)."""
    h, w = page.shape
    sy, sx = h / frame_shape[0], w / frame_shape[1]
    x, y, bw, bh = box
    x0, y0 = min(w - 1, max(0, int(x * sx))), min(h - 1, max(0, int(y * sy)))
    x1, y1 = max(x0 + 1, int((x + bw) * sx)), max(y0 + 1, int((y + bh) * sy))
    shares = float(page[y0:y1, x0:x1].mean()), float(shaded[y0:y1, x0:x1].mean())
    return min(shares) >= cfg.straddle_share and (x1 - x0) * (y1 - y0) < int(page.sum())


def upright_height(result: ReadResult, box: tuple) -> float:
    """The height, in frame pixels, of a digit's `box` (frame axes) as the page was read: its
    width when the reading turned the page a quarter (``result.angle``)."""
    return float(box[2] if round(result.angle / 90) % 2 else box[3])


def digit_height(result: ReadResult, work: Working) -> float:
    """The median upright height of the digits `result` reports (at least one), in pixels of the
    working copy `work`."""
    return median([upright_height(result, d.box) for d in result.digits
                   if d.digit is not None]) * work.scale


def saw_whole(first: ReadResult, again: ReadResult, cfg: ShadeConfig) -> bool:
    """Whether `again` (read without the page) holds each digit `first` read (at least one) with
    ``whole_cover`` of its box inside a digit's box ``whole_growth`` times bigger or more: it saw
    whole what the first reading saw cut at the page's edge. (Not bounded above: a row merged into
    one box passes, and wins when the readings' sure digits tie, e.g. one sure digit of a "123"
    against one sure merged box; not seen on any photo, scene or degraded copy measured.)"""
    boxes, cut = _digit_boxes(again.lines), _digit_boxes(first.lines)
    return bool(cut) and all(any(_covered(box, whole, cfg) for whole in boxes) for box in cut)


def _digit_boxes(lines: list) -> list[tuple]:
    """The boxes of the digits `lines` report (not their '?')."""
    return [d.box for line in lines for d in line.digits if d.digit is not None]


def _holds_one(whole: tuple, cut: list[tuple], cfg: ShadeConfig) -> bool:
    """Whether the digit box `whole` holds one of the boxes `cut` (the first reading's digits) seen
    whole (:func:`_covered`) and holds or covers by ``seen_overlap`` of its box no other: not a box
    around several of the page's digits (a desk's grain read without the page: light desk scene
    frame 48)."""
    held = [_covered(box, whole, cfg) for box in cut]
    return any(held) and sum(h or _seen_in(box, whole, cfg) for h, box in zip(held, cut)) == 1


def _seen_in(box: tuple, other: tuple, cfg: ShadeConfig) -> bool:
    """Whether the box `other` covers ``seen_overlap`` of the box `box`: the same ink seen again."""
    return _overlap(box, other) >= cfg.seen_overlap * box[2] * box[3]


def _covered(box: tuple, whole: tuple, cfg: ShadeConfig) -> bool:
    return _overlap(box, whole) >= cfg.whole_cover * box[2] * box[3] and \
        whole[2] * whole[3] >= cfg.whole_growth * box[2] * box[3]


def _overlap(box: tuple, other: tuple) -> int:
    """The area two (x, y, w, h) boxes share."""
    (x, y, w, h), (X, Y, W, H) = box, other
    return max(0, min(x + w, X + W) - max(x, X)) * max(0, min(y + h, Y + H) - max(y, Y))


def sure_digits(result: ReadResult, cfg: ShadeConfig) -> int:
    """How many digits `result` reports at least ``sure`` confident."""
    return sum(1 for d in result.digits if _is_sure(d, cfg))


def sure_rows(result: ReadResult, cfg: ShadeConfig) -> list[Line]:
    """The lines of `result` with a digit at least ``sure`` confident."""
    return [line for line in result.lines if any(_is_sure(d, cfg) for d in line.digits)]


def _is_sure(digit: Digit, cfg: ShadeConfig) -> bool:
    """Whether `digit` is a digit (not a '?') read at least ``sure`` confident."""
    return digit.digit is not None and digit.confidence >= cfg.sure
