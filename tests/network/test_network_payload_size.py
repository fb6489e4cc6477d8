"""payload_size: what each kind of payload counts (tuples and lists, tested first, included)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from p2pbyz.network import payload_size


class _Pair(NamedTuple):
    a: object
    b: object


class _Items(list):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize(
    ("payload", "size"),
    [
        (None, 64),
        (7, 64),
        (2.5, 64),
        (True, 64),
        (1j, 64),
        (np.zeros(10), 80),
        (b"abc", 3),
        (bytearray(5), 5),
        (memoryview(b"abcd"), 4),
        ("h\u00e9", 3),
        ((), 64),
        ((1, 2), 64 + 2 * 64),
        ([1, "ab"], 64 + 64 + 2),
        ((1, (2, np.zeros(2, np.float32))), 64 + 64 + (64 + 64 + 8)),
        (_Pair(b"xy", 3), 64 + 2 + 64),
        (_Items([1, b"z"]), 64 + 64 + 1),
        ({"k": np.zeros(3), "l": 1}, 64 + 24 + 64),
        (object(), 64),
    ],
)
def test_payload_size(payload: object, size: int) -> None:
    assert payload_size(payload, small=64) == size
