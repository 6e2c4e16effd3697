"""The architecture search: the paper's evolutionary loop, its executors and its command line
(`python -m evo_rnn.search`)."""

from evo_rnn.search.algorithm import BASELINE, EvalRequest, Scores, Search, SearchError, StepOutcome
from evo_rnn.search.executors import EvalJob, Executor, InlineExecutor, LocalPoolExecutor, WorkerLostError, run_job

__all__ = [
    "BASELINE", "EvalRequest", "Scores", "Search", "SearchError", "StepOutcome",
    "EvalJob", "Executor", "InlineExecutor", "LocalPoolExecutor", "WorkerLostError", "run_job",
]
