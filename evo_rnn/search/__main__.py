"""`python -m evo_rnn.search`: the evolutionary architecture search, resumable, exported at the end.

With no flags it runs the built-in default: preset `quick`, tasks arith and xml with the
memorization filter, about 10 minutes of search on this machine's cores, then the best 3
cells, the GRU and the LSTM are trained again on 8 fresh seeds (`evo_rnn.confirm`) and the best
3 are exported to `saved_architectures/default/`. Its state lives in
`runs/default/search.sqlite`: re-running the same command resumes the run (until its time
budget is spent), Ctrl-C stops it cleanly and exports what it has. The implementation is
`evo_rnn.search.api`, which `evo_rnn.search.run` shares from Python.
"""

from evo_rnn.search.api import _members_per_job, _overrides, build_parser, main  # noqa: F401 (the command's parts)

if __name__ == "__main__":
    raise SystemExit(main())
