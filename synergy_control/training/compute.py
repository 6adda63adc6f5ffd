"""CPU compute settings of a run: threads and the fp32 matmul kernel, chosen by measurement.

On this project's AMD EPYC machines MKL's fp32 GEMM runs at ~115 GFLOP/s per core and
oneDNN's at ~250, and the off-policy update is mostly matmuls: routing them through oneDNN
(``torch.backends.mkldnn.matmul.fp32_precision = 'bf16'``) made a SAC humanoid update 1.5x
faster at the same fp32 error (docs/training.md). Despite its name the setting only *allows*
bf16: on these cores oneDNN still picks f32 AVX-512 kernels, while on an Intel CPU with bf16
hardware it really drops to bf16 and changes the gradients by ~1%. So ``matmul: auto`` probes
the kernel once per process and takes the fast path only when its result has fp32 accuracy.
Export and ONNX parity are unaffected: they run in a separate module with the default.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import torch

FP32_TOLERANCE = 1e-5  # max relative error of an fp32 GEMM of this size; bf16 gives ~1e-3
MIN_SPEEDUP = 1.2  # below this the fast path is not worth a kernel other than the default


def _timed(precision: str, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Run 4 GEMMs under one fp32 matmul precision setting; return the result and the time."""
    previous = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = precision
    try:
        start = time.perf_counter()
        for _ in range(4):
            result = torch.nn.functional.linear(x, w)
        return result, time.perf_counter() - start
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = previous


@lru_cache(maxsize=1)
def fast_fp32_matmul() -> bool:
    """Whether oneDNN's matmul path is both fp32-accurate and faster here (measured once).

    A [512, 348] x [348, 256] GEMM (a humanoid critic layer) against float64: an fp32 kernel
    is within ~1e-6 relative, a bf16 one ~1e-3. Where the CPU lacks bf16 support (AVX2-only
    cores) the setting changes nothing and the timing says so.
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 348, generator=generator)
    w = torch.randn(256, 348, generator=generator)
    exact = x.double() @ w.double().T
    times = {'none': math.inf, 'bf16': math.inf}
    for _ in range(6):  # interleaved, best of each: the first round warms the thread pool up
        for precision in times:
            elapsed = _timed(precision, x, w)[1]
            times[precision] = min(times[precision], elapsed)
    fast = _timed('bf16', x, w)[0]
    error = float((fast.double() - exact).abs().max() / exact.abs().max())
    return error < FP32_TOLERANCE and times['none'] > MIN_SPEEDUP * times['bf16']


def configure_cpu(num_threads: int, matmul: str) -> str:
    """Apply a run's ``num_threads`` (0: torch's default, all cores) and ``matmul`` setting.

    Returns the matmul path in use: ``'onednn'`` or ``'default'``. ``auto`` takes oneDNN only
    when :func:`fast_fp32_matmul` measured it accurate and faster; ``onednn`` forces it
    (bf16 where the CPU has it: an A/B of returns decides whether that is acceptable).
    """
    if num_threads:
        torch.set_num_threads(num_threads)
    use_onednn = matmul == 'onednn' or (matmul == 'auto' and fast_fp32_matmul())
    torch.backends.mkldnn.matmul.fp32_precision = 'bf16' if use_onednn else 'none'
    return 'onednn' if use_onednn else 'default'
