"""spectm: SpecTM (spectral targeted masking) reproduced, explained and extended.

The package is layered: facts (:mod:`spectm.bands`, :mod:`spectm.physics`), data (readers and the
Lake Erie twin), learning (masking, model, training) and evaluation. Import the submodule you need;
importing :mod:`spectm` itself stays light.

Naming: ``Rrs`` is the above-water remote-sensing reflectance (sr^-1), the quantity every table, reader
and model here works with; variables, parameters, dict keys and data variables spell it ``Rrs``. Inside
snake_case function and grid names (``simulate_rrs``, ``oci_rrs172``) the lowercase ``rrs`` means that same
Rrs. A bare lowercase ``rrs`` is kept for one other quantity only: the below-surface reflectance of Lee et
al. (2002) in :mod:`spectm.physics.optics`, from which ``Rrs = 0.52 rrs / (1 - 1.7 rrs)``.
"""

__version__ = "0.1.0"
