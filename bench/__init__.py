"""Benchmarks, run by hand (``python -m bench.<name>``); each prints its figures next to its issue's targets."""


def verdict(met: bool, size: int, target_size: int) -> str:
    """'met' or 'NOT met', saying so when the run was smaller than the size the target is set for."""
    word = "met" if met else "NOT met"
    return word if size >= target_size else f"{word} at this size (the target is for {target_size:,})"
