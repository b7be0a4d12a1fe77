"""Scripts that print figures; run from the checkout as ``python -m benchmarks.NAME``."""
