"""Reading one catalogue file: strict YAML (a key given twice is an error, not the last one winning)
and every way a file can fail to parse turned into one line naming the file, line and column."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import PmcsuiteError
from ..userfiles import read_small_file
from .validate import TOP_KEYS


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping key given twice."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue                                  # unhashable: SafeLoader reports it
                if duplicate:
                    raise _DuplicateKey("while constructing a mapping", node.start_mark,
                                        f"duplicate key '{key}'", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, raw: bytes | None = None) -> tuple[dict, bytes]:
    """Parse one catalogue file (its bytes ``raw`` when given, e.g. from a snapshot)."""
    if raw is None:
        try:
            raw = read_small_file(path, "catalogue")
        except OSError as exc:
            raise PmcsuiteError(f"cannot read catalogue {path}: {exc.strerror or exc}; "
                                "check the --catalogue path") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PmcsuiteError(f"{path} is not UTF-8 text; save the catalogue as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path} line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        fix = ("each key may appear only once: remove or rename one" if isinstance(exc, _DuplicateKey)
               else "fix the YAML syntax")
        raise PmcsuiteError(f"{where}: {exc.problem or exc.context}; {fix}") from None
    except yaml.YAMLError as exc:
        raise PmcsuiteError(f"{path}: invalid YAML ({exc}); fix the YAML syntax") from None
    except RecursionError:
        raise PmcsuiteError(f"{path}: the YAML nests too deeply to read; a catalogue is a few levels of "
                            "mappings and lists") from None
    except ValueError as exc:                         # e.g. an integer of more than 4300 digits
        raise PmcsuiteError(f"{path}: a value cannot be read ({str(exc).split(';')[0]}); fix it") from None
    if data is None:
        raise PmcsuiteError(f"{path} is empty; a catalogue holds 'counters', 'groups', 'platforms' and/or 'derived'")
    if not isinstance(data, dict):
        raise PmcsuiteError(f"{path}: the top level must be a mapping with keys {', '.join(TOP_KEYS)}")
    return data, raw
