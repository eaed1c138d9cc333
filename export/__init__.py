"""Checkpoint -> ONNX with the model contract: export, parity, calibration, quantization.

Needs torch and onnx (the ``train`` extra). The entry point is
:func:`export.pipeline.export_checkpoint`; ``twinlock export`` is its command line.
"""
