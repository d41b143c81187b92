"""Typed reads of Git objects. pygit2 types `repo[oid]` as the base `Object`; these say which
kind the caller expects and check it, so a tree where a blob was expected fails with a clear
error instead of an AttributeError somewhere later."""
from __future__ import annotations

import pygit2


def blob_data(repo: pygit2.Repository, oid: pygit2.Oid | str) -> bytes:
    """The content of blob `oid`."""
    obj = repo[oid]
    if not isinstance(obj, pygit2.Blob):
        raise TypeError(f"{oid} is a {obj.type_str}, not a blob")
    return obj.data


def tree(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Tree:
    """The tree `oid`."""
    obj = repo[oid]
    if not isinstance(obj, pygit2.Tree):
        raise TypeError(f"{oid} is a {obj.type_str}, not a tree")
    return obj
