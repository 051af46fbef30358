"""Writers of the real file formats, used by the twin: PACE OCI L2 AOP granules, GLERL weekly-datashare
CSVs and gridMET yearly netCDF files.

Why apart from the readers (``spectm.data``): a reader is what a user runs on NASA's and NOAA's files;
a writer exists only so that the simulated twin produces files in the same on-disk structure. Keeping
them apart means the readers never depend on simulation code, and a real-data user never imports it.
"""

from spectm.twin.writers.glerl import write_weekly_datashare
from spectm.twin.writers.gridmet import write_gridmet_year
from spectm.twin.writers.pace import write_l2_aop

__all__ = ["write_gridmet_year", "write_l2_aop", "write_weekly_datashare"]
