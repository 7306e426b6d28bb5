"""Htypes whose deeplake compressions are media formats shoal has no decoder for (las point
clouds, mp3/flac/wav audio, mp4/mkv/avi video): shoal creates them uncompressed only, as
deeplake does with ``sample_compression=None``, and refuses the formats by name.

This module defines no htype itself; the htype modules subclass :class:`Uncompressed`.
"""

from __future__ import annotations

from typing import ClassVar

from ...errors import InvalidCompressionError
from .base import HType


class Uncompressed(HType):
    sample_compressions = frozenset()
    chunk_compressions = frozenset()
    companions = ("info", "shape", "id")
    # deeplake's compressions for this htype, named in the refusal
    media_formats: ClassVar[tuple[str, ...]] = ()

    def check_compression(self, kind: str, value: str) -> None:
        raise InvalidCompressionError(
            f"shoal stores {self.name!r} tensors uncompressed only ({kind}={value!r} given): "
            f"create it with sample_compression=None and append decoded arrays. deeplake's "
            f"{self.name} formats {list(self.media_formats)} need decoders shoal does not have"
        )
