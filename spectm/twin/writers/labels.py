"""How a twin file says it is simulated, in the attributes the real product already has.

Why: a twin file has the real product's structure so that the readers cannot tell it apart, but a
person who opens one (ncdump, Panoply, a colleague's script) must be able to. The wording goes into
attributes the real format already carries (PACE: ``title``, ``institution``, ``identifier_product_doi``;
gridMET: ``author``), never into new groups, variables or attribute names. The GLERL datashare CSV has
a single header row and no comment line, so a twin CSV cannot say it inside the file: the
``twin_manifest.json`` written beside it is the record.
"""

from __future__ import annotations

#: The phrase every twin file carries; tests look for it.
SIMULATED_BY = "simulated by the spectm Lake Erie twin"


def simulated_title(real_title: str) -> str:
    """The real product's title followed by the simulation notice."""
    return f"{real_title} ({SIMULATED_BY}, not a real product)"


def simulated_institution(real_institution: str) -> str:
    """Whose layout the file copies, and that this institution did not make it."""
    return f"spectm Lake Erie twin: {SIMULATED_BY} in the layout of {real_institution}, which did not produce it"
