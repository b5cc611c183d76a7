#!/usr/bin/env python3
"""Are two runs' recordings identical? Compares two .npz files member by
member, byte for byte (the run's `meta` left out: it holds timings).
Standard library only, for the GPU machine. Exit status 0 when identical,
1 (naming the first difference) when not, 2 on a missing file.

    scripts/same-npz.py A.npz B.npz
"""
import sys
import zipfile


def members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.startswith("meta")}


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        a, b = members(sys.argv[1]), members(sys.argv[2])
    except (OSError, zipfile.BadZipFile) as e:
        print(f"cannot read: {e}", file=sys.stderr)
        return 2
    if a.keys() != b.keys():
        print(f"different arrays: {sorted(a.keys() ^ b.keys())}")
        return 1
    for name in sorted(a):
        if a[name] != b[name]:
            print(f"`{name}` differs")
            return 1
    print(f"identical: {len(a)} arrays")
    return 0


if __name__ == "__main__":
    sys.exit(main())
