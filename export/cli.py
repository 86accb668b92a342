"""`python -m export`: thin argparse front end of export.pipeline.run_export."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from edgedigits.formats import FORMATS

from export.config import DEFAULT_CALIBRATION_SIZE, ExportConfig
from export.errors import ExportError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained Keras model to TFLite/ONNX (float and int8), check each file against "
                    "Keras, embed metadata and write manifest.json last.",
    )
    parser.add_argument("--model", required=True, metavar="NAME",
                        help="model name: reads <artifacts-dir>/<model>/model.keras")
    parser.add_argument("--formats", default=",".join(FORMATS), metavar="A,B",
                        help="comma-separated formats to export (default: %(default)s)")
    parser.add_argument("--calibration-size", type=int, default=DEFAULT_CALIBRATION_SIZE, metavar="N",
                        help="training images used to calibrate the int8 formats (default: %(default)s)")
    parser.add_argument("--calibration-seed", type=int, default=0, metavar="N",
                        help="seed choosing the calibration images (default: %(default)s)")
    parser.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), metavar="DIR",
                        help="where trained models live (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default: <artifacts-dir>/<model>)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="MNIST directory (default: $MNIST_DIR, else the loader's cache)")
    parser.add_argument("--report-images", type=int, default=200, metavar="N",
                        help="test images for the per-layer quantization report, 0 for none (default: %(default)s)")
    parser.add_argument("--opset", type=int, default=13, metavar="N", help="ONNX opset (default: %(default)s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    return parser


def configure_logging(quiet: bool) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # must precede the TensorFlow import
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="[%(name)s] %(message)s",
                        stream=sys.stderr)
    for noisy in ("tf2onnx", "absl", "tensorflow", "onnxruntime"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.quiet)
    try:
        config = ExportConfig(model=args.model, formats=args.formats, calibration_size=args.calibration_size,
                              calibration_seed=args.calibration_seed, artifacts_dir=args.artifacts_dir,
                              out_dir=args.out, data_dir=args.data_dir, report_images=args.report_images,
                              opset=args.opset)
        from export.pipeline import run_export  # heavy imports (numpy, runtime) only past argument checks

        run_export(config)
    except ExportError as err:
        print(f"export failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0
