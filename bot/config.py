"""The bot's settings: environment variables and an optional ``.env``, validated at start.

Every setting has one name (the environment variable) and one place (this class), so that
the README table, the error messages and the code agree. A bad or missing value stops the
bot before it connects, with a message that names the variable instead of a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Telegram's Bot API refuses to hand bots files larger than this (getFile limit).
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

#: A photo above this many pixels is refused before it is downloaded (about 40 MP: more
#: than any phone camera, and a bounded amount of memory for the decoder).
DEFAULT_MAX_PIXELS = 40_000_000

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

TOKEN_HELP = (
    "TELEGRAM_BOT_TOKEN is not set. The bot needs a token to talk to Telegram:\n"
    "  1. open Telegram and talk to @BotFather (https://t.me/BotFather),\n"
    "  2. send /newbot and follow the questions; BotFather answers with a token,\n"
    "  3. put it in the environment or in a .env file: TELEGRAM_BOT_TOKEN=123456:ABC...\n"
    "Reading digits from image files works without a token: digitbot predict FILE"
)


class ConfigError(Exception):
    """The configuration cannot start the bot; the message is meant for the operator."""


class Settings(BaseSettings):
    """All of the bot's configuration (see the README's configuration table)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        # "MODEL_PATH=" in a .env means "not set", not "the current directory".
        env_ignore_empty=True,
    )

    telegram_bot_token: SecretStr
    #: Telegram user ids allowed to use /train and /stats.
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    data_dir: Path = Path("data")
    #: A model file to serve; default: the store's active model, else the shipped one.
    model_path: Path | None = None
    #: MNIST (.npz or IDX folder) for /train.
    mnist_path: Path | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    log_level: str = "INFO"
    max_file_bytes: int = Field(default=TELEGRAM_DOWNLOAD_LIMIT, gt=0)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    #: Photos one user may send per 60 seconds before getting a "slow down" answer.
    rate_limit_per_minute: int = Field(default=10, gt=0)
    #: Processes that read photos and draw the replies (``bot.photo_reader``).
    workers: int = Field(default=2, gt=0, le=64)
    #: Train on the first N MNIST training images only (quick trial runs and tests).
    train_limit: int | None = Field(default=None, gt=0)
    #: Epochs of a /train without a number.
    train_epochs: int = Field(default=18, gt=0, le=200)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            ids = []
            for part in parts:
                if not part:
                    continue
                try:
                    ids.append(int(part))
                except ValueError:
                    raise ValueError(
                        f"expected comma-separated Telegram user ids (numbers), got {part!r}"
                    ) from None
            return frozenset(ids)
        if isinstance(value, int):
            return frozenset([value])
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in LOG_LEVELS:
                raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL ending in /bot, got {value!r}")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("empty")
        if any(c.isspace() for c in token) or "/" in token:
            raise ValueError("a bot token has no spaces or slashes (looks like 123456:ABC-DEF...)")
        return SecretStr(token)

    @field_validator("max_file_bytes")
    @classmethod
    def _cap_file_bytes(cls, value: int) -> int:
        # Above Telegram's own limit getFile fails anyway; a larger value would only hide it.
        return min(value, TELEGRAM_DOWNLOAD_LIMIT)

    @property
    def token(self) -> str:
        return self.telegram_bot_token.get_secret_value()

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @property
    def samples_dir(self) -> Path:
        return self.data_dir / "samples"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "digitbot.sqlite3"

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Settings from the environment (and ``env_file``), or ConfigError naming the bad one."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad setting, named as the environment variable the operator sets."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        if name == "TELEGRAM_BOT_TOKEN" and (
            error["type"] == "missing" or str(error["msg"]).endswith("empty")
        ):
            lines.append(TOKEN_HELP)
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return "Configuration error:\n" + "\n".join(lines)
