"""Loading untrusted pickles within bounded memory: shared references counted as often as they
are used, cycles and oversized numpy shapes refused, a hostile music file named in the error."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.core.errors import DataIntegrityError
from evo_rnn.tasks.music import MUSIC_FILES
from evo_rnn.tasks.safe_pickle import MAX_ELEMENTS, safe_loads


def shared_reference_bomb(levels: int = 3, width: int = 1000) -> bytes:
    """A music pickle of a few KB whose training split is one step's list, reused `width` times
    at each of `levels` levels of nesting: width**levels steps once expanded."""
    nested: list = [60, 64, 67]
    for _ in range(levels):
        nested = [nested] * width
    return pickle.dumps({"train": nested, "valid": [], "test": []}, protocol=2)


def test_a_small_pickle_of_shared_references_is_refused_without_expanding_it():
    raw = shared_reference_bomb()  # a billion time steps, 4 billion elements
    assert len(raw) < 16_000
    tracemalloc.start()
    try:
        with pytest.raises(DataIntegrityError) as caught:
            safe_loads(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "\n" not in message and f"expands to more than {MAX_ELEMENTS:,} elements" in message
    assert peak < 5_000_000  # bytes: the loaded structure shares its lists; nothing was expanded


def test_shared_references_count_as_often_as_they_are_used():
    step = [60, 64, 67]  # 4 elements: the list and its notes
    raw = pickle.dumps({"train": [[step, step]], "valid": [], "test": []}, protocol=2)
    # dict 1 + keys 3 + train [1 + piece (1 + 2 * 4)] + valid 1 + test 1
    assert safe_loads(raw, max_elements=16) == {"train": [[step, step]], "valid": [], "test": []}
    with pytest.raises(DataIntegrityError, match="expands to more than 15 elements"):
        safe_loads(raw, max_elements=15)
    array = pickle.dumps([np.arange(10), np.arange(10)])  # an array counts its entries
    assert len(safe_loads(array, max_elements=23)) == 2
    with pytest.raises(DataIntegrityError, match="more than 22 elements"):
        safe_loads(array, max_elements=22)


def test_cycles_and_oversized_numpy_shapes_are_refused():
    looped: list = [[1]]
    looped[0].append(looped)
    with pytest.raises(DataIntegrityError, match="holds a container inside itself"):
        safe_loads(pickle.dumps(looped))
    # _reconstruct(ndarray, (10**10,), 'b'): numpy's own pickles pass the shape (0,)
    huge_shape = (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n\x8a\x05\x00\xe4\x0bT\x02\x85C\x01b\x87R."
    )
    with pytest.raises(DataIntegrityError, match=r"shape \(10000000000,\); at most 5,000,000 elements"):
        safe_loads(huge_shape)
    called = b"\x80\x02cnumpy\nndarray\n\x8a\x05\x00\xe4\x0bT\x02\x85\x85R."  # ndarray((10**10,))
    with pytest.raises(DataIntegrityError, match="calls numpy.ndarray directly"):
        safe_loads(called)
    assert safe_loads(pickle.dumps(np.arange(3, dtype=np.int16), protocol=2)).tolist() == [0, 1, 2]


def test_a_hostile_music_file_is_refused_naming_the_file_and_the_limit(tmp_path):
    path = tmp_path / MUSIC_FILES["piano"]
    path.parent.mkdir(parents=True)
    path.write_bytes(shared_reference_bomb())
    with pytest.raises(DataIntegrityError) as caught:
        tasks.get("piano", data_dir=tmp_path).pieces()
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and f"{MAX_ELEMENTS:,} elements" in message
