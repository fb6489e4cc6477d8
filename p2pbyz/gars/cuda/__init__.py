"""The CUDA target of the GARs (numba-cuda): ``gars.aggregate(name, X, f, target="cuda")``.

numba-cuda is an optional extra (``pip install "p2pbyz[cuda]"``); it is imported only when this
target is used, so ``import p2pbyz.gars`` never needs it. :func:`available` says whether the
target can run (a GPU with its driver, or numba's simulator under ``NUMBA_ENABLE_CUDASIM=1``).

Inputs and outputs
------------------
* numpy arrays (and anything :func:`p2pbyz._validation.as_gradients` accepts) are validated as
  on the CPU, copied to the GPU once, and the result comes back as a numpy array;
* numba device arrays and any object with ``__cuda_array_interface__`` (CuPy arrays, torch CUDA
  tensors) are used in place through ``numba.cuda.as_cuda_array`` (no host round-trip); the
  result is a **numba device array** of shape (d,) (wrap it with ``cupy.asarray`` or
  ``torch.as_tensor(..., device="cuda")``, both zero-copy).

The output dtype is X's dtype (float32 or float64).

What runs on the GPU
--------------------
Everything that reads X: the non-finite row scan (one flag per row comes back to the host; rows
are dropped and counted against f exactly as on the CPU), the coordinate-wise rules (one thread
per coordinate, the n values sorted in registers by a sorting network), the n x n squared-distance
matrix (one tiled kernel, float64 accumulation, from differences), the Krum scores and selections,
Bulyan's theta steps (one block), Aksel's / MoNNA's / NNM's rankings, the Weiszfeld, RFA and
centered-clipping iterations, and the pre-aggregators nnm, bucketing (the permutation is drawn on
the host from ``seed``, exactly as on the CPU), static_clipping and arc. MDA and SMEA compute the
distance matrix on the GPU and run their combinatorial subset search on the host over that small
n x n matrix (SMEA reads each subset's covariance spectrum from its double-centred distance
block). Geometric median reads back two scalars per iteration for its stopping test.

Tolerances: float64 results agree with :mod:`p2pbyz.gars._reference` to about 1e-9 relative,
float32 to about 1e-4 (the kernels accumulate in float64, but float32 differences are taken in
float32), and the selections (Krum, Bulyan, Aksel, MoNNA, NNM, ARC) are the reference's:
ties go to the smallest index.

Tunables (read at call time): ``p2pbyz.config.THREADS_PER_BLOCK`` (1-D launches) and
``p2pbyz.config.CUDA_TILE`` (the largest side of the distance kernel's thread tile; it also
stages that many coordinates per step).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import CudaUnavailableError

__all__ = ["available", "run", "unavailable_reason"]


def unavailable_reason() -> str | None:
    """Why the CUDA target cannot run here, or None when it can."""
    try:
        from numba import cuda
    except ImportError as exc:
        return (
            f"numba-cuda is not installed ({exc}); install it with pip install \"p2pbyz[cuda]\" "
            "on a machine with an NVIDIA GPU and its CUDA driver"
        )
    try:
        ok = bool(cuda.is_available())
    except Exception as exc:  # a broken driver install raises from deep inside numba
        return (
            f"numba-cuda could not initialise CUDA ({type(exc).__name__}: {exc}); check the NVIDIA "
            "driver, or set NUMBA_ENABLE_CUDASIM=1 to use numba's (slow) simulator"
        )
    if not ok:
        return (
            "numba-cuda found no usable CUDA GPU: a CUDA driver and an NVIDIA GPU are needed "
            "(install numba-cuda with pip install \"p2pbyz[cuda]\"), or set NUMBA_ENABLE_CUDASIM=1 "
            "before numba is imported to use numba's (slow) simulator"
        )
    return None


def available() -> bool:
    """True when numba-cuda is installed and a GPU (or the simulator) can be used."""
    return unavailable_reason() is None


def run(
    spec: Any, X: Any, f: int, *, pre: Any, nonfinite: str, params: Mapping[str, Any]
) -> Any:
    """Run rule ``spec`` on the GPU (called by :func:`p2pbyz.gars._api.run` for target="cuda").

    Raises
    ------
    CudaUnavailableError
        numba-cuda is missing or no GPU (nor the simulator) can be used; the message says which
        and how to install it.
    InvalidArgument
        Bad input, or a rule / pre-aggregator / parameter that has no CUDA kernel yet.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise CudaUnavailableError(f"{spec.name}: target='cuda' is unavailable: {reason}")
    from . import _driver

    return _driver.run(spec, X, f, pre=pre, nonfinite=nonfinite, params=params)
