"""Where settings come from besides the defaults: the TOML file, secret files, the environment (via pydantic-settings).

Which file and which secrets directory apply is set per load with :func:`load_context`; :func:`settings_sources` is
the priority order shared by :class:`~alchemiser.config.settings.Settings` and the control client's settings.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from alchemiser.config.locations import default_secrets_dir, secret_files, secret_value
from alchemiser.errors import ConfigError


@dataclass(frozen=True)
class LoadContext:
    toml_file: Path | None
    secrets_dir: Path | None


LOAD_CONTEXT: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar("alchemiser_config", default=None)


def settings_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Highest priority first: init arguments (overrides), environment, secret files, the TOML file."""
    context = LOAD_CONTEXT.get() or LoadContext(toml_file=None, secrets_dir=default_secrets_dir())
    sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
    if context.secrets_dir is not None:
        sources.append(SecretFilesSource(settings_cls, context.secrets_dir))
    if context.toml_file is not None:
        sources.append(TomlSource(settings_cls, context.toml_file))
    return tuple(sources)


class TomlSource(PydanticBaseSettingsSource):
    """The tables of one TOML file; a file that cannot be read or parsed is a ``ConfigError``."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._path = path
        try:
            with path.open("rb") as handle:
                self._data: dict[str, Any] = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read config file: {exc.strerror or exc}"]) from exc

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class SecretFilesSource(PydanticBaseSettingsSource):
    """Values from one file per key in a credentials directory (naming: see :mod:`alchemiser.config`)."""

    def __init__(self, settings_cls: type[BaseSettings], directory: Path) -> None:
        super().__init__(settings_cls)
        self.directory = directory

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for path, entry in secret_files(self.directory):
            annotation = _annotation_at(self.settings_cls, path)
            if annotation is _MISSING:
                continue
            try:
                raw = entry.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError([f"{'.'.join(path)}: cannot read secret file {entry}: {exc}"]) from exc
            value = secret_value(raw)
            target: Any = _list_value(value) if _is_list(annotation) else value
            _set_nested(result, path, target)
        return result


_MISSING = object()


def _annotation_at(model: type[BaseModel], path: Sequence[str]) -> Any:
    current: Any = model
    annotation: Any = _MISSING
    for part in path:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return _MISSING
        annotation = current.model_fields[part].annotation
        current = annotation
    return annotation


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))


def _list_value(value: str) -> list[Any]:
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    return [line.strip() for line in value.splitlines() if line.strip()]


def _set_nested(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


@contextlib.contextmanager
def load_context(toml_file: Path | None, secrets_dir: Path | None) -> Iterator[None]:
    """Tell the settings classes built inside this block where the TOML file and the secret files are."""
    token = LOAD_CONTEXT.set(LoadContext(toml_file=toml_file, secrets_dir=secrets_dir))
    try:
        yield
    finally:
        LOAD_CONTEXT.reset(token)
