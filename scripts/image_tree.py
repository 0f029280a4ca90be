#!/usr/bin/env python3
"""Prints an exported image's file tree, its configuration and its size (for `make image`, PKG-8).

    image_tree.py IMAGE.tar [--run]    (a docker-archive, as `docker save` or `buildah push` write it)

Reads the archive itself, so the answer does not depend on which builder made it. With --run, the
image's /lambda-adapter is taken out and run with --version (for an image of this machine's
architecture).
"""

import json
import os
import stat
import subprocess
import sys
import tarfile
import tempfile


def main(path, run=False):
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))[0]
        config = json.load(archive.extractfile(manifest["Config"]))
        print(f"image {', '.join(manifest.get('RepoTags') or ['(untagged)'])}")
        print(f"  os/architecture: {config.get('os')}/{config.get('architecture')}")
        print(f"  entrypoint: {config.get('config', {}).get('Entrypoint')}")
        total = 0
        for index, layer in enumerate(manifest["Layers"]):
            with tarfile.open(fileobj=archive.extractfile(layer)) as files:
                print(f"  layer {index + 1}:")
                for member in files.getmembers():
                    total += member.size
                    kind = stat.S_IFDIR if member.isdir() else stat.S_IFLNK if member.issym() else stat.S_IFREG
                    name = "/" + member.name.removeprefix("./").lstrip("/")
                    print(f"    {stat.filemode(kind | member.mode)} {member.uid}:{member.gid} {member.size:>10} {name}")
        print(f"  files: {total:,} bytes; the exported image: {os.path.getsize(path):,} bytes")
        if run:
            with tempfile.TemporaryDirectory() as scratch, tarfile.open(fileobj=archive.extractfile(manifest["Layers"][-1])) as files:
                files.extract("lambda-adapter", scratch, filter="data")
                version = subprocess.run([os.path.join(scratch, "lambda-adapter"), "--version"], capture_output=True, text=True, timeout=30, check=True)
                print(f"  /lambda-adapter --version: {version.stdout.strip()}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--run"]):
        raise SystemExit(__doc__)
    main(sys.argv[1], run=sys.argv[2:] == ["--run"])
