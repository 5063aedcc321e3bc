"""Simulated rail-yard scenes with exact truth (SIMULATED imagery, never an observation).

``railcount.synth`` renders overhead images of rail yards and stations at a
chosen ground sample distance, with every railcar's footprint as truth:
tracks with ballast, sleepers and rails (also dual gauge), turnouts and
sidings, consists of gondolas, tank cars, boxcars, hoppers, container flatcars
and locomotives, their shadows, off-track look-alikes (container stacks, trucks,
long buildings, platforms), catenary masts, and a sensor model (blur, noise,
haze, band misregistration, JPEG-like artefacts).

Main entry points
-----------------
:class:`SceneSpec`, :func:`render_scene`, :func:`write_scene`,
:func:`benchmark_specs` (the accuracy benchmark set), :func:`tumangang_specs`
(the bundled sample tiles).
"""

from __future__ import annotations

from .layout import CapacityError
from .scenes import Scene, iter_scene_tiles, render_scene, sun_position, truth_path_for, write_scene
from .sets import benchmark_specs, tumangang_specs, write_benchmark_set, write_sample_tiles
from .spec import SceneSpec, TruthCar, check_gsd

__all__ = [
    "SceneSpec",
    "TruthCar",
    "Scene",
    "CapacityError",
    "render_scene",
    "iter_scene_tiles",
    "write_scene",
    "truth_path_for",
    "benchmark_specs",
    "tumangang_specs",
    "write_benchmark_set",
    "write_sample_tiles",
    "sun_position",
    "check_gsd",
]
