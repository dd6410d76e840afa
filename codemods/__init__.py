"""libcst codemods that fix ruff's PERF203 and PERF401 sites without changing behaviour."""
