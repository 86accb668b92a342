"""Export stage: Keras model -> TFLite (float, full-integer int8) and ONNX (float, static int8 QDQ).

Each format is converted, checked against the Keras model (parity gates), given embedded metadata,
written atomically and re-verified; manifest.json is written last and lists only verified files.
Run it as `python -m export --model NAME` (see export.cli).
"""
