"""A `text:` source encoded once and kept in a cache that every process maps
(`evo_rnn.tasks.text_encoding`): the ids are the text, the cache is used, read without a copy,
rebuilt when damaged, and optional."""

from __future__ import annotations

import numpy as np
import pytest

from evo_rnn.tasks import sources, text_encoding
from evo_rnn.tasks.text import TextConfig, TextTask

TEXT = "the cat sat on the mat.\nδέλτα is a word; so is ε.\n" * 200
CONFIG = TextConfig(batch_size=4, seq_len=5)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("EVO_RNN_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def task(path, options: str = "") -> TextTask:
    spec = f"text:{path}{options}"
    return TextTask(spec, sources.parse(spec), CONFIG)


def test_the_ids_spell_the_texts_three_parts_and_the_vocabulary_is_ranked_by_count_then_spelling(corpus):
    encoded = task(corpus)._encoded
    cuts = [int(len(TEXT) * 0.8), int(len(TEXT) * 0.9)]
    parts = [TEXT[: cuts[0]], TEXT[cuts[0] : cuts[1]], TEXT[cuts[1] :]]
    vocabulary = encoded.vocabulary
    assert ["".join(vocabulary[i] for i in ids) for ids in encoded.parts] == parts
    counts = {c: parts[0].count(c) for c in set(parts[0])}
    assert vocabulary == [*sorted(counts, key=lambda c: (-counts[c], c)), "<unk>"]


def test_words_with_a_capped_vocabulary_read_the_rest_as_unknown(corpus):
    encoded = task(corpus, "?unit=word&vocab=4")._encoded
    assert encoded.vocabulary[-1] == "<unk>" and len(encoded.vocabulary) == 4
    words = [w for line in TEXT.splitlines() for w in (*line.split(), "<eos>")]
    train = words[: int(len(words) * 0.8)]
    expected = [encoded.vocabulary.index(w) if w in encoded.vocabulary else 3 for w in train]
    assert encoded.parts[0].tolist() == expected


def test_a_second_process_maps_the_cache_instead_of_encoding_again(corpus, monkeypatch):
    first = task(corpus)._encoded
    assert all(isinstance(part, np.memmap) for part in first.parts)  # mapped: pages shared, not copied

    def refuse(*args):
        raise AssertionError("encoded again although the cache holds it")

    monkeypatch.setattr(text_encoding, "_encode", refuse)
    again = task(corpus)._encoded
    assert again.vocabulary == first.vocabulary and all(np.array_equal(a, b) for a, b in zip(again.parts, first.parts))


def test_a_damaged_cache_entry_is_encoded_again(corpus, tmp_path):
    first = np.array(task(corpus)._encoded.parts[0])
    (entry,) = (tmp_path / "cache" / "text").iterdir()
    cut = entry / "cut.npy"  # a new file renamed over the old: a mapping of the old keeps its pages
    cut.write_bytes((entry / "train.npy").read_bytes()[:100])
    cut.replace(entry / "train.npy")
    again = task(corpus)._encoded
    assert isinstance(again.parts[0], np.memmap) and np.array_equal(again.parts[0], first)
    assert len((entry / "train.npy").read_bytes()) > 100  # the entry was written again


def test_an_edited_text_is_encoded_anew(corpus):
    before = task(corpus)._encoded.vocabulary
    corpus.write_text(TEXT.replace("cat", "qxz"), encoding="utf-8")
    after = task(corpus)._encoded.vocabulary
    assert "q" in after and "q" not in before


@pytest.mark.parametrize("setting", ["off", "unwritable"])
def test_without_a_cache_the_text_is_encoded_in_the_process(corpus, tmp_path, monkeypatch, setting):
    if setting == "off":
        monkeypatch.setenv("EVO_RNN_CACHE", "off")
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        monkeypatch.setenv("EVO_RNN_CACHE", str(blocker))
    encoded = task(corpus)._encoded
    assert not any(isinstance(part, np.memmap) for part in encoded.parts)
    assert "".join(encoded.vocabulary[i] for i in encoded.parts[0]) == TEXT[: int(len(TEXT) * 0.8)]
    assert not (tmp_path / "cache").exists()
