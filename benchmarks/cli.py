"""`python -m benchmarks run|check`: thin argparse front end.

  run    measure every exported model (or --models) and write benchmarks/results/<timestamp>/
  real   read a labelled folder of real photos, per image, per source and in total; --peers
         compares RapidOCR and Tesseract on the same frames (benchmarks/peers.py)
  digits every model and format on digits beyond MNIST and on crops that are no digit
  batch  images/s of `edgedigits read FOLDER --output` with 1 and 2 worker processes
  serve  frames/s of `edgedigits serve` with 0, 1 and 5 clients watching vs `camera --no-display`
  scenes the frame reader on generated scenes the real photos barely hold (light desk, glare,
         sticky notes, dense sheets): benchmarks/scenes.py
  check  a fresh run with the baseline's settings compared with benchmarks/baseline.json;
         exits 1 naming each regressed metric, 2 for usage/setup errors
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from edgedigits.formats import FORMATS

from benchmarks.config import (DEFAULT_BASELINE, DEFAULT_RESULTS_DIR, FRAME_SETS, ROW_KINDS, BenchmarkError, ConfigError,
                               full_config, parse_list, quick_config)
from benchmarks.degrade import DEGRADATIONS

DEFAULT_GATE_MODEL = "edge"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where it says something (not for flags or options whose help explains it)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="Benchmark exported edgedigits models and gate regressions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,check,real,digits,batch,serve}")
    defaults = _HelpFormatter

    run = sub.add_parser("run", help="measure models and formats, write results.json/results.md/plots",
                         formatter_class=defaults,
                         description="Accuracy, latency, throughput, cold start and the frame reader for every "
                                     "model x format, written to <out>/<timestamp>/.")
    run.add_argument("--models", help="comma-separated model names (default: every model in --artifacts-dir)")
    run.add_argument("--formats", metavar="ROWS",
                     help=f"comma-separated rows to measure, from {','.join(ROW_KINDS)} "
                          "(default: all; with --quick the four formats, no Keras)")
    run.add_argument("--frame-sets", default=",".join(FRAME_SETS), help="frame-reader sets ('' for none)")
    run.add_argument("--quick", action="store_true",
                     help="CI preset: runtime formats only, first 2000 test images, short time boxes, no plots")
    run.add_argument("--test-limit", type=int, help="use the first N test images (default: all 10000; quick: 2000)")
    _common(run)

    check = sub.add_parser("check", help="regression gate against the committed baseline",
                           formatter_class=defaults,
                           description="Run with the baseline's settings (models, rows, test slice) and compare: "
                                       "exit 1 and name every regressed metric.")
    check.add_argument("--quick", action="store_true", help="short time boxes (what CI runs)")
    check.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE, help="baseline JSON")
    check.add_argument("--update-baseline", action="store_true",
                       help="after the run, rewrite the baseline with its numbers (after a deliberate change)")
    check.add_argument("--models", help=f"models for a new baseline (default: the baseline's, else {DEFAULT_GATE_MODEL})")
    _common(check)

    real = sub.add_parser("real", help="read a labelled folder of real photos and score it per source",
                          formatter_class=defaults,
                          description="Read every image of a labels.csv folder (the layout of "
                                      "shared/datasets/realphotos) once, one interpreter thread, and report "
                                      "digits right (edit distance), lines exactly right, false digits and "
                                      "ms per frame, per image, per source repository and in total. Annotated "
                                      "frames go next to results.md.")
    real.add_argument("--set", type=Path, default=None, dest="real_set",
                      help="labelled folder (default: ../shared/datasets/realphotos beside the repository)")
    real.add_argument("--model", default=None, help="model file or manifest (default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json)")
    real.add_argument("--format", default="tflite-int8", choices=sorted(FORMATS), help="format to load from a manifest")
    real.add_argument("--only", help="comma-separated source repositories to read (default: all)")
    real.add_argument("--raw", action="store_true",
                      help="read each image as a file viewer shows it (EXIF honoured) instead of first giving it "
                           "the nearest quarter turn of its orientation label: the reader must find the turn")
    real.add_argument("--degrade", help="comma-separated degradations to read the photos again with, from "
                                        f"{','.join(DEGRADATIONS)} (benchmarks/degrade.py; each seeded per image): "
                                        "how the figures fall on frames a little worse than the set's")
    real.add_argument("--no-annotate", action="store_true", help="do not write annotated frames")
    real.add_argument("--peers", help="comma-separated peers to read the same frames and compare, from "
                                      "rapidocr,tesseract (`make bench-peers` installs RapidOCR in .cache/peers-venv)")
    real.add_argument("--out", type=Path, default=DEFAULT_RESULTS_DIR, help="results root folder")
    real.add_argument("--no-progress", action="store_true", help="no progress bar")

    digits = sub.add_parser("digits", help="every model and format on digits beyond MNIST and on non-digits",
                            formatter_class=defaults,
                            description="Score every exported model (or --models), float and int8, on the MNIST "
                                        "test set, scikit-learn's load_digits (43 writers), the frame reader's crops "
                                        "of the shared real photos, and generated crops that are no digit: digits "
                                        "right, rejected as 'not a digit', and non-digits accepted.")
    digits.add_argument("--models", help="comma-separated models (default: every exported model)")
    digits.add_argument("--set", type=Path, default=None, dest="real_set",
                        help="labelled real photos for the reader's crops (default: ../shared/datasets/realphotos "
                             "beside the repository; skipped when absent)")
    digits.add_argument("--crops-model", default=None,
                        help="model whose int8 reader takes the real crops, the same crops for every model "
                             "(default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json)")
    _common(digits)

    batch = sub.add_parser("batch", help="images/s of `edgedigits read FOLDER` with 1 and 2 workers",
                           formatter_class=defaults,
                           description="Write generated frames to a folder and time `edgedigits read FOLDER "
                                       "--output FILE --workers N` for N = 1 and 2, as a user runs it.")
    batch.add_argument("--model", default=None, help="model (default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json)")
    batch.add_argument("--frames", type=int, default=60, help="generated frames in the folder")
    _common(batch)

    served = sub.add_parser("serve", help="frames/s of `edgedigits serve` with 0, 1 and 5 clients vs `camera`",
                            formatter_class=defaults,
                            description="Write a generated clip (640x480, about ten digits a frame, MJPG at a "
                                        "camera's 30 fps) and measure frames read per second by `edgedigits serve "
                                        "--video` while 0, 1 and 5 clients watch /stream.mjpg, against `edgedigits "
                                        "camera --video --no-display` on the same clip.")
    served.add_argument("--model", default=None, help="model (default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json)")
    served.add_argument("--frames", type=int, default=60, help="generated frames in the clip")
    served.add_argument("--seconds", type=float, default=12.0, help="measuring window per client count")
    served.add_argument("--clip-fps", type=float, default=30.0,
                        help="frame rate the clip declares: serve plays it at this rate, as a camera delivers")
    _common(served)

    scenes = sub.add_parser("scenes", help="the frame reader on generated scenes: light desk, glare, sticky notes, "
                                           "dense sheets", formatter_class=defaults,
                            description="Read generated frames of each scene of benchmarks/scenes.py (the frame "
                                        "generator with one option changed) and report digits right, lines "
                                        "exactly right and ms per frame per scene.")
    scenes.add_argument("--model", default=None, help="model (default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json)")
    scenes.add_argument("--frames", type=int, default=100, help="generated frames per scene")
    _common(scenes)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="where exported models live")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS_DIR, help="results root folder")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST folder (default: $MNIST_DIR, else the cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if args.command == "run":
            return command_run(args)
        if args.command == "real":
            return command_real(args)
        if args.command == "digits":
            return command_digits(args)
        if args.command == "batch":
            return command_batch(args)
        if args.command == "serve":
            return command_serve(args)
        if args.command == "scenes":
            return command_scenes(args)
        return command_check(args)
    except (ConfigError, BenchmarkError) as error:
        print(f"python -m benchmarks: error: {error}", file=sys.stderr)
        return 2


def command_run(args) -> int:
    from benchmarks.report import render_markdown
    from benchmarks.run import point_latest, results_folder, run_benchmarks

    preset = quick_config if args.quick else full_config
    config = preset(models=parse_list(args.models, _any_names(args.models), "model"),
                    rows=parse_list(args.formats, ROW_KINDS, "format"),
                    frame_sets=_frame_sets(args.frame_sets), test_limit=args.test_limit,
                    artifacts_dir=args.artifacts_dir, results_dir=args.out, data_dir=args.data_dir,
                    progress=not args.no_progress)
    results, samples = run_benchmarks(config)
    folder = results_folder(config.results_dir, "-quick" if config.quick else "")
    written = write_results(folder, results, samples, config.plots)
    if not config.quick:
        point_latest(config.results_dir, folder)
    print(render_markdown(results))
    print(f"wrote {', '.join(str(p) for p in written)} (in {results['duration_s']:.0f} s)")
    return 0


def command_check(args) -> int:
    from benchmarks import gate
    from benchmarks.run import results_folder, run_benchmarks

    baseline = None
    if args.baseline.is_file():
        try:
            baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ConfigError(f"{args.baseline}: cannot read the baseline ({error})") from None
        if not isinstance(baseline, dict) or baseline.get("gate_schema") != gate.GATE_SCHEMA:
            found = baseline.get("gate_schema") if isinstance(baseline, dict) else type(baseline).__name__
            raise ConfigError(f"{args.baseline}: gate_schema {found!r}, expected "
                              f"{gate.GATE_SCHEMA} (re-create it with --update-baseline)")
        try:
            gate.validate_baseline(baseline)
        except gate.BaselineError as error:
            if not args.update_baseline:
                raise ConfigError(f"{args.baseline}: not a usable baseline: {error} (re-create it with "
                                  "--update-baseline)") from None
            baseline = None
    elif not args.update_baseline:
        raise ConfigError(f"{args.baseline} not found: create it with `python -m benchmarks check --quick "
                          "--update-baseline`")

    settings = (baseline or {}).get("config", {})
    models = parse_list(args.models, _any_names(args.models), "model") if args.models else None
    models = models or tuple(settings.get("models") or (DEFAULT_GATE_MODEL,))
    preset = quick_config if args.quick else full_config
    config = preset(models=models, artifacts_dir=args.artifacts_dir, results_dir=args.out, data_dir=args.data_dir,
                    progress=not args.no_progress, plots=False, tensorflow_reference=False)
    # The gate compares runtime formats only (Keras rows need TensorFlow and are not deployed).
    config = replace(config, rows=tuple(r for r in config.rows if r in FORMATS))
    if baseline is not None:
        config = replace(config, rows=tuple(settings["rows"]), frame_sets=tuple(settings["frame_sets"]),
                         test_limit=settings["test_limit"])

    results, samples = run_benchmarks(config)
    current = gate.gate_view(results)
    folder = results_folder(config.results_dir, "-check")
    write_results(folder, results, samples, plots=False)

    if baseline is None:
        regressions = []
        print(f"no baseline at {args.baseline}: creating it")
    else:
        mismatch = gate.config_mismatch(baseline, current)
        if mismatch:
            print("the run's settings differ from the baseline's: " + "; ".join(mismatch), file=sys.stderr)
            return 2
        regressions = gate.compare(baseline, current, gate.Tolerances())
        print(render_comparison(baseline, current, regressions))
        for model, entry in baseline.get("models", {}).items():
            same = gate.same_model(entry, current.get("models", {}).get(model) or {})
            print(f"{model}: accuracy compared " + ("tightly (the baseline's very weights)" if same else
                                                    "with a retrained model's margins (other weights)"))

    if args.update_baseline:
        write_json_atomic(args.baseline, current)
        print(f"baseline written to {args.baseline} (review `git diff {args.baseline}`)")
        return 0
    if regressions:
        print(f"\nREGRESSION: {len(regressions)} metric(s) regressed:", file=sys.stderr)
        for regression in regressions:
            print(f"  - {regression.message()}", file=sys.stderr)
        return 1
    print(f"\nno regression against {args.baseline} (results in {folder})")
    return 0


def command_real(args) -> int:
    from benchmarks import peers, real
    from benchmarks.frames import make_reader
    from benchmarks.run import results_folder

    folder = args.real_set or real.DEFAULT_SET
    try:
        images = real.load_set(folder)
    except (FileNotFoundError, ValueError) as error:
        raise ConfigError(str(error)) from None
    if args.only:
        wanted = set(_any_names(args.only))
        unknown = wanted - {image.repo for image in images}
        if unknown:
            raise ConfigError(f"--only: no images from {', '.join(sorted(unknown))} in {folder}")
        images = [image for image in images if image.repo in wanted]
    from edgedigits.classifier import default_model_path

    names = parse_list(args.peers, tuple(peers.PEERS), "peer") or ()
    kinds = parse_list(args.degrade, tuple(DEGRADATIONS), "degradation") or ()
    model = Path(args.model or default_model_path())
    if not model.exists():
        raise BenchmarkError(f"{model}: no such model (run `make train export`, or pass --model)")
    out = results_folder(args.out, "-real")
    reader = make_reader(model, args.format)
    progress = not args.no_progress and sys.stderr.isatty()
    scores = real.read_set(reader, images, annotate_dir=None if args.no_annotate else out / "annotated",
                           progress=progress, label_turn=not args.raw)
    summary = real.summarize(scores)
    text = real.render_markdown(summary, scores, f"Real photos: {folder.name}, {model} ({args.format})"
                              + (", raw pixels (no label turn)" if args.raw else ""))
    results = {"set": str(folder), "model": str(model), "format": args.format, "label_turn": not args.raw,
               "summary": summary, "images": [s.to_dict() for s in scores]}
    if names:
        results["peers"] = _run_peers(names, images, not args.raw)
        comparison = peers.render_markdown({"edgedigits": {"status": "ok", "summary": summary},
                                            **{peers.PEERS[n]: results["peers"][n] for n in names}})
        text = text.replace("## Per image", comparison + "\n## Per image", 1)
    write_json_atomic(out / "results.json", results)  # written now, and again after each degraded pass
    write_text_atomic(out / "results.md", text)
    drawn = [] if args.no_annotate else [out / "annotated"]  # folders of annotated frames
    if kinds:
        results["degraded"] = {}
        clean_text, what = text, {kind: DEGRADATIONS[kind].what for kind in kinds}
        for kind in kinds:
            print(f"real: reading the photos again, {kind}: {DEGRADATIONS[kind].what}", file=sys.stderr)
            folder_kind = None if args.no_annotate else out / f"annotated-{kind}"
            degraded = real.read_set(reader, images, annotate_dir=folder_kind, progress=progress,
                                     label_turn=not args.raw, degrade=DEGRADATIONS[kind].apply)
            results["degraded"][kind] = {"what": DEGRADATIONS[kind].what, "summary": real.summarize(degraded),
                                         "images": [s.to_dict() for s in degraded]}
            section = real.render_degraded(summary, {k: v["summary"] for k, v in results["degraded"].items()}, what)
            text = clean_text.replace("## Per image", section + "\n## Per image", 1)
            write_json_atomic(out / "results.json", results)
            write_text_atomic(out / "results.md", text)
            drawn += [] if folder_kind is None else [folder_kind]
    print(text.split("## Per image")[0].rstrip())
    print(f"\nwrote {out / 'results.md'}, {out / 'results.json'}" + "".join(f", {path}/" for path in drawn))
    return 0


def _run_peers(names: tuple[str, ...], images, label_turn: bool) -> dict:
    """Each peer's run_peer result on the frames edgedigits read (written to a temporary folder)."""
    import tempfile

    from benchmarks import peers

    commands = {name: peers.peer_command(name) for name in names}
    results = {name: {"status": peers.NOT_INSTALLED} for name, command in commands.items() if command is None}
    with tempfile.TemporaryDirectory(prefix="edgedigits-peers-") as temp:
        frames = peers.write_frames(images, Path(temp), label_turn) if len(results) < len(names) else []
        for name, command in commands.items():
            if command is not None:
                print(f"real: {name} reading {len(frames)} frames", file=sys.stderr)
                results[name] = peers.run_peer(command, images, frames)
    return results


def command_digits(args) -> int:
    from benchmarks import digitsets, real
    from benchmarks.frames import make_reader
    from benchmarks.report import markdown_table
    from benchmarks.run import discover_models, load_test_set, results_folder
    from edgedigits.classifier import ModelError, default_model_path, load

    config = full_config(models=parse_list(args.models, _any_names(args.models), "model"),
                         artifacts_dir=args.artifacts_dir, results_dir=args.out, data_dir=args.data_dir)
    models = discover_models(config)
    images, labels = load_test_set(config)
    sets = [digitsets.mnist_set(images, labels), digitsets.sklearn_set(), digitsets.negatives_set(images, labels)]
    folder = args.real_set or real.DEFAULT_SET
    crops_model = Path(args.crops_model or default_model_path())
    if (folder / "labels.csv").is_file() and crops_model.exists():
        sets.insert(2, digitsets.real_set(make_reader(crops_model, "tflite-int8"), real.load_set(folder)))
    else:
        print(f"digits: no real photos at {folder} or no {crops_model}: the real-crop set is skipped", file=sys.stderr)
    results = {"sets": {s.name: {"images": len(s.labels), "about": s.about} for s in sets}, "models": {}}
    body = []
    for model in models:
        manifest = config.artifacts_dir / model / "manifest.json"
        for kind in FORMATS:
            try:
                classifier = load(manifest, format=kind, threads=1)
            except ModelError as error:
                print(f"digits: {model} {kind}: skipped ({error})", file=sys.stderr)
                continue
            scores = {s.name: digitsets.score(classifier, s) for s in sets}
            results["models"].setdefault(model, {})[kind] = scores
            body.append([model, kind] + [_digit_cell(scores[s.name]) for s in sets])
    head = ["model", "format"] + [f"{s.name} ({len(s.labels)})" for s in sets]
    text = "\n".join(["# Digits beyond MNIST, and crops that are no digit", "",
                      "Each cell: digits right / rejected as not a digit; for negatives: accepted as a digit.", "",
                      *(f"- **{s.name}**: {s.about}" for s in sets), "",
                      markdown_table(head, body, "ll" + "r" * len(sets))]) + "\n"
    out = results_folder(args.out, "-digits")
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", text)
    print(text.rstrip())
    print(f"\nwrote {out / 'results.md'}, {out / 'results.json'}")
    return 0


def command_batch(args) -> int:
    from benchmarks import batch
    from benchmarks.report import markdown_table
    from benchmarks.run import load_test_set, results_folder
    from edgedigits.classifier import default_model_path

    if args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
    model = Path(args.model or default_model_path())
    images, labels = load_test_set(full_config(data_dir=args.data_dir))
    results = batch.measure(model, images, labels, frames=args.frames)
    body = [[str(n), str(r["images"]), f"{r['seconds']:.1f}", f"{r['images_per_s']:.1f}"] for n, r in results.items()]
    text = (f"# Batch reading: `edgedigits read FOLDER --output FILE` ({args.frames} generated frames, {model})\n\n"
            + markdown_table(["workers", "images", "seconds", "images/s"], body, "rrrr") + "\n")
    out = results_folder(args.out, "-batch")
    write_json_atomic(out / "results.json", {"model": str(model), "frames": args.frames,
                                             "workers": {str(n): r for n, r in results.items()}})
    write_text_atomic(out / "results.md", text)
    print(text.rstrip())
    print(f"\nwrote {out / 'results.md'}")
    return 0


def command_scenes(args) -> int:
    from benchmarks import scenes
    from benchmarks.frames import make_reader
    from benchmarks.run import load_test_set, results_folder
    from edgedigits.classifier import default_model_path

    if args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
    model = Path(args.model or default_model_path())
    images, labels = load_test_set(full_config(data_dir=args.data_dir))
    reader = make_reader(model, "tflite-int8")
    results = {}
    for name, options in scenes.scene_options().items():
        if not args.no_progress:
            print(f"scenes: {name}", file=sys.stderr)
        results[name] = scenes.measure_scene(reader, options, images, labels, frames=args.frames)
    text = scenes.render_markdown(results, f"Frame reader on generated scenes ({args.frames} frames each, {model}, "
                                           "int8, 1 thread)")
    out = results_folder(args.out, "-scenes")
    write_json_atomic(out / "results.json", {"model": str(model), "frames": args.frames, "scenes": results})
    write_text_atomic(out / "results.md", text)
    print(text.rstrip())
    print(f"\nwrote {out / 'results.md'}")
    return 0


def command_serve(args) -> int:
    from benchmarks import serve
    from benchmarks.report import markdown_table
    from benchmarks.run import load_test_set, results_folder
    from edgedigits.classifier import default_model_path

    if args.frames < 1 or args.seconds <= 0 or not 0 < args.clip_fps < 1000:
        raise ConfigError(f"--frames must be at least 1, --seconds above 0 and --clip-fps 0..1000, got "
                          f"{args.frames}, {args.seconds}, {args.clip_fps}")
    model = Path(args.model or default_model_path())
    if not model.exists():
        raise BenchmarkError(f"{model}: no such model (run `make train export`, or pass --model)")
    images, labels = load_test_set(full_config(data_dir=args.data_dir))
    results = serve.measure(model, images, labels, frames=args.frames, window_s=args.seconds, clip_fps=args.clip_fps)
    camera = results["camera"]
    body = [["`camera --no-display`", "–", f"{camera['fps']:.1f}", "–", "–"]]
    for count, row in results["serve"].items():
        watched = " / ".join(f"{fps:.1f}" for fps in row["client_fps"]) or "–"
        body.append([f"`serve`, {count} client{'s' if count != 1 else ''}", str(count), f"{row['fps']:.1f}",
                     f"{row['read_ms']:.1f}" if row["read_ms"] is not None else "–", watched])
    text = (f"# `edgedigits serve` throughput ({args.frames}-frame generated 640x480 clip at "
            f"{results['clip']['declared_fps']:.0f} fps, {model})\n\n"
            + markdown_table(["run", "MJPEG clients", "frames read/s", "read ms (last)", "frames/s each client got"],
                             body, "lrrrl") + "\n")
    out = results_folder(args.out, "-serve")
    write_json_atomic(out / "results.json", {"model": str(model), **results,
                                             "serve": {str(k): v for k, v in results["serve"].items()}})
    write_text_atomic(out / "results.md", text)
    print(text.rstrip())
    print(f"\nwrote {out / 'results.md'}")
    return 0


def _digit_cell(score: dict) -> str:
    if "accepted" in score:
        return f"{100 * score['accepted']:.2f}% accepted"
    if "accuracy" not in score:
        return "–"
    return f"{100 * score['accuracy']:.2f}% / {100 * score['rejected']:.2f}%"


def render_comparison(baseline: dict, current: dict, regressions) -> str:
    from benchmarks.gate import comparison_table
    from benchmarks.report import markdown_table

    failed = {(r.model, r.row, r.metric) for r in regressions}
    body = []
    for model, row, metric, base, now in comparison_table(baseline, current):
        mark = "REGRESSED" if (model, row, metric) in failed else ""
        body.append([model, row, metric, "–" if base is None else str(base), "–" if now is None else str(now), mark])
    for r in regressions:  # rows or models missing from the run
        if r.metric == "status" and (r.model, r.row, r.metric) not in {(b[0], b[1], b[2]) for b in body}:
            body.append([r.model, r.row, r.metric, str(r.baseline), str(r.current), "REGRESSED"])
    return markdown_table(["Model", "Row", "Metric", "Baseline", "Now", ""], body, "lllrrl")


def _any_names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def _frame_sets(text: str) -> tuple[str, ...]:
    return parse_list(text, FRAME_SETS, "frame set") or ()


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)


def write_text_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def write_results(folder: Path, results: dict, samples, plots: bool) -> list[Path]:
    import numpy as np

    from benchmarks.report import render_markdown
    from benchmarks.run import strip_for_json

    clean = strip_for_json(results)
    write_json_atomic(folder / "results.json", clean)
    write_text_atomic(folder / "results.md", render_markdown(clean))
    written = [folder / "results.json", folder / "results.md"]
    arrays = samples.to_npz_dict()
    if arrays:
        np.savez_compressed(folder / "samples.npz", **arrays)
        written.append(folder / "samples.npz")
    if plots:
        from benchmarks.plots import write_plots

        written += write_plots(clean, samples, folder)
    return written
