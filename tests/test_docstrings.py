"""Every docstring example in the shipped packages runs and shows what it claims."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["p2pbyz", "topologies", "proofs_check"]
SKIP = {"p2pbyz.__main__", "proofs_check.__main__", "p2pbyz.sweep.__main__"}


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.walk_packages(mod.__path__, prefix=f"{pkg}."):
            if info.name in SKIP or ".cuda" in info.name:
                continue  # the CUDA target's examples need a GPU; tests/cuda covers it
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    from p2pbyz.gars import _registry

    before = set(_registry._REGISTRY)
    mod = importlib.import_module(name)
    try:
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        for extra in set(_registry._REGISTRY) - before:
            _registry._REGISTRY.pop(extra)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
