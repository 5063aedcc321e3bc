"""The railcar detector (scikit-image, scipy, numpy): arrays and a GSD in, detections out."""

from .core import DetectionSet, DetectorConfig, Frame, Levels, detect_railcars, image_levels, locate_tracks

__all__ = ["DetectionSet", "DetectorConfig", "Frame", "Levels", "detect_railcars", "image_levels", "locate_tracks"]
