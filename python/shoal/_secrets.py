"""Keeping secrets out of messages and logs: the one scrubber every module uses.

* :func:`remember_secret` -- a secret shoal holds (a secret key, a session or access token):
  from then on :func:`scrub` replaces it wherever it appears, whatever its shape.
* :func:`scrub` -- ``text`` with every remembered secret, and anything shaped like one
  (signed-URL parameters, token headers, ``"password": ...`` / ``token=...`` pairs, XML
  credential elements of STS answers, JWTs), replaced by ``***``.
* :class:`RedactSecrets` -- a :class:`logging.Filter` applying :func:`scrub` to records, for
  third-party loggers that print requests and responses at DEBUG level.
* :func:`shorten` -- a third-party message on one line and at most ``limit`` characters.

This module imports nothing of shoal: auth, storage and the platform all use it.
"""

from __future__ import annotations

import logging
import re
from collections import deque

__all__ = ["RedactSecrets", "remember_secret", "scrub", "shorten"]

#: Secrets seen in this process, newest last. Bounded: a long job rotating credentials every
#: few minutes would otherwise grow it forever; the shapes below still catch older ones.
_known: deque[str] = deque(maxlen=256)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # X-Amz-Security-Token header / query parameter, in reprs of dicts, bytes and URLs
    (
        re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\",&\s}]+"),
        r"\1***",
    ),
    (
        re.compile(r"(?i)((?:WebIdentityToken|X-Amz-Signature|X-Goog-Signature)=)[^&\s'\"]+"),
        r"\1***",
    ),
    (re.compile(r"(Signature=)[0-9a-f]{16,}"), r"\1***"),
    # STS answers: <SecretAccessKey>...</SecretAccessKey>
    (
        re.compile(r"<(SecretAccessKey|SessionToken|Token|WebIdentityToken)>[^<]*</\1>"),
        r"<\1>***</\1>",
    ),
    # JSON / repr'd dicts: "SecretAccessKey": "...", 'token': b'...'
    (
        re.compile(
            r"(?i)(['\"](?:SecretAccessKey|SessionToken|Token|secret_key|token|WebIdentityToken|"
            r"aws_secret_access_key|aws_session_token|Authorization|x-aws-ec2-metadata-token|"
            r"password|access_token|refresh_token|id_token|client_secret|private_key)"
            r"['\"]\s*:\s*b?['\"])[^'\"]*"
        ),
        r"\1***",
    ),
    (re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    # key=value and key: value pairs. Not preceded by a letter, so an error code such as
    # "ExpiredToken: the token has expired" keeps its words.
    (
        re.compile(
            r"(?i)((?<![A-Za-z])(?:password|secret|token|session_token|secret_access_key|"
            r"authorization)['\"]?\s*[:=]\s*['\"]?)[^'\",\s}&]+"
        ),
        r"\1***",
    ),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "***"),
]


def remember_secret(value: str | None) -> None:
    """Scrub ``value`` from every later message. Short values (< 8 characters) are ignored:
    replacing them would mangle ordinary words."""
    if value and len(value) >= 8 and value not in _known:
        _known.append(value)


def scrub(text: str) -> str:
    """``text`` with every secret shoal knows of, and anything shaped like one, replaced."""
    for secret in list(_known):
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def shorten(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters (a third-party message for ours)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RedactSecrets(logging.Filter):
    """Scrubs secrets from the records of a logger (attach it with ``addFilter``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True
