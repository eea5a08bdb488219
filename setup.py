"""Build the Cython hot path in ``fixgw_ext``; everything else is in pyproject.toml."""
import os

from setuptools import Extension, setup

if os.environ.get("FIXGW_NO_EXTENSIONS") == "1":
    ext_modules = []
else:
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [Extension("fixgw_ext._codec", ["fixgw_ext/_codec.pyx"], extra_compile_args=["-O3"])],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
    )

setup(ext_modules=ext_modules)
