"""File formats of the real data: PACE OCI L2 AOP granules, GLERL weekly samples, gridMET yearly files.

Each format has a reader that returns xarray/pandas objects with coordinates and CF attributes; the
writers that produce files in the real on-disk structure live with the twin (:mod:`spectm.twin.writers`),
so the Lake Erie twin's files and the real NASA/NOAA files go through the same readers. Bad files raise :class:`DataFormatError`.
"""

from spectm.data.errors import DataFormatError
from spectm.data.glerl import (
    ANALYTES,
    CORE_STATIONS,
    STATION_POSITIONS,
    datashare_filename,
    detect_layout,
    read_glerl_csv,
    read_glerl_many,
    samples_to_dataset,
    station_table,
)
from spectm.data.gridmet import VARIABLES as GRIDMET_VARIABLES
from spectm.data.gridmet import gridmet_filename, open_gridmet, open_gridmet_file
from spectm.data.pace import (
    FLAG_NAMES,
    L2GEN_MASK_NAMES,
    L3_RRS_EXCLUDE,
    SkippedFile,
    any_flag,
    decode_flags,
    flag_bits,
    flag_names,
    l2_aop_filename,
    open_l2_aop,
    open_l2_aop_many,
    water_pixels,
)

__all__ = [
    "ANALYTES", "CORE_STATIONS", "DataFormatError", "FLAG_NAMES", "GRIDMET_VARIABLES", "L2GEN_MASK_NAMES",
    "L3_RRS_EXCLUDE", "STATION_POSITIONS", "SkippedFile", "any_flag", "datashare_filename", "decode_flags",
    "detect_layout", "flag_bits", "flag_names", "gridmet_filename", "l2_aop_filename", "open_gridmet",
    "open_gridmet_file", "open_l2_aop", "open_l2_aop_many", "read_glerl_csv", "read_glerl_many",
    "samples_to_dataset", "station_table", "water_pixels",
]  # fmt: skip
