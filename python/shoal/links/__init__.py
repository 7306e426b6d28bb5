"""Linked tensors: samples that are URLs of files stored elsewhere (``shoal.link(url)``),
read with the credentials of a per-sample creds key.

``sample`` holds what users append, ``htype`` the ``link[...]`` htype names, ``creds`` the
dataset's creds keys (``linked_creds.json``) and their in-memory secrets, ``encoder`` the
per-tensor creds index, ``resolve`` the storage each URL is read from, ``read`` turns fetched
files into arrays, and ``dataset_api`` the ``Dataset`` methods that manage keys.
"""

from .sample import LinkedSample, link

__all__ = ["LinkedSample", "link"]
