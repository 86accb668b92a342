"""Every tuned number of the frame reader, with its unit and the reason it has the value it has.

``ReaderConfig`` is one frozen, nested dataclass: the four knobs a user sets (``reject_threshold``,
``max_side``, ``min_digit_height``, ``min_contrast``) at the top, then one sub-config per stage
(``ReaderConfig(page=PageConfig(...), ink=InkConfig(...), ...)``). Each field is declared with
:func:`knob`: its default, its unit and one line saying why; ``__post_init__`` checks every field
against the range its knob allows. :func:`describe` lists them all, one line each.

Units: ``px`` pixels of the working copy; ``px@320`` pixels of the ~320 px copy the paper is found
on; ``digit heights`` multiples of the typical digit height measured on the frame; ``fraction``
a ratio of the quantity named; ``darkness`` relative darkness (0 paper .. 1 black); ``probability``
a classifier output; ``grey level`` 0..255; ``count`` a number of things; ``degrees`` an angle;
``Lab chroma units`` a distance in the (a, b) plane of OpenCV's 8-bit Lab; ``percentile`` of the
values named; ``times`` a factor between two quantities named; ``stroke widths`` multiples of a
blob's stroke width; ``ink pixels`` a count of ink pixels a cut crosses; ``1/N ...`` a divisor:
that share of the quantity named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass


def knob(default, unit: str, why: str, *, lo: float = 0.0, hi: float = math.inf, open_lo: bool = False):
    """A config field: `default` (a number or a tuple of numbers), its `unit`, `why` it is so, and
    the range [lo, hi] (or (lo, hi] with open_lo) every value of it must lie in."""
    return field(default=default, metadata={"unit": unit, "why": why, "lo": lo, "hi": hi, "open_lo": open_lo})


class _Checked:
    """Validates every knob of a frozen dataclass against its declared range."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if "unit" not in f.metadata:
                if is_dataclass(value):
                    continue  # a sub-config checks itself
                raise TypeError(f"{type(self).__name__}.{f.name}: not a knob")
            lo, hi, open_lo = f.metadata["lo"], f.metadata["hi"], f.metadata["open_lo"]
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                    raise ValueError(f"{type(self).__name__}.{f.name} must be a number, got {v!r}")
                if f.type == "int" and not isinstance(v, int):  # (annotations are strings here)
                    raise ValueError(f"{type(self).__name__}.{f.name} must be a whole number, got {v!r}")
                if v < lo or v > hi or (open_lo and v == lo):
                    bounds = f"{'(' if open_lo else '['}{lo}, {hi}]"
                    raise ValueError(f"{type(self).__name__}.{f.name} must be in {bounds} "
                                     f"({f.metadata['unit']}), got {v}")
            if isinstance(value, tuple) and list(value) != sorted(value):
                raise ValueError(f"{type(self).__name__}.{f.name} must be in increasing order, got {value}")


@dataclass(frozen=True)
class ScaleConfig(_Checked):
    """The working copy: which frames are read at all, and when a copy with big digits is shrunk or
    one with small digits enlarged."""

    min_width: int = knob(4, "px", "a narrower frame holds no digit", lo=1)
    min_grey_range: int = knob(10, "grey levels", "a frame flatter than this holds no ink at all", lo=0)
    shrink_above_height: float = knob(64.0, "px", "digits taller than this are more pixels than a 28x28 crop needs",
                                      lo=1)
    working_digit_height: float = knob(48.0, "px", "the digit height a shrunk or enlarged copy is read at: the "
                                       "size the later stages' numbers were tuned at", lo=1)
    min_working_side: float = knob(640.0, "px", "the paper and light estimates are sized for frames at least this big",
                                   lo=64)
    max_shrink_factor: float = knob(0.8, "fraction", "a copy less than 20% smaller is not worth reading again",
                                    lo=0, hi=1, open_lo=True)
    preview_factor: int = knob(2, "times", "the preview is this many times smaller than the working copy (block "
                               "means); 3 merged two rows of 16 px digits on a 1920 px sticky note into one 75 px "
                               "'digit' that read as nothing", lo=2)
    preview_margin: float = knob(1.5, "times", "the preview's measure is used when its digits are this many times "
                                 "taller than those a copy of min_working_side is shrunk for: their exact height then "
                                 "does not change the copy. A preview loses thin strokes and small marks and measured "
                                 "scattered digits up to 3x taller: the shrunk copy then shows them at least 1.5 x 48 / 3 "
                                 "= 24 px tall (enlarge_below_height), and a copy that reads no digit is not trusted", lo=1)
    preview_close: int = knob(7, "px", "of the preview: its ink is closed by a disc this wide before small digits are "
                              "looked for among the big ones (the preview breaks a small digit's thin strokes into "
                              "pieces: a blurred copy of a real photo lost one without it)",
                              lo=0)
    enlarge_below_height: float = knob(24.0, "px", "shorter digits (half the working height) have strokes of a "
                                       "pixel or two that break apart or run together: read them enlarged", lo=0)
    max_enlarge_factor: float = knob(2.0, "times", "an interpolated copy gains little beyond twice the size "
                                     "and costs four times the pixels", lo=1)
    min_enlarge_factor: float = knob(1.25, "times", "a copy less than 25% larger is not worth reading again",
                                     lo=1)
    max_enlarged_side: int = knob(3000, "px", "the enlarged copy's longer side is at most this (bounded memory "
                                  "and time)", lo=64)


@dataclass(frozen=True)
class PageConfig(_Checked):
    """Finding the paper (a large bright region against a darker desk, else a region of another
    colour than the desk's, else a smooth region amid a patterned desk) and keeping off its edge."""

    small_side: int = knob(320, "px", "the paper is found on a copy about this big: its outline needs no more", lo=16)
    blur: int = knob(5, "px@320", "Gaussian blur kernel before Otsu: paper grain and ink do not split the sheet",
                     lo=1)
    grow_level: float = knob(0.35, "fraction", "from the desk's to the paper's median: shadowed paper is brighter "
                             "than this", hi=1)
    grow_max_area: float = knob(1.3, "fraction", "growing into shadow may add at most 30% (else it leaks into "
                                "a light desk)", lo=1)
    even_keep: float = knob(0.9, "fraction", "of the fitted light: darker pixels (ink, a desk's dark parts) are "
                            "left out of the next fit of the light on the page", hi=1, open_lo=True)
    even_rounds: int = knob(3, "count", "fits of the light, each without the pixels the last one found dark", lo=1)
    even_min_falloff: float = knob(0.1, "fraction", "the light over the page varies by less than this: evening it "
                                   "changes nothing worth a second search", hi=1)
    even_max_boost: float = knob(1.25, "times", "evening brightens by at most this much: beyond the page the "
                                 "plane's extrapolation would lift a desk to the paper's level", lo=1)
    even_min_gain: float = knob(1.1, "times", "the page found in evened light replaces the first one only when "
                                "this much larger: evening recovers a shadowed part of the sheet; a hard shadow is "
                                "no plane (a smaller page is cut at its edge), and a marginal change only moves the "
                                "outline (a glare patch beside it moves with it)", lo=1)
    evened_min_inner: float = knob(0.6, "fraction", "of a page found only in evened light, the outline's length "
                                   "away from the frame's border: a sheet seen whole or cut by one side of the frame "
                                   "has desk round most of it; a shadow across a page filling the frame leaves an "
                                   "outline along the border on three sides (0.36-0.48 in the shared photos at "
                                   "gamma 2.2)",
                                   hi=1)
    min_desk_area: float = knob(0.03, "fraction", "of the frame: with less desk than this the paper fills the frame",
                                hi=1)
    min_paper_area: float = knob(0.05, "fraction", "of the frame: a smaller bright region is not the page", hi=1)
    max_other_sheets: int = knob(3, "count", "sheets beside the page looked for and read, each as a page of its own "
                                 "(two sticky notes on a desk; 0: the page alone): each is a whole reading more")
    other_min_share: float = knob(0.1, "fraction", "of the page's area: a smaller region beside it is not another "
                                  "sheet, and with fewer pixels as bright beside the page none is looked for (not "
                                  "tuned: such a region must also cover other_min_area of the frame)", hi=1,
                                  open_lo=True)
    other_min_area: float = knob(0.02, "fraction", "of the frame: a sheet beside the page covers at least this, less "
                                 "than a page must (min_paper_area): a sticky note beside a bigger one or a sheet is "
                                 "small in the frame (two-note dark desk scene, seed 7: a note of 13 digits covering "
                                 "4.5% was never found at 0.05; not tuned, 0.02 is a 78 px square at 640x480)",
                                 open_lo=True, hi=1)
    other_min_contrast: float = knob(0.5, "fraction", "of the way from the desk's median level to the page's: a "
                                     "region beside the page darker than this is no sheet by brightness (a lighter "
                                     "part of the desk; without it, the grain beside the page on 4 of 200 generated "
                                     "frames: 47 -> 102 errors); the colour finder is asked instead", hi=1)
    other_dim_contrast: float = knob(0.25, "fraction", "of the way from the desk's median level to the page's: "
                                     "when fewer pixels than other_min_share of the page's area beside it lie "
                                     "other_min_contrast up, the colour finder is still asked if at least that many "
                                     "lie this far up (other_min_contrast or more: never): a dark green or blue "
                                     "note, or one in shade, beside a bright page on a dark desk "
                                     "(two-note dark desk seed 5, frame 21: a green note half in shade, most of it "
                                     "under halfway from the desk's 34 to the page's 146, was never looked for; not "
                                     "tuned)", hi=1)
    other_lit_part: float = knob(1.2, "times", "a region found by colour that holds a bright sheet beside the page "
                                 "and has this many times its pixels is all of a note lit only in part (not tuned: "
                                 "the two outlines of a note lit all over differ by a few pixels, and the one "
                                 "checked for brightness is kept)", lo=1)
    middle_divisor: int = knob(3, "1/N of each side", "a page found by colour or smoothness reaches into the frame's "
                               "middle, 1/N in from each side: what the camera is pointed at, not a label in a corner "
                               "nor a strip of table beside a note", lo=3)
    desk_max_brightness: float = knob(0.9, "fraction", "of the paper's median: a desk must be clearly darker",
                                      hi=1, open_lo=True)
    edge_min_jump: float = knob(0.04, "fraction", "of the paper's brightness: a sheet's edge is a step at least this "
                                "high (real sheets 4.8% and more)", hi=1)
    edge_min_share: float = knob(0.28, "fraction", "of the contrast across the wide band: shading ramps measured "
                                 "0.12-0.25, sheets 0.32-0.80", hi=1)
    edge_near_px: float = knob(3.0, "px@320", "the band either side of the outline that holds a step", lo=1)
    edge_step_px: float = knob(4.0, "px@320", "samples along the outline this far apart: enough for a median",
                               open_lo=True)
    edge_far_px: tuple[float, float] = knob((8.0, 14.0), "px@320", "the band either side that holds a whole ramp",
                                            lo=1)
    edge_border_px: int = knob(3, "px@320", "samples this close to the frame's border are not the paper's edge (nor "
                               "is an outline's length there, for a page found in evened light)")
    margin: float = knob(0.006, "fraction", "of the small copy's longer side: the paper mask keeps off blur and "
                         "JPEG at its edge", hi=1)
    min_margin: int = knob(2, "px@320", "the least such margin")
    mask_erode: int = knob(5, "px", "erosion of the full-size mask: the coarse mask's block edges look like ink",
                           lo=1)
    colour_border: float = knob(0.04, "fraction", "of the small copy's longer side: the frame's outer band whose "
                                "median colour is the desk's", hi=0.5, open_lo=True)
    colour_min_step: float = knob(10.0, "Lab chroma units", "a page found by colour differs from the desk by at "
                                  "least this (median inside minus outside), and some of the frame by at least "
                                  "this (colour_top_percentile); paper grain and JPEG stay below", open_lo=True)
    colour_top_percentile: float = knob(99.0, "percentile", "of the chroma distances: the frame's most distant "
                                        "colours, a page's (a page is more than 1% of the frame)", hi=100)
    colour_check_rough: float = knob(0.15, "fraction", "of a bright page's area rougher than blank paper (real pages "
                                     "with writing: at most 0.04; with a desk's light stripes: 0.2 and more): "
                                     "the colour finder checks it, a smooth sheet is looked for inside it "
                                     "(page.nested_sheet), and such a sheet is at most this rough", hi=1)
    colour_within: float = knob(0.95, "fraction", "of a page found by colour that lies within the bright one (of "
                                "a bright sheet beside the page that lies within the one found by colour): the two "
                                "outline the same sheet", hi=1)
    colour_max_share: float = knob(0.85, "fraction", "a colour page within the bright one covering less of it than "
                                   "this: the bright region took in light parts of a desk of another colour", hi=1)
    colour_beside_max_share: float = knob(0.1, "fraction", "a page found by colour, larger than a smooth bright "
                                          "one (at most colour_check_rough rough) that misses the frame's middle, "
                                          "sharing less of its area than this with it is the page: the bright one "
                                          "is a piece of table beside a coloured note (generated white-table "
                                          "frames: under 1% shared)", hi=1)
    texture_window: int = knob(3, "px@320", "roughness is the gradient averaged over this window", lo=1)
    texture_percentile: float = knob(10.0, "percentile", "of the frame's roughness: blank paper's own grain (a "
                                     "page is more than a tenth of the frame)", hi=100)
    texture_ratio: float = knob(2.0, "times", "rougher than this many times paper's grain is not blank paper "
                                "(blank paper 0.006-0.01, grained desks 0.015-0.1: at 3x a light desk's finer "
                                "bands passed for paper and joined the page); a desk must be this much rougher "
                                "than a page found by smoothness", lo=1)
    texture_min: float = knob(0.01, "fraction of brightness per px@320", "roughness below this is always "
                              "smooth: JPEG and sensor noise on an evenly lit page", open_lo=True)
    rough_open: int = knob(7, "px@320", "rough parts thinner than this (rules, strokes, shadow edges) do not cut "
                           "the page; the roughness of a page leaves out half this along its edge", lo=1)
    smooth_open: int = knob(5, "px@320", "smooth parts thinner than this (a light band of a desk's pattern) do "
                            "not join the page", lo=1)
    smooth_min_desk: float = knob(0.15, "fraction", "of the frame: a page found by smoothness leaves at least this "
                                  "to the desk (a strip at the frame's edge beside a page that fills it is no "
                                  "patterned desk)", hi=1)
    smooth_level_percentile: float = knob(75.0, "percentile", "of the brightness of the smooth region a page is "
                                          "found in by smoothness: its paper's level (at the median, a shadow on "
                                          "the sheet set the level and its lit half was cut: light desk seed 11 "
                                          "+4 errors); a brighter band of more than the rest (25%) of the region "
                                          "sets the level itself and is kept", hi=100)
    smooth_brighter: float = knob(0.15, "fraction", "of that level: a page found by smoothness leaves out its parts "
                                  "brighter than the level by more: a light desk's smooth bands joined across the "
                                  "sheet's edge, which the rough_open opening does not cut (light desk scene: a "
                                  "sheet at 186, the band joined to it above 214, 3% of the region)", open_lo=True)
    max_rough: float = knob(0.4, "fraction", "of a page found by brightness, away from its edge: rougher means it "
                            "took in a patterned desk's light parts, if the desk has any (real pages 0.04 at "
                            "most, generated dense writing 0.32, generated light patterned desks mostly "
                            "0.3-0.6)", hi=1)
    nested_max_share: float = knob(0.85, "fraction", "of a rough bright region: a bright region within it covering "
                                   "at most this is a sheet on a light desk (more is the page with a margin)", hi=1)
    nested_ring_rough: float = knob(0.2, "fraction", "of the ring around such a sheet rougher than blank paper, and of "
                                    "the region's outer band (nested_band) before it is looked for: a patterned desk "
                                    "(a speckled floor 0.23), not shadowed paper (0.04-0.05)", hi=1)
    nested_band: int = knob(10, "px@320", "the outer band of a rough bright region that must be rough (nested_ring_rough) "
                            "before a sheet is looked for inside it (generated pages' bands 0.02-0.21 rough, a sheet on a "
                            "speckled floor 0.33): the search costs ~0.9 ms", lo=1)
    nested_fill_percentile: float = knob(2.0, "percentile", "of the bright region's brightness: the level given "
                                         "to the frame outside it, so that the sheet's bright region is looked for "
                                         "against the desk's levels", hi=100)
    desk_light_percentile: float = knob(90.0, "percentile", "of the desk's brightness: its light parts",
                                        hi=100)
    desk_light_ratio: float = knob(0.5, "fraction", "of the paper's median: a desk whose light parts are darker "
                                   "than this took no light parts into a rough page (generated light patterned "
                                   "desks 0.76-1.14, dark desks 0.15-0.38, glare on a glossy desk 0.6-1.0)", hi=1)
    edge_clear: float = knob(0.35, "digit heights", "darkness this near the paper's edge is cleared: corners and "
                             "shadows make digit-sized junk, and writing keeps a margin")
    edge_clear_max: float = knob(0.05, "fraction", "of the working copy's longer side: the most that is cleared. The "
                                 "junk along a paper's edge is that narrow, while a digit that fills its sticky note "
                                 "comes nearer its edge than edge_clear digit heights", hi=1)
    edge_run_length: float = knob(0.5, "digit heights", "ink touching the cleared edge along this much or more may "
                                  "be desk or glare inside the page's outline, not a stub of a stroke; at 1.0 "
                                  "generated glare frames read 95.1 -> 94.9%", open_lo=True)
    edge_run_share: float = knob(0.8, "fraction", "of the ink component's longer side that must touch the cleared "
                                 "edge: a piece of desk runs along the page's edge, a digit written near it touches "
                                 "it with less (0.6: generated light desks 95.0 -> 94.8%, glare 95.1 -> 95.5%)", hi=1)


@dataclass(frozen=True)
class LightConfig(_Checked):
    """The paper's brightness everywhere (grey closing + smoothing) and relative darkness against it."""

    small_side: int = knob(200, "px", "the paper's brightness is estimated on a copy about this big: light varies "
                           "slowly", lo=1)
    closing: int = knob(12, "1/N of the small copy's side", "the closing removes dark strokes narrower than 1/N "
                        "of the frame", lo=1)
    min_kernel: int = knob(3, "px", "the smallest closing and smoothing kernel", lo=1)
    min_background: float = knob(8.0, "grey level", "a paper darker than this is taken as this (no division by "
                                 "black)", open_lo=True)
    shadow_edge: float = knob(0.01, "fraction", "of the copy's longer side: a page read without its mask, parted by "
                              "a hard shadow's edge, leaves a band this wide on both sides of the mask's outline out "
                              "of both sides' light: the outline is not exact and light from the penumbra draws the "
                              "edge as ink (0.005 read a 9 across it as 4; twice as wide beyond the outline: the "
                              "photos 2 and the hard-shadow copies 4 digits fewer)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.shadow_edge >= 1 / (4 * self.closing):  # a pixel of the band may lie twice it from the far side
            raise ValueError(f"light.shadow_edge ({self.shadow_edge}) must leave each side within the smoothing's "
                             f"reach: below 1 / (4 x light.closing) = {1 / (4 * self.closing):.4f}")


@dataclass(frozen=True)
class InkConfig(_Checked):
    """The ink threshold, connected components and the typical digit height."""

    sample_pixels: int = knob(20_000, "count", "threshold statistics from about this many pixels are plenty", lo=1)
    noise_band: float = knob(0.05, "darkness", "above the median, values still counted as paper noise")
    noise_floor: int = knob(4, "paper-noise sigmas", "ink is this far above the paper's noise")
    join_level: float = knob(0.5, "thresholds", "fainter ink down to this (never nearer the paper than "
                             "join_noise_floor) counts where it joins pieces of the ink (hysteresis; 1: never): a "
                             "thin pen's or hard pencil's stroke fades between its firm parts and breaks into pieces",
                             hi=1)
    join_noise_floor: float = knob(8.0, "paper-noise sigmas", "the fainter ink joined is at least this far above "
                                   "the paper's noise (twice the ink's own floor): in a dim, noisy frame the faint "
                                   "pixels between pieces of the ink are noise, joining the pen to ruled lines (a "
                                   "generated frame read `6 64` for `55562 3760924` at 4)")
    join_max_stroke: float = knob(2.5, "px", "fainter ink is joined only when the ink's mean stroke is this thin: a "
                                  "broad pen's strokes stay whole, and the faint halo between them merges its digits "
                                  "(with no bound the shared photos lost 12 digits, memocpr 9)")
    join_growth: float = knob(4.0, "times", "a faint piece is joined only when it is at most this many times the ink "
                              "it holds: a broken stroke gains its gaps and a halo; sensor noise or grain linking "
                              "specks gains far more (with no bound the vignetted photos lost 28 digits)", lo=1)
    join_max_share: float = knob(0.5, "fraction", "of the working copy's shorter side: the first ink mask joins a "
                                 "faint piece only when no wider nor taller (the digits' size is not known yet; as "
                                 "join_max_size)", hi=1)
    join_max_size: float = knob(1.5, "digit heights", "the upright ink joins a faint piece only when no wider nor "
                                "taller: a grid, a rule or a shadow's edge runs on further (with neither size bound "
                                "the squared-paper scene read 32 -> 59 errors)")
    min_sampled_ink: int = knob(50, "count", "with fewer sampled ink pixels every pixel is looked at", lo=1)
    min_ink_pixels: int = knob(10, "count", "fewer ink pixels than this is no ink")
    ink_percentile: float = knob(90, "percentile", "the ink level: the dark end of the pixels above the floor",
                                 hi=100)
    pen_separation: float = knob(3.0, "times", "the darker of two classes of ink pixels is the pen's, even when the "
                                 "lighter outnumbers it ninefold, if this many times darker on average: a printed "
                                 "grid's lines are 3.1-5.3x fainter than the pen on generated squared paper, while "
                                 "2.4-3.0x fainter pencil beside marker on real pages (memocpr) is writing too", lo=1)
    threshold_of_ink: float = knob(0.4, "fraction", "of the ink level: the threshold (strokes' soft edges are "
                                   "lighter)", hi=1)
    edge_darker: float = knob(1.5, "times", "dark pieces touching the paper's edge (desk inside the page's outline, "
                              "a shadow's band) whose median is this many times the ink level of the rest are left "
                              "out of the ink level; at 1 a grid joined to a marker's digits, lighter than the digits "
                              "but darker than specks, was left out too (generated squared paper)", lo=1)
    max_aspect: float = knob(2.5, "fraction", "width / height of a digit-like component at most", open_lo=True)
    max_tallness: int = knob(6, "fraction", "height / width of a digit-like component at most (a 1 is thin)",
                               open_lo=True)
    tallness_slack: int = knob(4, "px", "added to the allowed height: a 1 may be a few pixels wide")
    min_area: int = knob(20, "px^2", "ink pixels of a digit-like component at least")
    min_fill: float = knob(0.08, "fraction", "of its bounding box a digit-like component inks at least", hi=1)
    contained_height: float = knob(0.3, "fraction", "of its container's height: a smaller enclosed component does "
                                   "not make a box", hi=1)
    max_containers: int = knob(400, "count", "containment is tested pairwise: with more candidates it is skipped")
    shortest_dropped: int = knob(3, "1/N of the components", "the typical height ignores the shortest third: "
                                 "fragments and specks", lo=1)
    texture_gap: float = knob(1.5, "times", "digit-like components fall into a pen's and a lighter class (desk "
                              "texture or a fold's shade let into the ink) when, sorted by mean darkness, two "
                              "neighbours are this many times apart", lo=1, open_lo=True)
    texture_min_pen: int = knob(3, "count", "the darker class is the pen's only with at least this many "
                                "components: one or two dark ones are a desk's edge or a shadow as often", lo=1)
    texture_height_change: float = knob(1.5, "times", "the digit height is measured on the pen's class alone only "
                                        "when that changes it this much: a lighter class that set the measure "
                                        "(texture read as digits); a small change stays, as the thresholds after "
                                        "it were tuned with the grid or specks measured too", lo=1)
    texture_max_components: int = knob(600, "count", "with more digit-like components no class is looked for: "
                                        "each one's darkness is read in its own box, and this bounds that work "
                                        "(a generated light-desk frame read as texture all over held 176)", lo=1)
    guessed_heights: tuple[float, float] = knob((15.0, 30.0), "px", "digit heights to size rule removal for before "
                                                "any digit is measured", open_lo=True)
    long_component: float = knob(2.5, "guessed heights", "a component this long may be digits joined by a rule",
                                 open_lo=True)
    close_divisor: int = knob(14, "1/N digit heights", "gaps of 1/N of a digit are closed before labelling", lo=1)
    border_max_size: float = knob(3.5, "digit heights", "a component the frame's edge cuts is dropped if no longer: "
                                  "longer ones (rules, page edges) are rule removal's")
    border_band: float = knob(0.1, "digit heights", "how near the frame's edge a component's pixels count as on it")
    border_band_min: int = knob(2, "px", "the band is at least this wide: digits under 20 px tall (0.1 of them is "
                                "under 2 px) still have a band beyond a pixel's aliasing", lo=1)
    window_reach: float = knob(1.0, "digit heights", "the ink window, and the upright copy turned from it, reach "
                               "this far beyond the ink: the crops, the closing and the deskew's reach look past the "
                               "strokes", open_lo=True)
    border_cut_share: float = knob(0.4, "fraction", "of its extent along the edge its pixels in the band span: a cut "
                                   "(window bars, a hand) spans most, a digit grazing the edge a stroke", hi=1,
                                   open_lo=True)


@dataclass(frozen=True)
class DeskewConfig(_Checked):
    """The text direction (paper edges and neighbouring digits) and the rotation upright."""

    min_height: float = knob(0.5, "digit heights", "shorter components do not give the direction")
    max_height: float = knob(2.0, "digit heights", "taller components do not give the direction")
    max_width: float = knob(2.5, "digit heights", "wider components do not give the direction")
    min_fill: float = knob(0.12, "fraction", "of the bounding box: hollow boxes drawn around digits are left out",
                           hi=1)
    max_points: int = knob(300, "count", "neighbours are found among all pairs: the largest this many components",
                           lo=2)
    neighbours: int = knob(2, "count", "each component pairs with this many nearest ones", lo=1)
    neighbour_reach: float = knob(2.2, "digit heights", "neighbours farther apart are not in one line or column")
    min_pairs: int = knob(3, "count", "fewer neighbour pairs on a paper leave the direction to its edges", lo=1)
    min_digits: int = knob(3, "count", "fewer digits cannot tell rows from columns", lo=1)
    own_min_pairs: int = knob(4, "count", "neighbour pairs that may tell a direction of their own against the "
                              "paper's edges (a row of five digits written diagonally); scattered digits give 0-3. Counts "
                              "only from min_pairs up: fewer pairs on a paper give no direction of their own", lo=1)
    own_agreement: float = knob(0.85, "fraction", "mean resultant length of the pairs' quadrupled directions (1: all "
                                "agree modulo 90 degrees) for that: one row's pairs give 0.88-1, scattered digits' "
                                "on memocpr's sheets 0.3-0.8", hi=1)
    own_min_turn: float = knob(15.0, "degrees", "from both of the paper's edge directions, for that: a page in "
                               "perspective turns its rows up to ~10 degrees from its outline's rectangle", hi=45)
    sure_side: float = knob(0.25, "fraction", "of neighbour pairs beyond half leaning one way: rows are told from "
                            "columns", hi=0.5)
    choose_above: float = knob(30.0, "degrees", "a steeper angle is chosen modulo 90 by the neighbours", hi=45)
    min_angle: float = knob(1.5, "degrees", "smaller tilts are read as they are (rotating costs and blurs)")
    tile: int = knob(8, "px", "the rotation computes whole tiles near ink", lo=1)
    threshold_slack: float = knob(0.999, "fraction", "of the threshold: pixels this dark count as ink when "
                                  "finding tiles (rounding)", hi=1, open_lo=True)
    crop_reach: int = knob(2, "px", "beyond half the closing, what crops look at around the ink")


@dataclass(frozen=True)
class RulesConfig(_Checked):
    """Rules, boxes drawn around digits and long straight strokes, taken out of the upright ink."""

    border_trigger: float = knob(1.2, "digit heights", "without a first-pass component this big there is no box "
                                 "or rule to erase")
    box_min_side: int = knob(12, "px", "a box around digits is at least this wide and tall")
    box_min_aspect: float = knob(0.35, "fraction", "short side / long side of a box around digits", hi=1)
    box_max_fill: float = knob(0.3, "fraction", "of its bounding box a box around digits inks at most", hi=1)
    hug_margin: float = knob(0.06, "fraction", "of the box's short side: the band a box's own ink lies in", hi=0.5)
    hug_min_margin: int = knob(2, "px", "the least such band")
    hug_max_interior: float = knob(0.15, "fraction", "of its ink a box has inside that band at most", hi=1)
    length: float = knob(1.8, "digit heights", "horizontal/vertical strokes longer than this are rules",
                         open_lo=True)
    min_length: int = knob(15, "px", "the shortest rule however small the digits", lo=1)
    slack_per_height: int = knob(10, "1/N digit heights", "slack across a line so tilted, ragged rules make long "
                                 "runs", lo=1)
    slack_range: tuple[int, int] = knob((3, 7), "px", "the least and most such slack", lo=1)
    bridge: int = knob(5, "px", "breaks along a faint rule (dashes) bridged", lo=1)
    remnant_reach: float = knob(1.0, "digit heights", "a piece no thicker than a rule in line with a horizontal rule "
                                "found, this far past its stretches' ends, is the rule's too: the short pieces of a "
                                "broken or fading rule (0.5-2 read the shared photos and generated frames alike)")
    hough_trigger: float = knob(2.5, "digit heights", "only a component this long can hold a tilted rule",
                                open_lo=True)
    hough_max_ink: float = knob(0.12, "fraction", "of the upright window inked at most for tilted rules to be "
                                "sought: desk texture inks 20-30% (0.5 s of Hough transform at 1920 px), real "
                                "pages at most 4.4%", hi=1)
    hough_length: float = knob(2.5, "digit heights", "tilted straight segments longer than this are rules",
                               open_lo=True)
    hough_min_length: int = knob(20, "px", "the shortest tilted rule however small the digits", lo=1)
    hough_votes: float = knob(1.5, "digit heights", "Hough accumulator threshold, in pixels per digit height",
                              open_lo=True)
    hough_min_votes: int = knob(15, "px", "the least Hough accumulator threshold", lo=1)
    hough_gap: float = knob(0.08, "digit heights", "gaps along a tilted rule bridged")
    hough_min_gap: int = knob(2, "px", "the least such gap")
    hough_resolution: int = knob(360, "1/N half turn", "Hough angle step: half a degree", lo=1)
    thin_max: float = knob(0.2, "digit heights", "a rule is at most this thick in most columns")
    thin_min_px: float = knob(3.0, "px", "the least such thickness")
    thin_share: float = knob(0.8, "fraction", "of its columns a rule is thin in (digits' loops and gaps are not)",
                             hi=1)
    straightness: float = knob(0.06, "digit heights", "RMS wander of a rule's centre from a straight line at most")
    straightness_min_px: float = knob(1.0, "px", "the least such wander")
    side_max_width: float = knob(0.35, "fraction", "of its height: a box's side is thin", hi=1)
    side_min_height: float = knob(1.3, "digit heights", "a wider stroke counts as a side only if this tall")
    side_reach: int = knob(2, "px", "sideways, how far a side's end looks for a removed rule")
    side_out: int = knob(3, "px", "beyond a side's end, how far a removed rule that ends it may lie")
    side_in: int = knob(2, "px", "within a side's end, how far a removed rule that ends it may lie")
    side_tall: float = knob(1.15, "digit heights", "a side this tall needs a rule at one end only")
    faint_length: float = knob(3.0, "digit heights", "a faint rule's darkness is sustained along this length: "
                               "ruled and squared paper's lines cross the page, while box sides and boxes stacked "
                               "in a column (1.3-2 digit heights) are shorter", open_lo=True)
    faint_ratio: float = knob(2.0, "times", "ink at most this many times as dark as the darkness sustained along a "
                              "line through it, above its surroundings (rules.line_darkness), is that line's: a "
                              "faint rule's dashes peak at up to twice its sustained level (1.5, measured before "
                              "the surroundings were subtracted, found few of them on squared paper)", lo=1)
    crossing_size: float = knob(2.0, "rule thicknesses", "a faint grid's crossing thresholded into a dot is at most "
                                "this wide and tall (the dots of generated squared paper: 2-5 px, rules 3-4 px thick)",
                                open_lo=True)
    tilt_max: float = knob(12.0, "degrees", "a faint grid's columns lean at most this much after the rows are levelled "
                           "(perspective)", hi=45, open_lo=True)
    tilt_step: float = knob(1.0, "degrees", "leans tried in steps of this", open_lo=True)
    tilt_min: float = knob(2.0, "degrees", "columns leaning less are found upright (the slack across a line)")
    tilt_gain: float = knob(1.3, "times", "the columns lean only when their profile is this many times as peaked "
                            "as upright", lo=1)
    tilt_min_pixels: int = knob(500, "count", "thin upright ink left after the upright dashes: with less there is "
                                "no grid to lean", lo=1)
    tilt_sample_pixels: int = knob(4000, "count", "the lean is measured on about this many of those pixels (every "
                                   "n-th): a grid's columns hold thousands", lo=1)
    tilt_passes: int = knob(2, "count", "leans looked for in turn: perspective leans a grid's columns more towards "
                            "one side (a third pass found none on generated squared paper)", lo=0)


@dataclass(frozen=True)
class BlobsConfig(_Checked):
    """Which components are digit candidates, and how fragments of one digit are joined."""

    max_candidates: int = knob(600, "count", "grouping compares candidates pairwise: more is texture (a dense page "
                               "has ~150 digits plus fragments)", lo=1)
    min_sizeable: float = knob(0.3, "digit heights", "shorter components cannot be boxes around digits")
    max_height: float = knob(3.5, "digit heights", "taller components are borders or not writing")
    container_height: float = knob(1.15, "digit heights", "a taller component holding another is a box around "
                                   "digits")
    patch_side: float = knob(0.5, "digit heights", "a solid patch is at least this wide and tall")
    patch_fill: float = knob(0.8, "fraction", "of its box a solid patch inks more (a bold 8 fills up to ~70%)",
                             hi=1)
    speck_height: float = knob(0.25, "digit heights", "shorter and narrow components are specks")
    speck_width: float = knob(0.4, "digit heights", "narrower and short components are specks")
    speck_min_heights: float = knob(0.5, "min_digit_heights", "specks are at least this short whatever the digits",
                                    hi=1)
    flat_height: float = knob(0.2, "digit heights", "a flat piece (a 5's or 7's bar) is shorter than this")
    flat_width: tuple[float, float] = knob((0.2, 0.9), "digit heights", "a flat piece is this wide")
    min_area: float = knob(0.02, "digit heights^2", "ink area of a candidate at least")
    min_height: float = knob(0.2, "digit heights", "shorter components are remnants")
    max_width: float = knob(8.0, "digit heights", "wider components are rule remnants")
    small_digit: float = knob(0.2, "digit heights", "scattered digits this small are still read if in the page's "
                              "pen")
    show_through: float = knob(1.15, "thresholds", "a candidate's ink must reach this: show-through from the "
                               "back is lighter")
    show_through_ink: float = knob(0.3, "fraction", "of the ink level a candidate's ink must reach", hi=1)
    ink_percentile: float = knob(75, "percentile", "a candidate's ink level", hi=100)
    max_stroke: float = knob(0.45, "fraction", "of its height: a broader stroke is a smudge", hi=1)
    small_below: float = knob(0.45, "digit heights", "shorter candidates are kept only if in the page's pen")
    noise_ink: float = knob(0.6, "fraction", "of the page's typical ink: lighter blobs are sensor noise (a 1 drawn "
                            "with a thin stroke peaks lighter than the page's other digits: 0.61-0.66 of it on real "
                            "pencil and pen sheets; 0.5 let generated noise and desk grain through)", hi=1)
    noise_threshold: float = knob(1.6, "thresholds", "blobs this dark are ink however light the page's writing")
    pen_stroke: tuple[float, float] = knob((0.6, 1.5), "fraction", "of the page's median stroke width: the same "
                                           "pen", open_lo=True)
    pen_min_strokes: float = knob(4.0, "stroke widths", "a small digit is at least this tall (a dot is less)")
    pen_ink: float = knob(0.65, "fraction", "of the page's ink a small digit reaches", hi=1)
    clutter_cell: float = knob(2.0, "digit heights", "specks are counted on a grid of this cell", open_lo=True)
    clutter_min_cell: float = knob(4.0, "px", "the least such cell", open_lo=True)
    clutter_max_density: float = knob(7e-3, "specks per px", "desk texture measured 7-19 per 1000 px, paper grain "
                                      "at most 3.2; 1e-2 reads texture again")
    speck_size: float = knob(0.3, "digit heights", "components smaller both ways are specks")
    merge_overlap: float = knob(0.6, "fraction", "of the narrower box: pieces of one digit overlap horizontally",
                                hi=1)
    merge_stack: float = knob(0.3, "fraction", "of the shorter box: stacked pieces overlap vertically at most",
                              hi=1)
    merge_gap: float = knob(0.25, "digit heights", "stacked pieces are at most this far apart")
    merge_height: float = knob(1.3, "digit heights", "merged pieces are at most this tall")
    piece_below: float = knob(0.6, "digit heights", "shorter blobs are pieces that join a digit beside them")
    piece_gap: float = knob(0.25, "digit heights", "a piece joins a digit at most this far away")
    piece_width: float = knob(1.25, "digit heights", "a digit with its piece is at most this wide")
    piece_height: float = knob(1.3, "digit heights", "a digit with its piece is at most this tall")
    mend_min_row: int = knob(3, "count", "a row of fewer blobs does not tell a digit's height", lo=1)
    mend_short: float = knob(0.8, "row heights", "a shorter blob may be the firm piece of a broken digit")
    mend_level: float = knob(0.6, "thresholds", "fainter ink joined to a short blob counts as its stroke: a "
                             "thin or faint pen's strokes fall that low between their firm pieces", hi=1)
    mend_gain: float = knob(0.1, "row heights", "a short blob is grown only if this much taller: a pixel or two "
                            "of halo is no missing stroke")
    mend_max_height: float = knob(1.15, "row heights", "a grown blob taller than this took in grain or a rule, not "
                                  "its own stroke (and the faint ink is followed only that far)")
    mend_max_width: float = knob(1.0, "row heights", "a grown blob wider than this took in grain or a rule, not its "
                                 "own stroke (the faint ink is followed only that far; a wider blob is not mended)")


@dataclass(frozen=True)
class LinesConfig(_Checked):
    """Rows as the writer wrote them, their groups, and the sides of boxes at their ends."""

    row_reach: float = knob(3.0, "digit heights", "a row is followed through its blobs this far back")
    row_neighbours: int = knob(4, "count", "at most this many of them", lo=1)
    row_min_overlap: float = knob(0.3, "fraction", "of the smaller height a blob overlaps its row (rising "
                                  "handwriting overlaps by less than half)", hi=1)
    group_gap: float = knob(1.6, "digit heights", "a wider gap may start a new group")
    group_gap_ratio: float = knob(3.0, "usual gaps", "and only if this many times the row's usual gap")
    group_min_usual_gap: float = knob(0.25, "digit heights", "the least usual gap")
    side_max_width: float = knob(0.3, "fraction", "of its height: a box's side is thin", hi=1)
    side_overhang: float = knob(0.1, "fraction", "of the line's size a side sticks out above and below")
    side_faint: float = knob(0.7, "fraction", "of the line's ink: a fainter thin stroke is a line piece", hi=1)
    side_tall: float = knob(1.3, "line heights", "a stroke this tall at the line's end may be a box side")
    side_stroke: float = knob(0.6, "fraction", "of the line's stroke width: a thinner pen at its end is a box",
                              hi=1)


@dataclass(frozen=True)
class ClassifyConfig(_Checked):
    """Crops, splitting touching digits, and what the classifier's outputs decide."""

    pad: int = knob(2, "px", "crops look this far beyond the blob's box")
    soft_low: float = knob(0.5, "thresholds", "darkness below this is blank in a crop", hi=1)
    stroke_percentile: float = knob(80, "percentile", "a digit's own ink level (a light digit still gets solid "
                                    "strokes)", hi=100)
    min_stroke_pixels: int = knob(4, "count", "with fewer ink pixels the page's ink level is used")
    crop_edge: float = knob(0.05, "fraction", "of full ink: fainter pixels are outside the crop", hi=1)
    thicken_min_side: int = knob(12, "px", "smaller crops are not thickened")
    solid: float = knob(0.5, "fraction", "of full ink: solid stroke pixels when measuring the stroke width", hi=1)
    mnist_stroke: float = knob(0.11, "fraction", "of the crop's longer side: MNIST's stroke width", hi=1)
    thick_enough: float = knob(0.75, "fraction", "of MNIST's stroke width: thick enough", hi=1)
    wide_row_others: int = knob(3, "count", "a blob's width is also judged against the median width of this "
                                "many other blobs of its group or more (flat 0s), never of fewer (one pair beside "
                                "another)", lo=1)
    split_aspect: float = knob(0.8, "row heights", "narrower blobs are never split (two digits written into each "
                               "other, as a '43', can be narrower than a row height; at 0.7 blurred single digits "
                               "start to be cut, a 9 into a sure '19')")
    split_base_aspect: float = knob(1.2, "row heights", "the width at which splitting and not weigh the same")
    split_rounds: int = knob(2, "count", "a piece cut off a wide blob by a straight cut is weighed for another "
                             "cut up to this many times (three or more digits written into one run)")
    recut_aspect: float = knob(1.1, "row heights", "narrower pieces are not cut again (a piece holding two "
                               "digits is 1.2-1.6 wide)")
    recut_min_conf: float = knob(0.9, "probability", "a piece is cut again only in a group holding another digit "
                                 "this sure, and only into two digits this sure (junk beside a page, cut into "
                                 "pieces, reads as digits on its own)", hi=1)
    segment_aspect: float = knob(1.8, "row heights", "blobs this wide or wider are also parted by "
                                 ":func:`.classify.segment_runs` (runs of three or more touching digits, which the "
                                 "cuts above leave wrong; pairs they mostly cut right); inf turns it off. At 1.4 the "
                                 "touching runs read as well, but desk texture beside a turned sheet was parted into "
                                 "sure digits (README, session 49)")
    segment_max_aspect: float = knob(6.0, "row heights", "wider blobs are not parted: a rule or a scribble, and the "
                                     "even cuts of a wider run would be many")
    segment_max_cuts: int = knob(16, "count", "candidate cuts through one blob: with its two ends, at most (this + "
                                 "2) choose 2 pieces are cropped", lo=1)
    segment_minima: int = knob(6, "count", "the weakest local minima of a run's column profile taken as cuts "
                               "(a run of three or four digits has two or three contacts; six leave room for weak "
                               "columns inside a digit)", lo=0)
    segment_smooth: int = knob(3, "px", "the run's column profile is averaged over this many columns before its "
                               "weakest ones are found (odd: an even count shifts it by half a column)", lo=1)
    segment_narrowest: float = knob(0.45, "row heights", "even cuts part a run into at most its width over this "
                                    "many pieces (a 1 is narrower, and is found at a weak column)", open_lo=True)
    segment_end: float = knob(0.15, "row heights", "no cut nearer a run's end, no piece narrower")
    segment_max_piece: float = knob(1.4, "row heights", "wider pieces are not cropped (one digit is rarely wider "
                                    "than a row height; from segment_wide on a piece pays for its width)")
    segment_wide: float = knob(1.0, "row heights", "a piece wider than this pays segment_width_weight per row height "
                               "beyond: it holds two digits more likely than one")
    segment_width_weight: float = knob(3.0, "log-probability per row height", "what a piece pays for its width "
                                       "beyond segment_wide (split_aspect_weight's value: the same evidence, width, "
                                       "against one digit)")
    segment_piece_cost: float = knob(0.6, "log-probability", "each piece of a parting pays this: halves of a digit "
                                     "read surely too")
    segment_margin: float = knob(1.5, "log-probability", "a parting replaces the cuts made before only when its score "
                                 "beats theirs by this: they were weighed with the pieces' heights too, the parting "
                                 "only with confidences and widths")
    segment_lone_min_conf: float = knob(0.98, "probability", "every piece of a parting of a blob in a group with no "
                                        "other sure digit (recut_min_conf) reads this surely: junk runs beside a page "
                                        "read as digits when cut", hi=1)
    split_aspect_weight: float = knob(3.0, "log-odds per row height", "how much width says 'two digits' (fitted on "
                                      "generated frames)")
    split_height_weight: float = knob(10.0, "log-odds", "how much a short half says 'one digit' (fitted on "
                                      "generated frames)")
    logit_clip: float = knob(0.001, "probability", "confidences are clipped so saturated ones stay comparable",
                             hi=0.5, open_lo=True)
    separate_tall: float = knob(0.5, "fraction", "of the blob's height: eroded pieces this tall are digits", hi=1)
    cut_range: tuple[float, float, float] = knob((0.25, 0.5, 0.75), "fraction", "of the blob's width: the cuts "
                                                 "looked for (middle, left and right of the centre)", hi=1)
    centre_penalty: float = knob(0.5, "fraction", "of the fullest column: the middle cut's pull to the centre")
    min_cut_distance: int = knob(2, "px", "cuts nearer than this are the same cut")
    path_side_cost: float = knob(0.3, "ink pixels", "a curved cut's cost for each pixel it steps "
                                 "sideways: it follows the gap between two digits, not every gap in one")
    path_min_straight: float = knob(1.5, "stroke widths", "of ink the best straight cut crosses: below it (a thin "
                                    "contact) no curved cut is looked for")
    half_height: float = knob(0.5, "fraction", "of the blob's height each side of a cut inks at least", hi=1)
    one_min_aspect: float = knob(0.7, "row heights", "a narrower blob is one digit: a 1 touching a digit on its right "
                                 "is looked for only in wider ones")
    one_max_width: float = knob(0.35, "digit heights", "the cut that parts a touching 1 is looked for this near the "
                                "blob's right end, and the rest is at least this wide")
    one_min_height: float = knob(0.8, "fraction", "of the blob's height the 1 cut off spans at least: a 1 is as tall "
                                 "as its neighbour, a 2's or 5's tail is not", hi=1)
    one_min_conf: float = knob(0.9, "probability", "the piece cut off must read as 1, and the rest as the whole did, "
                               "at least this surely (a whole that ignores a touching 1 is read surely too)", hi=1)
    min_is_digit: float = knob(0.5, "probability", "a crop the classifier calls no digit at this is not reported",
                               hi=1)
    second_look_below: float = knob(0.8, "probability", "a digit or '?' reported less sure than this gets a second "
                                    "look (classify.second_look); 0.7-0.95 read alike, 0 turns it off", hi=1)
    second_look_shift: int = knob(1, "px", "of the 28 px crop: how far each shifted copy is moved (2 px read 3 digits "
                                  "of the real photos and 4 generated errors worse than 1)", lo=1, hi=4)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.segment_smooth % 2 == 0:
            raise ValueError(f"classify.segment_smooth ({self.segment_smooth}) must be odd")


@dataclass(frozen=True)
class OrientConfig(_Checked):
    """Which reading of a page wins when it is also read a quarter or half turn further."""

    margin: float = knob(0.05, "probability", "the other reading wins if its mean confidence is higher by this",
                         hi=1)
    unsure_below: float = knob(0.95, "probability", "a reading of unsure_min_digits or more less sure than this is "
                               "also read at the other turns (upright pages read 0.04-0.45 less sure turned over)",
                               hi=1)
    unsure_min_digits: int = knob(6, "count", "fewer digits are too little evidence to turn a page (with 4, an unsure "
                                  "7126 read 9116 turned over at 0.99)", lo=1)
    lone_max_digits: int = knob(1, "count", "a reading of this many digits (at least one) less sure than lone_below is "
                                "also read at the other turns (with 5, sideways copies read more digits, but upright "
                                "two-digit generated frames were turned wrongly)")
    lone_below: float = knob(0.9, "probability", "a lone digit read sideways reads less sure than this more often than "
                             "not", hi=1)
    lone_min_confidence: float = knob(0.99, "probability", "another turn's reading of a lone digit wins only if this "
                                      "sure: a wrong turn can read 0.9-0.99 sure (with 0.9, a generated frame lost a "
                                      "digit)", hi=1)
    turned_rows: float = knob(0.75, "fraction", "a reading at another turn of a page whose rows were found wins only "
                              "if its lines hold this much of the first reading's digits per line (orient.may_turn; "
                              "0.5-1 read the shared photos and their copies alike) or it is short_rows_confidence "
                              "sure", hi=1)
    short_rows_confidence: float = knob(0.98, "probability", "a reading at another turn with shorter lines still wins "
                                        "when this sure: a sideways list of short rows reads 1.0 at its true turn, a "
                                        "quarter turn of rows 0.94 (1367 | 2015 at half size)", hi=1)
    turned_min_height: float = knob(0.75, "fraction", "a reading at another turn whose digits are shorter than this "
                                    "share of the first reading's (each along its own up direction, orient.up_height) "
                                    "may not win: digits are taller than wide, so on a page tilted well away from 45 "
                                    "degrees a wrong turn shows the same digits shorter, and the dashes of a lightly "
                                    "drawn box read a quarter turn as sure 1s half the digits' height (not tuned; 0: "
                                    "off)", hi=1)
    page_turn_margin: float = knob(0.1, "probability", "a sheet beside the page read a half turn from a page sure "
                                   "of its turn is also read at the page's turn, and keeps its own reading if surer "
                                   "than that by this (or if that reports too few digits: page_turn_min_digits): "
                                   "notes on one desk face the camera alike, and digits turned over can read surer "
                                   "than the upright row with a '?' (not tuned)", hi=1)
    page_turn_min_digits: float = knob(0.75, "fraction", "of the digits a sheet's own reading reports: its reading at "
                                       "the page's turn reporting fewer does not replace it (unsure pieces are "
                                       "called no digit and dropped, and the few left can read surer; not tuned, "
                                       "turned_rows' value)", hi=1)


@dataclass(frozen=True)
class SmallConfig(_Checked):
    """Small digits among big ones, read again once the big ones are erased."""

    min_big_height: float = knob(64.0, "px", "in the working copy: digits this tall leave the small ones beside "
                                 "them (0.1-0.45 as tall) 6 px and more, which the reading of the big ones drops "
                                 "as specks, on the working copy or a copy shrunk for them (at 48 px, junk read "
                                 "as small digits cost real digits; at 128 px, as until session 20, real photos "
                                 "shrunk to 800 or 1024 px lost pencil notes beside marker digits)", lo=1)
    around: float = knob(1.5, "big digit heights", "the window read again spans the big digits and this much more: "
                         "small digits written among and beside them (memocpr's scattered sheets hold small "
                         "digits up to ~1.5 big heights beyond the big ones; at 0.5, until session 55, those "
                         "were never looked for); the page's edges and a printed grid read there as 1s are "
                         "kept out by pen_share and cut_by_frame")
    window_margin: float = knob(0.5, "big digit heights", "the window read is this much larger than where small "
                                "digits are taken: what its edge cuts is dropped")
    erase_margin: float = knob(0.3, "digit heights", "each big digit is painted over this far beyond its box: its "
                               "stroke ends, and the blur around them, read as 1s otherwise")
    min_height: float = knob(0.1, "big digit heights", "an ink component this tall among the big digits (and "
                             "away from them) may be a small digit: without one, nothing is read again; shorter "
                             "digits of the second reading are specks")
    max_height: float = knob(0.45, "big digit heights", "taller digits of the second reading are not small (the big "
                             "ones were read already)", hi=1, open_lo=True)
    reach: float = knob(0.5, "big digit heights", "a digit nearer a big digit's box is a remnant of it")
    min_confidence: float = knob(0.95, "probability", "a second reading digit is added only if this sure: it looks "
                                 "where the first reading saw nothing", hi=1)
    pen_share: float = knob(0.5, "fraction", "a second reading digit is added only if its ink is at least this "
                            "share of the big digits' median contrast (:func:`.small.ink_contrast`): one writer's "
                            "small digits are in the page's pen; a squared sheet's printed grid, cut into short "
                            "pieces by the page's edge and read as sure 1s, has 0.3-0.45 of it (scenes seed 7)",
                            hi=1)
    ink_percentile: float = knob(5.0, "percentile", "of a digit's box: its ink's level for the contrast", hi=100)
    paper_percentile: float = knob(75.0, "percentile", "of the box grown by paper_reach: the paper's level around it",
                                   hi=100)
    paper_reach: float = knob(0.5, "box heights", "the box is grown by this each way for the paper around it")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_height >= self.max_height:
            raise ValueError(f"small.min_height ({self.min_height}) must be below small.max_height ({self.max_height})")


@dataclass(frozen=True)
class ShadeConfig(_Checked):
    """A page cut by a shadow's edge or by light falling off: read again without the page when its
    cut rows show it."""

    edge_heights: float = knob(1.0, "digit heights", "a digit whose box centre has the page's edge (inside the frame) "
                               "this near, in the square around it, sits at its edge: writing keeps a margin from a "
                               "sheet's real edge, a shadow's edge cuts through rows; the height is its line's median "
                               "(a digit cut by the edge has a short box)")
    min_cut_digits: int = knob(1, "count", "this many digits at the page's edge inside the frame ask for a look "
                               "beyond it (a shadow's edge crossing a row leaves one digit there as often as two: at "
                               "2 the shadowed shared photos read 1320/1602, at 1 1356; a look may read the frame "
                               "again, and a light-desk scene frame whose desk passes as shade 1 error)", lo=1)
    row_run_on: float = knob(2.0, "row pitches", "a row of two digits or more whose line, drawn on this far beyond "
                            "either end (in its median distance between digit centres), leaves the page inside the "
                            "frame runs into its edge and asks for a look too; a shadow's edge can fall in the gap "
                            "after a row's last lit digit (AndreaViviani89's and tahaemara's shadowed copies). Its "
                            "reading without the page is kept only if it reads no first row in two of its rows "
                            "(:func:`.shade.rows_parted`). Session 45: at 2 shadow copies 1460 -> 1465/1602, stripe "
                            "1465 -> 1469, mildshadow 1511 -> 1513; at 1 shadow 1460; at 3 the copies the same, the "
                            "light desk scene 1 error more. 0: rows never ask", lo=0)
    band: float = knob(0.03, "fraction", "of the page finder's copy's longer side: the width of the bands just inside "
                       "and just beyond the page's edge that are compared", hi=1, open_lo=True)
    ratio: tuple = knob((0.4, 0.75), "fraction", "the band beyond the edge is this bright, as a share of the band "
                        "inside: paper in a hard shadow (0.51-0.73 in shared photos darkened by shadows of 0.45-0.6, "
                        "the band taking in the blurred edge), not a dark desk (0.12-0.31 in the dense-sheet scene) "
                        "nor most light ones (0.60-1.04 in the light-desk scene; of its frames at 0.60-0.75 in "
                        "the paper's colour one reads a stray digit off the page more when read again); session "
                        "45, a low end of 0.2: the shadow copies the same, the default scene 18 -> 29 errors, "
                        "side-lit 45 -> 67", hi=1)
    mild_ratio: float = knob(0.95, "fraction", "a band beyond brighter than `ratio` allows, up to this, is paper in a "
                             "milder shadow when its colour is the page's within mild_chroma, smooth or not (writing "
                             "in the band is not smooth): a hand's or phone's sharp shadow with room light around "
                             "(benchmarks' mildshadow copies, 0.7-0.85 of the light: bands 0.75-0.87, chroma 0-1.4; "
                             "1076/1602 digits at 0.75, 1474 at 0.85, 1487 at 0.9 and 0.95), or a shadow's band "
                             "(stripe copies: 1353 at 0.75, 1361 at 0.9, 1450 at 0.95, 1452 at 1.0). Light desks "
                             "there mostly differ in colour (9 of 11 light-desk scene frames at 0.75-0.88); the grey "
                             "ones cost 4 errors in 200 light-desk frames (seed 11) at 0.9 and 0.95, and false digits "
                             "in 30 digitless light-desk frames 9 -> 13 (0.9) -> 18 (0.95)")
    mild_chroma: float = knob(3.0, "Lab chroma units", "a band in the milder zone (mild_ratio) is the page in shade "
                              "without the smoothness test only if its colour is this close to the page's: the less "
                              "the brightness tells, the closer the colour must be (with max_chroma's 6 and mild_ratio "
                              "0.85, a grey light desk at 0.835, chroma 4.1, was taken for paper in shade: 8 errors "
                              "more in the light-desk scene)")
    falloff_ratio: float = knob(1.0, "fraction", "a band beyond brighter than `ratio` allows (and than mild_ratio, or "
                                "further from the page's colour than mild_chroma), up to this, is the page "
                                "where the light falls off gently (vignetting: 0.72-0.90 on vignetted shared photos; "
                                "painterdrown's sheet of 6s turned 30 degrees: 0.931) when it is smooth "
                                "(falloff_smooth): up to the page's own brightness, since past `ratio`'s upper end "
                                "the texture test, not the brightness, tells the desks measured (0.93 cut that "
                                "sheet's shaded half off; at 1.0 no scene, digitless frame or other degraded copy "
                                "reads differently). A smooth desk of the paper's colour passes at any such brightness",
                                hi=1)
    falloff_smooth: float = knob(0.5, "fraction", "of such a band as smooth as blank paper: a sheet's margin in dimmer "
                                 "light (0.60-0.99 where the shared photos' bands, vignetted or not, measured "
                                 "0.75-0.93; 0.69-0.99 at 0.93-0.98), not a textured light desk (0.05-0.32 in the "
                                 "light-desk scene's frames of the paper's colour at 0.75-0.93, none of any scene's "
                                 "100 frames at 0.93-1.0; 0.5 is midway). A smooth desk of the paper's "
                                 "colour passes: the reading without the page is then kept only if surer", hi=1)
    max_chroma: float = knob(6.0, "Lab chroma units", "the band beyond differs in colour from the band inside by at "
                             "most this: shade keeps the paper's colour (0-3 in the shadowed photos but one at 12), "
                             "a wooden or coloured desk does not (1.4-49 in the dense-sheet and light-desk scenes' "
                             "frames that reached this test, most above 6)")
    straddle_rows: int = knob(3, "count", "when this many rows of the reading without the page run across the page's "
                              "edge, the writing goes on beyond it and all its rows are kept (at 2, a vignetted "
                              "wooden desk read junk rows); else only the rows that reach onto the page", lo=1)
    shade_spread: float = knob(0.15, "fraction", "of the brightness of the band beyond next to it: the page in shade "
                               "is within this of it (0.15-0.25 read the shadow and mildshadow copies alike; 0.1 "
                               "loses 6 and 8 of their digits; with the band's median, 0.1-0.25 read them alike)",
                               hi=1)
    shade_close: float = knob(2.0, "digit heights", "the page in shade is closed over gaps this wide: its rows of "
                              "writing are not smooth paper", open_lo=True)
    shade_row_digits: int = knob(3, "count", "a row wholly on the page in shade has at least this many digits: at "
                                 "1, a grey tiled floor that passes for shade beside memocpr's sheet (183858) gave "
                                 "rows of a speck or two; painterdrown's shaded rows hold 14-18 (2-5 read alike until "
                                 "session 43; with the band's nearest level, 2: stripe copies 9 digits more, "
                                 "mildshadow 4 fewer and 0.1 more false digits per image)", lo=1)
    sure: float = knob(0.9, "probability", "the reading without the page replaces the first if it has more digits "
                       "this sure (or as many, seen whole: whole_cover) and sees the page's own again (seen_again); "
                       "where the page read nothing, if it has one on the page in shade", hi=1)
    whole_cover: float = knob(0.9, "fraction", "with as many sure digits as the first (at least one), the reading "
                              "without the page "
                              "replaces it when each digit the first read lies, by at least this share of its box, "
                              "in a bigger digit's box there: a digit the shadow's edge cut, seen whole (ujwalkasturi's "
                              "shadowed close-ups: a 2 cut to a 7); 0.8 and 0.95 read the shadowed photos alike",
                              hi=1, open_lo=True)
    whole_growth: float = knob(1.25, "ratio", "that bigger box's area, as a multiple of the first digit's box at least "
                               "(a reading of the same digit again is no bigger; 1.1 and 1.5 read alike)", lo=1,
                               open_lo=True)
    seen_again: float = knob(0.5, "fraction", "the reading without the page replaces the first only if it reads "
                             "again at least this share of the first's sure digits away from the page's edge: one "
                             "that loses them took a desk's grain or the page's outline for writing or for the "
                             "text's direction (the motion copy of memocpr's 190143, a sheet on a grey desk: 26 "
                             "errors and 58 false digits -> 12 and 0). At 0.5 motion copies 1448 -> "
                             "1462/1602 (false digits per image 1.13 -> 0.55), small +3, vignette +1, two shadows "
                             "-6 (memocpr, both readings wrong); the photos, other copies, scenes, digitless "
                             "frames as before. At 0.8 motion gained ~25 more but stripe lost 10", hi=1)
    seen_overlap: float = knob(0.5, "fraction", "of a first digit's box, covered by the same digit's box in the "
                               "reading without the page: it was seen again (the same ink, its box grown or cut "
                               "by a few px; a neighbour's box covers far less); a digit there that holds one "
                               "of the first's seen whole and covers another this much is a box around several "
                               "(session 44, not tuned: grain boxes in the light desk scene covered 5 of 7); "
                               "and a first row's digit so covered by a digit of a row there lies in that row, "
                               "whatever it reads (rows_parted, session 45, not tuned)",
                               hi=1, open_lo=True)
    straddle_share: float = knob(0.15, "fraction", "a digit read without the page whose box lies by this share both "
                                 "on the lit page and on the page in shade lies across the shadow's edge: kept where "
                                 "the page read nothing (a lone digit the edge cuts, its centre on the lit side: "
                                 "ujwalkasturi's shadowed close-ups, 0.22-0.41 in shade, 0.48-0.71 on the page), or "
                                 "read only its pieces (holds_all_across); not tuned",
                                 hi=1, open_lo=True)
    across_min_share: float = knob(0.1, "fraction", "of the frame off the page: paper in shade this large, beside a "
                                   "page none of whose digits asked for a look past it, is read as a page of its "
                                   "own (shared photos under a hard shadow whose rows in the shade were never read: "
                                   "0.46-0.96; not tuned below: a sliver of shade is no sheet's part)", hi=1,
                                   open_lo=True)
    across_max_along: float = knob(0.8, "fraction", "of the band beyond the page's edge: that paper in shade lies "
                                   "along at most this much of it (a shadow's edge across the sheet: 0.09-0.77 on "
                                   "the shadowed photos; a grey desk around the page, which passes for paper in "
                                   "shade: 0.82-1.00 on memocpr's clean photos)", hi=1)
    min_shade_share: float = knob(0.005, "fraction", "a page that read nothing is looked past only when this much of "
                                  "the frame off the page is paper in shade: the shadowed photos that gain hold "
                                  "0.009-0.85, the two digitless scene frames (of 400) that reached this test 0.000 "
                                  "(a glossy desk read for 3 s for nothing) and 0.017; a sliver at the step where "
                                  "the band's median mixes in lit paper is no paper in shade", hi=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.falloff_ratio < self.ratio[1]:
            raise ValueError(f"shade.falloff_ratio ({self.falloff_ratio}) must be at least shade.ratio's upper end "
                             f"({self.ratio[1]})")
        if not self.ratio[1] <= self.mild_ratio <= self.falloff_ratio:
            raise ValueError(f"shade.mild_ratio ({self.mild_ratio}) must lie between shade.ratio's upper end "
                             f"({self.ratio[1]}) and shade.falloff_ratio ({self.falloff_ratio})")
        if self.mild_chroma > self.max_chroma:
            raise ValueError(f"shade.mild_chroma ({self.mild_chroma}) must be at most shade.max_chroma "
                             f"({self.max_chroma})")


@dataclass(frozen=True)
class ReaderConfig(_Checked):
    """All of the reader's settings: the four a user sets, then one sub-config per stage."""

    reject_threshold: float = knob(0.5, "probability", "a top probability below this is reported as '?' (after "
                                   "a second look, the mean of five)", hi=1)
    max_side: int = knob(2000, "px", "frames are downscaled so the longer side is at most this (bounded memory; "
                         "a copy enlarged for small digits may reach scale.max_enlarged_side)",
                         lo=64)
    min_digit_height: int = knob(8, "px", "shorter digits in the working copy are not read", lo=4)
    min_contrast: float = knob(0.12, "darkness", "relative darkness that can count as ink at all (fainter ink only "
                               "where it joins pieces of such ink: ink.join_level)", hi=1, open_lo=True)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    page: PageConfig = field(default_factory=PageConfig)
    light: LightConfig = field(default_factory=LightConfig)
    ink: InkConfig = field(default_factory=InkConfig)
    deskew: DeskewConfig = field(default_factory=DeskewConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    blobs: BlobsConfig = field(default_factory=BlobsConfig)
    lines: LinesConfig = field(default_factory=LinesConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    orient: OrientConfig = field(default_factory=OrientConfig)
    small: SmallConfig = field(default_factory=SmallConfig)
    shade: ShadeConfig = field(default_factory=ShadeConfig)

    def __post_init__(self) -> None:
        # The four user-facing knobs keep their own messages.
        if not 0.0 <= self.reject_threshold <= 1.0:
            raise ValueError(f"reject_threshold must be in [0, 1], got {self.reject_threshold}")
        if self.max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, got {self.max_side}")
        if self.min_digit_height < 4:
            raise ValueError(f"min_digit_height must be at least 4 pixels, got {self.min_digit_height}")
        if not 0.0 < self.min_contrast < 1.0:
            raise ValueError(f"min_contrast must be in (0, 1), got {self.min_contrast}")
        super().__post_init__()


def describe(config=None, prefix: str = "") -> list[str]:
    """One line per knob: `name = value  [unit]  why`, sub-configs dotted."""
    config = ReaderConfig() if config is None else config
    out = []
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            out += describe(value, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name} = {value!r}  [{f.metadata['unit']}]  {f.metadata['why']}")
    return out
