"""The railcar detector (scikit-image, scipy, numpy): arrays and a GSD in, detections out."""

from .core import DetectionSet, DetectorConfig, detect_railcars

__all__ = ["DetectionSet", "DetectorConfig", "detect_railcars"]
