"""The ament_python package: declared ROS dependencies and what a build installs."""

import ast
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Top-level modules that come from ROS packages of the same name.
ROS_MODULES = {'rclpy', 'launch', 'launch_ros', 'ament_index_python'}
ROS_SUFFIXES = ('_msgs', '_srvs', '_interfaces')


def _imported_modules(paths) -> set[str]:
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split('.')[0])
    return modules


def test_package_xml_lists_every_ros_package_the_code_imports():
    sources = [*(ROOT / 'synergy_control').rglob('*.py'), *(ROOT / 'launch').glob('*.py')]
    imported = {m for m in _imported_modules(sources)
                if m in ROS_MODULES or m.endswith(ROS_SUFFIXES)}
    assert {'rclpy', 'rcl_interfaces', 'std_msgs', 'launch_ros'} <= imported
    package = ElementTree.parse(ROOT / 'package.xml').getroot()
    exec_depends = {element.text for element in package.iter('exec_depend')}
    assert imported - exec_depends == set()


def test_build_installs_launch_config_and_policies_quietly(tmp_path):
    """A real build (pip wheel, as colcon's setup.py run): share/ files, no warnings."""
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('setup.py', 'setup.cfg', 'package.xml', 'resource', 'synergy_control',
                 'launch', 'config', 'models'):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-v',
         '-w', str(tmp_path / 'wheel'), str(source)], capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'Unknown distribution option' not in result.stdout + result.stderr
    (wheel,) = (tmp_path / 'wheel').glob('*.whl')
    prefix = '/data/share/synergy_control/'
    share = {name.split(prefix)[1] for name in zipfile.ZipFile(wheel).namelist()
             if prefix in name}
    assert {'package.xml', 'launch/sim.launch.py', 'launch/robot.launch.py',
            'config/rviz/sim.rviz', 'config/ros2_control/effort_controllers.yaml',
            'models/walker_solar.onnx', 'models/hopper_td3.onnx',
            'models/walker_solar.card.yaml'} <= share
    assert not [name for name in share if name.startswith('models/training')]


def _requirements(name: str) -> dict[str, str]:
    """Pinned distributions of requirements/<name>, following its ``-r`` includes."""
    pins = {}
    for line in (ROOT / 'requirements' / name).read_text().splitlines():
        line = line.split('#')[0].strip()
        if line.startswith('-r '):
            pins.update(_requirements(line[3:].strip()))
        elif line:
            distribution, version = line.split('==')
            pins[distribution.lower()] = version
    return pins


def test_requirement_sets_nest_and_keep_torch_off_the_runtime():
    runtime, ros, train, dev = (_requirements(f'{name}.txt')
                                for name in ('runtime', 'ros', 'train', 'dev'))
    assert 'torch' not in runtime and 'torch' in train
    assert runtime.items() <= train.items() and (train | ros).items() <= dev.items()
    assert {'mujoco', 'onnxruntime', 'numpy', 'pyyaml', 'gymnasium'} <= runtime.keys()


#: What a robot computer runs: the nodes, the launch plan, ``sim`` and ``evaluate``.
DEPLOY_MODULES = ('synergy_control.cli', 'synergy_control.ros.launch_plan',
                  'synergy_control.sim_runner', 'synergy_control.evaluation',
                  'synergy_control.ros.sim_bridge', 'synergy_control.ros.synergy_controller')


def _loaded_by(modules: tuple[str, ...], then: str = '') -> set[str]:
    """Every module a fresh interpreter holds after importing ``modules`` and running ``then``."""
    code = ('import importlib, json, sys\n'
            f'for m in {modules!r}:\n'
            '    importlib.import_module(m)\n'
            f'{then}\n'
            'print(json.dumps(sorted(sys.modules)))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_deployment_imports_nothing_only_the_training_set_installs():
    """What a robot computer runs (nodes, launch plan, sim, evaluate) needs only runtime.txt."""
    from importlib.metadata import packages_distributions
    train_only = _requirements('train.txt').keys() - _requirements('runtime.txt').keys()
    owners = packages_distributions()
    loaded = {d.lower() for m in _loaded_by(DEPLOY_MODULES)
              for d in owners.get(m.split('.')[0], [])}
    assert {'mujoco', 'onnxruntime'} <= loaded
    assert loaded & train_only == set()


def test_ray_is_an_extra_the_default_install_and_deploy_path_never_import():
    """`pip install .[cluster]` pins what requirements/cluster.txt pins; nothing else loads it."""
    cluster = _requirements('cluster.txt')
    assert 'ray' in cluster and 'ray' not in _requirements('train.txt') | _requirements('ros.txt')
    assert cluster.items() <= _requirements('dev.txt').items()  # CI runs the Ray tests
    setup = ast.parse((ROOT / 'setup.py').read_text())
    (extras,) = [keyword.value for node in ast.walk(setup) if isinstance(node, ast.Call)
                 for keyword in node.keywords if keyword.arg == 'extras_require']
    assert ast.literal_eval(extras) == {'cluster': [f'{d}=={v}' for d, v in cluster.items()]}
    loaded = _loaded_by(
        (*DEPLOY_MODULES, 'synergy_control.training.sweep', 'synergy_control.training.runner'),
        "from synergy_control.cli import build_parser\n"
        "build_parser().parse_args(['sweep', 'a.yaml', '--backend', 'ray'])")
    assert 'synergy_control.training.runner' in loaded
    assert {m for m in loaded if m.split('.')[0] == 'ray'} == set()
