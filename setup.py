"""ament_python build of synergy_control (also installable with plain pip)."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = 'synergy_control'


def tree(folder: str, patterns: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """data_files entries installing ``folder`` under share/<pkg>/, keeping sub-folders."""
    entries: dict[str, list[str]] = {}
    for pattern in patterns:
        for path in glob(f'{folder}/**/{pattern}', recursive=True):
            entries.setdefault(str(Path('share') / PACKAGE / Path(path).parent), []).append(path)
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'benchmarks']),
    package_data={PACKAGE: ['robots/assets/*.xml']},
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        *tree('launch', ('*.launch.py',)),
        *tree('config', ('*.yaml', '*.rviz')),
        # The shipped policies and their cards; not the training records under models/training.
        (f'share/{PACKAGE}/models',
         sorted(glob('models/*.onnx') + glob('models/*.card.yaml') + ['models/README.md'])),
    ],
    install_requires=['setuptools'],
    # `pip install .[cluster]`: sweeps on Ray (requirements/cluster.txt holds the same pin).
    extras_require={'cluster': ['ray==2.60.0']},
    zip_safe=True,
    maintainer='synergy_control maintainers',
    maintainer_email='maintainers@synergy-control.dev',
    description='Muscle-synergy reinforcement learning for ROS 2 robot stacks.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'synergy-control = synergy_control.cli:main',
            'sim_bridge = synergy_control.ros.sim_bridge:main',
            'synergy_controller = synergy_control.ros.synergy_controller:main',
        ],
    },
)
