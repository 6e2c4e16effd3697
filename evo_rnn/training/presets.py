"""Presets: the sizes of data, models and training for a run, as data, overridable per field."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import types
import typing
from typing import Any

from evo_rnn import tasks
from evo_rnn.core.errors import EvoRnnError, UnknownNameError
from evo_rnn.tasks import (
    ArithConfig,
    MemorizeConfig,
    MusicConfig,
    NpzConfig,
    PtbCharsConfig,
    PtbConfig,
    TextConfig,
    XmlConfig,
)
from evo_rnn.training import hyperparameters, preset_rules
from evo_rnn.training.results import BATCH_ORDER, TASK_VERSION

__all__ = [
    "ENGINES",
    "LATER_BUDGETS",
    "LATER_FIELDS",
    "LEGACY_SEARCH",
    "PRESETS",
    "STRATEGIES",
    "Preset",
    "SearchConfig",
    "get",
    "preset_key",
    "sample_configs",
    "with_overrides",
]

# How an evaluation trains (`Preset.engine`). A preset field, so part of the cache key: the engines
# read the same batches, but their results for one (configuration, seed) agree only at first.
ENGINES = preset_rules.ENGINES


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """The architecture search's knobs (Jozefowicz et al. 2015, section 3). They steer which
    evaluations run, never how one evaluation trains, so they are not part of the cache key."""

    tasks: tuple[str, ...]  # the tasks an architecture is scored on; the first one gates the others
    configs_per_task: int  # random hyperparameter configs per task for seeds, re-evaluations, children (paper: 20)
    filter_task: str  # the cheap filter every child must pass first (paper: memorization)
    filter_configs: int  # configs a child gets on the filter task (the parent's best, then random ones)
    filter_threshold: float  # best filter score a child needs (paper: 0.95 accuracy)
    first_task_ratio: float  # share of the best GRU's score on the first task a child needs (paper: 0.9)
    population_size: int  # the best architectures kept as parents (paper: 100)
    reevaluate_probability: float  # chance that a step re-evaluates a member instead of mutating one
    seed_cells: tuple[str, ...] = ("lstm", "gru")  # the population's start (the GRU is always the baseline)
    # "evolution": a child's parent is a population member (the paper); "random": a seed cell, so
    # children are random draws of the same mutation operator, never selected by score (the
    # random-search baseline).
    strategy: str = "evolution"
    # Successive halving per scored task: this many configurations train for `halving_epochs`
    # epochs first, and the best `configs_per_task` of them train fully (0: off, every config fully).
    halving_configs: int = 0
    halving_epochs: int = 3
    # Racing on the first task (the gate, `statistics.race`): a child's best configuration, and
    # the GRU's paired one, train on `race_seeds` seeds (the run's and replicate seeds), then on
    # twice as many unless the ratio's one-sided 95% interval lies below `first_task_ratio`, up
    # to `race_max_seeds`, where the point estimate decides (a child that passes has them all).
    # The interval's SD is the larger of `ratio_sd` (the per-seed ratio's SD measured beforehand,
    # benchmarks/README.md) and the seeds' own. The seed cells train on `race_max_seeds` seeds on every scored task.
    race_seeds: int = 1
    race_max_seeds: int = 2
    ratio_sd: float = 0.03
    # A child's per-node mutation probability is drawn from U(0, max_mutation_rate) (the paper: 1).
    max_mutation_rate: float = 1.0
    # The search's default budget in evaluations (over all resumptions; the confirmation's are
    # not counted), used when neither --max-evaluations nor --budget-minutes is given: the
    # same search on an idle and on a loaded machine. None: no default budget.
    max_evaluations: int | None = None


STRATEGIES = preset_rules.STRATEGIES


@dataclasses.dataclass(frozen=True)
class Preset:
    """Everything about a run's scale that is not a sampled hyperparameter."""

    name: str
    budgets: dict[str, int]  # recurrent-layer weights per task family (`tasks.FAMILIES`: "music" for the music sets)
    max_layers: int  # sample num_layers from the prior only up to this
    max_epochs: int  # epoch cap
    batch_size: int  # for the non-stateful tasks (PTB uses its config's batch size)
    patience: int  # epochs without a better validation score before the learning rate decays
    lr_decay: float  # the learning rate is multiplied by this at each decay
    max_decays: int  # training stops after this many decays
    jit_compile: bool  # compile training steps with XLA
    arith: ArithConfig
    xml: XmlConfig
    memorize: MemorizeConfig
    ptb: PtbConfig
    music: MusicConfig
    search: SearchConfig
    text: TextConfig = dataclasses.field(default_factory=TextConfig)  # a user's text (`text:PATH`)
    ptb_chars: PtbCharsConfig = dataclasses.field(default_factory=PtbCharsConfig)  # `ptb_chars`
    npz: NpzConfig = dataclasses.field(default_factory=NpzConfig)  # a user's arrays (`npz:PATH`)
    engine: str = "fit"  # how an evaluation trains: "fit" (Keras' fit) or "batched" (evo_rnn.training.batched_engine)

    def task_config(self, task: str) -> Any:
        """The config of task `task` (the music sets share one; a task a package adds has none).

        Raises:
            UnknownNameError: `task` is not a task.
        """
        family = tasks.family(task)
        return None if family == "custom" else getattr(self, family)

    def halving_rung(self) -> Preset:
        """The preset a successive-halving rung trains with: `search.halving_epochs` epochs at most."""
        return dataclasses.replace(self, max_epochs=self.search.halving_epochs)

    def budget(self, task: str) -> int:
        """The recurrent-layer weights a model for task `task` may have.

        Raises:
            UnknownNameError: `task` is not a task.
        """
        return self.budgets[tasks.family(task)]


PRESETS: dict[str, Preset] = {
    "quick": Preset(
        name="quick",
        budgets={
            "arith": 20_000,
            "xml": 20_000,
            "memorize": 8_000,
            "ptb": 10_000,
            "music": 20_000,
            "text": 20_000,
            "npz": 20_000,
            "custom": 20_000,
            "ptb_chars": 20_000,
        },
        max_layers=2,
        max_epochs=15,
        batch_size=32,
        patience=2,
        lr_decay=0.5,
        max_decays=3,
        jit_compile=False,
        # One-digit operands read through up to 5 distractor letters after each character: short
        # enough to learn in 15 epochs, long enough that tanh and LSTM-f fall behind the gated
        # cells (chosen on ablation seed 100; see the README's figures for seeds 200 and 300).
        arith=ArithConfig(max_digits=1, max_distractors=5, n_train=3_000, n_valid=400, n_test=400),
        # Tag names of 1-2 letters and 8,000 documents: the closing tags are learnable in 15 epochs,
        # so the score moves above the plateau of the easy characters (chosen on ablation seed 100).
        xml=XmlConfig(max_tag_length=2, max_depth=3, max_length=40, n_train=8_000, n_valid=300, n_test=300),
        memorize=MemorizeConfig(n_train=2_000, n_valid=300, n_test=300),
        ptb=PtbConfig(batch_size=20, seq_len=20, max_train_tokens=20_000, max_eval_tokens=4_000),
        music=MusicConfig(chunk_length=50, max_pieces=60),
        # Short streams and small batches: a 35 KB text gives 350 steps an epoch (20 x 20 gave 70,
        # too few for any configuration to leave the commonest character in one epoch).
        text=TextConfig(batch_size=8, seq_len=10, max_train_tokens=50_000, max_eval_tokens=10_000),
        # The default fitness (docs/search.md): at 8 epochs the per-seed ratio of the GRU's and the
        # LSTM's scores to the GRU's mean has SD about 0.02 (benchmarks/README.md, the noise table).
        ptb_chars=PtbCharsConfig(
            batch_size=8, seq_len=10, max_train_tokens=50_000, max_eval_tokens=10_000, max_epochs=8
        ),
        search=SearchConfig(
            tasks=("ptb_chars",),
            # One configuration, the parent's (the reference for the seed cells: about the best of
            # the bank's first four on this task), and the evaluations spent on seeds instead.
            configs_per_task=1,
            filter_task="memorize",
            filter_configs=2,
            filter_threshold=0.1,
            # A child joins the population unless it is shown worse than the GRU: racing 2, 4,
            # then 8 seeds paired with the GRU's (which has all 8 from the start).
            first_task_ratio=1.0,
            race_seeds=2,
            race_max_seeds=8,
            ratio_sd=0.03,
            population_size=100,
            reevaluate_probability=0.1,
            # About 1.4 mutations a child instead of the paper's 10: more children pass the filter
            # (benchmarks/README.md, "Children the filter lets through").
            max_mutation_rate=0.1,
            # The seed cells take 18 of them (8 seeds each and the filter); the rest go to children:
            # about 15 minutes of search on this 2-core machine, then the confirmation and the export.
            max_evaluations=300,
        ),
    ),
    # The paper's scale (GPU): 8-digit arithmetic, full XML, all of PTB, whole music pieces.
    "paper": Preset(
        name="paper",
        budgets={
            "arith": 500_000,
            "xml": 500_000,
            "memorize": 100_000,
            "ptb": 5_000_000,
            "music": 500_000,
            "text": 5_000_000,
            "npz": 500_000,
            "custom": 500_000,
        },
        max_layers=4,
        max_epochs=40,
        batch_size=20,
        patience=1,
        lr_decay=0.5,
        max_decays=4,
        jit_compile=True,
        arith=ArithConfig(),
        xml=XmlConfig(),
        memorize=MemorizeConfig(),
        ptb=PtbConfig(batch_size=20, seq_len=35),
        music=MusicConfig(chunk_length=None),
        search=SearchConfig(
            tasks=("arith", "xml", "ptb"),
            configs_per_task=20,
            filter_task="memorize",
            filter_configs=1,
            filter_threshold=0.95,
            first_task_ratio=0.9,
            race_seeds=1,
            race_max_seeds=2,
            ratio_sd=0.03,
            population_size=100,
            reevaluate_probability=0.2,
        ),
    ),
}

# What the built-in `quick` search was before the default fitness became `ptb_chars` (runs stored
# before `RunSettings.FORMAT` 2 were started with it, and read with it).
LEGACY_SEARCH: dict[str, tuple[str, ...]] = {
    "quick": (
        "search.tasks=arith,xml",
        "search.configs_per_task=2",
        "search.first_task_ratio=0.9",
        "search.race_seeds=1",
        "search.race_max_seeds=2",
        "search.ratio_sd=0.0304",
        "search.reevaluate_probability=0.2",
        "search.halving_configs=8",
        "search.max_evaluations=100",
    ),
}


def get(name: str) -> Preset:
    """The preset `name`; unknown names list the known ones."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def sample_configs(preset: Preset, task: str, trials: int, seed: int) -> list[hyperparameters.HParams]:
    """The configuration bank of `task`: `trials` configurations at the preset's budget and layer
    cap. The first is the reference configuration (`hyperparameters.reference`: the same for every task
    and seed, so that one trial, or a cell given one configuration, trains with a sensible one);
    the others have learning rates stratified over the prior's range and the other fields drawn
    from the prior (`hyperparameters.stratified_bank`; seeded by `seed` and the task's name). The first
    k of a bank of n are the bank of k: asking for more configurations adds, never changes."""
    if trials < 1:
        return []
    # A user's files share their family's bank ("text", "npz"): the same configurations whatever
    # the path or the content, as the music sets' banks differ by name only.
    rng = random.Random(f"{seed}:{tasks.family(task) if tasks.is_source(task) else task}")
    reference = hyperparameters.reference(preset.budget(task))
    return [
        reference,
        *hyperparameters.stratified_bank(rng, preset.budget(task), trials - 1, max_layers=preset.max_layers),
    ]


def _convert(text: str, kind: Any, field: str) -> Any:
    """Parses `text` as the field's annotated type (no eval)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in args:
        if text.lower() in ("none", "null"):
            return None
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is tuple:  # tuple[str, ...]: comma-separated
        return tuple(item.strip() for item in text.split(",") if item.strip())
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(text)
    except ValueError:
        raise EvoRnnError(f"--set {field}: {text!r} is not a valid {kind.__name__}") from None
    raise EvoRnnError(f"--set {field}: this field cannot be set from the command line")


def with_overrides(preset: Preset, overrides: list[str]) -> Preset:
    """`preset` with fields replaced, each override `field=value`, `task.field=value` or
    `budgets.task=value` (e.g. `max_epochs=3`, `arith.max_digits=5`, `budgets.ptb=100000`).

    Raises:
        EvoRnnError: an override is malformed, names no field, or gives a value its field's rule
            refuses (`evo_rnn.training.preset_rules`).
    """
    fields = {name: kind for name, kind in typing.get_type_hints(Preset).items() if name != "name"}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise EvoRnnError(f"--set expects field=value, got {item!r}")
        if not key or key != "".join(key.split()):
            raise EvoRnnError(
                f"--set {item!r}: the field name {key!r} has spaces; write it without them, "
                f"e.g. --set {''.join(key.split()) or 'max_epochs'}={value.strip() or 'VALUE'}"
            )
        parts = key.split(".")
        if parts[0] not in fields or len(parts) > 2:
            raise EvoRnnError(f"--set: unknown preset field {key!r}; fields: {', '.join(fields)}")
        if len(parts) == 1:
            if parts[0] == "budgets" or dataclasses.is_dataclass(getattr(preset, parts[0])):
                raise EvoRnnError(f"--set: {key!r} holds fields; set one of them, e.g. {key}.FIELD=VALUE")
            value = preset_rules.LEGACY_VALUES.get(key, {}).get(value, value)
            preset = dataclasses.replace(preset, **{key: _convert(value, fields[key], key)})
        elif parts[0] == "budgets":
            if parts[1] not in preset.budgets:
                raise EvoRnnError(
                    f"--set: unknown budget {key!r}; budgets: "
                    f"{', '.join(f'budgets.{name}' for name in preset.budgets)} (the music sets share budgets.music)"
                )
            preset = dataclasses.replace(preset, budgets={**preset.budgets, parts[1]: _convert(value, int, key)})
        else:
            config = getattr(preset, parts[0])
            if not dataclasses.is_dataclass(config):
                raise EvoRnnError(f"--set: {parts[0]!r} has no fields")
            sub = typing.get_type_hints(type(config))
            if parts[1] not in sub:
                raise EvoRnnError(f"--set: unknown field {key!r}; {parts[0]} has {', '.join(sub)}")
            new = dataclasses.replace(config, **{parts[1]: _convert(value, sub[parts[1]], key)})
            preset = dataclasses.replace(preset, **{parts[0]: new})
    preset_rules.check(preset)
    return preset


# Preset fields and task budgets added after keys were stored (the file tasks): they join
# a key only where they differ from their built-in preset's value, so the keys stored before they
# existed stay valid. A change to one of these built-in values must raise TASK_VERSION.
LATER_FIELDS = ("text", "npz", "ptb_chars")
LATER_BUDGETS = ("text", "npz", "custom", "ptb_chars")


def preset_key(preset: Preset) -> str:
    """A short key for everything in a preset that changes how one evaluation trains (its name
    alone hides `--set` overrides), `BATCH_ORDER` and `TASK_VERSION`. The search's knobs (`preset.search`) are
    left out: they choose which evaluations run, not their results."""
    contents = dataclasses.asdict(preset)
    contents.pop("search", None)
    contents["batch_order"] = BATCH_ORDER
    contents["task_version"] = TASK_VERSION
    built_in = PRESETS.get(preset.name)
    if built_in is not None:
        for field in LATER_FIELDS:
            if contents[field] == dataclasses.asdict(getattr(built_in, field)):
                del contents[field]
        for family in LATER_BUDGETS:
            if contents["budgets"].get(family) == built_in.budgets.get(family):
                contents["budgets"].pop(family, None)
    for (
        field,
        renamed,
    ) in preset_rules.LEGACY_VALUES.items():  # a renamed value keys as its old name: stored keys stay valid
        old_names = {new: old for old, new in renamed.items()}
        if contents.get(field) in old_names:
            contents[field] = old_names[contents[field]]
    text = json.dumps(contents, sort_keys=True, default=str)
    return f"{preset.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
