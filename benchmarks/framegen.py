"""Realistic synthetic camera frames of handwritten digits on paper, made from MNIST *test* digits.

A page is laid out with 1-4 lines of 1-8 digits (sometimes two groups per line), rendered as
dark ink (black, blue ballpoint, grey pencil) on tinted, textured paper with optional ruled lines
or a box border, specks and show-through from the back of the page. The page is then placed on a
dark textured desk (or, by option, a light wooden desk, a white table, a glossy desk with glare;
sticky notes instead of sheets; two sheets side by side, each laid out in its own half of the frame)
with in-plane rotation (up to +-45 degrees) and perspective, lit unevenly (vignetting, a shadow
band, a phone's shadow), exposed (down to ink 55 on paper 90), blurred, given sensor noise and
JPEG-compressed.

The truth for a frame is a list of :class:`TruthLine`: the digit string of each line (a row as
written, however wide the gap between its groups) in reading order (with two sheets, the first
sheet's lines, then the second's), its groups, and the line's
quadrilateral in frame pixels.
Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FRAME_SIZES = ((640, 480), (640, 480), (800, 600), (1280, 720), (1920, 1080))
PAPER_TINTS_BGR = {  # reflectances
    "white": (0.93, 0.94, 0.95),
    "grey": (0.74, 0.75, 0.76),
    "beige": (0.72, 0.85, 0.92),
    "yellow": (0.45, 0.90, 0.95),
}
STICKY_NOTE_TINTS_BGR = {  # reflectances of sticky notes (the "sticky" papers)
    "yellow": (0.45, 0.90, 0.95),
    "pink": (0.75, 0.60, 0.97),
    "blue": (0.92, 0.78, 0.55),
    "green": (0.55, 0.92, 0.62),
    "orange": (0.35, 0.70, 0.98),
}
PAPERS = {"sheets": PAPER_TINTS_BGR, "sticky": STICKY_NOTE_TINTS_BGR}
# Desks: "dark" (the default: dark wood-like texture), "light" (the same grain, lit to 55-85%
# reflectance: a light wooden desk, as bright as the paper or brighter), "white" (a nearly
# plain white table), "glare" (the dark desk with 1-3 blurred specular highlights).
DESKS = ("dark", "light", "white", "glare")
# Light: "room" (the default: vignetting, a soft shadow band, a phone's shadow) or "side" (the same,
# times a lamp or window on one side: the light falls off by 40-70% across the frame in a random
# direction, so a sheet's far side can be darker than the desk's lit side).
LIGHTS = ("room", "side")
# Rulings: "mixed" (the default: a page is blank, ruled, or has a box around each line) or "squared"
# (squared paper: only a grid of 0.75-1.25 digit heights in light blue, grey or green, the writing across it).
RULINGS = ("mixed", "squared")
GRID_BGR = ((0.92, 0.80, 0.65), (0.78, 0.78, 0.78), (0.75, 0.85, 0.72))
INK_BGR = {
    "black": (0.10, 0.10, 0.11),
    "blue": (0.45, 0.18, 0.12),
    "pencil": (0.50, 0.50, 0.52),
}


@dataclass(frozen=True)
class FrameOptions:
    """Ranges the generator draws from; the defaults are the ones tests and benchmarks use."""

    min_digit_height: float = 15.0
    max_digit_height: float = 200.0
    max_lines: int = 4
    max_digits_per_line: int = 8
    max_rotation_deg: float = 45.0
    max_perspective: float = 0.06       # corner jitter as a fraction of the page size
    min_paper_level: float = 90.0       # exposure: paper grey level at least this
    touching_probability: float = 0.08  # per gap between digits
    clean: bool = False                 # no rotation, perspective, shading, noise or clutter
    desk: str = "dark"                  # one of DESKS
    papers: str = "sheets"              # the tints drawn from: one of PAPERS
    light: str = "room"                 # one of LIGHTS
    ruling: str = "mixed"               # one of RULINGS
    sheets: int = 1                     # 1, or 2 side by side, each in its half (_sheet_parts)

    def __post_init__(self) -> None:
        if not 4 <= self.min_digit_height <= self.max_digit_height:
            raise ValueError(f"digit heights: need 4 <= min <= max, got {self.min_digit_height}, "
                             f"{self.max_digit_height}")
        if self.max_lines < 1 or self.max_digits_per_line < 1:
            raise ValueError("max_lines and max_digits_per_line must be at least 1")
        if self.desk not in DESKS or self.papers not in PAPERS:
            raise ValueError(f"desk must be one of {DESKS} and papers one of {tuple(PAPERS)}, "
                             f"got {self.desk!r}, {self.papers!r}")
        if self.light not in LIGHTS:
            raise ValueError(f"light must be one of {LIGHTS}, got {self.light!r}")
        if self.ruling not in RULINGS:
            raise ValueError(f"ruling must be one of {RULINGS}, got {self.ruling!r}")
        if not isinstance(self.sheets, int) or self.sheets not in (1, 2):
            raise ValueError(f"sheets must be 1 or 2, got {self.sheets!r}")
        if not 0 <= self.max_rotation_deg <= 45:
            raise ValueError(f"max_rotation_deg must be in [0, 45], got {self.max_rotation_deg}")


@dataclass
class TruthLine:
    """One row as written: its digits, its quadrilateral, and its groups (parts between wide gaps)."""

    text: str
    quad: np.ndarray  # (4, 2) float32 corners in frame pixels: top-left, top-right, bottom-right, bottom-left
    boxes: list = field(default_factory=list)  # per digit (4, 2) quads in frame pixels
    groups: tuple = ()  # the row's groups of digits, in order ((text,) for a row of one group)


def _digit_ink(image: np.ndarray, height: float, rng: np.random.Generator, thin: bool) -> np.ndarray:
    """Alpha (ink coverage) of one MNIST digit scaled so its ink is `height` pixels tall."""
    import cv2

    ys, xs = np.nonzero(image > 20)
    crop = image[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    w = max(1, int(round(crop.shape[1] * scale * rng.uniform(0.9, 1.1))))
    h = max(1, int(round(height)))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    alpha = np.clip(cv2.resize(crop, (w, h), interpolation=interp), 0, 1)
    if thin:
        # A fine pen: keep only the stroke cores, so strokes are ~1-2 px at small sizes.
        alpha = np.clip((alpha - 0.55) / 0.3, 0, 1)
    else:
        alpha = np.clip((alpha - 0.15) / 0.6, 0, 1)
    return alpha


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    import cv2

    small = rng.standard_normal((max(2, h // cells), max(2, w // cells))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _layout(rng, opts, images, labels, frame_w, frame_h):
    """Digit placements on the page: list of lines, each a list of groups of (image, label, height)."""
    n_lines = int(rng.integers(1, opts.max_lines + 1))
    lines = []
    for _ in range(n_lines):
        groups = 2 if rng.random() < 0.2 else 1
        per_group = [int(rng.integers(1, opts.max_digits_per_line + 1)) for _ in range(groups)]
        if groups == 2:
            per_group = [max(1, (n + 1) // 2) for n in per_group]
        lines.append(per_group)
    widest = max(sum(line) + 3 * (len(line) - 1) for line in lines)
    # Height must let the page fit in the frame even when rotated by 45 degrees.
    fit = min(frame_w, frame_h) / (max(widest * 0.85, n_lines * 1.7) + 1.0) / 1.1
    log_h = rng.uniform(np.log(opts.min_digit_height), np.log(opts.max_digit_height))
    height = float(min(np.exp(log_h), fit))
    if height < opts.min_digit_height:  # too many digits for this frame: drop some
        height = opts.min_digit_height
        max_digits = max(1, int(min(frame_w, frame_h) / 1.1 / height / 0.85) - 1)
        lines = [[min(n, max_digits)] for n in (sum(line) for line in lines)]
        n_keep = max(1, int(min(frame_w, frame_h) / 1.1 / height / 1.7))
        lines = lines[:n_keep]
    return lines, height


def _fits(w, h, angle_deg, frame_w, frame_h) -> bool:
    c, s = abs(np.cos(np.deg2rad(angle_deg))), abs(np.sin(np.deg2rad(angle_deg)))
    return w * c + h * s <= 0.9 * frame_w and w * s + h * c <= 0.9 * frame_h


def _render_page(rng, opts, images, labels, lines, height, room):
    """Paper image (float32 BGR reflectance), line truths in page coordinates.

    room = (frame_w, frame_h, angle): the paper gets random extra margins as long as the rotated
    page still fits the frame at its natural scale, so digits keep their sampled height.
    """
    import cv2

    thin = (not opts.clean) and rng.random() < (0.6 if height < 40 else 0.15)
    pitch = height * rng.uniform(1.45, 1.9)
    margin = height * rng.uniform(0.8, 1.6)
    placements = []  # (line index, group index, x, y, alpha, label)
    line_extents = []
    y = margin
    for li, groups in enumerate(lines):
        x = margin + rng.uniform(0, 0.5) * height
        for gi, count in enumerate(groups):
            if gi:
                x += height * rng.uniform(2.5, 3.5)
            for k in range(count):
                idx = int(rng.integers(len(images)))
                h = height * rng.uniform(0.9, 1.08)
                alpha = _digit_ink(images[idx], h, rng, thin)
                yy = y + (height - h) * rng.uniform(0, 1) + rng.normal(0, 0.03 * height)
                placements.append((li, gi, x, yy, alpha, int(labels[idx])))
                gap = height * rng.uniform(0.12, 0.4)
                if k < count - 1 and not opts.clean and rng.random() < opts.touching_probability:
                    gap = -0.08 * alpha.shape[1]  # strokes overlap: touching digits
                x += alpha.shape[1] + gap
        line_extents.append(x)
        y += pitch
    page_w = int(max(line_extents) + margin)
    page_h = int(y - pitch + height + margin)
    frame_w, frame_h, angle = room
    extra = rng.uniform(0, 1, 4) * [frame_w, frame_h, frame_w, frame_h] * (0.0 if opts.clean else 0.5)
    while extra.sum() > 1 and not _fits(page_w + extra[0] + extra[2], page_h + extra[1] + extra[3], angle,
                                        frame_w, frame_h):
        extra *= 0.8
    left, top = int(extra[0]), int(extra[1])
    page_w += left + int(extra[2])
    page_h += top + int(extra[3])
    placements = [(li, gi, x + left, yy + top, alpha, label) for li, gi, x, yy, alpha, label in placements]
    margin_top = margin + top

    tints = PAPERS[opts.papers]
    tint_name = "white" if opts.clean else rng.choice(list(tints))
    tint = np.array((PAPER_TINTS_BGR if opts.clean else tints)[tint_name], np.float32) * rng.uniform(0.95, 1.03)
    paper = np.ones((page_h, page_w, 3), np.float32) * tint
    if not opts.clean:
        texture = 0.015 * _smooth_noise(rng, page_h, page_w, 12) + 0.01 * rng.standard_normal((page_h, page_w), dtype=np.float32)
        paper *= (1 + texture.astype(np.float32))[..., None]

    ink_name = "black" if opts.clean else rng.choice(list(INK_BGR), p=[0.45, 0.35, 0.2])
    ink = np.array(INK_BGR[ink_name], np.float32) * rng.uniform(0.85, 1.15)
    if ink_name == "pencil":
        ink = np.minimum(ink, 0.6)
    coverage = np.zeros((page_h, page_w), np.float32)

    # Ruled lines or a box around each line, drawn in a lighter ink before the digits.
    decoration = "none" if opts.clean else rng.choice(["none", "ruled", "box"], p=[0.55, 0.3, 0.15])
    if opts.ruling == "squared":  # (the choice is still drawn: the writing stays the default scene's)
        decoration = "none"
    stroke = max(1, int(round(height / 40)))
    if decoration == "ruled":
        rule_colour = np.array(rng.choice([(0.8, 0.6, 0.5), (0.55, 0.55, 0.55)]), np.float32)
        rule_alpha = np.zeros_like(coverage)
        for li in range(len(lines)):
            yy = int(margin_top + li * pitch + height * rng.uniform(1.02, 1.15))
            cv2.line(rule_alpha, (0, yy), (page_w - 1, yy), 1.0, stroke)
        paper = paper * (1 - rule_alpha[..., None]) + rule_colour * tint * rule_alpha[..., None]
    if opts.ruling == "squared" and not opts.clean:
        paper = _squared(rng.spawn(1)[0], paper, tint, height, stroke)

    truth_lines = []
    for li, groups in enumerate(lines):
        row = [p for p in placements if p[0] == li]
        texts = tuple("".join(str(p[5]) for p in row if p[1] == gi) for gi in range(len(groups)))
        x0, x1 = min(p[2] for p in row), max(p[2] + p[4].shape[1] for p in row)
        y0, y1 = min(p[3] for p in row), max(p[3] + p[4].shape[0] for p in row)
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
        boxes = [np.array([[p[2], p[3]], [p[2] + p[4].shape[1], p[3]],
                           [p[2] + p[4].shape[1], p[3] + p[4].shape[0]], [p[2], p[3] + p[4].shape[0]]],
                          np.float32) for p in row]
        truth_lines.append(TruthLine("".join(texts), quad, boxes, texts))
        for gi in range(len(groups)):
            members = [p for p in row if p[1] == gi]
            x0 = min(p[2] for p in members)
            x1 = max(p[2] + p[4].shape[1] for p in members)
            y0 = min(p[3] for p in members)
            y1 = max(p[3] + p[4].shape[0] for p in members)
            if decoration == "box":
                pad = min(0.3 * height, (pitch - height) / 2 - 2 * stroke)  # boxes of adjacent lines do not touch
                cv2.rectangle(coverage, (int(x0 - pad), int(y0 - pad)), (int(x1 + pad), int(y1 + pad)),
                              0.9, stroke)

    for _, _, x, yy, alpha, _ in placements:
        xi, yi = int(round(x)), int(round(yy))
        h, w = alpha.shape
        region = coverage[yi: yi + h, xi: xi + w]
        region[...] = np.maximum(region, alpha[: region.shape[0], : region.shape[1]])

    if not opts.clean:
        _add_show_through(rng, paper, images, height)
        _add_specks(rng, coverage, height)
    paper = paper * (1 - coverage[..., None] * (1 - ink))  # ink absorbs light on top of the paper's tint
    return paper, truth_lines


def _squared(rng: np.random.Generator, paper: np.ndarray, tint: np.ndarray, height: float,
             stroke: int) -> np.ndarray:
    """`paper` with a grid printed on it (squared paper). `rng` is spawned from the frame's generator
    (spawning does not advance it), so a scene of squared paper writes the same digits as the default one."""
    import cv2

    page_h, page_w = paper.shape[:2]
    cell = height * rng.uniform(0.75, 1.25)
    colour = np.array(GRID_BGR[int(rng.integers(len(GRID_BGR)))], np.float32)
    alpha = np.zeros((page_h, page_w), np.float32)
    left, top = rng.uniform(0, cell, 2)
    for x in np.arange(left, page_w, cell):
        cv2.line(alpha, (int(x), 0), (int(x), page_h - 1), 1.0, stroke)
    for y in np.arange(top, page_h, cell):
        cv2.line(alpha, (0, int(y)), (page_w - 1, int(y)), 1.0, stroke)
    alpha *= rng.uniform(0.5, 1.0)  # a printed line thinner than a pixel shows fainter
    return paper * (1 - alpha[..., None]) + colour * tint * alpha[..., None]


def _add_show_through(rng, paper, images, height):
    """Faint mirrored digits from the back of the page."""
    import cv2

    if rng.random() > 0.35:
        return
    page_h, page_w = paper.shape[:2]
    for _ in range(int(rng.integers(2, 8))):
        idx = int(rng.integers(len(images)))
        size = int(height * rng.uniform(0.8, 1.2))
        if size < 4 or size >= min(page_h, page_w):
            continue
        ghost = cv2.resize(images[idx][:, ::-1].astype(np.float32) / 255, (size, size))
        ghost = cv2.GaussianBlur(ghost, (0, 0), max(0.5, size / 30)) * rng.uniform(0.05, 0.12)
        y = int(rng.integers(0, page_h - size))
        x = int(rng.integers(0, page_w - size))
        paper[y: y + size, x: x + size] *= (1 - ghost)[..., None]


def _add_specks(rng, coverage, height):
    import cv2

    page_h, page_w = coverage.shape
    for _ in range(int(rng.integers(0, 12))):
        r = max(1, int(round(rng.uniform(0.5, 1.5) * max(1.0, height / 60))))
        cv2.circle(coverage, (int(rng.integers(page_w)), int(rng.integers(page_h))), r,
                   float(rng.uniform(0.3, 0.9)), -1)


def _desk(rng, full_h, full_w):
    """Dark textured desk: wood-like streaks plus grain."""
    import cv2

    h, w = max(2, full_h // 2), max(2, full_w // 2)
    base = np.array(rng.choice([(0.10, 0.16, 0.25), (0.12, 0.12, 0.12), (0.06, 0.09, 0.14), (0.2, 0.22, 0.24)]),
                    np.float32)
    streaks = _smooth_noise(rng, h, w, 40)
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / rng.uniform(3, 9) + 2.5 * streaks)
    texture = 1 + 0.25 * grain + 0.08 * rng.standard_normal((h, w), dtype=np.float32)
    texture = cv2.resize(texture.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    return base * texture[..., None]


def _other_desk(rng, kind: str, dark: np.ndarray) -> np.ndarray:
    """The desk of `kind` (see DESKS) made from the dark desk `dark` (drawn first, so the default
    frames draw the same random numbers as before desks had kinds)."""
    import cv2

    h, w = dark.shape[:2]
    if kind == "light":
        return np.clip(dark / dark.mean() * rng.uniform(0.55, 0.85), 0, 1)
    if kind == "white":
        shade = 1 + 0.03 * _smooth_noise(rng, h, w, 6).astype(np.float32)
        return np.clip(rng.uniform(0.8, 0.95) * shade[..., None] * np.ones((1, 1, 3), np.float32), 0, 1)
    glare = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.05, 0.3) * w), int(rng.uniform(0.02, 0.12) * h))
        cv2.ellipse(glare, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    glare = cv2.GaussianBlur(glare, (0, 0), rng.uniform(3, 15))
    return np.clip(dark + glare[..., None] * rng.uniform(0.5, 0.9), 0, 1)


def _page_homography(rng, opts, page_w, page_h, frame_w, frame_h, angle):
    """Homography placing the page (rotated by angle degrees, with perspective) inside the frame."""
    import cv2

    theta = np.deg2rad(angle)
    c, s = np.cos(theta), np.sin(theta)
    rot_w = abs(page_w * c) + abs(page_h * s)
    rot_h = abs(page_w * s) + abs(page_h * c)
    # Natural scale (the digits keep their sampled height) unless the page would not fit.
    limit = min(0.95 * frame_w / rot_w, 0.95 * frame_h / rot_h, 1.0)
    scale = limit * (1.0 if opts.clean else rng.uniform(0.92, 1.0))
    corners = np.array([[0, 0], [page_w, 0], [page_w, page_h], [0, page_h]], np.float32)
    if not opts.clean:
        jitter = rng.uniform(-opts.max_perspective, opts.max_perspective, (4, 2)) * [page_w, page_h]
        corners_dst = corners + jitter.astype(np.float32)
    else:
        corners_dst = corners.copy()
    centred = (corners_dst - [page_w / 2, page_h / 2]) * scale
    rotated = centred @ np.array([[c, s], [-s, c]], np.float32)
    centre = np.array([frame_w / 2, frame_h / 2], np.float32)
    span = np.array([frame_w, frame_h], np.float32)
    slack = np.maximum(0, span - (rotated.max(0) - rotated.min(0))) / 2
    shift = centre + (rng.uniform(-1, 1, 2) * slack * 0.9 if not opts.clean else 0)
    dst = (rotated + shift).astype(np.float32)
    return cv2.getPerspectiveTransform(corners, dst), dst


def _lighting(rng, full_h, full_w):
    """Multiplicative illumination field: vignetting, a shadow band, a phone's shadow."""
    import cv2

    # Lighting is smooth: compute it at 1/4 resolution.
    h, w = max(2, full_h // 4), max(2, full_w // 4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (0.25 * (w * w + h * h))
    light = 1 - rng.uniform(0.1, 0.4) * r2
    if rng.random() < 0.4:  # soft shadow band
        a = rng.uniform(0, np.pi)
        d = xx * np.cos(a) + yy * np.sin(a)
        d0 = rng.uniform(d.min(), d.max())
        width = rng.uniform(0.1, 0.3) * max(w, h)
        soft = rng.uniform(0.03, 0.1) * max(w, h)
        band = 1 / (1 + np.exp(-(d - d0) / soft)) * (1 / (1 + np.exp((d - d0 - width) / soft)))
        light *= 1 - rng.uniform(0.25, 0.5) * band
    if rng.random() < 0.3:  # phone shadow: a dark blurred blob
        blob = np.zeros((h, w), np.float32)
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(w * rng.uniform(0.1, 0.3)), int(h * rng.uniform(0.15, 0.4)))
        cv2.ellipse(blob, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(w, h) * 0.03)
        light *= 1 - rng.uniform(0.3, 0.55) * blob
    return cv2.resize(light.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)


def _side_light(rng, full_h, full_w):
    """Multiplicative light of a lamp or window on one side: falling off linearly by 40-70% across
    the frame, in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:full_h, 0:full_w].astype(np.float32)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    along = (along - along.min()) / max(float(along.max() - along.min()), 1.0)
    return (1 - rng.uniform(0.4, 0.7) * along).astype(np.float32)


def generate_frame(rng: np.random.Generator, digits_images: np.ndarray, digits_labels: np.ndarray, *,
                   options: FrameOptions = FrameOptions(), frame_size: tuple[int, int] | None = None):
    """One frame: (uint8 BGR image (H, W, 3), list[TruthLine] in reading order; with
    ``options.sheets`` 2, the first sheet's lines, then the second's)."""
    import cv2

    images = np.asarray(digits_images)
    labels = np.asarray(digits_labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"expected MNIST images (N, 28, 28) and N labels, got {images.shape} and {labels.shape}")
    frame_w, frame_h = frame_size or FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    pages = [_placed_page(rng, options, images, labels, part)
             for part in _sheet_parts(frame_w, frame_h, options.sheets)]
    height = min(page[3] for page in pages)  # the blur below is scaled to the smallest digits
    scene = _desk(rng, frame_h, frame_w) if not options.clean else np.full((frame_h, frame_w, 3), 0.1, np.float32)
    if options.desk != "dark" and not options.clean:
        scene = _other_desk(rng, options.desk, scene)
    for paper, _, homography, _ in pages:
        page_h, page_w = paper.shape[:2]
        warped = cv2.warpPerspective(paper, homography, (frame_w, frame_h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        mask = cv2.warpPerspective(np.ones((page_h, page_w), np.float32), homography, (frame_w, frame_h),
                                   flags=cv2.INTER_LINEAR)
        scene = warped * mask[..., None] + scene * (1 - mask[..., None])

    if not options.clean:
        scene *= _lighting(rng, frame_h, frame_w)[..., None]
        if options.light == "side":  # drawn after the room's light: "room" frames stay as they were
            scene *= _side_light(rng, frame_h, frame_w)[..., None]
        # Exposure: the paper's level lands between min_paper_level and ~235.
        paper_level = rng.uniform(options.min_paper_level, 235) if rng.random() < 0.35 else rng.uniform(160, 235)
        scene *= paper_level / 0.9
        sigma = rng.uniform(0, 1.0) * min(1.0, height / 30)
        if sigma > 0.3:
            scene = cv2.GaussianBlur(scene, (0, 0), sigma)
        read_noise, shot_noise = rng.uniform(1, 4), rng.uniform(1, 5)
        std = np.sqrt(read_noise ** 2 + shot_noise ** 2 * np.maximum(scene, 0) / 255)
        scene = scene + rng.standard_normal(scene.shape, dtype=np.float32) * std
    else:
        scene *= 230 / 0.9
    frame = np.clip(np.round(scene), 0, 255).astype(np.uint8)
    if not options.clean:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        frame = cv2.imdecode(data, cv2.IMREAD_COLOR)

    truth = []
    for _, lines, homography, _ in pages:
        for line in lines:
            line.quad = cv2.perspectiveTransform(line.quad[None], homography)[0]
            line.boxes = [cv2.perspectiveTransform(b[None], homography)[0] for b in line.boxes]
        truth += lines
    return frame, truth


def _sheet_parts(frame_w: int, frame_h: int, sheets: int) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of the part of the frame each sheet lies in: the whole frame for one sheet;
    for two, the halves of its longer side (each page is fitted into its half; the perspective
    jitter may take a corner a few pixels past it)."""
    if sheets == 1:
        return [(0, 0, frame_w, frame_h)]
    if frame_w >= frame_h:
        return [(0, 0, frame_w // 2, frame_h), (frame_w // 2, 0, frame_w - frame_w // 2, frame_h)]
    return [(0, 0, frame_w, frame_h // 2), (0, frame_h // 2, frame_w, frame_h - frame_h // 2)]


def _placed_page(rng: np.random.Generator, opts: FrameOptions, images: np.ndarray, labels: np.ndarray,
                 part: tuple[int, int, int, int]) -> tuple[np.ndarray, list, np.ndarray, float]:
    """(paper, its truth lines in page coordinates, the homography placing it in the frame, the
    digit height) of one sheet laid out, rendered and placed in `part` (x, y, w, h) of the frame."""
    x, y, w, h = part
    lines, height = _layout(rng, opts, images, labels, w, h)  # (its "frame" is the part)
    angle = 0.0 if opts.clean else (rng.uniform(-opts.max_rotation_deg, opts.max_rotation_deg)
                                    if rng.random() < 0.5 else rng.uniform(-8, 8))
    paper, truth = _render_page(rng, opts, images, labels, lines, height, (w, h, angle))
    homography, _ = _page_homography(rng, opts, paper.shape[1], paper.shape[0], w, h, angle)
    shift = np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)
    return paper, truth, shift @ homography, height


def generate_frames(n: int, seed: int, images: np.ndarray, labels: np.ndarray, *,
                    options: FrameOptions = FrameOptions()):
    """Yield n (frame, truth) pairs; the same seed always gives the same frames."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield generate_frame(rng, images, labels, options=options)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions each cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class FrameScore:
    true_digits: int
    digits_right: int
    true_lines: int
    lines_right: int


def score_read(result, truth: list[TruthLine]) -> FrameScore:
    """Score a reader's result (anything with .lines[].digits[].digit/.box) against the truth.

    Each read digit is assigned to the true line whose quadrilateral (grown by 15% of its height)
    contains the centre of the digit's box; its character is the digit or '?'. For a true line,
    the read text is its assigned characters in the reader's order, and its errors are the edit
    distance to the true text. Read digits that fall in no true line are errors too. So

        digits_right = max(0, true digits - sum of line edit distances - digits outside every line)

    A line is right when its read text equals the truth and all of it came from one read line that
    holds nothing else.
    """
    import cv2

    quads = []
    for line in truth:
        centre = line.quad.mean(axis=0)
        side = np.linalg.norm(line.quad[3] - line.quad[0])
        grow = 1 + 0.15 * side / max(1.0, np.linalg.norm(line.quad[1] - line.quad[0]) / 2 + side / 2)
        quads.append(((line.quad - centre) * grow + centre).astype(np.float32).reshape(-1, 1, 2))
    assigned: list[list[tuple[int, str]]] = [[] for _ in truth]
    owners: dict[int, set] = {}
    outside = 0
    for li, read_line in enumerate(result.lines):
        for d in read_line.digits:
            x, y, w, h = d.box
            point = (float(x + w / 2), float(y + h / 2))
            inside = [(cv2.pointPolygonTest(q, point, True), k) for k, q in enumerate(quads)]
            inside = [(dist, k) for dist, k in inside if dist >= 0]
            if not inside:
                outside += 1
                owners.setdefault(li, set()).add(-1)
                continue
            k = max(inside)[1]
            assigned[k].append((li, "?" if d.digit is None else str(d.digit)))
            owners.setdefault(li, set()).add(k)
    errors = 0
    lines_right = 0
    for k, line in enumerate(truth):
        text = "".join(ch for _, ch in assigned[k])
        errors += edit_distance(text, line.text)
        sources = {li for li, _ in assigned[k]}
        if text == line.text and len(sources) == 1 and owners[next(iter(sources))] == {k}:
            lines_right += 1
    true_digits = sum(len(line.text) for line in truth)
    return FrameScore(true_digits, max(0, true_digits - errors - outside), len(truth), lines_right)
