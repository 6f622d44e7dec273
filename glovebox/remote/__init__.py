"""The remote tier: blobs and directory trees shared through S3-compatible object storage.

``settings`` (the ``cache.remote`` model) is light and imported by the configuration;
``tier`` (:class:`~glovebox.remote.tier.RemoteTier`), ``envelope`` and ``tree_stream`` load
the S3 client and zstd, and are imported only where the remote tier is used. Nothing is
re-exported here, so importing this package loads neither. See docs/remote.md.
"""

__all__: list[str] = []
