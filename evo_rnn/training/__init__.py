"""Training one cell on one task: the hyperparameter prior, presets, the two engines and the one
entry both go through (`evaluate`)."""
