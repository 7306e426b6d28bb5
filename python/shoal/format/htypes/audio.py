"""``audio``: decoded audio (float64 by default), ``(samples, channels)``, stored uncompressed
(mp3/flac/wav files need a decoder shoal does not have)."""

from __future__ import annotations

from .uncompressed import Uncompressed


class Audio(Uncompressed):
    name = "audio"
    default_dtype = "float64"
    media_formats = ("mp3", "flac", "wav")


HTYPE = Audio()
