"""Storage URLs: redaction of every credential, and the checks that need no database.

A credential can sit in a URL's password (``user:PASSWORD@host``), in its query string
(``?password=...``, ``sslpassword``, ``token``, ...) and, when the password holds a raw ``@``, in
what a parser takes for the host. :func:`redact_url` hides all three; a URL that cannot be parsed
is shown as nothing of itself. :func:`scrub` removes the same secrets from a driver's error text.

SQLAlchemy's ``make_url`` is imported inside the functions: reading a study file stays light.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mgsearch.errors import StorageError

__all__ = ["redact_url", "scrub", "check_url", "sqlite_path", "is_sqlite", "SENSITIVE_QUERY_WORDS", "UNPARSEABLE"]

#: a query parameter whose lower-cased name contains one of these is a secret
SENSITIVE_QUERY_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "cert")
#: how a URL that cannot be parsed is shown (nothing of it)
UNPARSEABLE = "(a storage URL that cannot be parsed)"
#: what a hidden value is replaced with
MASK = "***"


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_QUERY_WORDS)


def _parse(url: str) -> Any:
    """SQLAlchemy's URL object for ``url``; ValueError (any parse failure) when it has none."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url)
    except Exception as exc:  # ArgumentError, ValueError (a bad port), ...
        raise ValueError(str(exc)) from None


def redact_url(url: str) -> str:
    """``url`` with its password and every sensitive query value replaced by ``***``.

    A raw ``@`` inside the password (which parsers read as part of the host) is hidden up to the
    last ``@``. A URL that cannot be parsed becomes :data:`UNPARSEABLE` (unless it is a short text
    without any of ``@ : = ? & %``, which cannot hold a credential, such as ``study.db``);
    a URL without any credential is returned unchanged (SQLite paths keep their spelling).
    """
    url = str(url)
    try:
        u = _parse(url)
    except ValueError:
        # nothing of it is shown, unless it has no separator a credential needs ("study.db", "not a url")
        harmless = len(url) <= 200 and not re.search(r"[@:=?&%]", url)
        return url if harmless else UNPARSEABLE
    changes: dict[str, Any] = {}
    if u.host and "@" in u.host:  # "user:p@ss@host": the password's tail landed in the host
        changes["host"] = u.host.rsplit("@", 1)[1]
        changes["password"] = MASK
    query = {k: (MASK if _sensitive(k) else v) for k, v in u.query.items()}
    if query != dict(u.query):
        changes["query"] = query
    if not changes and u.password is None:
        return url
    shown = u.set(**changes).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", MASK)


def _secrets(url: str) -> list[str]:
    """The secret strings of ``url`` (password, sensitive query values), longest first."""
    out: list[str] = []
    try:
        u = _parse(url)
    except ValueError:
        # not parseable: take "user:SECRET@" up to the last '@' and key=value pairs by hand
        m = re.search(r"://[^:/@]*:(.*)@", url)
        if m:
            out.append(m.group(1))
        out += [v for k, v in re.findall(r"[?&]([^=&]+)=([^&]*)", url) if _sensitive(k)]
    else:
        if u.password:
            out.append(str(u.password))
        if u.host and "@" in u.host:
            head = u.host.rsplit("@", 1)[0]
            out += [f"{u.password or ''}@{head}", head]
        for k, v in u.query.items():
            if _sensitive(k):
                out += [v] if isinstance(v, str) else list(v)
    pieces = [s for s in out if s and len(s) >= 3]
    for s in list(pieces):
        from urllib.parse import quote, unquote

        pieces += [quote(s, safe=""), unquote(s)]
    return sorted(set(pieces), key=len, reverse=True)


def scrub(message: Any, url: str, limit: int = 300) -> str:
    """The first line of ``message`` (a driver error) without any secret of ``url``, at most ``limit`` chars."""
    text = str(message).strip()
    line = text.splitlines()[0] if text else type(message).__name__
    line = line.replace(url, redact_url(url))
    for secret in _secrets(url):
        line = line.replace(secret, MASK)
    line = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", rf"\1{MASK}@", line)  # any other URL in the text
    return line[:limit]


def is_sqlite(url: str) -> bool:
    """True for ``sqlite://`` URLs (any driver)."""
    return str(url).startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL; None for other URLs and for in-memory databases."""
    if not is_sqlite(url):
        return None
    try:
        database = _parse(url).database
    except ValueError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def check_url(url: str) -> None:
    """:class:`StorageError` for URLs no study can live in: unparseable, in-memory SQLite, a raw ``@``
    in the password. Checked before any data is loaded or any database opened."""
    try:
        u = _parse(url)
    except ValueError:
        raise StorageError(
            f"storage {UNPARSEABLE}: not a valid SQLAlchemy URL; write it as "
            "dialect+driver://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode special characters)"
        ) from None
    shown = redact_url(url)
    if u.host and "@" in u.host:
        raise StorageError(
            f"storage {shown}: the password holds a raw '@' (read as part of the host); "
            "percent-encode it as %40"
        )
    if is_sqlite(url) and (not u.database or u.database == ":memory:" or "mode=memory" in url):
        raise StorageError(
            f"storage {shown}: an in-memory SQLite database is not allowed: it loses the study when the "
            "process ends; use a file, e.g. sqlite:///study.db"
        )
