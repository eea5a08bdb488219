"""Build the Cython hot path in ``fixgw_ext`` and ship ``specs/`` inside wheels; the rest is pyproject.toml."""
import os
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py


class BuildPyWithSpecs(build_py):
    """Copy the machine-readable specs into ``fixgw/_specs`` of a built wheel.

    A source checkout reads ``specs/`` in place; an installed wheel has no checkout around it.
    """

    def run(self):
        super().run()
        src = Path(__file__).resolve().parent / "specs"
        if not self.editable_mode and src.is_dir():
            dest = Path(self.build_lib) / "fixgw" / "_specs"
            shutil.copytree(src, dest, dirs_exist_ok=True)


if os.environ.get("FIXGW_NO_EXTENSIONS") == "1":
    ext_modules = []
else:
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension("fixgw_ext._codec", ["fixgw_ext/_codec.pyx"], extra_compile_args=["-O3"]),
            Extension("fixgw_ext._validate", ["fixgw_ext/_validate.pyx"], extra_compile_args=["-O3"]),
            Extension("fixgw_ext._report", ["fixgw_ext/_report.pyx"], extra_compile_args=["-O3"]),
            Extension("fixgw_ext._frame", ["fixgw_ext/_frame.pyx"], extra_compile_args=["-O3"]),
        ],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
    )

setup(ext_modules=ext_modules, cmdclass={"build_py": BuildPyWithSpecs})
