"""
Arrow tables as rows of PostgreSQL's binary COPY format, for ``COPY … FROM STDIN (FORMAT binary)``.

The server then skips text parsing, and Python never touches a row: fixed-width parts are packed
with numpy and joined with the variable ones by Arrow kernels.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_BINARY_TRAILER = struct.pack(">h", -1)


def _packed(n: int, fields: list[tuple[str, Any]]) -> pa.Array:
    """A binary array whose every value is the same big-endian fields, packed (numpy, no row loop)."""
    dtype = np.dtype([(f"f{i}", kind) for i, (kind, _) in enumerate(fields)])
    packed = np.empty(n, dtype)
    for i, (_, values) in enumerate(fields):
        packed[f"f{i}"] = values
    offsets = np.arange(0, (n + 1) * dtype.itemsize, dtype.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(packed)])


# Element type OIDs of the arrays a snapshot holds (pg_type: text, float8).
_ARRAY_ELEMENT_OIDS = {pa.string(): 25, pa.float64(): 701}


def encode_copy_binary(table: pa.Table) -> pa.Buffer:
    """Rows of text, text[] and float8[] columns in PostgreSQL's binary COPY format (no header).

    Each row is the field count, then per field its byte length (-1 for null) and value; an
    array's value is its header (one dimension, element type, length) and each element with its
    own length. The fixed-width parts are packed with numpy and joined with the variable ones by
    one Arrow kernel, so the server skips text parsing and Python never touches a row.
    """
    n = table.num_rows
    pieces: list[pa.Array] = [_packed(n, [(">i2", table.num_columns)])]
    for column in table.columns:
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_string(column.type) or pa.types.is_binary(column.type):
            values = pc.cast(column, pa.binary())
            lengths = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False)
            pieces += [_packed(n, [(">i4", lengths)]), pc.fill_null(values, b"")]
        elif pa.types.is_list(column.type) and column.type.value_type in _ARRAY_ELEMENT_OIDS:
            pieces += _array_field(column)
        else:
            raise TypeError(f"no binary COPY encoding for {column.type}")
    rows = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.binary()))
    offsets = _binary_offsets(rows)
    return rows.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def _binary_offsets(array: pa.Array) -> np.ndarray:
    """Where each value of a binary array starts in its data buffer, and where the last ends."""
    if not len(array):
        return np.zeros(1, np.int32)
    return np.frombuffer(array.buffers()[1], np.int32)[array.offset : array.offset + len(array) + 1]


def _or_null(column: pa.Array, value: pa.Array) -> pa.Array:
    """``value`` where ``column`` is valid, else a field length of -1 (SQL NULL)."""
    if not column.null_count:
        return value
    return pc.if_else(pc.is_valid(column), value, _packed(len(column), [(">i4", -1)]))


def _array_field(lists: pa.Array) -> list[pa.Array]:
    """A one-dimensional array field per list: its length and header, then its elements' bytes.

    The elements of all rows are encoded at once, in order, so each row's bytes are a contiguous
    slice of one buffer: the row's piece is a view with offsets taken at the list boundaries.
    """
    n = len(lists)
    counts = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(counts)])  # each row's first and end element
    flat = pc.list_flatten(lists)  # a null list contributes no elements
    if pa.types.is_string(flat.type):
        values = pc.cast(flat, pa.binary())
        lengths = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False)
        elements = pc.binary_join_element_wise(
            _packed(len(flat), [(">i4", lengths)]), pc.fill_null(values, b""), pa.scalar(b"", pa.binary())
        )
    else:
        numbers = pc.fill_null(flat, 0.0).to_numpy(zero_copy_only=False)
        elements = _or_null(flat, _packed(len(flat), [(">i4", 8), (">f8", numbers)]))
    offsets = _binary_offsets(elements)
    row_offsets = offsets[bounds] - offsets[0]
    data = elements.buffers()[2] or pa.py_buffer(b"")
    body = pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(row_offsets.astype(np.int32)), data[int(offsets[0]) :]]
    )
    header = _packed(
        n,
        [
            (">i4", 20 + np.diff(row_offsets)),  # the field's length: header and elements
            (">i4", 1),  # dimensions
            (">i4", 0),  # flags (null elements are still allowed: their length is -1)
            (">i4", _ARRAY_ELEMENT_OIDS[lists.type.value_type]),
            (">i4", counts),
            (">i4", 1),  # lower bound
        ],
    )
    return [_or_null(lists, header), body]  # a null list's body is empty: it has no elements
