"""``synergy-control synergies show``: clusters from a policy's card or from the limb graph."""

from __future__ import annotations

import json
import re

import imageio.v2 as imageio
import pytest

from synergy_control.cli import main
from synergy_control.methods.solar.show import describe
from synergy_control.methods.solar.synergies import discover
from synergy_control.methods.solar.untrained import export_untrained_set
from synergy_control.render import RenderBackendError, select_gl_backend
from synergy_control.robots import get_robot
from synergy_control.runtime import read_card

SET = ['walker_7_main', 'walker_3_main']


@pytest.fixture(scope='module')
def set_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp('set') / 'solar.onnx'
    export_untrained_set(SET, path)
    return path


def test_without_a_policy_the_clusters_are_discovered_from_the_limb_graph(capsys):
    assert main(['synergies', 'show', '--robot', 'walker_7_main', '--seed', '2']) == 0
    robot = get_robot('walker_7_main')
    expected = describe(robot, discover(robot.hop_distances, seed=2).structure)
    out = capsys.readouterr().out
    assert out.startswith(expected) and 'affinity propagation' in out


@pytest.mark.parametrize('robot', SET)
def test_with_a_policy_the_clusters_are_its_cards_for_that_robot(set_policy, robot, capsys):
    assert main(['synergies', 'show', '--robot', robot, '--policy', str(set_policy),
                 '--json']) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    section = read_card(set_policy).variant(robot).synergy
    assert (shown['robot'], shown['labels'], shown['centres']) == (
        robot, section['labels'], section['centres'])


@pytest.mark.parametrize('arguments, message', [
    (['--robot', 'hopper_4', '--policy', 'SET'], r"serves robots \['walker_7_main', "
                                                 r"'walker_3_main'\], not 'hopper_4'"),
    (['--policy', 'models/td3/walker_td3.onnx'],
     "has no synergy labels for robot 'walker_7_main'"),
    (['--policy', 'models/td3/walker_td3.onnx', '--robot', 'hopper_4'],
     "is for robot 'walker_7_main', not 'hopper_4'"),
    ([], 'needs --robot or --policy'),
])
def test_refusals_name_what_is_missing(set_policy, arguments, message, capsys):
    arguments = [str(set_policy) if a == 'SET' else a for a in arguments]
    assert main(['synergies', 'show', *arguments]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_picture_of_the_body(set_policy, tmp_path, capsys):
    try:
        select_gl_backend()
    except RenderBackendError as error:
        pytest.skip(str(error))
    out = tmp_path / 'walker_3.png'
    assert main(['synergies', 'show', '--robot', 'walker_3_main', '--policy', str(set_policy),
                 '--out', str(out)]) == 0
    assert f'wrote {out}' in capsys.readouterr().out
    assert imageio.imread(out).shape[:2] == (360, 480)


def test_a_morphology_set_shows_each_variant_in_one_picture(tmp_path, capsys):
    try:
        select_gl_backend()
    except RenderBackendError as error:
        pytest.skip(str(error))
    out = tmp_path / 'walkers.png'
    assert main(['synergies', 'show', '--robot', 'walker++', '--out', str(out), '--json']) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s['robot'] for s in shown] == [f'walker_{n}_main' for n in range(2, 8)]
    assert imageio.imread(out).shape[:2] == (360, 6 * 480)
