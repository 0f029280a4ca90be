#!/usr/bin/env python3
"""Prints an exported image's file tree, its configuration and its size (for `make image`, PKG-8).

    image_tree.py IMAGE.tar     (a docker-archive, as `docker save` or `buildah push` write it)

Reads the archive itself, so the answer does not depend on which builder made it.
"""

import json
import os
import sys
import tarfile


def main(path):
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
                    print(f"    {tarfile.filemode(member.mode)} {member.uid}:{member.gid} {member.size:>10} /{member.name.lstrip('./')}")
        print(f"  files: {total:,} bytes; the exported image: {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
