"""Names of the set-level analyses and of the spoof detectors, with lazy import targets.

Listing or validating names imports nothing heavy; outside packages add entries through the
`rvcbench.analyses` and `rvcbench.detectors` entry-point groups.
"""

from __future__ import annotations

from rvcbench.registry import Registry

ANALYSES = Registry("analysis", "rvcbench.analyses")
ANALYSES.register("detectability", "rvcbench.analyses.detectability:Detectability")
ANALYSES.load_entry_points()

DETECTORS = Registry("detector", "rvcbench.detectors")
DETECTORS.register("lfcc_gmm", "rvcbench.analyses.detectors:LfccGmm")
DETECTORS.register("lfcc_lr", "rvcbench.analyses.detectors:LfccLogistic")
DETECTORS.load_entry_points()
