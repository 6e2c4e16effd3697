"""The architecture search: the paper's evolutionary algorithm (`evolution`), the scheduler that
drives its steps over an executor (`scheduler`), live progress (`progress`), the command line
(`python -m evo_rnn.search`) and the same from Python (`run`, returning a `SearchResult`: `api`)."""

from evo_rnn.runs.outcomes import Outcome
from evo_rnn.search.api import SearchResult, run
from evo_rnn.search.evolution import EvalRequest, Evolution, SearchError, StepOutcome
from evo_rnn.search.scheduler import Scheduler

__all__ = ["EvalRequest", "Evolution", "Outcome", "Scheduler", "SearchError", "SearchResult", "StepOutcome", "run"]
