"""edgedigits runtime: classify MNIST-style digits and read digits in camera frames.

Needs only numpy and a TFLite interpreter (ai-edge-litert); onnxruntime is optional.
Never imports TensorFlow or Keras.
"""

__version__ = "0.1.0"
