"""Print the newest CPython on this machine that the project's requires-python admits.

For .ci/run, which runs the unit suite under it too. Candidates: every `python3.N` on PATH
and every pyenv version (pyenv's shims answer only for the versions it has active).
Free-threaded builds are left out: the locked wheels are built for the default ABI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

PROJECT = Path(__file__).resolve().parent.parent
_ASK = (
    "import platform, sysconfig; print(platform.python_implementation(), "
    "platform.python_version(), bool(sysconfig.get_config_var('Py_GIL_DISABLED')))"
)


def candidates() -> list[Path]:
    found = [
        entry
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if directory and Path(directory).is_dir()
        for entry in Path(directory).iterdir()
        if re.fullmatch(r"python3\.\d+", entry.name)
    ]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return found + sorted(pyenv.glob("versions/*/bin/python3"))


def main() -> int:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    admits = SpecifierSet(pyproject["project"]["requires-python"])
    found: dict[Version, Path] = {}
    for python in candidates():
        try:
            answer = subprocess.run(
                [str(python), "-c", _ASK], capture_output=True, text=True, timeout=30, check=True
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue  # not runnable here (a pyenv shim of an inactive version, a Python 2)
        if answer[::2] == ["CPython", "False"] and answer[1] in admits:
            found.setdefault(Version(answer[1]), python)
    if not found:
        print(f"no CPython here that requires-python {admits} admits", file=sys.stderr)
        return 1
    print(found[max(found)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
