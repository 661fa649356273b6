"""Refresh GraphiQL's assets from the npm registry: ``python -m server.graphiql.refresh``.

The page must work on intranets without the internet (kiosks, district offices), so its scripts and
styles are served by the hall itself from this folder. Change a version below, run this, and
commit the files it writes, with the licences they come under.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"

# package@version -> {file in the package: name served}
PACKAGES = {
    "react@18.2.0": {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE.react"},
    "react-dom@18.2.0": {
        "umd/react-dom.production.min.js": "react-dom.production.min.js",
        "LICENSE": "LICENSE.react-dom",
    },
    "graphiql@3.8.3": {
        "graphiql.min.js": "graphiql.min.js",
        "graphiql.min.css": "graphiql.min.css",
        "LICENSE": "LICENSE.graphiql",
    },
    # The explorer plugin comes from the same repository as GraphiQL, under the same MIT licence,
    # but its package ships no licence file: LICENSE.graphiql covers it.
    "@graphiql/plugin-explorer@1.0.2": {
        "dist/index.umd.js": "graphiql-plugin-explorer.umd.js",
        "dist/style.css": "graphiql-plugin-explorer.css",
    },
}


def refresh() -> None:
    with tempfile.TemporaryDirectory() as work:
        for package, files in PACKAGES.items():
            packed = subprocess.run(
                ["npm", "pack", "--silent", package], cwd=work, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            with tarfile.open(Path(work) / packed) as archive:
                for inside, served in files.items():
                    member = archive.extractfile(f"package/{inside}")
                    if member is None:
                        raise FileNotFoundError(f"{package} has no {inside}")
                    with member, (ASSETS / served).open("wb") as out:
                        shutil.copyfileobj(member, out)
                    print(f"{package}: {inside} -> assets/{served}")


if __name__ == "__main__":
    refresh()
