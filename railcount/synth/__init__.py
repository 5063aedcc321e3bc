"""Simulated rail-yard scenes with exact truth (SIMULATED imagery, never an observation).

``railcount.synth`` renders overhead images of rail yards and stations at a
chosen ground sample distance, with every railcar's footprint and every
track's centreline as truth: tracks with ballast, sleepers and rails (also
dual gauge) in a look varied per track (polished or rusty rails, concrete or
timber sleepers, ballast colour and width, weeds), turnouts, crossovers and
sidings on gravel, soil, grass or a yard-wide ballast bed, consists of
gondolas, tank cars, boxcars, hoppers, container flatcars and locomotives,
their shadows, off-track look-alikes (container stacks, trucks, long
buildings, platforms), catenary masts and portals, and a sensor model (blur,
noise, haze, band misregistration, JPEG-like artefacts).

Main entry points
-----------------
:class:`SceneSpec`, :func:`render_scene`, :func:`write_scene`,
:func:`benchmark_specs` (the accuracy benchmark set), :func:`tumangang_specs`
(the bundled sample tiles), :func:`training_specs` (varied scenes to train on).
"""

from __future__ import annotations

from .layout import CapacityError
from .scenes import Scene, iter_scene_tiles, render_scene, sun_position, tracks_path_for, truth_path_for, write_scene
from .sets import benchmark_specs, training_specs, tumangang_specs, write_benchmark_set, write_sample_tiles
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
    "tracks_path_for",
    "benchmark_specs",
    "training_specs",
    "tumangang_specs",
    "write_benchmark_set",
    "write_sample_tiles",
    "sun_position",
    "check_gsd",
]
