"""The verdict rule: each word reachable, the paper's direction respected, bad numbers refused."""

import pytest

from spectm.verdicts import CONSISTENT, INCONSISTENT, UNRESOLVED, judge


@pytest.mark.parametrize("low, high, word", [
    (0.01, 0.09, CONSISTENT),      # resolves the effect, holds the paper's value
    (0.05, 0.20, CONSISTENT),      # larger than the paper's
    (0.001, 0.02, INCONSISTENT),   # positive but smaller than the paper's
    (-0.10, 0.02, INCONSISTENT),   # rules out the paper's value, holds zero
    (-0.10, -0.05, INCONSISTENT),  # the other direction
    (-0.40, 0.40, UNRESOLVED),     # holds zero and the paper's value
])
def test_each_word(low, high, word):
    assert judge("targeted - random", 0.037, (low + high) / 2, low, high).word == word


def test_a_negative_paper_effect_is_judged_in_its_own_direction():
    assert judge("error ratio", -0.1, -0.2, -0.3, -0.05).word == CONSISTENT
    assert judge("error ratio", -0.1, 0.1, 0.05, 0.2).word == INCONSISTENT


def test_bad_numbers_are_refused():
    with pytest.raises(ValueError, match="finite"):
        judge("x", 0.037, float("nan"), 0, 1)
    with pytest.raises(ValueError, match="reversed"):
        judge("x", 0.037, 0.5, 1, 0)
