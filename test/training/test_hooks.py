"""Trainer hooks: a hook registered outside the package runs every N steps, and its state
survives a SIGKILL of the training process and ``--resume``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from synergy_control.training import ConfigError, config_from_dict, load_checkpoint
from synergy_control.training.hooks import HOOKS

REPO = Path(__file__).resolve().parents[2]
HOOK_MODULE = '''
import torch
from dataclasses import dataclass
from synergy_control.training import Hook, register_hook


@register_hook('record_steps')
class RecordSteps(Hook):
    """Remember the step of every call and of every start."""

    @dataclass
    class Settings:
        label: str = ''

    def __init__(self, settings):
        super().__init__(settings)
        self.calls, self.starts = [], []

    def start(self, trainer):
        self.starts.append(trainer.env_steps)

    def __call__(self, trainer):
        assert set(trainer.buffer.keys()) == {'walker_7_main'} and trainer.agent.critic
        self.calls.append(trainer.env_steps)

    def state_dict(self):
        return {'calls': torch.tensor(self.calls), 'starts': self.starts,
                'label': self.settings.label}

    def load_state_dict(self, state):
        self.calls, self.starts = state['calls'].tolist(), state['starts']
'''


def start_training(args: list[str], tmp_path: Path) -> subprocess.Popen:
    """The training CLI in a process that first imports the hook's (outside) module."""
    (tmp_path / 'record_hook.py').write_text(HOOK_MODULE)
    code = ('import sys, record_hook\nfrom synergy_control.training.runner import main\n'
            'sys.exit(main(sys.argv[1:]))')
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(REPO), str(tmp_path)])}
    return subprocess.Popen([sys.executable, '-c', code, *args, '--no-progress'], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_hook_state_survives_sigkill_and_resume(tmp_path):
    data = yaml.safe_load((REPO / 'config/train/smoke_td3.yaml').read_text())
    data.update(total_steps=1200, eval_every=600, checkpoint_every=100,
                hooks=[{'name': 'record_steps', 'every': 50, 'label': 'x'}])
    config, run = tmp_path / 'hooked.yaml', tmp_path / 'run'
    config.write_text(yaml.safe_dump(data))
    last = run / 'checkpoints' / 'last.pt'
    proc = start_training([str(config), '--run-dir', str(run)], tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (last.exists() and load_checkpoint(last)['counters']['env_steps'] >= 300):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = load_checkpoint(last)
    step = killed['counters']['env_steps']
    assert 300 <= step < 1200
    assert killed['hooks'][0]['calls'].tolist() == list(range(50, step + 1, 50))

    resumed = start_training(['--resume', str(run)], tmp_path)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err

    hook = load_checkpoint(last)['hooks'][0]
    assert hook['calls'].tolist() == list(range(50, 1201, 50))  # no gap, no repeat
    assert hook['starts'] == [0, step] and hook['label'] == 'x'


@pytest.fixture
def registered_hook():
    """The test hook registered in this process for one test."""
    namespace: dict = {}
    exec(compile(HOOK_MODULE, 'record_hook', 'exec'), namespace)
    yield namespace['RecordSteps']
    del HOOKS.entries['record_steps']


@pytest.mark.parametrize('entry, message', [
    ({'name': 'record_steps', 'every': 0}, "config key 'hooks[0].every': expected an integer > 0"),
    ({'name': 'record_steps'}, "config key 'hooks[0].every': expected an integer > 0"),
    ({'name': 'record_steps', 'every': 5, 'lable': 'x'}, "config key 'hooks[0].lable': unknown"),
    ({'name': 'record_steps', 'every': 5, 'label': 3}, "config key 'hooks[0].label': expected a"),
])
def test_hook_entries_are_validated_naming_the_key(registered_hook, entry, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict({'robot': 'walker_7_main', 'hooks': [entry]})
    assert message in str(info.value)
    config = config_from_dict({'robot': 'walker_7_main',
                               'hooks': [{'name': 'record_steps', 'every': 5, 'label': 'y'}]})
    assert config.to_dict()['hooks'] == [{'name': 'record_steps', 'every': 5, 'label': 'y'}]
