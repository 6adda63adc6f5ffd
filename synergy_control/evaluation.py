"""Offline rollouts of exported policies in MuJoCo, through the same runtime the node uses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import gymnasium
import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.robots import Robot, Task, get_robot
from synergy_control.rollout import Episode, Policy, rollout
from synergy_control.runtime import PolicyRuntime
from synergy_control.task_embedding import command_for_task


def runtime_policy(runtime: PolicyRuntime, env: LocomotionEnv) -> Policy:
    """Return the runtime as an effort-command policy of ``env``: state → commands, as the node."""
    return lambda _observation: runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).commands


def run_episode(runtime: PolicyRuntime, env: LocomotionEnv, seed: int) -> Episode:
    """One episode: state → runtime → effort commands → environment, like the ROS loop."""
    return rollout(env, runtime_policy(runtime, env), seed, commands=True)


def command_for(runtime: PolicyRuntime, task: str | None, command: str | None) -> str | None:
    """Return ``command``, else the command for ``task`` (None: the card's default task)."""
    if command is not None or task is None or not runtime.task_names:
        return command
    return command_for_task(task, runtime.card.tasks['embeddings'])


def same_body_world(robot: Robot, world: str) -> Robot:
    """Return variant ``world`` if it moves ``robot``'s body (another floor); else ValueError."""
    other = get_robot(world)
    for fact in ('joint_names', 'actuator_names', 'control_period'):
        if getattr(other, fact) != getattr(robot, fact):
            raise ValueError(f"world '{world}' is not robot '{robot.name}' on other ground: its "
                             f'{fact} differ ({getattr(other, fact)} against '
                             f'{getattr(robot, fact)})')
    if (other.model.nq, other.model.nv) != (robot.model.nq, robot.model.nv):
        raise ValueError(f"world '{world}' has another state size than robot '{robot.name}'")
    return other


def evaluate(policy: str | Path, robot: str | None = None, episodes: int = 10,
             seed: int = 0, task: str | None = None, command: str | None = None,
             world: str | None = None) -> dict:
    """Roll out ``episodes`` episodes (seeds seed, seed+1, ...) and summarise returns.

    ``task`` is the environment's task (its reward, e.g. ``vel:4.5``); a multi-task policy
    is commanded by ``command`` (a task command), by default the one for ``task``
    (:func:`~synergy_control.task_embedding.command_for_task`). ``world`` simulates another
    variant of the same body (a terrain) under the policy made for ``robot``: how a
    flat-ground policy transfers, which the card's model hash refuses on the robot itself.
    """
    runtime = PolicyRuntime(policy, robot)
    command = command_for(runtime, task, command)
    if command is not None:
        runtime.set_task(command)
    simulated = runtime.robot if world is None else same_body_world(runtime.robot, world)
    env = LocomotionEnv(simulated, obs_mode=runtime.card.observation['mode'], task=task)
    results = [run_episode(runtime, env, seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    speeds = np.array([r.distance / (r.length * runtime.robot.control_period) for r in results])
    return {'policy': str(policy), 'robot': runtime.robot.name, 'world': simulated.name,
            'task': str(env.task),
            'command': runtime.task, 'episodes': episodes,
            'seed': seed, 'mean_return': float(returns.mean()),
            'std_return': float(returns.std()), 'mean_length': float(lengths.mean()),
            'min_return': float(returns.min()), 'max_return': float(returns.max()),
            'mean_speed': float(speeds.mean()),
            'results': [{**asdict(r), 'speed': float(v)} for r, v in zip(results, speeds)]}


def judge_in_gymnasium(policy: str | Path, gym_id: str, episodes: int = 10,
                       seed: int = 0, robot: str | None = None, task: str | None = None,
                       command: str | None = None) -> dict:
    """Roll ``episodes`` episodes out in gymnasium's own environment ``gym_id``.

    An independent judge of the project's environments: gymnasium computes the step, the
    reward and the episode's end; the policy acts through the runtime (ONNX Runtime, the
    card's scaling and limits) and its effort commands become gymnasium's actions (controls)
    in gymnasium's actuator order. The runtime builds the policy's observation from
    gymnasium's MuJoCo state, as the node builds it from joint states: the card's layout and
    velocity clip, which need not be gymnasium's (a cheetah trained on clipped velocities);
    SOLAR's limb tokens need gymnasium's joints in the robot's order. A flat layout that
    needs the simulator's forces (the humanoid's ``qfrc_actuator``, ``cfrc_ext``) is
    gymnasium's own observation instead, checked equal in size. ``robot``: the variant of a
    multi-robot policy to judge.

    ``task`` / ``command`` command a multi-task policy as :func:`evaluate` does (EAR's
    ``vel:4.5``). Gymnasium knows no such task, so its return stays its own reward; the
    episode is cut at the task's length (HalfCheetah-Vel's 200 steps), and each episode's
    forward speed (Δx of the root over the episode's time) is what judges the tracking.
    """
    runtime = PolicyRuntime(policy, robot)
    command = command_for(runtime, task, command)
    if command is not None:
        runtime.set_task(command)
    parsed = Task.parse(task)
    limit = (None if parsed.kind == 'forward'
             else runtime.robot.family.task_spec(parsed).episode_steps)
    try:
        env = gymnasium.make(gym_id)
    except gymnasium.error.Error as error:
        raise ValueError(f"gymnasium environment '{gym_id}': {error}") from None
    model = env.unwrapped.model
    names = [model.joint(joint).name for joint in model.actuator_trnid[:, 0]]
    ours = list(runtime.robot.joint_names)  # the joints its actuators drive, in its order
    if sorted(names) != sorted(ours):
        raise ValueError(f"gymnasium environment '{gym_id}' actuates joints {names}, policy "
                         f"{policy} actuates {ours}")
    theirs_observed = runtime.observe.mode == 'flat' and runtime.observe.needs_ctrl  # forces
    if theirs_observed and env.observation_space.shape[0] != runtime.observe.size:
        raise ValueError(f"gymnasium environment '{gym_id}' observes "
                         f"{env.observation_space.shape[0]} values, policy {policy} expects "
                         f'{runtime.observe.size}')
    if not theirs_observed:
        theirs = [model.joint(j).name for j in range(model.njnt)]
        mine = [runtime.robot.model.joint(j).name for j in range(runtime.robot.model.njnt)]
        if theirs != mine:
            raise ValueError(f"gymnasium environment '{gym_id}' has joints {theirs}; the "
                             f"observation of policy {policy} needs {runtime.robot.name}'s "
                             f'{mine}, in that order')
    data = env.unwrapped.data
    order = [ours.index(name) for name in names]
    to_ours = np.argsort(order)  # gymnasium's control order -> the robot's actuator order
    returns, lengths, speeds = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        start, total, steps, done = float(data.qpos[0]), 0.0, 0, False
        while not done and steps != limit:
            output = (runtime.act_on_observation(obs) if theirs_observed
                      else runtime.act(data.qpos, data.qvel, data.ctrl[to_ours]))
            ctrl = runtime.scaling.command_to_ctrl(output.commands)
            obs, reward, terminated, truncated, _ = env.step(ctrl[order])
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
        speeds.append((float(data.qpos[0]) - start) / (steps * env.unwrapped.dt))
    env.close()
    return {'policy': str(policy), 'gymnasium': gym_id, 'episodes': episodes, 'seed': seed,
            'task': str(parsed), 'command': runtime.task,
            'mean_return': float(np.mean(returns)), 'std_return': float(np.std(returns)),
            'min_return': float(np.min(returns)), 'max_return': float(np.max(returns)),
            'mean_length': float(np.mean(lengths)), 'mean_speed': float(np.mean(speeds)),
            'returns': returns, 'lengths': lengths, 'speeds': speeds}
