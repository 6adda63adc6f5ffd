"""EAR evidence on an exported HalfCheetah-Vel policy: speed tracking, the task sphere, a GIF.

    python benchmarks/ear_evidence.py speeds --policy models/half_cheetah_vel_ear.onnx
    python benchmarks/ear_evidence.py speeds --policy models/half_cheetah_vel_ear.onnx \
        --gymnasium HalfCheetah-v5 --out docs/results/ear_speed_tracking_gymnasium
    python benchmarks/ear_evidence.py sphere --policy models/half_cheetah_vel_ear.onnx
    MUJOCO_GL=egl python benchmarks/ear_evidence.py gif --policy models/half_cheetah_vel_ear.onnx

``speeds``: for every trained speed and every midpoint between two (unseen: commanded by the
interpolated embedding, as the node does with a velocity command), the measured forward speed
over ``--episodes`` 200-step episodes; CSV, JSON summary (mean absolute error per speed, and
over the unseen speeds) and a plot. ``sphere``: the named tasks' embeddings on the unit
sphere, with the interpolation arcs between neighbouring speeds. ``gif``: the cheetah under a
changing velocity command, the command and the measured speed plotted beside it.
Everything runs through the ONNX runtime, as deployed (no torch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from result_files import write_results  # noqa: E402  (beside this script)
from synergy_control.evaluation import evaluate, judge_in_gymnasium  # noqa: E402
from synergy_control.runtime import PolicyRuntime, read_card  # noqa: E402
from synergy_control.task_embedding import blend, velocity_task  # noqa: E402

RESULTS = ROOT / 'docs' / 'results'


def trained_speeds(policy: str) -> list[float]:
    """The card's ``vel:<speed>`` tasks, sorted."""
    return sorted(float(name.split(':', 1)[1]) for name in read_card(policy).tasks['embeddings']
                  if name.startswith('vel:'))


def speeds(args: argparse.Namespace) -> None:
    """Measured speed against the target, trained and unseen (midpoint) speeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    trained = trained_speeds(args.policy)
    targets = [(v, 'trained') for v in trained] + [
        ((a + b) / 2, 'unseen') for a, b in zip(trained[:-1], trained[1:])]
    rows = []
    for target, kind in sorted(targets):
        if args.gymnasium:
            result = judge_in_gymnasium(args.policy, args.gymnasium, args.episodes, args.seed,
                                        task=f'vel:{target:g}')
            measured = result['speeds']
        else:
            result = evaluate(args.policy, episodes=args.episodes, seed=args.seed,
                              task=f'vel:{target:g}')
            measured = [r['speed'] for r in result['results']]
        rows.append({'target': target, 'kind': kind, 'command': result['command'],
                     'speed_mean': float(np.mean(measured)), 'speed_std': float(np.std(measured)),
                     'abs_error': float(np.mean(np.abs(np.subtract(measured, target)))),
                     'return_mean': result['mean_return']})
        print(f"{target:5.2f} m/s ({kind:7s}): measured {rows[-1]['speed_mean']:5.2f} ± "
              f"{rows[-1]['speed_std']:.2f}, |error| {rows[-1]['abs_error']:.2f}", flush=True)
    out = Path(args.out)
    summary = {'policy': args.policy, 'judge': args.gymnasium or 'evaluate',
               'episodes_per_speed': args.episodes, 'seed': args.seed,
               'command': ' '.join(sys.argv),
               'mae_trained': float(np.mean([r['abs_error'] for r in rows
                                             if r['kind'] == 'trained'])),
               'mae_unseen': float(np.mean([r['abs_error'] for r in rows
                                            if r['kind'] == 'unseen'])),
               'training': read_card(args.policy).training, 'rows': rows}
    write_results(out, rows, summary)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    top = max(trained) * 1.1
    ax.plot([0, top], [0, top], color='0.7', lw=1, label='measured = target')
    for kind, marker in [('trained', 'o'), ('unseen', 's')]:
        part = [r for r in rows if r['kind'] == kind]
        ax.errorbar([r['target'] for r in part], [r['speed_mean'] for r in part],
                    [r['speed_std'] for r in part], fmt=marker, capsize=3,
                    label=f"{kind} (MAE {summary['mae_' + kind]:.2f} m/s)")
    ax.set_xlabel('target speed (m/s)')
    ax.set_ylabel('measured forward speed (m/s)')
    ax.set_title('EAR HalfCheetah-Vel: speed tracking'
                 + (f' in gymnasium {args.gymnasium}' if args.gymnasium else ''))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix('.png'), dpi=120)
    print(f"MAE trained {summary['mae_trained']:.3f} m/s, unseen {summary['mae_unseen']:.3f} "
          f'm/s; wrote {out.with_suffix(".csv")}, .json, .png')


def sphere(args: argparse.Namespace) -> None:
    """The named tasks' embeddings on the unit sphere, coloured by speed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    tasks = read_card(args.policy).tasks['embeddings']
    names = sorted(tasks, key=lambda n: (n.split(':')[0], float(n.split(':')[1])))
    points = np.array([tasks[n] for n in names])
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(projection='3d')
    u, v = np.mgrid[0:2 * np.pi:40j, 0:np.pi:20j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color='0.85',
                      lw=0.4)
    colours = plt.cm.viridis(np.linspace(0, 1, len(names)))
    for (first, second) in zip(names[:-1], names[1:]):
        arc = np.array([blend(np.array(tasks[first]), np.array(tasks[second]), b)
                        for b in np.linspace(1, 0, 20)])
        ax.plot(*arc.T, color='0.4', lw=1)
    ax.scatter(*points.T, c=colours, s=40, depthshade=False)
    for name, point in zip(names, points):
        ax.text(*(point * 1.08), name, fontsize=7)
    ax.set_box_aspect((1, 1, 1))
    ax.set_title('task embeddings (LTE) and interpolation arcs')
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f'wrote {out}')


def gif(args: argparse.Namespace) -> None:
    """The cheetah under a changing velocity command, with command and speed beside it."""
    import imageio.v2 as imageio
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from synergy_control.envs import LocomotionEnv
    from synergy_control.render import select_gl_backend
    select_gl_backend()
    runtime = PolicyRuntime(args.policy)
    schedule = [float(v) for v in args.schedule.split(',')]
    env = LocomotionEnv(runtime.robot, render_mode='rgb_array', width=args.width,
                        height=args.height, episode_steps=10**6)
    env.reset(seed=args.seed)
    steps_each = round(args.seconds_each / env.dt)
    stride = max(1, round(1.0 / (env.dt * args.fps)))
    times, commanded, measured, frames = [], [], [], []
    for step in range(steps_each * len(schedule)):
        target = schedule[step // steps_each]
        if step % steps_each == 0:
            runtime.set_task(velocity_task(target, runtime.card.tasks['embeddings'],
                                           clamp=True)[0])
        env.step_command(runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).commands)
        times.append(step * env.dt)
        commanded.append(target)
        measured.append(float(env.data.qvel[0]))
        if step % stride == 0:
            frames.append((step, env.render()))
    env.close()
    window = max(1, round(1.0 / env.dt))
    smooth = np.convolve(measured, np.ones(window) / window, mode='full')[:len(measured)]
    images = []
    fig, ax = plt.subplots(figsize=(args.width / 80, args.height / 80), dpi=80)
    for step, frame in frames:
        ax.clear()
        ax.plot(times, commanded, color='tab:orange', lw=1.5, label='command')
        ax.plot(times[:step + 1], smooth[:step + 1], color='tab:blue', lw=1.5,
                label='speed (1 s mean)')
        ax.set_xlim(0, times[-1])
        ax.set_ylim(0, max(schedule) * 1.3)
        ax.set_xlabel('time (s)', fontsize=7)
        ax.set_ylabel('m/s', fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, loc='upper left')
        fig.tight_layout()
        fig.canvas.draw()
        plot = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        images.append(np.concatenate([frame, plot[:frame.shape[0], :frame.shape[1]]], axis=1))
    out = Path(args.out)
    imageio.mimsave(out, images, duration=1000.0 * env.dt * stride, loop=0)
    errors = [abs(s - c) for s, c, t in zip(smooth, commanded, times)
              if (t % args.seconds_each) >= 2.0]  # after 2 s to settle on each command
    print(f'wrote {out} ({len(images)} frames); mean |speed - command| after 2 s of each '
          f'command: {np.mean(errors):.2f} m/s')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='what', required=True)
    p = sub.add_parser('speeds')
    p.add_argument('--policy', required=True)
    p.add_argument('--episodes', type=int, default=3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=str(RESULTS / 'ear_speed_tracking'))
    p.add_argument('--gymnasium', metavar='ENV_ID',
                   help="measure in gymnasium's own environment instead (HalfCheetah-v5): its "
                   "dynamics, the task's 200-step episodes, the same embeddings and blends")
    p.set_defaults(func=speeds)
    p = sub.add_parser('sphere')
    p.add_argument('--policy', required=True)
    p.add_argument('--out', default=str(ROOT / 'docs' / 'ear_embeddings.png'))
    p.set_defaults(func=sphere)
    p = sub.add_parser('gif')
    p.add_argument('--policy', required=True)
    p.add_argument('--schedule', default='2,5,8,3', help='speed commands (m/s)')
    p.add_argument('--seconds-each', type=float, default=5.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--width', type=int, default=320)
    p.add_argument('--height', type=int, default=240)
    p.add_argument('--fps', type=float, default=10.0)
    p.add_argument('--out', default=str(ROOT / 'docs' / 'half_cheetah_vel_ear.gif'))
    p.set_defaults(func=gif)
    args = parser.parse_args()
    args.func(args)


if __name__ == '__main__':
    main()
