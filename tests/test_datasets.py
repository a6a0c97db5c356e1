"""read_idx reads the IDX format as MNIST ships it, and says clearly what is wrong with a
file that is not. The files are written here byte by byte (struct, not write_idx), so
that the reader is checked against the format, not against its own writer."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from nnxp import DataError
from nnxp.datasets import IDXFormatError, read_idx, write_idx


def idx_bytes(type_code: int, shape, payload: bytes) -> bytes:
    """The header of the format: two zero bytes, the type code, the number of dimensions,
    then each size as a big-endian 32-bit integer; then the values."""
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.fixture
def images_and_labels(tmp_path):
    """Three 2 x 4 uint8 "images" and their labels, as train-images / train-labels files."""
    pixels = bytes(range(3 * 2 * 4))  # 0, 1, ..., 23, row by row
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(0x08, (3, 2, 4), pixels))
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(0x08, (3,), bytes([7, 0, 9]))))
    return images, labels


def test_reads_uint8_images_and_gzipped_labels(images_and_labels):
    images, labels = images_and_labels
    X = read_idx(images)
    assert X.dtype == np.uint8 and X.shape == (3, 2, 4)
    assert X[0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and X[2, 1, 3] == 23
    y = read_idx(labels)
    assert y.dtype == np.uint8 and y.tolist() == [7, 0, 9]
    X[0, 0, 0] = 200  # a writable array of its own, not a view of the file's bytes


def test_reads_big_endian_wider_types(tmp_path):
    path = tmp_path / "values.idx"
    path.write_bytes(idx_bytes(0x0C, (2, 2), struct.pack(">4i", 1, -2, 65536, 2**31 - 1)))
    values = read_idx(path)
    assert values.dtype == np.int32 and values.dtype.isnative and values.tolist() == [[1, -2], [65536, 2**31 - 1]]
    path.write_bytes(idx_bytes(0x0E, (3,), struct.pack(">3d", 0.5, -1.25, 1e300)))
    assert read_idx(path).tolist() == [0.5, -1.25, 1e300]


def test_a_truncated_file_is_a_clear_error(images_and_labels, tmp_path):
    images, _ = images_and_labels
    cut = tmp_path / "cut"
    cut.write_bytes(images.read_bytes()[:-5])  # an interrupted download
    with pytest.raises(IDXFormatError, match=r"cut: truncated: shape \(3, 2, 4\) of uint8 needs 40 bytes, "
                                             r"the file has 35"):
        read_idx(cut)
    cut.write_bytes(images.read_bytes()[:9])  # inside the header
    with pytest.raises(IDXFormatError, match="truncated in its header: 3 dimensions need 16 bytes, the file has 9"):
        read_idx(cut)
    assert issubclass(IDXFormatError, DataError)  # the nnxp command reports it in one line


def test_malformed_files_are_clear_errors(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(IDXFormatError, match=r"not an IDX file \(its first bytes are 89504e47"):
        read_idx(path)
    path.write_bytes(idx_bytes(0x07, (1,), b"\x00"))
    with pytest.raises(IDXFormatError, match="unknown IDX type code 0x07 .expected one of 0x08, 0x09"):
        read_idx(path)
    path.write_bytes(idx_bytes(0x08, (2,), b"\x01\x02\x03"))
    with pytest.raises(IDXFormatError, match="longer than its header says"):
        read_idx(path)
    path.write_bytes(gzip.compress(idx_bytes(0x08, (2,), b"\x01\x02"))[:-6])
    with pytest.raises(IDXFormatError, match="damaged gzip file"):
        read_idx(path)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_write_idx_round_trips_and_writes_the_documented_header(dtype, tmp_path):
    array = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    raw = (tmp_path / "a.idx")
    write_idx(raw, array)
    code = {"uint8": 8, "int8": 9, "int16": 11, "int32": 12, "float32": 13, "float64": 14}[dtype]
    assert raw.read_bytes()[:12] == bytes([0, 0, code, 2]) + struct.pack(">2I", 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.idx.gz", array)), array)
    with pytest.raises(IDXFormatError, match="not bool"):
        write_idx(tmp_path / "b.idx", array > 0)
