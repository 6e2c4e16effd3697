"""Real datasets: PTB and the four music sets, read from ../shared/data, verified, downloaded."""

from __future__ import annotations

import functools
import http.server
import io
import os
import pickle
import shutil
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.core.errors import DataFileMissingError, DataIntegrityError, UnsafePickleError
from evo_rnn.tasks import data_files
from evo_rnn.tasks.music import MUSIC_FILES, canonical_music
from evo_rnn.tasks.ptb import bptt_layout, read_words
from evo_rnn.tasks.safe_pickle import MAX_ELEMENTS, safe_loads

from conftest import HAVE_SHARED, ROOT, SHARED, run_module, stderr_lines

if not HAVE_SHARED:
    pytest.skip(f"the shared datasets are not in {SHARED}", allow_module_level=True)


# --------------------------------------------------------------------------- PTB


def test_ptb_token_counts_and_vocabulary():
    counts = {s: len(read_words(s, SHARED)) for s in ("train", "valid", "test")}
    assert counts == {"train": 929_589, "valid": 73_760, "test": 82_430}
    task = tasks.get("ptb", data_dir=SHARED)
    assert len(task.vocabulary) == 10_000 and "<eos>" in task.vocabulary and "<unk>" in task.vocabulary
    assert task.vocabulary[:3] == ["the", "<unk>", "<eos>"]  # most frequent first


def test_bptt_targets_continue_across_batches():
    stream = np.arange(1000)
    x, y = bptt_layout(stream, batch_size=4, seq_len=7)
    per_row, batches = 1000 // 4, (1000 // 4 - 1) // 7
    assert x.shape == y.shape == (batches * 4, 7)
    np.testing.assert_array_equal(y, x + 1)  # the stream is 0, 1, 2, ...: targets = next token
    for k in range(batches - 1):
        for r in range(4):
            # row r of batch k+1 continues row r of batch k
            assert x[(k + 1) * 4 + r, 0] == x[k * 4 + r, -1] + 1 == y[k * 4 + r, -1]
            assert x[k * 4 + r, 0] == r * per_row + k * 7
    with pytest.raises(ValueError, match="too few for one batch"):
        bptt_layout(np.arange(10), batch_size=4, seq_len=7)


def test_ptb_task_layout_on_the_real_corpus():
    task = tasks.get("ptb", tasks.PtbConfig(batch_size=20, seq_len=35), data_dir=SHARED)
    data = task.data(0)
    assert task.stateful and task.batch_size == 20
    batches = (929_589 // 20 - 1) // 35
    assert data.train.inputs.shape == (batches * 20, 35)
    x, y = data.train.inputs, data.train.targets
    np.testing.assert_array_equal(y[:20, :-1], x[:20, 1:])
    np.testing.assert_array_equal(y[:20, -1], x[20:40, 0])  # across the batch boundary
    words = [task.vocabulary[i] for i in x[0, :5]]
    assert words == read_words("train", SHARED)[:5]
    nll = np.full(x.shape, np.log(100.0))
    m = task.metrics(data.train, nll, np.zeros(x.shape, bool))
    assert m["perplexity"] == pytest.approx(100.0) and m["score"] == pytest.approx(0.01)


def test_ptb_slices_for_quick_runs():
    task = tasks.get("ptb", tasks.PtbConfig(max_train_tokens=20_000, max_eval_tokens=5_000), data_dir=SHARED)
    data = task.data(0)
    assert data.train.inputs.size <= 20_000 and data.valid.inputs.size <= 5_000
    assert len(task.vocabulary) == 10_000  # always from the whole training file


# --------------------------------------------------------------------------- music

EXPECTED_MUSIC = {
    "jsb": ((229, 76, 77), (13_807, 4_602, 4_725)),
    "musedata": ((524, 135, 124), (245_202, 82_755, 64_339)),
    "nottingham": ((694, 173, 170), (176_561, 45_513, 44_463)),
    "piano": ((87, 12, 25), (75_911, 8_540, 19_036)),
}


@pytest.mark.parametrize("name", tasks.MUSIC)
def test_music_piece_and_step_counts(name):
    task = tasks.get(name, data_dir=SHARED)
    pieces = task.pieces()
    counts, steps = EXPECTED_MUSIC[name]
    assert tuple(len(pieces[s]) for s in ("train", "valid", "test")) == counts
    assert tuple(sum(len(p) for p in pieces[s]) for s in ("train", "valid", "test")) == steps
    notes = [n for piece in pieces["train"] for step in piece for n in step]
    assert 21 <= min(notes) and max(notes) <= 108


def test_the_largest_music_dataset_is_well_inside_the_pickle_size_limit():
    # MuseData: 1,749,379 elements (pieces, time steps, notes); the limit leaves room for twice that
    content = safe_loads((SHARED / MUSIC_FILES["musedata"]).read_bytes(), max_elements=MAX_ELEMENTS // 2)
    assert len(content["train"]) == 524


def test_jsb_rolls_and_metrics():
    task = tasks.get("jsb", tasks.MusicConfig(chunk_length=None), data_dir=SHARED)
    data = task.data(0)
    assert data.train.inputs.shape[0] == 229 and data.train.inputs.shape[2] == 88
    assert set(np.unique(data.train.inputs)) <= {0.0, 1.0}
    assert data.train.scored == 13_807 - 229  # every step but each piece's first is predicted
    first = task.pieces()["train"][0]
    np.testing.assert_array_equal(np.flatnonzero(data.train.inputs[0, 0]) + 21, first[0])
    np.testing.assert_array_equal(data.train.targets[0, :-1], data.train.inputs[0, 1:])
    chunked = tasks.get("jsb", tasks.MusicConfig(chunk_length=50), data_dir=SHARED).data(0)
    assert chunked.train.inputs.shape[1] == 50 and chunked.train.scored == data.train.scored
    m = task.metrics(data.valid, np.full(data.valid.weights.shape, 2.0), None)
    assert m["nll_per_step"] == pytest.approx(2.0) and m["score"] == pytest.approx(np.exp(-2.0))


def _original_style(content: dict) -> bytes:
    """The authors' encoding: tuples of numpy ints in another order."""
    return pickle.dumps(
        {
            s: [[tuple(np.int64(n) for n in reversed(step)) for step in piece] for piece in pieces]
            for s, pieces in content.items()
        },
        protocol=2,
    )


def _data_dir_with(tmp_path: Path, path: str, data: bytes) -> Path:
    target = tmp_path / "data" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return tmp_path / "data"


def test_music_accepts_both_encodings(tmp_path):
    shared = tasks.get("jsb", data_dir=SHARED).pieces()
    data_dir = _data_dir_with(tmp_path, MUSIC_FILES["jsb"], _original_style(shared))
    assert tasks.get("jsb", data_dir=data_dir).pieces() == shared


# --------------------------------------------------------------------------- integrity


def test_truncated_ptb_file_is_refused(tmp_path):
    raw = (SHARED / "ptb" / "ptb.valid.txt").read_bytes()
    data_dir = _data_dir_with(tmp_path, "ptb/ptb.valid.txt", raw[: len(raw) // 2])
    with pytest.raises(DataIntegrityError, match=r"ptb\.valid\.txt is not the published dataset.*download it again"):
        read_words("valid", data_dir)


def test_corrupted_and_altered_music_files_are_refused(tmp_path):
    raw = (SHARED / MUSIC_FILES["jsb"]).read_bytes()
    data_dir = _data_dir_with(tmp_path, MUSIC_FILES["jsb"], raw[:-100])
    with pytest.raises(DataIntegrityError, match="not a readable pickle"):
        tasks.get("jsb", data_dir=data_dir).pieces()
    content = safe_loads(raw)
    content["train"][0][0] = [60]  # one altered step
    data_dir = _data_dir_with(tmp_path / "b", MUSIC_FILES["jsb"], pickle.dumps(content, protocol=2))
    with pytest.raises(DataIntegrityError, match="not the published dataset"):
        tasks.get("jsb", data_dir=data_dir).pieces()
    content["train"][0][0] = [200]
    with pytest.raises(DataIntegrityError, match="note 200, outside the piano's MIDI range 21..108"):
        canonical_music(pickle.dumps(content))
    with pytest.raises(DataIntegrityError, match="dict with keys train, valid, test"):
        canonical_music(pickle.dumps({"train": []}))


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickles_are_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    hostile = pickle.dumps({"train": [[_Exploit(marker)]], "valid": [], "test": []})
    with pytest.raises(UnsafePickleError, match=r"asks for posix\.system|asks for os\.system"):
        safe_loads(hostile)
    data_dir = _data_dir_with(tmp_path, MUSIC_FILES["piano"], hostile)
    with pytest.raises(DataIntegrityError, match="refusing to load it"):
        tasks.get("piano", data_dir=data_dir).pieces()
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        safe_loads(b"cbuiltins\neval\n(S'1'\ntR.")
    assert safe_loads(pickle.dumps([(1, 2), {"a": np.int64(3)}, np.arange(3)]))[1]["a"] == 3


def test_missing_files_name_the_directory_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(DataFileMissingError) as caught:
        read_words("train", tmp_path)
    message = str(caught.value)
    assert f"ptb/ptb.train.txt not found in {tmp_path} (given by --data-dir)" in message
    assert "python -m evo_rnn.tasks download ptb" in message
    monkeypatch.setenv(data_files.DATA_ENV, str(tmp_path / "env"))
    assert data_files.resolve_data_dir() == (tmp_path / "env", f"from ${data_files.DATA_ENV}")
    assert data_files.resolve_data_dir(tmp_path)[0] == tmp_path
    monkeypatch.delenv(data_files.DATA_ENV)
    assert data_files.resolve_data_dir()[0] == ROOT / "datasets"


def test_every_checksum_matches_the_shared_files_and_the_readme():
    readme = (ROOT / "datasets" / "README.md").read_text()
    for path, spec in data_files.FILES.items():
        assert data_files.sha256((SHARED / path).read_bytes()) == spec.sha256, path
        assert spec.sha256 in readme and path in readme


# --------------------------------------------------------------------------- download


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server holding the PTB archive (as Mikolov packs it) and the music
    pickles in the authors' encoding."""
    root = tmp_path / "mirror"
    root.mkdir()
    with tarfile.open(root / "simple-examples.tgz", "w:gz") as tar:
        for split in ("train", "valid", "test"):
            tar.add(SHARED / "ptb" / f"ptb.{split}.txt", arcname=f"./simple-examples/data/ptb.{split}.txt")
    for name, path in MUSIC_FILES.items():
        raw = (SHARED / path).read_bytes()
        (root / Path(path).name).write_bytes(_original_style(safe_loads(raw)) if name == "jsb" else raw)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_verifies_and_writes_everything(tmp_path, mirror):
    _, url = mirror
    target = tmp_path / "downloaded"
    result = run_module("evo_rnn.tasks", "download", "all", "--data-dir", str(target), "--mirror", url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("verified and wrote") == 7
    for path in data_files.FILES:
        assert (target / path).read_bytes() == (SHARED / path).read_bytes(), path  # jsb stored canonical
    assert not [p for p in target.rglob("*") if p.suffix in (".tmp", ".download")]
    assert len(read_words("test", target)) == 82_430


def test_corrupted_download_writes_nothing_and_keeps_existing_files(tmp_path, mirror):
    root, url = mirror
    target = tmp_path / "data"
    (target / "ptb").mkdir(parents=True)
    (target / "ptb" / "ptb.test.txt").write_bytes(b"older copy")
    altered = bytearray((SHARED / "ptb" / "ptb.valid.txt").read_bytes())
    altered[100] ^= 1
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "valid", "test"):
            data = bytes(altered) if split == "valid" else (SHARED / "ptb" / f"ptb.{split}.txt").read_bytes()
            info = tarfile.TarInfo(f"./simple-examples/data/ptb.{split}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (root / "simple-examples.tgz").write_bytes(buffer.getvalue())
    with pytest.raises(DataIntegrityError, match="does not match the published ptb/ptb.valid.txt.*nothing was written"):
        data_files.download("ptb", target, mirror=url)
    assert sorted(p.name for p in (target / "ptb").iterdir()) == ["ptb.test.txt"]
    assert (target / "ptb" / "ptb.test.txt").read_bytes() == b"older copy"
    (root / "simple-examples.tgz").write_bytes(b"not a tar file")
    result = run_module("evo_rnn.tasks", "download", "ptb", "--data-dir", str(target), "--mirror", url)
    assert result.returncode == 2
    (line,) = stderr_lines(result)
    assert "not a readable tar.gz" in line
    shutil.rmtree(root)
    with pytest.raises(OSError):
        data_files.download("music", target, mirror=url)
