"""Lists of names as users give them: ``"pipe,local"`` on the command line, ``["pipe", "local"]``
from Python. One parser, so that an empty value, an empty item or a repeated name is an error
everywhere instead of silently becoming the default or doubling a cell."""
from __future__ import annotations

from .errors import PmcsuiteError


def name_list(value, option: str, example: str) -> list[str] | None:
    """None -> None (use the default); a comma-separated string or a list/tuple of strings -> the
    names in order. PmcsuiteError for an empty value, an empty item or a name given twice."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise PmcsuiteError(f"{option} {value!r}: give names as a comma-separated string or a list of strings, "
                            f"e.g. {example}")
    names = [item.strip() for item in items]
    if not names or not any(names):
        raise PmcsuiteError(f"{option} is empty: give one or more names, e.g. {example}, or leave the option out "
                            "for the default")
    if "" in names:
        raise PmcsuiteError(f"{option} {','.join(names)!r} has an empty item: remove the extra comma")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PmcsuiteError(f"{option} lists {', '.join(repeated)} more than once: give each name once")
    return names
