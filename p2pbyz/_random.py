"""Seeds in, no global RNG: helpers that turn user seeds into numpy Generators."""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InvalidArgument

Seed = int | np.random.SeedSequence | np.random.Generator | None

__all__ = ["Seed", "as_generator", "spawn"]


def as_generator(seed: Seed, name: str = "seed") -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    ``None`` gives a fresh OS-seeded generator, an int or a SeedSequence a reproducible one, and a
    Generator is returned as is (so callers can share a stream).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        return np.random.default_rng(int(seed))
    raise InvalidArgument(
        f"{name} must be None, a non-negative int, a numpy SeedSequence or Generator; "
        f"got {name}={seed!r} (type={type(seed).__name__})"
    )


def spawn(seed: int | np.random.SeedSequence | None, k: int) -> list[np.random.SeedSequence]:
    """Spawn ``k`` independent child seed sequences from ``seed``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(k)
