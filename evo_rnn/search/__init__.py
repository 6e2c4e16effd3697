"""The architecture search: the paper's evolutionary algorithm (`evolution`), the scheduler that
drives its steps over an executor (`scheduler`), live progress (`progress`) and the command
line (`python -m evo_rnn.search`)."""

from evo_rnn.search.evolution import EvalRequest, Evolution, Outcome, SearchError, StepOutcome
from evo_rnn.search.scheduler import Scheduler

__all__ = ["EvalRequest", "Evolution", "Outcome", "Scheduler", "SearchError", "StepOutcome"]
