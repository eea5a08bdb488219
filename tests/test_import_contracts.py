"""The import contracts of pyproject.toml ([tool.importlinter]) hold: `lint-imports` passes on the tree.

tests/test_layers.py checks the same layer table on the source (and clock reads); the contracts also follow
indirect imports for the sans-I/O, layer and independence rules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: install the test extra (pip install -e '.[test]')"
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_import_contracts_pyproject_contracts_all_kept() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
    assert "BROKEN" not in done.stdout


def test_import_contracts_broken_rule_is_reported(tmp_path: Path) -> None:
    # The transport does use anyio: a contract forbidding that must fail, so the check above can fail too.
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["fixgw"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "transport without anyio"\ntype = "forbidden"\n'
        'source_modules = ["fixgw.transport"]\nforbidden_modules = ["anyio"]\n',
        encoding="utf-8",
    )
    done = _lint(str(config))
    assert done.returncode != 0
    assert "BROKEN" in done.stdout
