"""The sweep on Ray: every (config, seed) run a Ray task, placed by the CPUs and GPUs it declares.

``synergy-control sweep CONFIG... --seeds 0 1 2 --backend ray [--address HOST:PORT]
[--cpus-per-run N] [--gpus-per-run G]`` plans exactly what the local backend plans (``sweep.py``:
the same run directories, the same skip of finished runs, the same resume from ``last.pt``, the
same lines and summary), then hands each unfinished run to Ray as a core task that reserves
``N`` CPUs (and ``G`` GPUs) on whichever node has them free. The task starts the run's
``python -m synergy_control.training`` process on that node with ``OMP_NUM_THREADS=N`` (its
thread count follows its declared CPUs; a config's own ``num_threads`` still wins, as locally),
writes its output to the run's ``train.log`` and passes a stop request on as SIGINT, so Ctrl-C
checkpoints every run wherever it is.

Why Ray core tasks and not Ray Tune: a run here already owns its checkpoints, resume, logs and
directory layout (``runs/<config>_<seed>``), and the local backend's semantics are defined by
them. Tune would put each trial in a directory of its own naming, checkpoint through its own
API and restore trials its own way, so the two backends would write different runs. A task per
run is the part of Ray this needs: resource-aware placement on a cluster, nothing else.

Run directories live on a filesystem every node shares (NFS or similar, mounted at the same
path): the driver writes a marker in the runs directory and a task on a node that cannot see it
ends with an error naming the node, instead of training into a directory nobody collects.

Without ``--address`` a local Ray instance is started on loopback only (every Ray server binds
to 127.0.0.1, no dashboard) and shut down on every exit path. With ``--address`` the sweep joins
the cluster started by ``ray start --head`` and leaves it running.
"""

from __future__ import annotations

import ctypes
import fcntl
import math
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synergy_control.training.sweep import SweepRun, plan, print_status

INSTALL_HINT = ("--backend ray needs Ray: pip install -r requirements/cluster.txt "
                "(or pip install '.[cluster]')")
LOOPBACK = '127.0.0.1'
#: A task polls the stop flag (and a queued task checks it before starting) this often.
POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1
#: How long a node whose runs directory exists waits for the driver's marker to show there.
MARKER_WAIT_SECONDS = 10.0


def import_ray(local: bool) -> Any:
    """Import Ray, or say what to install; a local instance is made to bind to loopback only.

    Ray's Linux default is the node's outward address for every server it starts (GCS, raylet,
    workers, object manager); with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` it takes 127.0.0.1,
    as it does on a laptop, and binds every server there. Read when Ray is imported, so set
    before: joining a cluster keeps the real address.
    """
    if local:
        os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'
    try:
        import ray
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    return ray


def check_reachable(address: str) -> None:
    """Refuse an ``--address`` with nothing listening there at once, before Ray is imported."""
    host, _, port = address.rpartition(':')
    if not host or not port.isdigit():
        raise ValueError(f"--address must be HOST:PORT of a Ray head (ray start --head), "
                         f"got '{address}'")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise ConnectionError(f'--address {address}: no Ray cluster there '
                              f'({error.strerror or error})') from None


def check_resources(nodes: list[dict], cpus: float, gpus: float) -> None:
    """Refuse a run no node can hold: Ray would queue it forever without a word."""
    alive = [node['Resources'] for node in nodes if node.get('Alive')]
    if not any(r.get('CPU', 0) >= cpus and r.get('GPU', 0) >= gpus for r in alive):
        largest = max(((r.get('CPU', 0), r.get('GPU', 0)) for r in alive), default=(0, 0))
        raise RuntimeError(f'no node of the Ray cluster has the {cpus:g} CPUs and {gpus:g} GPUs '
                           f'one run asks for (--cpus-per-run {cpus:g}, --gpus-per-run {gpus:g}); '
                           f'the largest has {largest[0]:g} CPUs, {largest[1]:g} GPUs')


class SweepControl:
    """The sweep's shared state (a Ray actor): the stop request and the runs that started."""

    def __init__(self) -> None:
        self.stop = False
        self.events: list[tuple[str, str, int]] = []

    def request_stop(self) -> None:
        """Ask every task to stop its run with a checkpoint (and queued ones not to start)."""
        self.stop = True

    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self.stop

    def started(self, name: str, node: str, pid: int) -> None:
        """Record that a run's training process started on a node."""
        self.events.append((name, node, pid))

    def drain(self) -> list[tuple[str, str, int]]:
        """Return the start events since the last call."""
        events, self.events = self.events, []
        return events


def prepare_run_process() -> None:
    """In a run's process before it starts: take signals as a run does, die with its worker.

    A Ray worker blocks SIGINT, and a child inherits the mask: the stop request (SIGINT) would
    wait forever. The kernel sends SIGTERM (checkpoint and exit) when the worker dies.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def sees(marker: Path) -> bool:
    """Whether this node sees the driver's marker file in the runs directory.

    Listed rather than looked up, and for a few seconds where the directory exists: a network
    filesystem may cache a negative lookup of a file that is new on another machine.
    """
    deadline = time.monotonic() + MARKER_WAIT_SECONDS
    while marker.parent.is_dir():
        if marker.name in os.listdir(marker.parent):
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    return False


def run_task(run: SweepRun, marker: Path, device: str | None, total_steps: int | None,
             threads: int, control: Any) -> dict:
    """Body of a run's Ray task, on the node Ray chose: train the run, return its exit code.

    The task holds an exclusive lock on the run's ``train.log``, inherited by the training
    process: a run whose worker was killed keeps its directory until its process has written
    the final checkpoint, and a re-run of the sweep waits for that instead of racing it.
    """
    import ray
    node = ray.util.get_node_ip_address()
    if ray.get(control.stopping.remote()):
        return {'started': False}
    if not sees(marker):
        return {'started': True, 'code': 2,
                'why': f': {marker.parent} is not visible on node {node}; --backend ray keeps '
                       'run directories on a filesystem every node shares (docs/training.md)'}
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with open(run.run_dir / 'train.log', 'a') as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        process = subprocess.Popen(
            run.command(device, total_steps), stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, 'OMP_NUM_THREADS': str(threads)}, start_new_session=True,
            preexec_fn=prepare_run_process)
    # Waited for: the driver sees the start before the end.
    ray.get(control.started.remote(run.run_dir.name, node, process.pid))
    stop_sent = False
    while process.poll() is None:
        if not stop_sent and ray.get(control.stopping.remote()):
            process.send_signal(signal.SIGINT)
            stop_sent = True
        time.sleep(POLL_SECONDS)
    return {'started': True, 'code': process.returncode, 'why': ''}


def sweep_on_ray(configs: Sequence[str | Path], seeds: Sequence[int], *,
                 runs_dir: str | Path = 'runs', address: str | None = None,
                 cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
                 device: str | None = None, total_steps: int | None = None,
                 status_every: float = 60.0, local_cpus: int | None = None) -> dict[str, int]:
    """Run the sweep on Ray to its end (or a stop signal); return each run's exit code by name.

    Everything that can be refused is refused before Ray starts (configs, resources per run,
    an address with nothing there); a local instance (``local_cpus``: default every core) is
    shut down however this returns. A run whose Ray worker died gets exit code 1 and a line
    saying to run the sweep again, which resumes it from its checkpoint.
    """
    if not (math.isfinite(cpus_per_run) and cpus_per_run > 0):
        raise ValueError(f'--cpus-per-run must be a finite number > 0, got {cpus_per_run}')
    if not (math.isfinite(gpus_per_run) and gpus_per_run >= 0):
        raise ValueError(f'--gpus-per-run must be a finite number >= 0, got {gpus_per_run}')
    runs = plan(configs, seeds, runs_dir, total_steps)
    if address is not None:
        check_reachable(address)
    ray = import_ray(local=address is None)
    if device is None and gpus_per_run > 0:
        device = 'cuda'
    finished = [run for run in runs if run.finished()]
    results = {run.run_dir.name: 0 for run in finished}
    todo = [run for run in runs if run not in finished]
    if not todo:
        return results
    marker = todo[0].run_dir.parent / f'.sweep-ray-{uuid.uuid4().hex}'
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous: dict[int, Any] = {}
    try:
        if address is None:
            ray.init(num_cpus=local_cpus or os.cpu_count() or 1, _node_ip_address=LOOPBACK,
                     include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        nodes = ray.nodes()
        if address is None and {n['NodeManagerAddress'] for n in nodes} != {LOOPBACK}:
            raise RuntimeError('the local Ray instance is not on loopback only: Ray was '
                               'imported before the sweep could set it up')
        check_resources(nodes, cpus_per_run, gpus_per_run)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        control = ray.remote(SweepControl).options(num_cpus=0).remote()
        task = ray.remote(run_task).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run,
                                            max_retries=0)
        threads = max(1, int(cpus_per_run))
        pending = {task.remote(run, marker, device, total_steps, threads, control): run
                   for run in todo}
        running: dict[str, SweepRun] = {}
        stop_sent, last_status = False, time.monotonic()
        while pending:
            if stopping and not stop_sent:
                control.request_stop.remote()
                stop_sent = True
            done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.2)
            for name, node, pid in ray.get(control.drain.remote()):
                running[name] = next(run for run in todo if run.run_dir.name == name)
                print(f'{name}: started (pid {pid} on {node})', flush=True)
            for ref in done:
                run = pending.pop(ref)
                running.pop(run.run_dir.name, None)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the task raised, on its node
                    outcome = {'started': True, 'code': 1,
                               'why': f' (its task failed: {error.cause!r})'}
                except ray.exceptions.RayError as error:
                    outcome = {'started': True, 'code': 1,
                               'why': f' ({type(error).__name__}: its Ray worker ended; run the '
                                      'sweep again to resume it)'}
                if outcome['started']:
                    results[run.run_dir.name] = outcome['code']
                    run.ended(outcome['code'], outcome['why'])
            if running and time.monotonic() - last_status >= status_every:
                last_status = time.monotonic()
                print_status(list(running.values()))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        marker.unlink(missing_ok=True)
        ray.shutdown()
    return results
