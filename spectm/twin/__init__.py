"""The Lake Erie twin: a deterministic simulator of western Lake Erie that writes real-format files.

``simulate_twin(out_dir, size="quick", seed=0, year=2024, layout="3.1", water="lake_erie")`` writes
PACE OCI L2 AOP granules, a GLERL weekly-datashare CSV and gridMET yearly files (plus a twin-only ``truth/`` folder),
so that the readers of ``spectm.data`` read twin and real files through the same code. Its numbers are
simulated, never Lake Erie results. ``water="turbid_bay"`` simulates a second, hypothetical water
body (more CDOM and sediment, same geography and sampling) for transfer tests.
"""

from spectm.twin.config import SIZES, WATERS, WaterOptics, get_size, get_water
from spectm.twin.simulate import TwinManifest, simulate_twin

__all__ = ["SIZES", "WATERS", "TwinManifest", "WaterOptics", "get_size", "get_water", "simulate_twin"]
