"""A user's files as tasks (`text:PATH`, `npz:PATH`; `evo_rnn.tasks.sources`, `.text`, `.arrays`) and
tasks that packages add (`evo_rnn.tasks.register`): parsing, identity by content, splits, scores,
and one-line errors (exit 2, nothing written) for bad input."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.core.errors import UnknownNameError
from evo_rnn.tasks import sources
from evo_rnn.tasks.arrays import load_npz
from evo_rnn.tasks.base import Task, TaskData
from evo_rnn.tasks.sources import SourceError
from evo_rnn.training import presets

from conftest import run_module, stderr_lines


def english(size: int = 35_000) -> str:
    """English prose that ships with Python: its documentation's topics (pydoc_data)."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key] for key in sorted(topics))[:size]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(english(), encoding="utf-8")
    return path


def arrays(n: int = 600, steps: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Token sequences labelled by their last token's parity (a per-sequence label the cell's
    last state can read)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, size=(n, steps))
    return {"x": x, "y": x[:, -1] % 2}


def test_text_splits_by_position_builds_the_vocabulary_from_training_and_keys_by_content(corpus, tmp_path):
    config = presets.get("quick").text
    task = tasks.get(f"text:{corpus}", config)
    data = task.data(0)
    assert task.stateful and task.input_size == len(task.vocabulary) and task.vocabulary[-1] == "<unk>"
    train_chars = len(data.train.inputs.ravel())
    assert train_chars > 4 * len(data.test.inputs.ravel())  # 80/10/10, less the batches' remainders
    text = english()
    assert "".join(task.vocabulary[i] for i in data.train.inputs[0]) == text[: config.seq_len]  # in order
    # Identity: by content and options, not by path.
    moved = tmp_path / "elsewhere" / "renamed.txt"
    moved.parent.mkdir()
    shutil.copy(corpus, moved)
    assert tasks.identity(f"text:{moved}") == tasks.identity(f"text:{corpus}")
    assert tasks.identity(f"text:{corpus}?unit=word") != tasks.identity(f"text:{corpus}")
    moved.write_text(english() + " edited", encoding="utf-8")
    assert tasks.identity(f"text:{moved}") != tasks.identity(f"text:{corpus}")
    assert tasks.identity(tasks.identity(f"text:{corpus}")) == tasks.identity(f"text:{corpus}")  # idempotent
    assert presets.sample_configs(presets.get("quick"), f"text:{corpus}", 3, 0) == presets.sample_configs(
        presets.get("quick"), f"text:{moved}", 3, 0
    )


def test_words_with_a_capped_vocabulary_and_a_folder_of_three_files(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    text = english(60_000)
    for name, part in zip(("train.txt", "valid.txt", "test.txt"), (text[:40_000], text[40_000:50_000], text[50_000:])):
        (folder / name).write_text(part, encoding="utf-8")
    task = tasks.get(f"text:{folder}?unit=word&vocab=300", presets.get("quick").text)
    assert len(task.vocabulary) == 300 and task.vocabulary[-1] == "<unk>" and "<eos>" in task.vocabulary
    data = task.data(0)
    unknown = task.vocabulary.index("<unk>")
    assert (data.test.inputs == unknown).any()  # rare and unseen words read as <unk>
    metrics = task.metrics(data.valid, np.full(data.valid.inputs.shape, 2.0), np.zeros(data.valid.inputs.shape, bool))
    assert metrics["score"] == pytest.approx(np.exp(-2.0))  # words: exp(-NLL), as PTB


def test_npz_per_sequence_labels_score_the_last_real_step_and_per_step_labels_every_step(tmp_path):
    data = arrays()
    lengths = np.full(len(data["x"]), 12)
    lengths[:10] = 5
    np.savez(tmp_path / "seq.npz", **data, lengths=lengths)
    task = tasks.get(f"npz:{tmp_path / 'seq.npz'}", presets.get("quick").npz)
    assert task.input_kind == "tokens" and task.input_size == 10 and task.output_size == 2 and not task.per_step
    split = task.data(0)
    rows = sum(len(s) for s in (split.train, split.valid, split.test))
    assert rows == 600 and len(split.train) == 480
    assert (split.train.weights.sum(axis=1) == 1).all()  # one scored step per sequence
    steps = np.full((50, 8), 3)
    np.savez(tmp_path / "steps.npz", x=np.random.default_rng(1).normal(size=(50, 8, 3)).astype("float32"), y=steps % 2)
    per_step = tasks.get(f"npz:{tmp_path / 'steps.npz'}")
    assert per_step.input_kind == "dense" and per_step.input_size == 3 and per_step.per_step
    assert per_step.data(0).train.weights.sum() == 40 * 8


def test_evaluate_learns_a_35_kb_text_and_an_npz_above_the_commonest_class(corpus, tmp_path):
    np.savez(tmp_path / "seq.npz", **arrays())
    for spec in (f"text:{corpus}", f"npz:{tmp_path / 'seq.npz'}"):
        done = run_module(
            "evo_rnn.evaluate",
            "--arch",
            "gru",
            "--task",
            spec,
            "--trials",
            "1",
            "--set",
            "max_epochs=1",
            "--json",
            "--quiet",
            timeout=600,
        )  # issue 22's check, as it is written
        assert done.returncode == 0, done.stderr[-2000:]
        results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert all(r["status"] == "ok" for r in results)
        best = max(results, key=lambda r: r["valid_score"])
        assert best["test_score"] > best["test_metrics"]["majority"] + 0.02, (spec, best["test_metrics"])


BAD_TEXT = {
    "missing": (lambda tmp: "text:" + str(tmp / "nope.txt"), "does not exist"),
    "folder without the three files": (
        lambda tmp: (tmp / "folder").mkdir() or f"text:{tmp / 'folder'}",
        "lacks train.txt, valid.txt, test.txt",
    ),
    "not UTF-8": (
        lambda tmp: (
            (tmp / "latin.txt").write_bytes(("ab" * 3000 + "caf\xe9").encode("latin-1")) and f"text:{tmp / 'latin.txt'}"
        ),
        "is not UTF-8 (byte offset 6003",
    ),
    "empty": (lambda tmp: (tmp / "empty.txt").write_text("  \n") and f"text:{tmp / 'empty.txt'}", "is empty"),
    "binary": (
        lambda tmp: (tmp / "blob.txt").write_bytes(b"abc\x00\x01" * 100) and f"text:{tmp / 'blob.txt'}",
        "is binary (a NUL byte at offset 3)",
    ),
    "one token": (
        lambda tmp: (tmp / "aaa.txt").write_text("a" * 5000) and f"text:{tmp / 'aaa.txt'}",
        "has a vocabulary of 1 character",
    ),
    "too small": (
        lambda tmp: (tmp / "small.txt").write_text(english(300)) and f"text:{tmp / 'small.txt'}",
        "too few for one batch",
    ),
    "unknown option": (
        lambda tmp: (tmp / "ok.txt").write_text(english(5000)) and f"text:{tmp / 'ok.txt'}?units=word",
        "unknown option 'units' after '?'; text: takes unit, vocab",
    ),
    "bad option value": (
        lambda tmp: (tmp / "ok2.txt").write_text(english(5000)) and f"text:{tmp / 'ok2.txt'}?vocab=1",
        "option vocab='1' is not allowed",
    ),
    "a vocabulary that can never work": (
        lambda tmp: (tmp / "ok3.txt").write_text(english(5000)) and f"text:{tmp / 'ok3.txt'}?unit=word&vocab=2",
        "option vocab='2' is not allowed; use a whole number >= 3",
    ),
    "a repeated option": (
        lambda tmp: (tmp / "ok4.txt").write_text(english(5000)) and f"text:{tmp / 'ok4.txt'}?unit=word&unit=char",
        "option unit is given twice",
    ),
    "a '?' in the name, not escaped": (
        lambda tmp: (tmp / "q?x.txt").write_text(english(5000)) and f"text:{tmp / 'q?x.txt'}",
        "unknown option 'x.txt' after '?'; text: takes unit, vocab (a '?' in the file's name is written %3F)",
    ),
    "a FIFO": (lambda tmp: os.mkfifo(tmp / "fifo.txt") or f"text:{tmp / 'fifo.txt'}", "is a FIFO (named pipe), not a"),
    "a device": (lambda tmp: "text:/dev/zero", "/dev/zero is a character device, not a regular file"),
    "a symlink loop": (
        lambda tmp: (
            (tmp / "loopA").symlink_to(tmp / "loopB")
            or (tmp / "loopB").symlink_to(tmp / "loopA")
            or "text:" + str(tmp / "loopA")
        ),
        "is a symlink loop",
    ),
    "UTF-16 with its byte-order mark": (
        lambda tmp: (tmp / "wide.txt").write_bytes(english(5000).encode("utf-16")) and f"text:{tmp / 'wide.txt'}",
        "wide.txt is UTF-16 text, not UTF-8; convert it, e.g. iconv -f UTF-16 -t UTF-8",
    ),
    "UTF-16 without one, little-endian": (
        lambda tmp: (tmp / "le.txt").write_bytes(english(5000).encode("utf-16-le")) and f"text:{tmp / 'le.txt'}",
        "le.txt is UTF-16LE text, not UTF-8; convert it, e.g. iconv -f UTF-16LE -t UTF-8",
    ),
    "UTF-16 without one, big-endian": (  # iconv -f UTF-16 would read it little-endian: nonsense
        lambda tmp: (tmp / "be.txt").write_bytes(english(5000).encode("utf-16-be")) and f"text:{tmp / 'be.txt'}",
        "be.txt is UTF-16BE text, not UTF-8; convert it, e.g. iconv -f UTF-16BE -t UTF-8",
    ),
    "a NUL byte in the name (%00)": (
        lambda tmp: f"text:{tmp / 'abc%00.txt'}",
        "its path holds a NUL byte (%00), which no file name can",
    ),
    "a comma in the name, not escaped (cut by --tasks)": (
        lambda tmp: (tmp / "my,data.txt").write_text(english(5000)) and f"text:{tmp / 'my'}",
        "does not exist; give the path of a UTF-8 text file or a folder with train.txt, valid.txt and test.txt "
        "(in a task name, write '?' as %3F, ',' as %2C",
    ),
}


def _npz(tmp, name, **data):
    np.savez(tmp / f"{name}.npz", **data)
    return f"npz:{tmp / f'{name}.npz'}"


def _written(tmp, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return f"npz:{tmp / name}"


def _zip(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _declaring(shape: tuple[int, ...]) -> bytes:
    """A .npy header that declares `shape` of int64, followed by far fewer bytes (16 MB in the issue)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<i8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + bytes(1000)


BAD_NPZ = {
    "a .npy renamed .npz": (
        lambda tmp: _written(tmp, "one.npz", _npy(np.zeros((20, 5), int))),
        "one.npz is a single .npy array, not an .npz archive of arrays x and y",
    ),
    "a plain zip with members x and y": (
        lambda tmp: _written(tmp, "plain.npz", _zip(x=b"1 2 3", y=b"0 1")),
        "plain.npz holds 'x', which is not a .npy array",
    ),
    "a header declaring 200000 x 10000 int64": (
        lambda tmp: _written(tmp, "huge.npz", _zip(**{"x.npy": _declaring((200_000, 10_000)), "y.npy": b""})),
        "array x declares shape (200000, 10000) of int64 (16,000,000,000 bytes) but holds 1,128",
    ),
    "token id 1e12": (
        lambda tmp: _npz(tmp, "t12", x=np.full((20, 5), 10**12), y=np.zeros(20, int)),
        "x holds token id 1000000000000, more than the model's index type (int32) holds",
    ),
    "token id 2**31": (
        lambda tmp: _npz(tmp, "t31", x=np.full((20, 5), 2**31), y=np.zeros(20, int)),
        "x holds token id 2147483648, more than",
    ),
    "token id uint64 max": (
        lambda tmp: _npz(tmp, "tu", x=np.full((20, 5), np.iinfo(np.uint64).max, np.uint64), y=np.zeros(20, int)),
        "x holds token id 18446744073709551615, more than",
    ),
    "class 1e12": (
        lambda tmp: _npz(tmp, "yhuge", x=np.zeros((20, 5), int), y=np.full(20, 10**12)),
        "y holds class 1000000000000, more than the model's index type (int32) holds",
    ),
    "classes far apart (just below the int32 cap)": (
        lambda tmp: _npz(tmp, "ymax", x=np.zeros((20, 5), int), y=np.array([0, 1, 2, 2**31 - 2] * 5)),
        "its classes go up to 2,147,483,646 (4 distinct), so the model would be 2,147,483,647 wide, more than the "
        "1,048,576 it is built for; number them from 0 without gaps, e.g. _, y = numpy.unique(y, return_inverse=True)",
    ),
    "token ids far apart": (
        lambda tmp: _npz(tmp, "xfar", x=np.array([[0, 5, 10**9, 3, 1]] * 20), y=np.zeros(20, int)),
        "its token ids go up to 1,000,000,000 (5 distinct)",
    ),
    "class 1e30 as a float": (
        lambda tmp: _npz(tmp, "yf", x=np.zeros((20, 5), int), y=np.full(20, 1e30)),
        "y holds class 1e+30, more than",
    ),
    "mismatched lengths": (
        lambda tmp: _npz(tmp, "m", x=np.zeros((20, 5), int), y=np.zeros(19, int)),
        "x has 20 rows but y has 19",
    ),
    "non-integer classes": (
        lambda tmp: _npz(tmp, "c", x=np.zeros((20, 5), int), y=np.full(20, 0.5)),
        "y holds non-integer classes",
    ),
    "NaN features": (
        lambda tmp: _npz(tmp, "n", x=np.where(np.arange(60).reshape(20, 3, 1) == 7, np.nan, 1.0), y=np.zeros(20, int)),
        "x has NaN or infinite features (first at index (2, 1, 0))",
    ),
    "no y": (lambda tmp: _npz(tmp, "y", x=np.zeros((20, 5), int)), "the file has no array 'y'"),
    "pickled objects": (
        lambda tmp: _npz(tmp, "o", x=np.array([{"a": 1}] * 20, dtype=object), y=np.zeros(20, int)),
        "is not a readable .npz of plain arrays",
    ),
    "unknown option": (
        lambda tmp: _npz(tmp, "u", x=np.zeros((20, 5), int), y=np.zeros(20, int)) + "?unit=word",
        "unknown option 'unit' after '?'; npz: takes none",
    ),
    "a single label": (
        lambda tmp: _npz(tmp, "s", x=np.zeros((20, 5), int), y=np.array(3)),
        "y is a single number; give one class per sequence",
    ),
    "no steps": (
        lambda tmp: _npz(tmp, "t", x=np.zeros((20, 0), int), y=np.zeros(20, int)),
        "x has shape (20, 0); it must be [n, T] int tokens or [n, T, d] float features with n, T and d",
    ),
    "no features": (lambda tmp: _npz(tmp, "d", x=np.zeros((20, 5, 0)), y=np.zeros(20, int)), "x has shape (20, 5, 0)"),
    "splits that differ": (
        lambda tmp: _npz(
            tmp,
            "p",
            x=np.zeros((20, 5), int),
            y=np.zeros(20, int),
            x_valid=np.zeros((4, 7, 2)),
            y_valid=np.zeros(4, int),
            x_test=np.zeros((4, 5), int),
            y_test=np.zeros(4, int),
        ),
        "the splits differ (x int64 (20, 5), x_valid float64 (4, 7, 2), x_test int64 (4, 5))",
    ),
}


@pytest.mark.parametrize("case", [*BAD_TEXT, *(f"npz {k}" for k in BAD_NPZ)])
def test_bad_files_are_one_line_exit_2_and_nothing_is_written(tmp_path, case, capsys):
    from evo_rnn.commands import evaluate

    make, message = BAD_TEXT[case] if case in BAD_TEXT else BAD_NPZ[case[4:]]
    spec = make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert evaluate.main(["--arch", "gru", "--task", spec, "--quiet"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_a_source_is_read_with_a_cap_and_arrays_are_refused_by_their_declared_size(tmp_path, monkeypatch):
    path = tmp_path / "corpus.txt"
    path.write_text(english(5000), encoding="utf-8")
    with pytest.raises(SourceError, match="holds more than 1,000 bytes"):
        sources.read_capped(path, 1000)
    monkeypatch.setattr(sources, "MAX_SOURCE_BYTES", 1000)
    with pytest.raises(SourceError, match=r"holds more than 1,000 bytes \(5,0\d\d\).*give a sample"):
        tasks.check_name(f"text:{path}")
    raw = _zip(**{"x.npy": _npy(np.zeros((20, 5), int)), "y.npy": _npy(np.zeros(20, int))})
    assert load_npz(raw, "ok.npz")["x"].shape == (20, 5)
    with pytest.raises(SourceError, match="its arrays declare more than 500 bytes"):
        load_npz(raw, "ok.npz", limit=500)


def test_special_characters_in_a_path_are_percent_encoded_and_a_utf8_byte_order_mark_is_no_token(tmp_path):
    text = english()
    for name in ("q?x.txt", "my,data.txt", "100%.txt"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = presets.get("quick").text
    plain = tasks.get(f"text:{tmp_path / 'q?x.txt'}".replace("?", "%3F"), config)
    assert plain.source.path.name == "q?x.txt"
    for escaped in ("my%2Cdata.txt", "100%25.txt"):
        assert tasks.identity(f"text:{tmp_path / escaped}") == tasks.identity(f"text:{tmp_path / 'q%3Fx.txt'}")
    assert tasks.get(f"text:{tmp_path / 'q%3Fx.txt'}?unit=word&vocab=300", config).unit == "word"
    (tmp_path / "bom.txt").write_bytes(text.encode("utf-8-sig"))
    marked = tasks.get(f"text:{tmp_path / 'bom.txt'}", config)
    assert marked.vocabulary == plain.vocabulary and "\ufeff" not in marked.vocabulary


@pytest.mark.parametrize("case", ["missing", "too small"])
def test_the_search_refuses_a_bad_file_before_making_its_run(tmp_path, case):
    spec = BAD_TEXT[case][0](tmp_path)
    runs = tmp_path / "runs"
    done = run_module(
        "evo_rnn.search", "--run", "mine", "--runs-dir", str(runs), "--tasks", spec, "--quiet", "--workers", "0"
    )
    lines = stderr_lines(done)
    assert done.returncode == 2 and len(lines) == 1 and BAD_TEXT[case][1] in lines[0], done.stderr[-1500:]
    assert not runs.exists()


def test_a_registered_task_is_seen_by_name_and_bad_names_are_refused():
    class Parity(Task):
        description = "parity of the last token"

        def __init__(self):
            self.inner = tasks.get("memorize", tasks.MemorizeConfig(n_train=64, n_valid=16, n_test=16))
            self.input_size, self.output_size, self.config = self.inner.input_size, self.inner.output_size, None

        def data(self, seed: int) -> TaskData:
            return self.inner.data(seed)

        def metrics(self, split, nll, correct):
            return self.inner.metrics(split, nll, correct)

        def decode(self, split, index):
            return self.inner.decode(split, index)

    tasks.register("parity_demo", Parity)
    try:
        assert "parity_demo" in tasks.names() and tasks.family("parity_demo") == "custom"
        task = tasks.get("parity_demo")
        assert task.name == "parity_demo" and len(task.data(0).train) == 64
        assert presets.get("quick").budget("parity_demo") == presets.get("quick").budgets["custom"]
        assert presets.get("quick").task_config("parity_demo") is None
    finally:
        tasks._REGISTERED.pop("parity_demo")
    with pytest.raises(ValueError, match="is built in"):
        tasks.register("arith", Parity)
    with pytest.raises(UnknownNameError, match="or your files as text:PATH or npz:PATH"):
        tasks.family("parity_demo")
    with pytest.raises(SourceError, match="write text:PATH or npz:PATH"):
        tasks.check_name("text:")
