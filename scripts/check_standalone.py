#!/usr/bin/env python3
"""The repository stands alone: no tracked file reads anything outside it.

A clone anywhere, with nothing beside it, must build and pass `make test`. This fails when a
tracked file names a path that leaves the repository: the reference folders that sit beside it
on the developers' machines (a sibling folder's `fixtures`, `notes`, `hooks`), a Cargo path dependency,
an `include_str!`/`include_bytes!` path, or a `concat!(env!("CARGO_MANIFEST_DIR"), "...")` path
that resolves outside the repository root. Run by `make test` (and so by `.ci/run`).
"""
import os
import re
import subprocess
import sys

root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True).stdout.strip()
files = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True).stdout
files = [f for f in files.split("\0") if f]
this = os.path.relpath(os.path.abspath(__file__), root)

NEIGHBOURS = re.compile(r"(?<![\w.])\.\./(?:\.\./)*shared/(?:fixtures|notes|hooks)\b")
ABSOLUTE = re.compile(r"/work/(?:main|shared)\b")
CARGO_PATH = re.compile(r"""\bpath\s*=\s*"([^"]+)\"""")
INCLUDE = re.compile(r"""include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)""")
MANIFEST = re.compile(r"""env!\(\s*"CARGO_MANIFEST_DIR"\s*\)\s*,\s*"([^"]+)\"""")
TEXT_SUFFIXES = (".rs", ".sh", ".py", ".toml", ".mjs", ".js", ".yaml", ".yml", "Makefile", "run", ".md")


def crate_dir(path):
    """The nearest folder at or above `path`'s folder that has a Cargo.toml."""
    folder = os.path.dirname(path)
    while folder and not os.path.exists(os.path.join(root, folder, "Cargo.toml")):
        folder = os.path.dirname(folder)
    return folder


def outside(base, relative):
    resolved = os.path.normpath(os.path.join(root, base, relative))
    return not (resolved == root or resolved.startswith(root + os.sep))


problems = []
for path in files:
    if path == this or not path.endswith(TEXT_SUFFIXES):
        continue
    try:
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (UnicodeDecodeError, FileNotFoundError):
        continue
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}: {line.strip()}"
        if NEIGHBOURS.search(line) or ABSOLUTE.search(line):
            problems.append(where)
            continue
        if path.endswith("Cargo.toml"):
            for relative in CARGO_PATH.findall(line):
                if outside(os.path.dirname(path), relative):
                    problems.append(where)
        if path.endswith(".rs"):
            for relative in INCLUDE.findall(line):
                if outside(os.path.dirname(path), relative):
                    problems.append(where)
            for relative in MANIFEST.findall(line):
                if outside(crate_dir(path), relative.lstrip("/")):
                    problems.append(where)

if problems:
    print("check-standalone: tracked files reach outside the repository (a clone elsewhere has none of it):")
    for problem in problems:
        print("  " + problem)
    sys.exit(1)
print(f"check-standalone: {len(files)} tracked files, none reaches outside the repository")
