"""Signal-processing building blocks used by the built-in adapters (pure functions, no I/O)."""
