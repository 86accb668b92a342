"""Read handwritten digits in a camera frame: dark ink on light paper, on any desk, in any light.

A pipeline of stages, one module each, all on a working copy at most ``max_side`` pixels wide
(``scale.max_enlarged_side`` when enlarged for small digits)
(:func:`.pipeline.read_frame` calls them in this order):

==============  ==========================================================================
scale           grey, downscaled (INTER_AREA); shrunk or enlarged once the digit size is known
page            the paper (a large bright region against a darker desk, with a step edge)
light           relative darkness ``(paper - grey) / paper``: shadows and vignetting cancel
ink             adaptive ink threshold, connected components, the window around the ink
measure         the typical digit height (every later size is in digit heights)
deskew          text direction from paper edges and neighbouring digits; rotate upright
rules           boxes around digits and long straight strokes taken out
blobs           digit candidates: specks, texture, smudges, show-through dropped; pieces joined
lines           rows as written, groups at wide gaps, box sides at their ends dropped
classify        crops, splitting touching digits, one classifier batch, boxes in the frame
orient          a quarter/half turn more when unsure; the surer reading wins
small           on a page of big digits: the small ones among them, read with the big erased
==============  ==========================================================================

:mod:`.config` holds every tuned number (``ReaderConfig``, one sub-config per stage, each field
with its unit and why), :mod:`.records` the typed records the stages pass on, :mod:`.arrays`
exact numeric helpers, :mod:`.draw` the annotated frame.
"""

from .arrays import CameraDependencyError
from .blobs import TOO_MUCH_TEXTURE
from .config import (BlobsConfig, ClassifyConfig, DeskewConfig, InkConfig, LightConfig, LinesConfig, OrientConfig,
                     PageConfig, ReaderConfig, RulesConfig, ScaleConfig, ShadeConfig, SmallConfig)
from .draw import LINE_COLOURS, draw_annotations
from .pipeline import FrameReader, read_frame
from .records import Digit, Line, ReadResult

__all__ = ["BlobsConfig", "CameraDependencyError", "ClassifyConfig", "DeskewConfig", "Digit", "FrameReader",
           "InkConfig", "LINE_COLOURS", "LightConfig", "Line", "LinesConfig", "OrientConfig", "PageConfig",
           "ReadResult", "ReaderConfig", "RulesConfig", "ScaleConfig", "ShadeConfig", "SmallConfig",
           "TOO_MUCH_TEXTURE",
           "draw_annotations", "read_frame"]
