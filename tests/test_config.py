"""Settings: defaults, parsing, and errors that name the bad variable (never the token)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.app import run_command
from bot.config import TELEGRAM_DOWNLOAD_LIMIT, ConfigError, Settings, load_settings

TOKEN = "123456:SECRET-token-value"

SETTING_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "ADMIN_IDS",
    "DATA_DIR",
    "MODEL_PATH",
    "MNIST_PATH",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_FILE_BASE_URL",
    "LOG_LEVEL",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "RATE_LIMIT_PER_MINUTE",
    "WORKERS",
    "TRAIN_LIMIT",
    "TRAIN_EPOCHS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings(env_file=None)
    assert settings.token == TOKEN
    assert settings.admin_ids == frozenset()
    assert settings.data_dir == Path("data")
    assert settings.model_path is None
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_file_base_url == "https://api.telegram.org/file/bot"
    assert settings.max_file_bytes == TELEGRAM_DOWNLOAD_LIMIT == 20 * 1024 * 1024
    assert settings.rate_limit_per_minute == 10
    assert settings.workers == 2
    assert settings.log_level == "INFO"
    assert settings.samples_dir == Path("data/samples")
    assert settings.database_path.parent == Path("data")


def test_everything_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "ADMIN_IDS": " 11, 22 ,33,",
        "DATA_DIR": "/srv/digitbot",
        "MODEL_PATH": "/models/m.tflite",
        "MNIST_PATH": "/data/mnist.npz",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "TELEGRAM_FILE_BASE_URL": "http://127.0.0.1:8081/file/bot",
        "LOG_LEVEL": "debug",
        "MAX_PIXELS": "1000000",
        "RATE_LIMIT_PER_MINUTE": "3",
        "WORKERS": "4",
        "TRAIN_LIMIT": "500",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env_file=None)
    assert settings.admin_ids == frozenset({11, 22, 33})
    assert settings.is_admin(22) and not settings.is_admin(44) and not settings.is_admin(None)
    assert settings.data_dir == Path("/srv/digitbot")
    assert settings.model_path == Path("/models/m.tflite")
    assert settings.mnist_path == Path("/data/mnist.npz")
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.log_level == "DEBUG"
    assert settings.log_level_number == 10
    assert settings.max_pixels == 1_000_000
    assert settings.rate_limit_per_minute == 3
    assert settings.workers == 4
    assert settings.train_limit == 500


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nADMIN_IDS=7\n", encoding="utf-8")
    settings = load_settings(env_file=env_file)
    assert settings.token == TOKEN
    assert settings.admin_ids == frozenset({7})


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nWORKERS=3\n", encoding="utf-8")
    monkeypatch.setenv("WORKERS", "5")
    assert load_settings(env_file=env_file).workers == 5


def test_missing_token_explains_how_to_get_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in message
    assert "@BotFather" in message
    assert "digitbot predict FILE" in message


def test_empty_token_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "  ")
    with pytest.raises(ConfigError, match="@BotFather"):
        load_settings(env_file=None)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ADMIN_IDS", "12,alice", "ADMIN_IDS"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("RATE_LIMIT_PER_MINUTE", "0", "RATE_LIMIT_PER_MINUTE"),
        ("WORKERS", "many", "WORKERS"),
        ("MAX_PIXELS", "-5", "MAX_PIXELS"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org/bot", "TELEGRAM_API_BASE_URL"),
        ("TRAIN_LIMIT", "0", "TRAIN_LIMIT"),
    ],
)
def test_bad_values_name_the_setting_and_not_the_token(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert expected in message
    assert TOKEN not in message
    assert "SECRET" not in message


def test_a_token_with_spaces_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc def")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert "abc def" not in str(caught.value)


def test_file_limit_cannot_exceed_telegrams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("MAX_FILE_BYTES", str(100 * 1024 * 1024))
    assert load_settings(env_file=None).max_file_bytes == TELEGRAM_DOWNLOAD_LIMIT


def test_token_is_secret_in_repr() -> None:
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


def test_run_without_token_exits_2_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_command(argparse.Namespace())
    captured = capsys.readouterr()
    assert code == 2
    assert "TELEGRAM_BOT_TOKEN" in captured.err
    assert "@BotFather" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("MODEL_PATH", "")
    monkeypatch.setenv("TRAIN_LIMIT", "")
    settings = load_settings(env_file=None)
    assert settings.model_path is None and settings.train_limit is None


def test_the_example_env_file_is_valid_once_a_token_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        load_settings(env_file=example)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings(env_file=example)
    assert settings.data_dir == Path("data")
    assert settings.admin_ids == frozenset()
