"""spectm: SpecTM (spectral targeted masking) reproduced, explained and extended.

The package is layered: facts (:mod:`spectm.bands`, :mod:`spectm.physics`), data (readers and the
Lake Erie twin), learning (masking, model, training) and evaluation. Import the submodule you need;
importing :mod:`spectm` itself stays light.
"""

__version__ = "0.1.0"
