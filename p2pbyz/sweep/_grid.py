"""Grid files: a scenario whose values may be lists, expanded into runs with content hashes.

Grammar (a TOML file or the equivalent mapping):

- Every key that is not reserved is a scenario setting, nested in tables or written as a quoted
  dotted key (``"byzantine.f" = [0, 1]`` is the same setting as ``[byzantine] f = [0, 1]``).
- A **list** value is an axis: the sweep runs each of its elements. Axes combine as a cartesian
  product, in the order they appear in the file, the last one varying fastest. A setting whose value
  is itself a list is written as a list of lists (``pre = [["nnm", "clip"]]`` is one run with
  ``pre = ["nnm", "clip"]``).
- ``[zip.NAME]`` tables (or ``[[zip]]`` array entries) group settings that vary **together**: each
  holds lists of one common length L and counts as one axis of L points.
- ``seeds = N`` is shorthand for ``seed = [0, 1, ..., N-1]``, the innermost axis; ``seeds = [3, 7]``
  lists the seeds explicitly.

Each run is identified by the content hash of its *resolved* scenario (:func:`run_hash`): the same
run always gets the same hash, whatever the file's layout, key order or the grid it came from, which
is what lets a sweep resume.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import numbers
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument

__all__ = ["Run", "expand", "load_grid", "run_hash", "canonical_json", "flatten", "set_dotted"]

#: Top-level keys of a grid file that are not scenario settings.
RESERVED = ("seeds", "zip")

#: Length of the short content hash, in hex digits (64 bits: collisions are negligible for sweeps).
HASH_LEN = 16


@dataclass(frozen=True)
class Run:
    """One point of a sweep grid.

    Attributes
    ----------
    index : int
        Position in grid order (0-based).
    hash : str
        Content hash of ``scenario`` (:func:`run_hash`); names the run's result file.
    scenario : dict
        The resolved scenario, a nested plain-JSON mapping; what ``run_fn`` receives.
    params : dict
        The swept settings of this run only, as ``{dotted key: value}`` (grid axes and the seed).
    """

    index: int
    hash: str
    scenario: dict[str, Any] = field(repr=False)
    params: dict[str, Any]


def _jsonable(obj: Any) -> Any:
    """Fallback of :func:`canonical_json` for numpy scalars/arrays, tuples, sets and dataclasses."""
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"value {obj!r} of type {type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> str:
    """Stable JSON text of ``obj``: sorted keys, no spaces, ASCII, tuples as lists.

    Examples
    --------
    >>> canonical_json({"b": (1, 2), "a": {"y": 1.5, "x": None}})
    '{"a":{"x":null,"y":1.5},"b":[1,2]}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=_jsonable)


def run_hash(scenario: Mapping[str, Any]) -> str:
    """Short content hash of a resolved scenario: the first 16 hex digits of the SHA-256 of
    :func:`canonical_json`.

    Key order and container types (tuple or list) do not matter; values do (``1`` and ``1.0``
    differ, which is why hashes are taken on *resolved* scenarios, whose types the schema fixes).

    Examples
    --------
    >>> run_hash({"a": 1, "b": [1, 2]}) == run_hash({"b": (1, 2), "a": 1})
    True
    >>> run_hash({"a": 1})
    '015abd7f5cc57a2d'
    """
    return hashlib.sha256(canonical_json(scenario).encode("ascii")).hexdigest()[:HASH_LEN]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into ``{dotted key: leaf}`` in insertion order (lists are leaves).

    Examples
    --------
    >>> flatten({"a": {"b": 1, "c": [2, 3]}, "d": 4})
    {'a.b': 1, 'a.c': [2, 3], 'd': 4}
    """
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if not isinstance(k, str) or not k:
            raise InvalidArgument(f"sweep grid: keys must be non-empty strings; got key {k!r}")
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if not v:
                out[key] = {}
            else:
                out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``key = "a.b.c"``, creating tables on the way."""
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise InvalidArgument(
                f"sweep grid: key {key!r} goes through {where!r}, which is a value ({nxt!r}), "
                "not a table"
            )
        node = nxt
    node[parts[-1]] = value


def load_grid(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a grid TOML file; errors name the file (and TOML's line and column)."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidArgument(f"sweep grid: no such file {p!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"sweep grid {p!r}: invalid TOML: {exc}") from None


def _check_key(key: str, where: str) -> None:
    if any(not part for part in key.split(".")):
        raise InvalidArgument(f"sweep grid: empty component in key {key!r} ({where})")


def _seeds(value: Any) -> list[int]:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, list, tuple)):
        raise InvalidArgument(
            f"sweep grid: seeds must be a positive integer N (seeds 0..N-1) or a list of seeds; "
            f"got seeds={value!r}"
        )
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise InvalidArgument(f"sweep grid: seeds must be >= 1; got seeds={value!r}")
        return list(range(int(value)))
    seeds = list(value)
    if not seeds:
        raise InvalidArgument("sweep grid: seeds must not be an empty list")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise InvalidArgument(
                f"sweep grid: each seed must be an integer >= 0; got {s!r} in seeds={value!r}"
            )
    if len(set(seeds)) != len(seeds):
        raise InvalidArgument(f"sweep grid: seeds must be distinct; got seeds={value!r}")
    return [int(s) for s in seeds]


def _zip_groups(value: Any) -> list[tuple[str, dict[str, list[Any]]]]:
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(i), g) for i, g in enumerate(value)]
    else:
        raise InvalidArgument(
            "sweep grid: zip must be a table of groups ([zip.NAME]) or an array of groups "
            f"([[zip]]); got zip={value!r}"
        )
    groups = []
    for name, g in items:
        if not isinstance(g, Mapping) or not g:
            raise InvalidArgument(
                f"sweep grid: zip group {name!r} must be a non-empty table of lists; got {g!r}"
            )
        flat = flatten(g)
        lengths = {}
        for k, v in flat.items():
            _check_key(k, f"zip group {name!r}")
            if not isinstance(v, list) or not v:
                raise InvalidArgument(
                    f"sweep grid: zip group {name!r}: {k!r} must be a non-empty list; got {k}={v!r}"
                )
            lengths[k] = len(v)
        if len(set(lengths.values())) != 1:
            raise InvalidArgument(
                f"sweep grid: zip group {name!r} needs lists of one common length; got lengths "
                + ", ".join(f"{k}={n}" for k, n in lengths.items())
            )
        groups.append((name, flat))
    return groups


def expand(
    grid: str | os.PathLike[str] | Mapping[str, Any],
    *,
    resolve: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    seed_key: str = "seed",
) -> list[Run]:
    """Expand a grid (a TOML path or a mapping) into its runs, in grid order.

    Parameters
    ----------
    grid : path or mapping
        A grid TOML file, or the same content as nested mappings (see the module docstring).
    resolve : callable, optional
        Maps each expanded scenario (a nested dict) to its resolved form (defaults filled in,
        values validated and normalised); the hash is taken on the result. ``None`` keeps the
        expanded scenario as it is. :func:`p2pbyz.sweep.resolve_scenario` resolves against the
        p2pbyz scenario schema.
    seed_key : str
        Dotted key that ``seeds = N`` sets (default ``"seed"``).

    Returns
    -------
    list of Run
        ``len`` is the product of the axis lengths. Two points that resolve to the same scenario
        would be the same run: that is an error (the grid lists a setting twice).

    Raises
    ------
    InvalidArgument
        An empty list, zip lists of unequal lengths, a setting given twice, a bad ``seeds``.

    Examples
    --------
    >>> runs = expand({"seeds": 2, "rule": ["krum", "median"], "n": 7,
    ...                "zip": {"size": {"f": [1, 2], "lr": [0.1, 0.05]}}})
    >>> len(runs)
    8
    >>> runs[0].params
    {'rule': 'krum', 'f': 1, 'lr': 0.1, 'seed': 0}
    >>> runs[1].scenario
    {'rule': 'krum', 'n': 7, 'f': 1, 'lr': 0.1, 'seed': 1}
    """
    if isinstance(grid, Mapping):
        raw = copy.deepcopy(dict(grid))
    elif isinstance(grid, (str, os.PathLike)):
        raw = load_grid(grid)
    else:
        raise InvalidArgument(
            f"sweep grid must be a TOML file path or a mapping; got {type(grid).__name__}"
        )
    seeds = _seeds(raw.pop("seeds")) if "seeds" in raw else None
    groups = _zip_groups(raw.pop("zip")) if "zip" in raw else []

    fixed: dict[str, Any] = {}
    order: list[str] = []  # every setting, in file order (body, then zip groups, then the seed)
    axes: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]] = []
    seen: dict[str, str] = {}

    def claim(key: str, where: str) -> None:
        _check_key(key, where)
        for other, other_where in seen.items():
            if key == other or key.startswith(other + ".") or other.startswith(key + "."):
                raise InvalidArgument(
                    f"sweep grid: setting {key!r} ({where}) overlaps {other!r} ({other_where})"
                )
        seen[key] = where
        order.append(key)

    for key, value in flatten(raw).items():
        claim(key, "body")
        if isinstance(value, list):
            if not value:
                raise InvalidArgument(f"sweep grid: {key!r} is an empty list; an axis needs values")
            axes.append(((key,), [(v,) for v in value]))
        else:
            fixed[key] = value
    for name, flat in groups:
        keys = tuple(flat)
        for k in keys:
            claim(k, f"zip group {name!r}")
        axes.append((keys, list(zip(*(flat[k] for k in keys), strict=True))))
    if seeds is not None:
        claim(seed_key, "seeds")
        axes.append(((seed_key,), [(s,) for s in seeds]))

    runs: list[Run] = []
    by_hash: dict[str, int] = {}
    for index, point in enumerate(itertools.product(*(values for _, values in axes))):
        params: dict[str, Any] = {}
        for (keys, _), values in zip(axes, point, strict=True):
            params.update(zip(keys, values, strict=True))
        scenario: dict[str, Any] = {}
        for k in order:
            set_dotted(scenario, k, copy.deepcopy(params[k] if k in params else fixed[k]))
        if resolve is None:
            resolved = scenario
        else:
            try:
                resolved = dict(resolve(scenario))
            except InvalidArgument as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
                raise InvalidArgument(f"sweep grid: run {index} ({shown}): {exc}") from None
        h = run_hash(resolved)
        if h in by_hash:
            raise InvalidArgument(
                f"sweep grid: runs {by_hash[h]} and {index} resolve to the same scenario "
                f"(hash {h}; params {runs[by_hash[h]].params} and {params}); remove the duplicate"
            )
        by_hash[h] = index
        runs.append(Run(index=index, hash=h, scenario=resolved, params=params))
    return runs


def axes_of(runs: Sequence[Run]) -> list[str]:
    """Dotted keys that take more than one value across ``runs``, in grid order."""
    keys: list[str] = []
    for r in runs[:1]:
        keys = list(r.params)
    out = []
    for k in keys:
        vals = {canonical_json(r.params.get(k)) for r in runs}
        if len(vals) > 1:
            out.append(k)
    return out

