"""Argument types of the command line: what they accept (refusals: test_cli.py, by option)."""

from synergy_control.arguments import non_negative_int, number, positive_float, positive_int


def test_number_accepts_what_it_promises():
    assert positive_float('0.5') == 0.5 and positive_int('3') == 3
    assert non_negative_int('0') == 0 and number(float, -1.0)('-1') == -1.0
