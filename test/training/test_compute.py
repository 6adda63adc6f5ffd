"""The run's matmul setting: forced paths set the flag, ``auto`` follows the measured probe."""

import torch

from synergy_control.training.compute import configure_cpu, fast_fp32_matmul


def test_matmul_setting_selects_the_kernel_path():
    previous = torch.backends.mkldnn.matmul.fp32_precision
    try:
        assert configure_cpu(0, 'default') == 'default'
        assert torch.backends.mkldnn.matmul.fp32_precision == 'none'
        assert configure_cpu(0, 'onednn') == 'onednn'
        assert torch.backends.mkldnn.matmul.fp32_precision == 'bf16'
        chosen = configure_cpu(0, 'auto')
        assert chosen == ('onednn' if fast_fp32_matmul() else 'default')
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = previous


def test_the_probe_restores_the_setting():
    previous = torch.backends.mkldnn.matmul.fp32_precision
    fast_fp32_matmul.cache_clear()
    fast_fp32_matmul()
    assert torch.backends.mkldnn.matmul.fp32_precision == previous
