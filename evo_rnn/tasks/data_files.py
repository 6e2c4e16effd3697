"""The dataset files: where they are looked for, their published checksums, reading them
verified, and downloading them.

Layout of a data directory (the same as the shared workspace folder):

    ptb/ptb.train.txt  ptb/ptb.valid.txt  ptb/ptb.test.txt
    music/Nottingham.pickle  music/JSB Chorales.pickle  music/MuseData.pickle  music/Piano-midi.de.pickle

The directory is `--data-dir` / the `data_dir` argument, else the environment variable
`EVO_RNN_DATA`, else `datasets/` at the repository root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from evo_rnn.core.atomic_files import write_atomically
from evo_rnn.core.errors import DataFileMissingError, DataIntegrityError, UnknownNameError

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "FILES",
    "DataFile",
    "download",
    "locate",
    "read_verified",
    "resolve_data_dir",
    "sha256",
]

DATA_ENV = "EVO_RNN_DATA"
REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"
_PTB_ARCHIVE = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
_MUSIC_PAGE = "http://www-etud.iro.umontreal.ca/~boulanni/"


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One published dataset file.

    Attributes:
        path: where it lives inside a data directory.
        sha256: the checksum of the file as this project reads it (for the music pickles:
            of `pickle.dumps(content, protocol=2)` with every time step's notes sorted, so
            the authors' own encodings, tuples or numpy ints, verify by content).
        url: where `download` fetches it.
        member: the file's path inside the archive at `url`, or None when `url` is the file.
    """

    path: str
    sha256: str
    url: str
    member: str | None = None


FILES: dict[str, DataFile] = {
    f.path: f
    for f in (
        DataFile(
            "ptb/ptb.train.txt",
            "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
            _PTB_ARCHIVE,
            "simple-examples/data/ptb.train.txt",
        ),
        DataFile(
            "ptb/ptb.valid.txt",
            "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            _PTB_ARCHIVE,
            "simple-examples/data/ptb.valid.txt",
        ),
        DataFile(
            "ptb/ptb.test.txt",
            "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
            _PTB_ARCHIVE,
            "simple-examples/data/ptb.test.txt",
        ),
        DataFile(
            "music/Nottingham.pickle",
            "a67890a3e1e5176ba7026585bc5cf681110d32740b7405157d65ba929a54f867",
            _MUSIC_PAGE + "Nottingham.pickle",
        ),
        DataFile(
            "music/JSB Chorales.pickle",
            "6044d47e3eff9f82c59eda06f87e604b9cf7eca6a9900d33d4af20e7074de067",
            _MUSIC_PAGE + "JSB%20Chorales.pickle",
        ),
        DataFile(
            "music/MuseData.pickle",
            "cf0d99bcc381f12ca5fb09e25bc11db9d6361dad6808cbe1ebfdf8298cf016e1",
            _MUSIC_PAGE + "MuseData.pickle",
        ),
        DataFile(
            "music/Piano-midi.de.pickle",
            "cd7f8fda6191132fe89c5d87b4e30be0615767b5b3939b6b5592cc88dc483cc8",
            _MUSIC_PAGE + "Piano-midi.de.pickle",
        ),
    )
}

DATASETS: dict[str, tuple[str, ...]] = {
    "ptb": tuple(p for p in FILES if p.startswith("ptb/")),
    "music": tuple(p for p in FILES if p.startswith("music/")),
}


def sha256(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The data directory and how it was chosen (for error messages)."""
    if data_dir is not None:
        return Path(data_dir), "given by --data-dir"
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]), f"from ${DATA_ENV}"
    return REPO_DATASETS, f"the default; set --data-dir or ${DATA_ENV} to use another"


def _dataset_of(path: str) -> str:
    return path.split("/", 1)[0]


def locate(path: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The full path of dataset file `path` (a key of `FILES`).

    Raises:
        DataFileMissingError: the file is not there; the message names the directory
            searched and the command that downloads it.
    """
    directory, how = resolve_data_dir(data_dir)
    full = directory / path
    if not full.is_file():
        dataset = _dataset_of(path)
        raise DataFileMissingError(
            f"{path} not found in {directory} ({how}); download it with "
            f"`python -m evo_rnn.tasks download {dataset} --data-dir {directory}` "
            f"(from {FILES[path].url}) or point --data-dir/${DATA_ENV} at a folder holding {dataset}/"
        )
    return full


def read_verified(
    path: str,
    data_dir: str | os.PathLike | None = None,
    parse: Callable[[bytes], object] | None = None,
    canonicalize: Callable[[bytes], tuple[object, bytes]] | None = None,
) -> tuple[bytes, object | None]:
    """Reads dataset file `path` and checks it against its published sha256.

    Args:
        path: a key of `FILES`.
        data_dir: see `resolve_data_dir`.
        parse: turns the bytes of the published file into content (used when the raw
            bytes match the checksum).
        canonicalize: for files verified by content: maps other raw bytes to (content,
            canonical bytes), and the canonical bytes are checked instead.

    Returns:
        The raw bytes and the parsed content (None without `parse`).

    Raises:
        DataFileMissingError: the file is not there.
        DataIntegrityError: wrong checksum, truncated, corrupted.
    """
    full = locate(path, data_dir)
    raw = full.read_bytes()
    expected = FILES[path].sha256
    if sha256(raw) == expected:
        return raw, parse(raw) if parse else None
    if canonicalize is None:
        raise DataIntegrityError(_mismatch(full, path, sha256(raw)))
    try:
        content, canonical = canonicalize(raw)
    except DataIntegrityError as error:
        raise DataIntegrityError(
            f"{full}: {error}; delete it and download it again (`python -m evo_rnn.tasks download {_dataset_of(path)}`)"
        ) from None
    if sha256(canonical) != expected:
        raise DataIntegrityError(_mismatch(full, path, sha256(canonical)))
    return raw, content


def _mismatch(full: Path, path: str, actual: str) -> str:
    return (
        f"{full} is not the published dataset: sha256 {actual[:16]}... instead of {FILES[path].sha256[:16]}... "
        f"(truncated or altered?); delete it and download it again "
        f"(`python -m evo_rnn.tasks download {_dataset_of(path)}`)"
    )


# --------------------------------------------------------------------------- download


def _fetch(url: str, directory: Path, timeout: float) -> Path:
    """Streams `url` into a temporary file in `directory` (removed by the caller)."""
    handle, name = tempfile.mkstemp(dir=directory, suffix=".download")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _archive_members(archive: Path, members: set[str]) -> dict[str, bytes]:
    """The named files of a tar.gz, read in one pass (no extraction to disk)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive) as tar:
            for info in tar:
                name = info.name.lstrip("./")
                if info.isfile() and name in members:
                    found[name] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        reason = " ".join(str(error).split())  # tarfile lists every method it tried, one per line
        raise DataIntegrityError(f"the downloaded archive is not a readable tar.gz: {reason}") from None
    missing = sorted(members - set(found))
    if missing:
        raise DataIntegrityError(f"the downloaded archive has no member {', '.join(missing)}")
    return found


def download(
    dataset: str,
    data_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    timeout: float = 60.0,
    canonicalizers: dict[str, Callable[[bytes], tuple[object, bytes]]] | None = None,
) -> list[Path]:
    """Downloads the files of `dataset` ("ptb" or "music") into the data directory.

    Every file is verified against its published checksum before it is written, and
    written atomically, so a failed or interrupted download leaves no partial file and
    keeps files already there.

    Args:
        dataset: "ptb" or "music".
        data_dir: see `resolve_data_dir`.
        mirror: a base URL serving the same file names (the archive name for PTB, the
            pickle names for music) instead of the original sites.
        timeout: seconds to wait for the server.
        canonicalizers: per file path, the content check of `read_verified`; the
            canonical bytes are what is written.

    Returns:
        The files written.

    Raises:
        UnknownNameError: an unknown dataset.
        DataIntegrityError: a downloaded file fails its checksum.
        OSError: the network.
    """
    if dataset not in DATASETS:
        raise UnknownNameError(f"unknown dataset {dataset!r}; downloadable: {', '.join(DATASETS)}")
    directory, _ = resolve_data_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    canonicalizers = canonicalizers or {}
    fetched: dict[str, Path] = {}
    members: dict[str, dict[str, bytes]] = {}  # per archive URL, its files read in one pass
    staged: list[tuple[Path, bytes]] = []
    try:
        for path in DATASETS[dataset]:
            spec = FILES[path]
            url = spec.url
            if mirror:
                url = mirror.rstrip("/") + "/" + url.rsplit("/", 1)[1]
            if url not in fetched:
                fetched[url] = _fetch(url, directory, timeout)
            if spec.member is None:
                raw = fetched[url].read_bytes()
            else:
                if url not in members:
                    wanted = {FILES[p].member for p in DATASETS[dataset] if FILES[p].url == spec.url}
                    members[url] = _archive_members(fetched[url], wanted)
                raw = members[url][spec.member]
            if path in canonicalizers:
                try:
                    _, raw = canonicalizers[path](raw)
                except DataIntegrityError as error:
                    raise DataIntegrityError(f"{url}: {error}") from None
            if sha256(raw) != spec.sha256:
                raise DataIntegrityError(
                    f"{url} does not match the published {path}: sha256 {sha256(raw)[:16]}... instead of "
                    f"{spec.sha256[:16]}...; nothing was written (try again, or another mirror)"
                )
            staged.append((directory / path, raw))
    finally:
        for temporary in fetched.values():
            temporary.unlink(missing_ok=True)
    for target, data in staged:
        write_atomically(target, data)
    return [target for target, _ in staged]
