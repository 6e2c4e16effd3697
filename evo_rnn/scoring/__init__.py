"""What a run's results mean: statistics, the paper's scores, the confirmation on fresh seeds and
the comparison tables."""
