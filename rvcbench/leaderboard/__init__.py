"""The leaderboard: result files made from finished runs, their validation, and the static site built from them.

Flow: `add` (run directory → result folder) → `validate` (a result folder someone sent) → `build` (every result
folder → `leaderboard/site/`) and `export` (the same tables as CSV, JSON, LaTeX).
"""
