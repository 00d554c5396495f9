"""Built-in adapters that ship with rvcbench and need no downloads (the `baseline` cloner)."""
