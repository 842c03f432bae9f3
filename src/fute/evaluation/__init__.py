"""Benchmarks of the uses the paper judges: metrics now; transfer and prompt-selection runs to come."""
