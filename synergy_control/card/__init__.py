"""The policy card: everything needed to run an exported policy on a robot (torch-free).

Stored as YAML in the ONNX model's ``metadata_props`` (key ``synergy_control.card``) and as a
readable ``.card.yaml`` beside the model. Three layers of checks, each naming what is wrong:

* :meth:`PolicyCard.from_yaml` validates types and structure (every error names the key and
  the file), including the ``synergy`` and ``tasks`` sections and the graph signature;
* :meth:`PolicyCard.check_robot` refuses a card that does not fit the robot (joints, the whole
  observation spec, action scaling, model hash, control period);
* :meth:`PolicyCard.check_graph` refuses a graph whose named inputs and outputs disagree with
  the card (the runtime and the exporter both call it).

One card may serve several robot variants with one graph (a morphology set's policy): its
``variants`` section holds each variant's robot facts (derived, like the top-level ones, from
the robot itself), ``synergy.variants`` each variant's synergy structure, and the graph's
variable sizes are named (``[batch, observation_size]``). :meth:`PolicyCard.variant` is the
single-robot card of one variant; the top-level facts are those of the default variant.

Format 2 declares the graph's named inputs (each with what feeds it) and outputs (each with
its role); cards of format 1 (one ``obs`` input) are migrated on read.

The package: :mod:`~.schema` (the format's names and the graph-size rules),
:mod:`~.model` (:class:`PolicyCard`: building, reading, the robot and graph checks),
:mod:`~.validation` (the type and structure checks of :meth:`PolicyCard.from_yaml`) and
:mod:`~.migration` (format 1 read as format 2). Its public names are imported from here.
"""

from synergy_control.card.model import PolicyCard, robot_facts
from synergy_control.card.schema import (ACTUATORS, BATCH, CARD_FORMAT, CARD_FORMAT_V1,
                                         METADATA_KEY, OBSERVATION_SIZE, OPSET, ROBOT_FACTS,
                                         ROLES, SOURCES, SYNERGIES, SYNERGY_AXES, SYNERGY_KEYS,
                                         SYNERGY_SOURCE, UNIT_NORM_TOLERANCE, CardError,
                                         default_onnx, variable_signature)

__all__ = ['ACTUATORS', 'BATCH', 'CARD_FORMAT', 'CARD_FORMAT_V1', 'METADATA_KEY',
           'OBSERVATION_SIZE', 'OPSET', 'ROBOT_FACTS', 'ROLES', 'SOURCES', 'SYNERGIES',
           'SYNERGY_AXES', 'SYNERGY_KEYS', 'SYNERGY_SOURCE', 'UNIT_NORM_TOLERANCE', 'CardError',
           'PolicyCard', 'default_onnx', 'robot_facts', 'variable_signature']
