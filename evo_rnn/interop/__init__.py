"""Cells from other projects in and out: NAS-Bench-NLP's recipes (`evo_rnn.interop.nasbench_nlp`)."""
