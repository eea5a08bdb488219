"""Compiled hot path of fixgw (Cython). Import ``fixgw.codec``, not this package.

``_codec`` shares the sentinel, ``Garbled`` and the value helpers of the pure codec, so the pure codec
package is loaded first: that keeps either import order (``fixgw.codec`` or ``fixgw_ext._codec``) free
of a half-initialised module.
"""

import fixgw.codec  # noqa: F401  (see above)
