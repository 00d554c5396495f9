"""Voice-cloning adapters: the `VoiceCloner` contract, the registry, the built-in adapters."""

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

__all__ = ["CloneFailure", "CloneRequest", "VoiceCloner"]
