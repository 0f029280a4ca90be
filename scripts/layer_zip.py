#!/usr/bin/env python3
"""Builds and checks the lambda-adapter Lambda layer zip.

The layer is unpacked by Lambda into /opt, so the zip holds, at its root:

    bootstrap                    0755  the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
    extensions/                  0755
    extensions/lambda-adapter    0755  the extension binary

Usage:
    layer_zip.py build OUT.zip BOOTSTRAP BINARY   write the zip (reproducible: fixed timestamps)
    layer_zip.py check OUT.zip                    print the listing; exit 1 if it differs from the above
"""

import stat
import sys
import zipfile

# name -> unix mode, in the order they are written
LAYOUT = {
    "bootstrap": stat.S_IFREG | 0o755,
    "extensions/": stat.S_IFDIR | 0o755,
    "extensions/lambda-adapter": stat.S_IFREG | 0o755,
}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def entry(name):
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.create_system = 3  # unix, so external_attr carries the mode
    info.external_attr = LAYOUT[name] << 16
    if name.endswith("/"):
        info.external_attr |= 0x10  # MS-DOS directory flag
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build(out, bootstrap, binary):
    sources = {"bootstrap": bootstrap, "extensions/lambda-adapter": binary}
    with zipfile.ZipFile(out, "w") as archive:
        for name in LAYOUT:
            if name.endswith("/"):
                archive.writestr(entry(name), b"")
            else:
                with open(sources[name], "rb") as source:
                    archive.writestr(entry(name), source.read())


def check(path):
    with zipfile.ZipFile(path) as archive:
        found = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        for name, mode in found.items():
            print(f"{stat.filemode(mode)} {oct(mode & 0o7777)} {name}")
        problems = []
        for name, mode in LAYOUT.items():
            if name not in found:
                problems.append(f"missing {name}")
            elif found[name] != mode:
                problems.append(f"{name} has mode {oct(found[name])}, expected {oct(mode)}")
        problems += [f"unexpected entry {name}" for name in found if name not in LAYOUT]
        for name in found:
            if name.endswith("/") or name not in LAYOUT:
                continue
            if archive.read(name)[:2] not in (b"#!", b"\x7fE"):
                problems.append(f"{name} is neither a script nor an ELF executable")
    for problem in problems:
        print(f"layer zip {path}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(args):
    if len(args) == 4 and args[0] == "build":
        build(*args[1:])
        return 0
    if len(args) == 2 and args[0] == "check":
        return check(args[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
