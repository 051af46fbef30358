"""DataFormatError itself: the message names file, field and expectation; it survives pickling."""

from __future__ import annotations

import pickle

from spectm.data.errors import DataFormatError


def test_message_and_fields():
    error = DataFormatError("a/b.nc", "geophysical_data/Rrs units", "sr^-1", found="'1'")
    assert str(error) == "a/b.nc: field 'geophysical_data/Rrs units': expected sr^-1, found '1'"
    assert isinstance(error, ValueError)
    assert str(DataFormatError(None, "x", "y")) == "<memory>: field 'x': expected y"


def test_survives_pickling():
    """A reader error raised in a worker process (joblib, multiprocessing) must reach the parent intact;
    before, unpickling failed with ``TypeError: __init__() missing 2 required positional arguments``."""
    error = DataFormatError("a/b.nc", "lat", "degrees within -90..90", found="95")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is DataFormatError and str(back) == str(error)
    assert (back.file, back.field, back.expected, back.found) == ("a/b.nc", "lat", "degrees within -90..90", "95")
