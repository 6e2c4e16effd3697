"""Generated tasks (arith, xml, memorize), the registry, metrics and `python -m evo_rnn.tasks`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.core.errors import UnknownNameError
from evo_rnn.tasks.arith import VOCAB as ARITH_VOCAB
from evo_rnn.tasks.arith import ArithTask
from evo_rnn.tasks.xml import VOCAB as XML_VOCAB

from conftest import run_module, stderr_lines

SMALL = {
    "arith": tasks.ArithConfig(n_train=300, n_valid=50, n_test=50),
    "xml": tasks.XmlConfig(n_train=300, n_valid=50, n_test=50),
    "memorize": tasks.MemorizeConfig(n_train=300, n_valid=50, n_test=50),
}


def _data(name, seed):
    return tasks.get(name, SMALL[name]).data(seed)


@pytest.mark.parametrize("name", tasks.GENERATED)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = _data(name, 1), _data(name, 1), _data(name, 2)
    for split in ("train", "valid", "test"):
        sa, sb, sc = getattr(a, split), getattr(b, split), getattr(c, split)
        np.testing.assert_array_equal(sa.inputs, sb.inputs)
        np.testing.assert_array_equal(sa.weights, sb.weights)
        assert sa.inputs.shape != sc.inputs.shape or not np.array_equal(sa.inputs, sc.inputs)
    assert not np.array_equal(a.train.inputs[:10], a.valid.inputs[:10])  # splits are independent


@pytest.mark.parametrize("name", tasks.GENERATED)
def test_shapes_and_teacher_forcing(name):
    task = tasks.get(name, SMALL[name])
    data = task.data(0)
    for split in (data.train, data.valid, data.test):
        assert split.inputs.dtype == np.int32 and split.targets.shape == split.inputs.shape
        assert split.weights.shape == split.inputs.shape
        assert split.inputs.max() < task.input_size and split.targets.max() < task.output_size
        if name != "memorize":  # next-character prediction: input is <bos> + target shifted right
            real = split.targets > 0
            np.testing.assert_array_equal(split.inputs[:, 1:][real[:, 1:]], split.targets[:, :-1][real[:, 1:]])


def _arith_rows(split):
    for _inputs, targets, weights in zip(split.inputs, split.targets, split.weights):
        text = ARITH_VOCAB.decode(targets)
        answer = ARITH_VOCAB.decode(targets[weights > 0])
        yield text, answer


def test_every_arith_answer_is_right_and_free_of_distractors():
    config = tasks.ArithConfig(max_digits=8, max_distractors=3, n_train=2000, n_valid=10, n_test=10)
    data = tasks.get("arith", config).data(7)
    seen_negative = seen_distractor = False
    for text, answer in _arith_rows(data.train):
        question, after = text.split("=")
        assert after == answer + "."
        assert re.fullmatch(r"-?\d+", answer), answer  # never a distractor in the answer
        digits = re.sub(r"[a-z]", "", question)
        a, op, b = re.fullmatch(r"(\d+)([+-])(\d+)", digits).groups()
        assert len(a) <= 8 and len(b) <= 8
        assert int(answer) == (int(a) + int(b) if op == "+" else int(a) - int(b))
        seen_negative |= answer.startswith("-")
        seen_distractor |= digits != question
    assert seen_negative and seen_distractor


def test_arith_difficulty_knobs():
    config = tasks.ArithConfig(max_digits=2, max_distractors=0, n_train=200, n_valid=1, n_test=1)
    for text, _answer in _arith_rows(tasks.get("arith", config).data(0).train):
        assert re.fullmatch(r"\d{1,2}[+-]\d{1,2}=-?\d+\.", text), text


def test_every_xml_document_is_well_formed_and_bounded():
    config = tasks.XmlConfig(max_tag_length=10, max_depth=3, max_length=80, n_train=500, n_valid=1, n_test=1)
    split = tasks.get("xml", config).data(3).train
    depths = []
    for targets, closing in zip(split.targets, split.masks["closing"]):
        text = XML_VOCAB.decode(targets)
        assert 7 <= len(text) <= 80
        ElementTree.fromstring(f"<root>{text}</root>")  # raises if not well formed
        stack, depth = [], 0
        for tag in re.findall(r"<(/?)([a-z]+)>", text):
            if tag[0]:
                assert stack.pop() == tag[1]
            else:
                assert 1 <= len(tag[1]) <= 10
                stack.append(tag[1])
                depth = max(depth, len(stack))
        assert not stack and depth <= 3
        depths.append(depth)
        # The closing mask covers exactly the name and '>' of each closing tag.
        marked = "".join(c for c, m in zip(text, closing) if m)
        assert marked == "".join(name + ">" for name in re.findall(r"</([a-z]+)>", text))
    assert max(depths) == 3 and min(depths) >= 1


def test_memorize_targets_are_the_symbols_read():
    task = tasks.get("memorize", SMALL["memorize"])
    split = task.data(0).train
    np.testing.assert_array_equal(split.targets[:, 5:], split.inputs[:, :5])
    assert (split.inputs[:, 5:] == task.marker).all()
    assert split.weights[:, :5].sum() == 0 and split.weights[:, 5:].all()


def test_metrics_scores():
    task = tasks.get("arith", SMALL["arith"])
    split = task.data(0).valid
    perfect = task.metrics(split, np.zeros(split.weights.shape), np.ones(split.weights.shape, bool))
    assert perfect["score"] == perfect["answers_correct"] == 1.0
    correct = np.ones(split.weights.shape, bool)
    first_scored = np.argmax(split.weights[0] > 0)
    correct[0, first_scored] = False  # one wrong answer character in row 0
    correct[1] = False  # row 1 entirely wrong
    m = task.metrics(split, np.zeros(split.weights.shape), correct)
    w = split.weights
    assert m["accuracy"] == pytest.approx(1 - (1 + w[1].sum()) / w.sum())
    assert m["answers_correct"] == pytest.approx(1 - 2 / len(w))
    correct[:, :] = True
    correct[:, 0] = False  # position 0 is never scored in arith: no effect
    assert task.metrics(split, np.zeros(w.shape), correct)["score"] == 1.0

    xml = tasks.get("xml", SMALL["xml"])
    split = xml.data(0).valid
    correct = split.masks["closing"] > 0  # right exactly on closing tags
    m = xml.metrics(split, np.zeros(split.weights.shape), correct)
    assert m["score"] == m["closing_accuracy"] == 1.0 and 0 < m["accuracy"] < 1  # the score is the closing tags'
    nll = np.where(split.masks["closing"] > 0, 0.5, 3.0)
    assert xml.metrics(split, nll, correct)["nll"] == pytest.approx(0.5)  # the loss of what is scored


def _problems(split):
    """The problems (questions without distractors) of an arith split."""
    return {re.sub(r"[a-z]", "", text.split("=")[0]) for text, _ in _arith_rows(split)}


@pytest.mark.parametrize("seed", [987_654_321, 4_000_000_123])  # data seeds the project never uses
@pytest.mark.parametrize(
    "config",
    [
        tasks.ArithConfig(max_digits=1, max_distractors=5, n_train=3000, n_valid=400, n_test=400),  # quick's space: 200
        tasks.ArithConfig(max_digits=2, max_distractors=1, n_train=3000, n_valid=400, n_test=400),
    ],
)
def test_arith_test_and_validation_problems_are_never_in_training(seed, config):
    data = tasks.get("arith", config).data(seed)
    train, valid, test = (_problems(s) for s in (data.train, data.valid, data.test))
    assert train and valid and test
    assert not test & train and not valid & train and not test & valid
    # Each data seed partitions the problems afresh: replicates see other test problems.
    assert _problems(tasks.get("arith", config).data(seed + 1).test) != test


def test_arith_problem_split_is_a_partition_with_the_stated_shares():
    from evo_rnn.tasks.arith import SPLIT_SHARES, problem_split

    problems = [f"{a}{op}{b}" for a in range(100) for b in range(100) for op in "+-"]
    counts = {name: sum(problem_split(3, p) == name for p in problems) for name in ("train", "valid", "test")}
    assert sum(counts.values()) == len(problems)
    for name, share in SPLIT_SHARES.items():
        assert abs(counts[name] / len(problems) - share) < 0.02, counts


def _closing_oracle(prefix: str) -> str | None:
    """The next character when the document so far determines it (inside a closing tag), else None."""
    stack, i = [], 0
    for tag in re.finditer(r"<(/?)([a-z]+)>", prefix):
        (stack.pop() if tag.group(1) else stack.append(tag.group(2)))
        i = tag.end()
    rest = prefix[i:]
    if rest.startswith("</"):
        name = stack[-1]
        typed = rest[2:]
        return name[len(typed)] if len(typed) < len(name) else ">"
    return None


def test_xml_score_ceiling_is_one_every_scored_character_is_determined_by_the_document_so_far():
    split = (
        tasks.get(
            "xml", tasks.XmlConfig(max_tag_length=4, max_depth=3, max_length=60, n_train=1, n_valid=200, n_test=1)
        )
        .data(11)
        .valid
    )
    checked = 0
    for targets, closing in zip(split.targets, split.masks["closing"]):
        text = XML_VOCAB.decode(targets)
        for position, scored in enumerate(closing[: len(text)]):
            if scored:
                assert _closing_oracle(text[:position]) == text[position]
                checked += 1
    assert checked > 500


def test_registry():
    assert tasks.names() == ["arith", "xml", "memorize", "ptb", "ptb_chars", "nottingham", "jsb", "musedata", "piano"]
    with pytest.raises(UnknownNameError, match="unknown task 'music' .*family: nottingham, jsb"):
        tasks.get("music")
    with pytest.raises(UnknownNameError, match="known: arith, xml"):
        tasks.get("arithmetic")


def test_show_command_prints_decoded_samples():
    result = run_module("evo_rnn.tasks", "show", "arith", "--n", "2")
    assert result.returncode == 0, result.stderr
    assert "arith:" in result.stdout and "[1]" in result.stdout and "=" in result.stdout
    result = run_module("evo_rnn.tasks", "show", "xml", "--n", "1", "--split", "test")
    assert result.returncode == 0 and "closing-tag characters" in result.stdout
    assert "max_digits=8" in run_module("evo_rnn.tasks", "show", "arith", "--n", "1").stdout  # the paper's scale
    quick = run_module("evo_rnn.tasks", "show", "arith", "--n", "1", "--preset", "quick")
    assert (
        quick.returncode == 0 and "config (preset quick): ArithConfig(max_digits=1, max_distractors=5" in quick.stdout
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "arithmetic"], "unknown task 'arithmetic'"),
        (["show"], "the following arguments are required: task"),
        (["download", "imagenet", "--data-dir", "/tmp/unused-evo-rnn"], "unknown dataset 'imagenet'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(args, message):
    result = run_module("evo_rnn.tasks", *args)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


PLUGINS = {  # entry point name -> (its value, what `tasks show NAME` says in one line)
    "raises": ("fakeplug:raising", "its factory raised RuntimeError: no data here"),
    "returns_none": ("fakeplug:nothing", "its factory returned None, not a Task"),
    "missing_module": ("fakeplug_missing:factory", "cannot be loaded (ModuleNotFoundError"),
    "not_callable": ("fakeplug:NUMBER", "names 5, which is not callable"),
    "a/b": ("fakeplug:nothing", "task name 'a/b': use letters, digits, '_' and '-'"),
}


@pytest.fixture
def broken_plugins(tmp_path, monkeypatch):
    """A package installed beside the tests whose entry points in `evo_rnn.tasks` are all broken."""
    (tmp_path / "fakeplug.py").write_text(
        "NUMBER = 5\ndef raising():\n    raise RuntimeError('no data here')\ndef nothing():\n    return None\n"
    )
    info = tmp_path / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[evo_rnn.tasks]\n" + "".join(f"{name} = {value}\n" for name, (value, _) in PLUGINS.items())
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    tasks._entry_points.cache_clear()
    yield
    tasks._entry_points.cache_clear()


@pytest.mark.parametrize("name", PLUGINS)
def test_a_broken_entry_point_is_one_line_naming_it_and_the_list_still_works(broken_plugins, name, capsys):
    from evo_rnn.commands.tasks import main as tasks_main

    assert tasks_main(["show", name]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and PLUGINS[name][1] in lines[0] and repr(name) in lines[0], lines
    assert name != "a/b" or PLUGINS[name][0] in lines[0]  # the entry point, not only its name
    assert tasks_main(["list"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(name + " ")]
    assert len(listed) == 1 and "BROKEN: " in listed[0] and PLUGINS[name][1] in listed[0], listed
    assert name in tasks.names() or name == "a/b"  # a name no folder can hold is never a task


@pytest.mark.parametrize(
    "name, factory, message",
    [
        (123, ArithTask, "task name 123: use letters"),
        ("a/b", ArithTask, "task name 'a/b': use letters"),
        ("x", 5, "the factory 5 is not callable"),
        ("arith", ArithTask, "is built in"),
    ],
)
def test_register_refuses_a_bad_name_or_factory_at_once(name, factory, message):
    with pytest.raises(ValueError, match=message):
        tasks.register(name, factory)
    assert name not in tasks.names() or name == "arith"
