"""The provenance line every chapter shows."""

import spectm
from spectm.provenance import provenance


def test_provenance_names_profile_seed_source_version_and_commit():
    record = provenance("paper", seed=7, source="real")
    assert record["profile"] == "paper" and record["seed"] == "7" and record["data source"] == "real"
    assert record["spectm"] == spectm.__version__
    assert record["git commit"]
    page = record._repr_html_()
    assert page.startswith("<details>") and "profile paper" in page and "torch" in page
    assert "profile" in repr(record)
