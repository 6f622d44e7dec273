"""Detecting a cached workspace changed in place through a hardlink.

A hardlinked restore shares inodes with the cache, so a tool that rewrites a file in
place (instead of writing a new file and renaming it) changes the cached copy too. Every
entry stores a fingerprint of its files (size, permission bits and modification time in
nanoseconds); writing through a link changes the size or the mtime, ``chmod`` changes the
mode. Entries that were ever handed out by hardlink are checked against it before and
after each use, and dropped when they differ. Renaming, deleting or creating files in a
restored workspace never touches the cache and needs no check.

Limit (documented): a writer that restores the original mtime and size after changing
the content is not detected; tools that build ZMK do not do that.
"""

from __future__ import annotations

import os
from pathlib import Path

from glovebox.compilation.cache.tree import TreeListing

__all__ = ["first_difference", "write_fingerprint"]

_SEP = "\0"


def write_fingerprint(listing: TreeListing, target: Path) -> None:
    """Store the fingerprint of ``listing``'s files in ``target`` (one line per file)."""
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        for f in listing.files:
            out.write(f"{f.rel}{_SEP}{f.size}{_SEP}{f.mode}{_SEP}{f.mtime_ns}\n")


def first_difference(tree: Path, fingerprint: Path) -> str | None:
    """The first file of ``tree`` that no longer matches ``fingerprint``, or ``None``.

    A missing fingerprint file counts as a difference: the entry cannot be vouched for.
    """
    if not fingerprint.is_file():
        return f"{fingerprint.name} is missing"
    base = os.fspath(tree)
    with open(fingerprint, encoding="utf-8", newline="\n") as handle:
        for line in handle:
            rel, size, mode, mtime_ns = line.rstrip("\n").split(_SEP)
            try:
                st = os.stat(os.path.join(base, rel), follow_symlinks=False)
            except FileNotFoundError:
                return f"{rel}: deleted"
            if st.st_size != int(size) or st.st_mtime_ns != int(mtime_ns):
                return f"{rel}: content changed (size or modification time differs)"
            if st.st_mode != int(mode):
                return f"{rel}: permissions changed"
    return None
