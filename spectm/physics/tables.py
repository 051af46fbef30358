"""Package data of the optics model: spectral tables and constants, each read once.

The files live in ``spectm/resources/optics`` and carry their source (and licence) in a header comment
(CSV) or a ``source`` field (JSON), so a number in the model can always be traced to a paper.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from importlib import resources

import numpy as np

_PACKAGE = "spectm.resources.optics"


def _read_csv(name: str) -> dict[str, np.ndarray]:
    text = resources.files(_PACKAGE).joinpath(name).read_text()
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(rows)
    columns: dict[str, list[float]] = {field: [] for field in reader.fieldnames or []}
    for number, row in enumerate(reader, start=2):
        for field, value in row.items():
            try:
                columns[field].append(float(value))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{_PACKAGE}/{name}: field {field!r} on data row {number - 1} is {value!r}, "
                    "expected a number"
                ) from None
    table = {field: np.asarray(values, dtype=np.float64) for field, values in columns.items()}
    wavelength = table.get("wavelength_nm")
    if wavelength is None or np.any(np.diff(wavelength) <= 0):
        raise ValueError(f"{_PACKAGE}/{name}: expected a strictly increasing 'wavelength_nm' column")
    for array in table.values():
        array.flags.writeable = False
    return table


@cache
def water_absorption_table() -> dict[str, np.ndarray]:
    """Pure-water absorption, 300-800 nm at 1 nm (Williamson & Hollins 2022 / Buiteveld 1994, via jerlov)."""
    return _read_csv("williamson2022_aw.csv")


@cache
def bricaud_table() -> dict[str, np.ndarray]:
    """Bricaud et al. (1998) ``Aphi`` and ``Ephi``, 400-700 nm at 2 nm."""
    return _read_csv("bricaud1998_aphi.csv")


@cache
def phycocyanin_shape_table() -> dict[str, np.ndarray]:
    """Phycocyanin absorption relative to 620 nm, 400-700 nm at 5 nm (Patel et al. 2005 C-PC spectrum)."""
    return _read_csv("phycocyanin_patel2005.csv")


@cache
def ozone_absorption_table() -> dict[str, np.ndarray]:
    """Ozone absorption k_oz (cm^-1 per atm-cm), 300-1000 nm at 5 nm (MODTRAN-3 via WASI 6, Gege 2012)."""
    return _read_csv("ozone_gege2012.csv")


@cache
def constants() -> dict[str, float]:
    """The model's scalar constants by name (values only; sources are in ``constants.json``)."""
    raw = json.loads(resources.files(_PACKAGE).joinpath("constants.json").read_text())
    values = {}
    for key, entry in raw.items():
        if key.startswith("_"):
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), (int, float)):
            raise ValueError(
                f"{_PACKAGE}/constants.json: entry {key!r} needs a numeric 'value', got {entry!r}"
            )
        values[key] = float(entry["value"])
    return values


def constant_sources() -> dict[str, dict]:
    """Every constant with its units, source and status, for tables in the book."""
    raw = json.loads(resources.files(_PACKAGE).joinpath("constants.json").read_text())
    return {key: entry for key, entry in raw.items() if not key.startswith("_")}
