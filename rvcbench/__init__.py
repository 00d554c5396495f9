"""rvcbench: how robust is a voice-cloning system when deployment conditions shift?"""

__version__ = "0.1.0"
