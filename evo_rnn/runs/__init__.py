"""A run on disk and the evaluations it records: the run, its database and lock, the evaluation
service, the executors (local, Ray) and TensorBoard logs."""
