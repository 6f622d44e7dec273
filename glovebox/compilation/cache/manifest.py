"""An entry's manifest: what it contains, and how a change through a hardlink is caught.

Written once when an entry is sealed (before it is published), the manifest lists every
directory, symlink and regular file with its size, permission bits and modification
time in nanoseconds. Restores read it instead of walking the tree again.

Why it also guards hardlinks: a hardlinked restore shares inodes with the cache, so a
tool that rewrites a file in place (instead of writing a new file and renaming it)
changes the cached copy too. Writing through a link changes the size or the mtime,
``chmod`` changes the mode. Entries ever handed out by hardlink are compared with their
manifest before and after each use, and dropped when they differ. Renaming, deleting or
creating files in a restored workspace never touches the cache.

Limit: a writer that puts back the original size and mtime after changing the content
is not detected; the tools that build ZMK (west, git, cmake, ninja) do not do that.
"""

from __future__ import annotations

import os
from pathlib import Path

from glovebox.compilation.cache.tree import FileRecord, TreeListing

__all__ = ["first_difference", "read_manifest", "write_manifest"]

_SEP = "\0"


def write_manifest(listing: TreeListing, target: Path) -> None:
    """Store ``listing`` in ``target`` (one line per directory, symlink and file)."""
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(f"d{_SEP}{rel}\n" for rel in listing.dirs)
        out.writelines(f"l{_SEP}{rel}{_SEP}{dest}\n" for rel, dest in listing.symlinks)
        out.writelines(
            f"f{_SEP}{f.rel}{_SEP}{f.size}{_SEP}{f.mode}{_SEP}{f.mtime_ns}\n" for f in listing.files
        )


def read_manifest(manifest: Path, root: Path, *, exclude_git: bool = False) -> TreeListing | None:
    """The listing stored in ``manifest`` (rooted at ``root``), or None if unreadable."""
    listing = TreeListing(root=root)
    try:
        with open(manifest, encoding="utf-8", newline="\n") as handle:
            for line in handle:
                kind, rel, *rest = line.rstrip("\n").split(_SEP)
                if exclude_git and ".git" in rel.split("/"):
                    continue
                if kind == "f":
                    size, mode, mtime_ns = (int(value) for value in rest)
                    listing.files.append(FileRecord(rel, size, mode, mtime_ns))
                elif kind == "d":
                    listing.dirs.append(rel)
                elif kind == "l":
                    listing.symlinks.append((rel, rest[0]))
                else:
                    return None
    except (OSError, ValueError, UnicodeDecodeError, IndexError):
        return None
    return listing


def first_difference(tree: Path, manifest: Path) -> str | None:
    """The first file of ``tree`` that no longer matches ``manifest``, or ``None``.

    An unreadable manifest counts as a difference: the entry cannot be vouched for.
    """
    listing = read_manifest(manifest, tree)
    if listing is None:
        return f"{manifest.name} is missing or unreadable"
    base = os.fspath(tree)
    for record in listing.files:
        try:
            st = os.stat(os.path.join(base, record.rel), follow_symlinks=False)
        except FileNotFoundError:
            return f"{record.rel}: deleted"
        if st.st_size != record.size or st.st_mtime_ns != record.mtime_ns:
            return f"{record.rel}: content changed (size or modification time differs)"
        if st.st_mode != record.mode:
            return f"{record.rel}: permissions changed"
    return None
