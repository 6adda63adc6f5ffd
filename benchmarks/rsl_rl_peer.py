"""Benchmark: rsl_rl's PPO on gymnasium's walker for a wall-clock budget, return against time.

Issue 19 runs rsl_rl (``rsl-rl-lib``, the PPO of legged_gym, IsaacLab and mjlab) on the same
vectorised walker as a peer of our PPO: its ``OnPolicyRunner`` and ``PPO``, its ``MLPModel``
actor and critic with its own empirical observation normaliser, over N gymnasium
``Walker2d-v5`` environments behind rsl_rl's ``VecEnv`` interface (:class:`GymnasiumVecEnv`).
The settings are our walker's (``config/train/walker_ppo.yaml``, read at start), mapped so
that the comparison is algorithm code against algorithm code:

=============================  =====================================================
rsl_rl                         ours (``walker_ppo.yaml`` / ``PPOConfig`` default)
=============================  =====================================================
num_envs, num_steps_per_env    ``num_envs`` 64, ``ppo.rollout_steps`` 128
num_learning_epochs / batches  ``ppo.epochs`` 5, ``ppo.minibatches`` 4
learning_rate, adaptive, kl    ``ppo.learning_rate`` 3e-4, ``ppo.desired_kl`` 0.008
gamma, lam, clip_param         ``gamma`` 0.99, ``ppo.gae_lambda`` 0.95, ``ppo.clip`` 0.2
value_loss_coef, entropy_coef  ``ppo.value_coef`` 2, ``ppo.entropy_coef`` 0
max_grad_norm                  ``ppo.max_grad_norm`` 1
actor / critic MLP             ``policy.hidden_sizes`` / ``ppo.value_hidden_sizes``, ELU
Gaussian, log-std parameter    ``ppo.init_log_std`` 0 (std 1)
obs_normalization              ``normalize_obs``
normalize_advantage per batch  ours normalises per minibatch
use_clipped_value_loss False   ours has no value clipping
reward × 0.1 (in the adapter)  ``ppo.reward_scale`` 0.1, learning only
=============================  =====================================================

What stays rsl_rl's own: a linear Gaussian mean (ours is tanh-squashed), no value
normalisation (ours fits the value in running-return units), an unclipped normaliser updated
once per rollout, the time-out bootstrap with V(s_t) rather than V(final observation), and
gradient norms clipped for actor and critic apart. Actions are clipped to the action space
before the environment gets them, as our environment does.

The run directory is the one ``sb3_peer.py`` writes (:mod:`peer_runs`): ``metrics.csv`` with a
deterministic evaluation (the inference policy's mean action, rsl_rl's normaliser applied, in
a fresh gymnasium environment) every ``--eval-every`` seconds, checked between rsl_rl
iterations of 64 × 128 steps; ``config.yaml``; ``final.json``. One torch thread by default::

    taskset -c 0 python benchmarks/rsl_rl_peer.py --minutes 30 \\
        --out benchmarks/results/time_to_return/rsl_rl_ppo_walker2d_0

The humanoid at our humanoid's settings (value loss × 1 and the rest from ``PPOConfig``'s
defaults where ``humanoid_ppo.yaml`` is silent)::

    taskset -c 0 python benchmarks/rsl_rl_peer.py --env Humanoid-v5 \\
        --ours config/train/humanoid_ppo.yaml --minutes 45 \\
        --out benchmarks/results/time_to_return/rsl_rl_ppo_humanoid_0
"""

from __future__ import annotations

import copy
from importlib.metadata import version
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import yaml
from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner
from tensordict import TensorDict

from peer_runs import Act, EvaluationSchedule, evaluate, peer_arguments, write_run

OUR_CONFIG = Path(__file__).resolve().parents[1] / 'config' / 'train' / 'walker_ppo.yaml'
#: ``PPOConfig``'s defaults (``synergy_control/training/config.py``, which the peers' venv
#: cannot import), for the keys a config leaves out; a test holds the two equal.
PPO_DEFAULTS = {'rollout_steps': 64, 'epochs': 4, 'minibatches': 4, 'learning_rate': 3e-4,
                'desired_kl': 0.008, 'clip': 0.2, 'gae_lambda': 0.95, 'value_coef': 1.0,
                'entropy_coef': 0.0, 'max_grad_norm': 0.5, 'init_log_std': 0.0,
                'reward_scale': 0.1, 'value_hidden_sizes': [512, 256, 128],
                'value_activation': 'elu'}
OBS_GROUP = 'policy'


class GymnasiumVecEnv(VecEnv):
    """N gymnasium environments behind rsl_rl's ``VecEnv``: torch in, torch out, auto-reset.

    Finished environments reset in the same step (their next observation is the new
    episode's); ``extras['time_outs']`` marks time-limit truncations, not terminations, so that
    rsl_rl bootstraps them; ``extras['log']`` carries the raw returns and lengths of the
    episodes that ended. Rewards are scaled by ``reward_scale`` for learning only.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int, reward_scale: float):
        self.envs = gym.vector.SyncVectorEnv(
            [lambda: gym.make(env_id)] * num_envs,
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        space = self.envs.single_action_space
        self.low, self.high = space.low, space.high
        self.num_envs, self.num_actions = num_envs, int(space.shape[0])
        self.max_episode_length = int(self.envs.envs[0].spec.max_episode_steps)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)
        self.device, self.reward_scale = 'cpu', reward_scale
        self.cfg = {'env': env_id, 'num_envs': num_envs, 'reward_scale': reward_scale}
        self.episode_return = np.zeros(num_envs)
        obs, _ = self.envs.reset(seed=seed)
        self.obs = self._observations(obs)

    def _observations(self, obs: np.ndarray) -> TensorDict:
        return TensorDict({OBS_GROUP: torch.as_tensor(obs, dtype=torch.float32)},
                          batch_size=[self.num_envs])

    def get_observations(self) -> TensorDict:
        """Return the observations the environments stand at."""
        return self.obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Step every environment with its action clipped to the action space."""
        action = np.clip(actions.cpu().numpy().astype(np.float64), self.low, self.high)
        obs, reward, terminated, truncated, _ = self.envs.step(action)
        self.obs = self._observations(obs)
        self.episode_return += reward
        self.episode_length_buf += 1
        done = terminated | truncated
        extras = {'time_outs': torch.as_tensor(truncated & ~terminated, dtype=torch.float32)}
        if done.any():
            extras['log'] = {
                '/episode/return': torch.as_tensor(self.episode_return[done]),
                '/episode/length': self.episode_length_buf[torch.as_tensor(done)].float()}
            self.episode_return[done] = 0.0
            self.episode_length_buf[torch.as_tensor(done)] = 0
        rewards = torch.as_tensor(reward * self.reward_scale, dtype=torch.float32)
        return self.obs, rewards, torch.as_tensor(done, dtype=torch.long), extras


def setting(table: dict, key: str, where: str, default: object = None) -> object:
    """``table[key]``, else ``default``; a missing key without one names the key and file."""
    if key in table:
        return table[key]
    if default is None:
        raise SystemExit(f'{where}: key {key!r} is missing')
    return default


def rsl_rl_settings(ours: dict, where: str) -> tuple[dict, int, float]:
    """rsl_rl's runner config for our PPO config, its number of envs, its reward scale."""
    ppo = setting(ours, 'ppo', where)
    policy = setting(ours, 'policy', where)

    def hp(key: str) -> object:
        return setting(ppo, key, f'{where} (ppo)', PPO_DEFAULTS.get(key))

    activation = setting(policy, 'activation', f'{where} (policy)')
    model = {'class_name': 'MLPModel', 'activation': activation,
             'obs_normalization': bool(setting(ours, 'normalize_obs', where))}
    train_cfg = {
        'num_steps_per_env': hp('rollout_steps'),
        'save_interval': 1,  # unused: no log directory, so the runner saves nothing
        'obs_groups': {'actor': [OBS_GROUP], 'critic': [OBS_GROUP]},
        'actor': {**model, 'hidden_dims': list(setting(policy, 'hidden_sizes', where)),
                  'distribution_cfg': {'class_name': 'GaussianDistribution',
                                       'init_std': float(np.exp(hp('init_log_std'))),
                                       'std_type': 'log'}},
        'critic': {**model, 'hidden_dims': list(hp('value_hidden_sizes')),
                   'activation': hp('value_activation')},
        'algorithm': {
            'class_name': 'PPO', 'num_learning_epochs': hp('epochs'),
            'num_mini_batches': hp('minibatches'), 'learning_rate': hp('learning_rate'),
            'schedule': 'adaptive', 'desired_kl': hp('desired_kl'),
            'gamma': setting(ours, 'gamma', where), 'lam': hp('gae_lambda'),
            'clip_param': hp('clip'), 'value_loss_coef': hp('value_coef'),
            'entropy_coef': hp('entropy_coef'), 'max_grad_norm': hp('max_grad_norm'),
            'use_clipped_value_loss': False, 'normalize_advantage_per_mini_batch': True},
    }
    return train_cfg, int(setting(ours, 'num_envs', where)), float(hp('reward_scale'))


def mapping_table() -> list[str]:
    """Return the rows of the docstring's rsl_rl-to-ours table, for ``config.yaml``."""
    lines = __doc__.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith('=====')]
    return [' '.join(line.split('  ', 1)[0].split()) + ': ' + line.split('  ', 1)[1].strip()
            for line in lines[rules[1] + 1:rules[2]]]


def deterministic_policy(runner: OnPolicyRunner, action_space: gym.spaces.Box) -> Act:
    """Return the inference policy's mean action (its normaliser inside), clipped to the space."""
    policy = runner.get_inference_policy()

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            batch = TensorDict({OBS_GROUP: torch.as_tensor(obs, dtype=torch.float32)[None]},
                               batch_size=[1])
            action = policy(batch)[0].numpy().astype(np.float64)
        return np.clip(action, action_space.low, action_space.high)

    return act


def main() -> None:
    """Train rsl_rl's PPO, log its evaluations, judge the final policy."""
    parser = peer_arguments(__doc__.splitlines()[0])
    parser.add_argument('--ours', type=Path, default=OUR_CONFIG,
                        help='our PPO config whose settings rsl_rl gets')
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_cfg, num_envs, reward_scale = rsl_rl_settings(
        yaml.safe_load(args.ours.read_text()), str(args.ours))
    hyperparameters = copy.deepcopy(train_cfg)
    env = GymnasiumVecEnv(args.env, num_envs, args.seed, reward_scale)
    runner = OnPolicyRunner(env, train_cfg, log_dir=None, device='cpu')
    steps_per_iteration = num_envs * train_cfg['num_steps_per_env']
    args.out.mkdir(parents=True, exist_ok=True)

    schedule = EvaluationSchedule(args.out / 'metrics.csv', args.env, args.eval_every,
                                  args.eval_episodes)
    steps, action_space = 0, env.envs.single_action_space
    while schedule.elapsed() < 60.0 * args.minutes:
        if schedule.due():
            schedule.evaluate(steps, deterministic_policy(runner, action_space))
        runner.learn(1)  # one rollout and update; learn() puts the models back in train mode
        steps += steps_per_iteration
    schedule.finish(steps, deterministic_policy(runner, action_space))
    final, _ = evaluate(deterministic_policy(runner, action_space), args.env,
                        args.final_episodes, first_seed=0)

    library = f'rsl-rl-lib {version("rsl-rl-lib")}'
    command = ' '.join(['python benchmarks/rsl_rl_peer.py', f'--env {args.env}',
                        f'--ours {args.ours}', f'--minutes {args.minutes:g}',
                        f'--seed {args.seed}', f'--out {args.out}'])
    config = {
        'algorithm': 'rsl-rl-lib ppo', 'library': library,
        'tensordict': version('tensordict'), 'robot': args.env, 'seed': args.seed,
        'eval_episodes': args.eval_episodes, 'budget_minutes': args.minutes,
        'torch_threads': args.threads, 'num_envs': num_envs, 'reward_scale': reward_scale,
        'settings_from': str(args.ours), 'hyperparameters': hyperparameters,
        'mapping': mapping_table(),
        'command': command}
    summary = {'algorithm': 'ppo', 'library': library, 'env': args.env, 'seed': args.seed,
               'env_steps': steps, 'final_mean': float(np.mean(final)),
               'final_std': float(np.std(final)), 'final_returns': final, 'command': command}
    write_run(args.out, config, summary)


if __name__ == '__main__':
    main()
