"""Every built-in transform: importing this module registers them all in `TRANSFORMS`.

Heavy optional packages (PyAV for AAC) are imported inside the transforms that need them, so this
import stays cheap and works without them.
"""

from rvcbench.transforms import (
    adversarial,
    codecs,
    interference,
    level,
    neural_denoise,
    noise,
    protection,
    targets,
    text,
    timing,
)

__all__ = ["adversarial", "codecs", "interference", "level", "neural_denoise", "noise", "protection", "targets",
           "text", "timing"]
