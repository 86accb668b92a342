"""The frame reader from frame to digits: :func:`read_frame` calls the stages in order.

    working copy -> (a preview: page -> light -> ink -> digit size -> very tall: shrink)
    -> page -> light -> ink -> digit size -> (shrink or enlarge) -> paper edge -> frame edge
    -> text direction
    -> for each orientation tried: ink window -> upright -> rules -> components -> blobs -> lines
       -> box sides out -> broken blobs mended
    -> classify; the surest reading wins
    -> small digits among the big ones, read on the unshrunk copy once those are erased;
    more candidates than the cap (a rough desk taken for page): all of it again on the page's smooth part.
    -> still more candidates than the cap on a big copy: all of it again on its preview (a fine
       texture crowded the measure).
    -> digits at the page's edge, or a row running into it, or none read, and paper in shade or in
       dimmer smooth light beyond: a probe, maybe all again, without the page (none read: its rows
       on the paper in shade); or, no digit asking, paper in shade along part of the page's edge
       (a shadow across the sheet): read as a page of its own, its rows added.
    -> other sheets beside the page (two sticky notes on a desk): each read as a page of its own
       (again at the page's turn when read a half turn from a page sure of its turn), its rows
       with a sure digit added after the page's.
    -> a second look at the reported digits the classifier was unsure of.

Each stage lives in its own module and is a plain function from typed records (:mod:`.records`)
to a typed record, its tuned numbers in its section of :class:`.config.ReaderConfig`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, partial

import numpy as np

from . import blobs, classify, deskew, ink as ink_stage, lines as lines_stage, light as light_stage, measure, orient
from . import page as page_stage, rules, scale, shade, small
from .arrays import opencv, validate_frame
from .config import ReaderConfig
from .records import DigitSize, Ink, Light, Measured, Page, Parts, Placement, ReadResult, Working


def read_frame(frame: np.ndarray, classifier, config: ReaderConfig, debug: dict | None = None) -> ReadResult:
    """The lines of digits in `frame` ((H, W) grey or (H, W, 3|4) BGR(A) uint8), read with
    `classifier`; `debug`, a dict, receives each stage's intermediate result (see FrameReader.read)."""
    frame = validate_frame(frame)

    paper = {}  # the page mask of the copy measured last: the reported reading's (see _read_past_shade)

    def stage(name: str, value) -> None:
        if name == "paper":
            paper["mask"] = value
        if debug is not None:
            if name == "grey":  # a shrunk or enlarged copy is read again: its stages replace the first ones
                debug.clear()
            debug[name] = value() if callable(value) else value  # (a callable: measured only for the picture)

    work = scale.working_copy(frame, config)
    result = _read_working(work, classifier, config, stage, rescale=True)
    if _too_textured(result, config):
        result = _read_on_smooth_part(work, result, classifier, config, stage)
    if _too_textured(result, config):
        result = _read_on_preview(work, result, classifier, config, stage)
    blurred = cache(partial(page_stage.small_blurred, work.grey, config.page))
    result = _read_past_shade(work, result, paper.get("mask"), blurred, classifier, config, stage)  # shade: past page
    result = _read_other_sheets(work, result, paper.get("mask"), blurred, classifier, config, stage)  # page: beside
    return classify.second_look(result, classifier, config, stage)                 # classify: unsure digits


def _read_other_sheets(work: Working, result: ReadResult, paper: np.ndarray | None, blurred, classifier,
                       config: ReaderConfig, stage) -> ReadResult:
    """`result` with the rows of the sheets beside its page `paper` (the mask it was read on;
    :func:`.page.other_sheets` on `blurred()`, the page finder's small copy) added after its own:
    each sheet read as a page of its own, its rows with a sure digit (:func:`.shade.sure_rows`)
    that were not read already (:func:`.lines.rows_not_read`: a reading past the page's edge may
    have taken in a sheet beside it). A sheet read a half turn from a page sure of its turn is read
    at the page's turn too (:func:`.orient.follows_page`), and that reading kept unless the first is
    clearly surer or it reports too few digits (:func:`.orient.as_page`)."""
    if paper is None or _too_textured(result, config):
        return result
    sheets = page_stage.other_sheets(blurred(), paper, work.grey.shape, config.page, work.colour)
    rows = []
    for sheet in sheets:
        again = _read_working(work, classifier, config, classify.no_stage, rescale=True, page=sheet)
        if orient.follows_page(again, result, config.orient):
            turned = _read_working(work, classifier, config, classify.no_stage, rescale=True,
                                   turned_as=result.angle, page=sheet)
            again = orient.as_page(again, turned, config.orient)
        rows += lines_stage.rows_not_read(shade.sure_rows(again, config.shade), result)
    if sheets:
        stage("sheets", (work.grey, paper, [sheet.hull for sheet in sheets],
                         f"{len(sheets)} other sheet(s) read: {len(rows)} row(s) with a sure digit added"))
    return replace(result, lines=result.lines + rows) if rows else result


def _too_textured(result: ReadResult, config: ReaderConfig) -> bool:
    """Whether `result` read nothing for more candidates than the cap (:func:`.blobs.too_much_texture`)."""
    return not result.lines and blobs.too_much_texture(config.blobs) in result.warnings


def _read_past_shade(work: Working, result: ReadResult, paper: np.ndarray | None, blurred, classifier,
                     config: ReaderConfig, stage) -> ReadResult:
    """`result`, or the working copy read again without its page `paper` (the mask it was read on)
    when digits sit at the page's edge, or a row runs into it (:func:`.shade.rows_into_edge`), or
    the page read nothing, and the band beyond looks like the page in shade (:mod:`.shade`). When
    the page read nothing, :func:`_read_past_blank_page` (not when the frame was too textured to
    read: see below); else its rows that reach onto the page or lie on its part in shade, if they
    read more sure digits (:func:`_read_without_page`),
    or as many (at least one) with the first reading's digits seen whole (:func:`.shade.saw_whole`),
    and they read again at least ``seen_again`` of the page's own digits away from its edge
    (:func:`.shade.seen_again`), and, looked at for a row running into the edge alone, they read
    no first row in two of their rows (:func:`.shade.rows_parted`). When no digit asks for that
    look but the band beyond looks like the page in shade, :func:`_read_shade_across`. `blurred()`
    returns the page finder's small copy of the working copy (made once per frame)."""
    cfg = config.shade
    if paper is None:
        return result
    at_edge = not result.lines or shade.digits_at_edge(result, paper, work.frame_shape, cfg) >= cfg.min_cut_digits
    into_edge = not at_edge and shade.rows_into_edge(result, paper, work.frame_shape, cfg) > 0
    if _too_textured(result, config):
        return result  # (`paper` may be the smooth part's or the preview's, read after it: not this reading's)
    blurred = blurred()  # (the page finder's small copy: made once for this and for the sheets beside the page)
    bands = shade.edge_bands(blurred, paper, config.page.edge_border_px, cfg)
    ratio, chroma = shade.brightness_ratio(bands), cache(partial(shade.colour_shift, work, bands))
    copies = cache(partial(page_stage.small_copies, work.grey, config.page, blurred))  # roughness: only when asked
    if not shade.looks_shaded(ratio, chroma, lambda: shade.smooth_share(copies(), bands[1]), cfg):
        if at_edge or into_edge:
            stage("shade", lambda: (bands, ratio, chroma(), "no paper in shade beyond: not read again"))
        return result
    if not result.lines:
        return _read_past_blank_page(work, result, paper, bands, (ratio, chroma()), copies(), classifier, config, stage)
    if not (at_edge or into_edge or shade.reports_digit(result)):
        return result
    height = shade.digit_height(result, work)
    shaded = shade.paper_in_shade(copies(), paper, bands, height, cfg)
    if not (at_edge or into_edge):
        return _read_shade_across(work, result, paper, shaded, bands, (ratio, chroma()), copies().factor,
                                  classifier, config, stage)
    again, how = _read_without_page(work, result, paper, shaded, height, classifier, config)
    sure, sure_again = shade.sure_digits(result, cfg), shade.sure_digits(again, cfg)
    seen = shade.seen_again(result, again, paper, work.frame_shape, cfg)
    keep = (sure_again > sure or (sure_again == sure > 0 and shade.saw_whole(result, again, cfg))) \
        and seen >= cfg.seen_again
    parted = keep and into_edge and shade.rows_parted(result, again, cfg)  # (asked for by a row alone)
    keep = keep and not parted
    stage("shade", (bands, ratio, chroma(), f"{how} without the page: {sure_again} sure digits against "
                                           f"{sure}, {seen:.0%} of the page's seen again"
                                           f"{', a first row read in two' if parted else ''}, "
                                           f"{'that reading' if keep else 'the first'} kept"))
    return again if keep else result


def _read_shade_across(work: Working, result: ReadResult, paper: np.ndarray, shaded: np.ndarray, bands: tuple,
                       measured: tuple, factor: int, classifier, config: ReaderConfig, stage) -> ReadResult:
    """`result` (reporting a digit, none of which asked for a look past its page `paper`; `bands`
    at its edge, `measured` their brightness ratio and colour shift) with the rows of the paper in
    shade beyond that page added (`shaded`: :func:`.shade.paper_in_shade` on the page finder's
    copy, `factor` times smaller than the working copy), when that paper lies along at most
    ``across_max_along`` of the band beyond the page's edge (:func:`.shade.along_share`: a
    shadow's edge across the sheet, where a grey desk around the page lies along all of it) and
    covers ``across_min_share`` of the frame off the page: that paper read as a page of its own
    (:func:`.shade.shaded_page`), its rows with a sure digit (:func:`.shade.sure_rows`) added
    (:func:`.shade.with_rows`). Rows written wholly in the shade never reach the lit page's edge,
    so no digit of the first reading asks for them."""
    cfg = config.shade
    share, along = shade.off_page_share(shaded, paper), shade.along_share(shaded, bands)
    found = f"paper in shade along {along:.0%} of the page's edge, {share:.0%} of the frame off it"
    if share < cfg.across_min_share or along > cfg.across_max_along:
        stage("shade", lambda: (bands, *measured, f"{found}: not read"))
        return result
    again = _read_working(work, classifier, config, classify.no_stage, rescale=True,
                          page=shade.shaded_page(shaded, paper, factor, work.grey.shape, config.page))
    rows = shade.sure_rows(again, cfg)
    stage("shade", (bands, *measured, f"{found}: read as a page, rows with a sure digit added: {len(rows)}"))
    return shade.with_rows(result, rows)


def _read_past_blank_page(work: Working, result: ReadResult, paper: np.ndarray, bands: tuple, measured: tuple,
                          copies, classifier, config: ReaderConfig, stage) -> ReadResult:
    """`result` (the page `paper` read nothing), or the working copy read without the page, its
    rows on the page's part in shade (:func:`.shade.rows_in_shade`), when they hold a sure digit:
    a lone digit wholly in a shadow's part of the sheet, or cut by the shadow's edge. Not read when
    less than ``min_shade_share`` of the frame off the page is paper in shade (closed over the
    band's width only: the digits' height is not known): a glossy desk that passes for shade is
    read for seconds and reads nothing there."""
    cfg = config.shade
    off_page = shade.off_page_share(shade.paper_in_shade(copies, paper, bands, 0.0, cfg), paper)
    if off_page < cfg.min_shade_share:
        stage("shade", (bands, *measured, f"the page read nothing and {off_page:.3f} of the rest is paper in shade: "
                                          "not read again"))
        return result
    again = _read_working(work, classifier, config, classify.no_stage, rescale=True, page=_parted(paper))
    if shade.sure_digits(again, cfg):
        shaded = shade.paper_in_shade(copies, paper, bands, shade.digit_height(again, work), cfg)
        again = shade.rows_in_shade(again, shaded, paper, work.frame_shape, cfg)
    sure = shade.sure_digits(again, cfg)
    stage("shade", (bands, *measured, f"the page read nothing; read without it: {sure} sure digits on the page "
                                      f"in shade, {'kept' if sure else 'none kept'}"))
    return again if sure else result


def _read_without_page(work: Working, result: ReadResult, paper: np.ndarray, shaded: np.ndarray, height: float,
                       classifier, config: ReaderConfig) -> tuple[ReadResult, str]:
    """(the rows of the working copy read without a page that reach onto the page `paper` or
    lie on its part in shade `shaded` (:func:`.shade.rows_on_page`), how it was read). First a
    probe on the copy the digits of `result` (`height` working px tall) call for
    (:func:`_read_at_height`), and the whole reading (as the first one was made) only if the
    probe reads more sure digits than `result`: on a desk that passes for shade, a wooden desk's
    grain measured as digits keeps a 4000 px photo's copy at full size for seconds, and most such
    looks end at the probe. (The probe has no small-digit pass: against only the first reading's
    digits that are not small, more looks go on: p90 on the shared photos 172 -> 262 ms, blurred
    copies 1492 -> 1494 digits.) The whole reading replaces the probe only if it reads at least as
    many sure digits: read on the copy its own measure of the frame picks (the desk beyond the page
    measured too), it can read fewer than the probe, read on the copy the page's digits call for."""
    cfg = config.shade
    probe = _read_at_height(work, height, classifier, config, _parted(paper))
    probe = shade.rows_on_page(probe, paper, work.frame_shape, cfg, shaded, result)
    if shade.sure_digits(probe, cfg) <= shade.sure_digits(result, cfg):
        return probe, "probed"
    again = _read_working(work, classifier, config, classify.no_stage, rescale=True, page=_parted(paper))
    again = shade.rows_on_page(again, paper, work.frame_shape, cfg, shaded, result)
    if shade.sure_digits(again, cfg) < shade.sure_digits(probe, cfg):
        return probe, "probed (read again: fewer sure digits)"
    return again, "read again"


def _parted(paper: np.ndarray) -> Page:
    """The page of a reading without the page mask `paper` (the whole copy), its light estimated
    inside and beyond that mask apart (:func:`.light.shadowed_light`): a hard shadow's step."""
    return Page(None, None, region=paper)


def _read_at_height(work: Working, height: float, classifier, config: ReaderConfig, page: Page) -> ReadResult:
    """The working copy read with `page` on the copy that digits `height` px tall in it are read on
    (shrunk, enlarged, or this one: :func:`.scale.shrunk_copy`, :func:`.scale.enlarged_copy`),
    with no small-digit pass and no stages reported; the height is measured again on that copy
    (`height` only when nothing there looks like a digit)."""
    size = DigitSize(height, np.zeros((0, 5), np.int32))
    copy = scale.shrunk_copy(work, size, config.scale) or scale.enlarged_copy(work, size, config.scale)
    target, known = copy if copy is not None else (work, height)
    return _read_working(target, classifier, config, classify.no_stage, rescale=False, known_height=known, page=page)


def _read_on_smooth_part(work: Working, result: ReadResult, classifier, config: ReaderConfig, stage) -> ReadResult:
    """The working copy read again on the smooth part of its bright region
    (:func:`.page.find_smooth_bright_paper`), when its reading `result` found more candidates than
    the cap: the page took in a rough desk that the page finder's rough check let through, and a
    part of the frame read is better than none. `result` (and its warning) when that reads nothing."""
    smooth = page_stage.find_smooth_bright_paper(work.grey, config.page)            # page: its smooth part
    if smooth.mask is None:
        return result
    again = _read_working(work, classifier, config, stage, rescale=True, page=smooth)
    return again if again.lines else result


def _read_on_preview(work: Working, result: ReadResult, classifier, config: ReaderConfig, stage) -> ReadResult:
    """The working copy's preview (:func:`.scale.preview_copy`) read instead of it, when the reading
    of the copy (and of the smooth part of its page, if it has one) still read nothing for more
    candidates than the cap: a fine desk grain or paper texture, specks as tall as the shortest
    digits read, may outnumber the digits and set the measured digit height, while the preview's
    block means shrink the specks below that and it measures the digits themselves. `result` (and
    its warning) when there is no preview or it reads nothing. (Not for every frame that reads
    nothing: on digitless generated frames of 1280 px or more the preview's reading added 30 false
    digits over 800 frames.)"""
    preview = scale.preview_copy(work, config.scale)
    if preview is None:
        return result
    again = _read_working(preview, classifier, config, stage, rescale=True)
    return again if again.lines else result


def _read_working(work: Working, classifier, config: ReaderConfig, stage, rescale: bool,
                  known_height: float | None = None, turned_as: float | None = None,
                  page: Page | None = None) -> ReadResult:
    """Read the working copy; with `rescale`, a copy whose digits are much taller than needed is
    shrunk, one whose digits are very short enlarged, and read instead (with the height measured
    here as `known_height`, for when the new copy cannot measure it); a big copy's digits are
    measured first on its preview, and on the copy itself only when they are not very tall there.
    With `rescale`, the reading (of the shrunk copy, or of this one when it is neither shrunk nor
    enlarged) gets the small digits among its big ones (:mod:`.small`). With
    `turned_as` (degrees), the page is read at its own tilt turned by the quarter turns nearest that
    angle, and only so, on whichever copy is read: the small digits, too few to tell a turned page
    by themselves, are read turned as the page was, and so is a sheet beside the page read a half
    turn from it. `page`, found already (on another copy of the frame, or on this one by
    another finder), is not looked for again, here or on the copies read instead."""
    if scale.is_blank(work, config):
        return ReadResult([])
    if rescale and (result := _read_by_preview(work, classifier, config, stage, page, turned_as)) is not None:
        return result                                                               # scale: a preview
    given_page = page  # (a page given is kept for a shrunk or enlarged copy; one found here is looked for there)
    found = _measure(work, config, stage, known_height, page)
    if found is None:
        return ReadResult([])
    page, light, ink, size = found
    if rescale:                                                                     # scale: big or small digits
        components = size.stats[:, :4] + (*light.origin, 0, 0)  # in the working copy's pixels (for small)
        shrunk = scale.shrunk_copy(work, size, config.scale)
        if shrunk is not None:
            return _read_shrunk(work, shrunk, components, given_page, classifier, config, stage, turned_as)
        enlarged = scale.enlarged_copy(work, size, config.scale)
        if enlarged is not None:
            return _read_working(enlarged[0], classifier, config, stage, rescale=False, known_height=enlarged[1],
                                 turned_as=turned_as, page=given_page)
    light = page_stage.clear_paper_edge(light, work, size, config.page, ink)       # page: off its edge
    light = ink_stage.clear_frame_border(light, ink, work, size, config.ink)       # ink: off the frame's edge
    read_at = partial(_read_upright, light=light, ink=ink, size=size, work=work, classifier=classifier,
                      config=config)
    direction = deskew.text_direction(size, page, config)                          # deskew: text direction
    if turned_as is not None:
        result = read_at(orient.turned_as(direction, turned_as), stage)
    else:
        result = orient.best_reading(read_at, direction, config.orient, stage)    # orient: surest turn
    if not rescale:
        return result
    return _add_small(result, work, components, classifier, config, stage)        # small: beside big


def _read_by_preview(work: Working, classifier, config: ReaderConfig, stage,
                     page: Page | None = None, turned_as: float | None = None) -> ReadResult | None:
    """The reading of a big working copy shrunk by the digit height measured on its preview
    (:func:`.scale.preview_copy`), when that height surely calls for a copy of ``min_working_side``
    (:func:`.scale.is_sure_shrink`) and it reads a digit; else None, and the working copy is measured
    itself. `page`, found on the working copy, is not looked for again; `turned_as`: as for
    :func:`_read_working`."""
    preview = scale.preview_copy(work, config.scale)
    found = None if preview is None else _measure(preview, config, stage, None, page)
    if found is None:
        return None
    page, light, ink, size = found
    ratio = config.scale.preview_factor
    if not scale.is_sure_shrink(work, size.height * ratio, config.scale):
        return None
    in_work = DigitSize(size.height * ratio, size.stats * (ratio, ratio, ratio, ratio, ratio * ratio))
    shrunk = scale.shrunk_copy(work, in_work, config.scale)
    if shrunk is None:  # (only with knobs that shrink by less than 1 / preview_factor)
        return None
    # small digits are looked for among the preview's ink pieces joined again (it breaks thin strokes apart)
    _, joined = ink_stage.components(ink.mask, close=config.scale.preview_close, with_labels=False)
    components = (joined[:, :4] + (*light.origin, 0, 0)) * ratio
    result = _read_shrunk(work, shrunk, components, page, classifier, config, stage, turned_as)
    return result if any(d.digit is not None for d in result.digits) else None


def _measure(work: Working, config: ReaderConfig, stage, known_height: float | None = None,
             page: Page | None = None) -> Measured | None:
    """The page, light, ink and digit size of the working copy, or None when it shows no ink or nothing
    like a digit; `page`, found already (on this or another copy of the frame), is scaled to this one."""
    stage("grey", work.grey)
    page = page_stage.find_paper(work.grey, config.page, work.colour) if page is None else \
        page_stage.scaled_page(page, work.grey.shape)                              # page: the sheet
    stage("paper", page.mask)
    light = light_stage.relative_darkness(work.grey, page, config.light)           # light: shadows cancel
    stage("darkness", (light.darkness, light.origin))  # (its paper edge is cleared in place below)
    ink = ink_stage.threshold_ink(light, work.grey.shape, config)                  # ink: threshold
    if ink is None:
        return None
    stage("ink", (ink.mask, light.origin, ink.threshold))
    size = measure.measure_digits(ink, config, known_height, light.darkness)        # measure: digit height
    return None if size is None else Measured(page, light, ink, size)


def _read_shrunk(work: Working, shrunk: tuple[Working, float], components: np.ndarray, page: Page | None,
                 classifier, config: ReaderConfig, stage, turned_as: float | None = None) -> ReadResult:
    """Read the shrunk copy (with the digit height measured for it, and `page` if found already;
    `turned_as`: as for :func:`_read_working`), then the small digits among its big ones on `work`
    (`components`: the boxes of the ink components measured, in its pixels)."""
    result = _read_working(shrunk[0], classifier, config, stage, rescale=False, known_height=shrunk[1],
                           turned_as=turned_as, page=page)
    return _add_small(result, work, components, classifier, config, stage)


def _add_small(result: ReadResult, work: Working, components: np.ndarray, classifier, config: ReaderConfig,
               stage) -> ReadResult:
    """`result`, read on `work` or on a shrunk copy of it, with the small digits among its big ones
    read again on `work` (`components`: the boxes of its ink components)."""
    read_again = partial(_read_working, classifier=classifier, config=config, stage=classify.no_stage,
                         rescale=False, turned_as=result.angle)
    return small.add_small_digits(result, work, components, read_again, config.small, stage)  # small


def _read_upright(angle: float, stage, *, light: Light, ink: Ink, size: DigitSize, work: Working, classifier,
                  config: ReaderConfig) -> ReadResult:
    """Turn the ink by `angle`, take out rules and boxes, find, group and classify the digits."""
    window, offset = ink_stage.ink_window(light, ink, size, work.grey.shape, config.ink)  # ink: its window
    if window is None:
        return ReadResult([])
    upright = deskew.turn_upright(window, offset, angle, ink.threshold, size, config)  # deskew: upright
    ruled = rules.remove_rules(upright, ink.threshold, size, config.rules, ink.join, config.ink)  # rules: out
    stage("upright", (ruled.mask, ruled.rules, angle))
    labels, stats = ink_stage.components(ruled.mask, close=upright.close)
    parts = Parts(labels, stats, measure.typical_height(stats, config, labels, upright.darkness) or size.height)
    candidates = blobs.candidate_blobs(parts, upright, ruled, ink, config)          # blobs: candidates
    if candidates.warning:
        return ReadResult([], (candidates.warning,))
    stage("blobs", (upright.darkness, candidates.blobs, parts.height))
    rows = lines_stage.group_lines(candidates, config.lines)                        # lines: rows, groups
    stage("lines", (upright.darkness, rows.rows, parts.height))
    rows = lines_stage.without_box_sides(rows, config.lines)
    rows = blobs.mend_broken(rows, candidates.blobs, parts, upright, ruled, ink, config.blobs)  # blobs: mended
    placement = Placement(upright.rotation, upright.offset, work.scale, work.frame_shape)
    result = classify.classify_lines(rows, parts, upright, ink, placement, classifier, config, stage)  # classify
    return replace(result, angle=angle)


class FrameReader:
    """Reads lines of handwritten digits in camera frames with any digit classifier.

    ``classifier`` is any object with ``predict(images)`` taking (N, 28, 28) float32 MNIST-style
    images and returning something with ``probabilities`` of shape (N, 10). The four keyword
    arguments are the top-level fields of :class:`ReaderConfig`; ``config`` gives all of them
    (with every stage's tuned numbers) at once.
    """

    def __init__(self, classifier, *, reject_threshold: float = ReaderConfig.reject_threshold,
                 max_side: int = ReaderConfig.max_side, min_digit_height: int = ReaderConfig.min_digit_height,
                 min_contrast: float = ReaderConfig.min_contrast, config: ReaderConfig | None = None):
        if not callable(getattr(classifier, "predict", None)):
            raise TypeError(f"classifier: expected an object with a predict(images) method, "
                            f"got {type(classifier).__name__}")
        self.classifier = classifier
        if config is None:
            config = ReaderConfig(reject_threshold, max_side, min_digit_height, min_contrast)
        self.config = config
        opencv()  # fail here, not on the first frame, when OpenCV is missing

    def read(self, frame: np.ndarray, debug: dict | None = None) -> ReadResult:
        """The lines of digits in `frame` ((H, W) grey or (H, W, 3|4) BGR(A) uint8).

        `debug`, a dict, receives each stage's intermediate result as it is computed (the working
        grey copy, the paper mask, the relative darkness, the ink masks, the removed rules, the
        candidates and their lines, the crops with their readings): :mod:`edgedigits.debug`
        draws them, and ``edgedigits read --debug DIR`` writes them as pictures.
        """
        return read_frame(frame, self.classifier, self.config, debug)
