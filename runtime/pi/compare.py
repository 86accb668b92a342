"""Compare `edgedigits predict/read --json` output from the x86 host with the emulated Pi.

Rules (from the pi-check issue):
- top-1 digits and read line texts (and digit boxes) must be identical;
- float models: probabilities / confidences within 1e-5;
- int8 models: within one quantization step, the output scale recorded in manifest.json.

Usage: compare.py --kind predict|read --host H.json --device D.json --manifest M --format F [--label L]
Prints one line (OK/FAIL + numbers); exit 0 = agree, 1 = mismatch, 2 = bad input.
Only the standard library is used so it runs with any python3.
"""

from __future__ import annotations

import argparse
import json
import math
from decimal import Decimal, InvalidOperation
import os
import sys
from dataclasses import dataclass, field

FLOAT_TOLERANCE = 1e-5
# TFLite and ONNX int8 softmax outputs use scale 1/256; used only when the manifest records no
# output scale for a quantized format (e.g. a QDQ ONNX model with float32 I/O).
DEFAULT_INT8_STEP = 1.0 / 256.0
# Float rounding on top of the tolerance and of the printed precision.
ROUNDING_SLACK = 1e-9


class CompareInputError(ValueError):
    """A result file or manifest is missing or not what the comparison expects."""


@dataclass(frozen=True)
class Tolerance:
    value: float
    source: str  # where the number came from, for the report

    def __post_init__(self) -> None:
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value > 0):
            raise CompareInputError(f"tolerance must be a positive finite number, found {self.value!r}")


@dataclass
class Comparison:
    items: int = 0
    top1_equal: int = 0
    max_abs_diff: float = 0.0
    printed_decimals: int | None = None  # places the CLI rounded the values to, if it did
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.items > 0


def read_json_values(path: str) -> list[dict]:
    """All JSON objects in a file: JSON Lines, concatenated objects, or one JSON array."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CompareInputError(f"cannot read result file {path}: {e.strerror}") from None
    decoder = json.JSONDecoder()
    values: list = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise CompareInputError(f"{path}: not JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        values.extend(value if isinstance(value, list) else [value])
    if not values:
        raise CompareInputError(f"{path}: no JSON records (expected one object per image)")
    for v in values:
        if not isinstance(v, dict) or "path" not in v:
            raise CompareInputError(f"{path}: expected objects with a 'path' key, found {str(v)[:80]!r}")
    return values


def by_image_name(records: list[dict], origin: str) -> dict[str, dict]:
    """Index records by image file name (host and device see the inputs under different dirs)."""
    indexed: dict[str, dict] = {}
    for r in records:
        name = os.path.basename(str(r["path"]))
        if name in indexed:
            raise CompareInputError(f"{origin}: image {name} appears twice")
        indexed[name] = r
    return indexed


def output_tolerance(manifest: dict, format_name: str, int8_steps: int = 1) -> Tolerance:
    """1e-5 for float formats; `int8_steps` output quantization steps (manifest scale) for quantized ones."""
    formats = manifest.get("formats")
    if not isinstance(formats, dict) or format_name not in formats:
        found = sorted(formats) if isinstance(formats, dict) else formats
        raise CompareInputError(f"manifest has no format {format_name!r} (found: {found})")
    entry = formats[format_name]
    if not entry.get("quantized", False):
        return Tolerance(FLOAT_TOLERANCE, "float")
    outputs = entry.get("outputs") or []
    scale = outputs[0].get("scale") if outputs and isinstance(outputs[0], dict) else None
    steps = "" if int8_steps == 1 else f"{int8_steps} x "
    if scale is None:
        return Tolerance(int8_steps * DEFAULT_INT8_STEP, f"{steps}int8 step 1/256 (manifest has no output scale)")
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise CompareInputError(f"manifest {format_name} output scale must be a positive number, found {scale!r}")
    return Tolerance(int8_steps * float(scale), f"{steps}int8 step {scale:.6g} (manifest output scale)")


def printed_decimals(values) -> int | None:
    """Decimals the values were rounded to (the most any of them shows), None when not rounded.

    The CLI rounds (predict: 6 decimals, read confidences: 4), so two printed values may be up to
    one unit in the last place apart although the computed numbers agree: the comparison allows it.
    """
    most = 0
    for v in values:
        try:
            exponent = Decimal(repr(float(v))).as_tuple().exponent
        except (TypeError, ValueError, InvalidOperation):
            continue
        most = max(most, -int(exponent)) if isinstance(exponent, int) else most
    return most if 0 < most < 15 else None


def rounding_allowance(decimals: int | None) -> float:
    """Two values each rounded to `decimals` places can differ by one unit in that place."""
    return 10.0 ** -decimals if decimals is not None else 0.0


def _close(a, b, limit: float) -> tuple[bool, float]:
    try:
        diff = abs(float(a) - float(b))
    except (TypeError, ValueError):
        return False, math.inf
    return diff <= limit + ROUNDING_SLACK, diff


def _finest(a: int | None, b: int | None) -> int | None:
    """Host and device run the same CLI, so both round alike: trust whichever shows more places."""
    known = [d for d in (a, b) if d is not None]
    return max(known) if known else None


def _matched_names(host: dict[str, dict], device: dict[str, dict], result: Comparison) -> list[str]:
    missing = sorted(set(host) - set(device))
    extra = sorted(set(device) - set(host))
    if missing:
        result.problems.append(f"device has no result for {', '.join(missing)}")
    if extra:
        result.problems.append(f"device has results for images the host did not see: {', '.join(extra)}")
    return sorted(set(host) & set(device))


def _predict_values(records: list[dict]) -> list:
    return ([v for r in records for v in (r.get("probabilities") or [])] + [r.get("confidence") for r in records]
            + [r["reject"] for r in records if r.get("reject") is not None])


def _read_confidences(records: list[dict]) -> list:
    return [d.get("confidence") for r in records for line in (r.get("lines") or []) if isinstance(line, dict)
            for d in (line.get("digits") or []) if isinstance(d, dict)]


def compare_predict(host_records: list[dict], device_records: list[dict], tol: Tolerance) -> Comparison:
    host = by_image_name(host_records, "host")
    device = by_image_name(device_records, "device")
    result = Comparison()
    result.printed_decimals = _finest(printed_decimals(_predict_values(host_records)),
                                      printed_decimals(_predict_values(device_records)))
    limit = tol.value + rounding_allowance(result.printed_decimals)
    for name in _matched_names(host, device, result):
        h, d = host[name], device[name]
        result.items += 1
        if h.get("digit") == d.get("digit"):
            result.top1_equal += 1
        else:
            result.problems.append(f"{name}: top-1 host {h.get('digit')} device {d.get('digit')}")
        hp, dp = h.get("probabilities"), d.get("probabilities")
        if not isinstance(hp, list) or not isinstance(dp, list) or len(hp) != len(dp) or not hp:
            result.problems.append(f"{name}: probabilities host {hp!r:.60} device {dp!r:.60} not comparable lists")
            continue
        pairs = list(zip(hp, dp)) + [(h.get("confidence"), d.get("confidence"))]
        if h.get("reject") is not None or d.get("reject") is not None:  # a model with "not a digit"
            pairs.append((h.get("reject"), d.get("reject")))
        for i, (a, b) in enumerate(pairs):
            ok, diff = _close(a, b, limit)
            result.max_abs_diff = max(result.max_abs_diff, diff)
            if not ok:
                what = f"probability[{i}]" if i < len(hp) else "confidence" if i == len(hp) else "reject"
                result.problems.append(f"{name}: {what} host {a} device {b} differ by {diff:.3g} > {limit:.3g}")
    return result


def _lines(record: dict, origin: str, name: str) -> list[dict]:
    lines = record.get("lines")
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        raise CompareInputError(f"{origin} {name}: expected 'lines' to be a list of objects, found {lines!r:.80}")
    return lines


def compare_read(host_records: list[dict], device_records: list[dict], tol: Tolerance) -> Comparison:
    host = by_image_name(host_records, "host")
    device = by_image_name(device_records, "device")
    result = Comparison()
    result.printed_decimals = _finest(printed_decimals(_read_confidences(host_records)),
                                      printed_decimals(_read_confidences(device_records)))
    limit = tol.value + rounding_allowance(result.printed_decimals)
    for name in _matched_names(host, device, result):
        host_lines, device_lines = _lines(host[name], "host", name), _lines(device[name], "device", name)
        result.items += 1
        host_texts = [x.get("text") for x in host_lines]
        device_texts = [x.get("text") for x in device_lines]
        if host_texts != device_texts:
            result.problems.append(f"{name}: line texts host {host_texts} device {device_texts}")
            continue
        result.top1_equal += 1
        for li, (hl, dl) in enumerate(zip(host_lines, device_lines)):
            for di, (hd, dd) in enumerate(zip(hl.get("digits") or [], dl.get("digits") or [])):
                where = f"{name} line {li} digit {di}"
                if hd.get("box") != dd.get("box"):
                    result.problems.append(f"{where}: box host {hd.get('box')} device {dd.get('box')}")
                ok, diff = _close(hd.get("confidence"), dd.get("confidence"), limit)
                result.max_abs_diff = max(result.max_abs_diff, diff)
                if not ok:
                    result.problems.append(
                        f"{where}: confidence host {hd.get('confidence')} device {dd.get('confidence')} "
                        f"differ by {diff:.3g} > {limit:.3g}")
    return result


def summary_line(kind: str, label: str, result: Comparison, tol: Tolerance) -> str:
    unit = "images" if kind == "predict" else "frames"
    agree = "top-1" if kind == "predict" else "texts"
    status = "OK  " if result.ok else "FAIL"
    line = (f"{status} {label}: {result.items} {unit}, {agree} equal {result.top1_equal}/{result.items}, "
            f"max |diff| {result.max_abs_diff:.2g} (tol {tol.value:.3g}, {tol.source}"
            + (f"; printed to {result.printed_decimals} decimals" if result.printed_decimals else "") + ")")
    if result.items == 0 and not result.problems:
        line += " -- no results to compare"
    return line


def load_manifest(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise CompareInputError(f"cannot read manifest {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise CompareInputError(f"manifest {path} is not JSON: {e.msg} at line {e.lineno}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--kind", choices=["predict", "read"], required=True, help="which command produced the files")
    p.add_argument("--host", required=True, help="JSON output of the command on the host")
    p.add_argument("--device", required=True, help="JSON output of the same command on the emulated Pi")
    p.add_argument("--manifest", required=True, help="manifest.json of the exported model")
    p.add_argument("--format", required=True, help="format key in the manifest, e.g. tflite-int8")
    p.add_argument("--label", default="", help="text to prefix the summary line with")
    p.add_argument("--int8-steps", type=int, choices=[1, 2], default=1,
                   help="quantization steps an int8 output may differ by (2 only for the tflite_runtime fallback)")
    p.add_argument("--max-problems", type=int, default=5, help="how many mismatches to list")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    label = args.label or f"{args.format} {args.kind}"
    try:
        tol = output_tolerance(load_manifest(args.manifest), args.format, args.int8_steps)
        host, device = read_json_values(args.host), read_json_values(args.device)
        compare = compare_predict if args.kind == "predict" else compare_read
        result = compare(host, device, tol)
    except CompareInputError as e:
        print(f"FAIL {label}: {e}")
        return 2
    print(summary_line(args.kind, label, result, tol))
    for problem in result.problems[: args.max_problems]:
        print(f"       {problem}")
    if len(result.problems) > args.max_problems:
        print(f"       ... and {len(result.problems) - args.max_problems} more")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
