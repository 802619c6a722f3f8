"""Settings: flags over environment variables, and a bad value named the way the user set it.

`Settings.load` is called as `main()` calls it; argparse's exit (status 2, the message on stderr) is what a
user sees, so that is what is checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Settings

UPSTREAM = {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str]) -> str:
    """The error line `runs-gateway` prints for these flags and this environment."""
    with pytest.raises(SystemExit) as exited:
        Settings.load(argv, environ=environ)
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RUNS_GATEWAY_MAX_RETRIES": "11"}, "RUNS_GATEWAY_MAX_RETRIES must be 0-10, got 11"),
        ({"RUNS_GATEWAY_MAX_RETRIES": "two"}, "RUNS_GATEWAY_MAX_RETRIES must be a whole number, got 'two'"),
        ({"RUNS_GATEWAY_TIMEOUT": "soon"}, "RUNS_GATEWAY_TIMEOUT must be a number, got 'soon'"),
        ({"RUNS_GATEWAY_TIMEOUT": "0"}, "RUNS_GATEWAY_TIMEOUT must be > 0, got 0.0"),
        ({"RUNS_GATEWAY_LISTEN": "nowhere"}, "RUNS_GATEWAY_LISTEN must be HOST:PORT, got 'nowhere'"),
        (
            {"RUNS_GATEWAY_LOG_LEVEL": "loud"},
            "RUNS_GATEWAY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR",
        ),
        (
            {"RUNS_GATEWAY_TLS_KEY": "/no/such.key", "RUNS_GATEWAY_TLS_CERT": __file__},
            "RUNS_GATEWAY_TLS_KEY names",
        ),
        ({"OPENAI_BASE_URL": "ftp://example.com"}, "OPENAI_BASE_URL must be an http(s) URL"),
    ],
)
def test_a_bad_environment_value_is_named_by_its_variable(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], message: str
) -> None:
    line = refused(capsys, [], {**UPSTREAM, **environ})
    assert message in line
    assert " --" not in line  # no flag named: the user set none


def test_a_flag_wins_over_the_environment_and_is_named_when_bad(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {**UPSTREAM, "RUNS_GATEWAY_MAX_RETRIES": "11"}
    assert Settings.load(["--max-retries", "3"], environ=environ).max_retries == 3
    assert "--max-retries must be 0-10, got 12" in refused(capsys, ["--max-retries", "12"], UPSTREAM)


def test_the_upstream_is_required_and_named_both_ways(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, [], {})
    assert "--upstream or OPENAI_BASE_URL is required" in line
    assert "http://127.0.0.1:8080/v1" in line


def test_values_from_the_environment_and_the_defaults() -> None:
    environ = {
        **UPSTREAM,
        "RUNS_GATEWAY_TIMEOUT": "2.5",
        "RUNS_GATEWAY_LOG_LEVEL": "debug",
        "OPENAI_API_KEY": "sk-1",
    }
    settings = Settings.load(["--grace", "1"], environ=environ)
    assert (settings.base_url, settings.timeout, settings.log_level, settings.grace) == (
        "http://127.0.0.1:8080/v1",
        2.5,
        "DEBUG",
        1.0,
    )
    assert (settings.listen, settings.max_retries, settings.api_key) == ("127.0.0.1:50051", 2, "sk-1")


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--dialect", "azure"], {}, "--dialect must be one of openai, azure-foundry, azure-openai"),
        (["--auth", "magic"], {}, "--auth must be one of bearer, header, entra, got 'magic'"),
        (["--api-key-header", "api key"], {}, "--api-key-header must be a header name"),
        ([], {"OPENAI_BASE_URL": "http://user:pw@host/v1"}, "OPENAI_BASE_URL must not carry credentials"),
        ([], {"OPENAI_BASE_URL": "http://host/v1#x"}, "OPENAI_BASE_URL must have no #fragment"),
        (
            [],
            {"OPENAI_BASE_URL": "http://host/v1?limit=5"},
            "has query parameters the gateway sets per call (limit)",
        ),
        (
            ["--dialect", "astra"],
            {},
            "--upstream-headers-file or RUNS_GATEWAY_UPSTREAM_HEADERS must give astra-api-token",
        ),
        ([], {"RUNS_GATEWAY_UPSTREAM_HEADERS": "[1]"}, "RUNS_GATEWAY_UPSTREAM_HEADERS must be a JSON object"),
        (
            [],
            {"RUNS_GATEWAY_UPSTREAM_HEADERS": '{"Authorization": "x"}'},
            "'Authorization' cannot be a static header",
        ),
        (
            [],
            {"RUNS_GATEWAY_UPSTREAM_HEADERS": '{"x-a": "a\\nb"}'},
            "the value of 'x-a' has control characters",
        ),
        (["--upstream-headers-file", "/no/such/file"], {}, "--upstream-headers-file cannot be read"),
    ],
)
def test_a_dialect_and_its_credentials_are_checked_at_start(
    capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str], message: str
) -> None:
    assert message in refused(capsys, argv, {**UPSTREAM, **environ})


def test_each_dialect_brings_its_defaults_and_flags_override_them(tmp_path: Path) -> None:
    foundry = Settings.load(["--dialect", "azure-foundry"], environ=UPSTREAM)
    assert (foundry.auth_mode, foundry.scope, foundry.key_header) == (
        "entra",
        "https://ai.azure.com/.default",
        "authorization",
    )
    azure = Settings.load(["--dialect", "azure-openai"], environ={**UPSTREAM, "OPENAI_API_KEY": "k"})
    assert (azure.auth_mode, azure.key_header) == ("header", "api-key")
    custom = Settings.load(
        ["--dialect", "azure-openai", "--api-key-header", "Ocp-Apim-Subscription-Key"], environ=UPSTREAM
    )
    assert custom.key_header == "ocp-apim-subscription-key"
    bearer = Settings.load(["--dialect", "azure-openai", "--auth", "bearer"], environ=UPSTREAM)
    assert bearer.key_header == "authorization"
    headers = tmp_path / "headers.json"
    headers.write_text('{"astra-api-token": "from-file", "x-provider": "p"}')
    astra = Settings.load(
        ["--dialect", "astra", "--upstream-headers-file", str(headers)],
        environ={**UPSTREAM, "RUNS_GATEWAY_UPSTREAM_HEADERS": '{"ASTRA-API-TOKEN": "from-env"}'},
    )
    assert astra.all_upstream_headers() == {"astra-api-token": "from-env", "x-provider": "p"}
    assert "from-env" not in repr(astra)  # a secret, as the key is


def test_a_gateway_in_front_of_the_assistants_api_imports_no_store_backend_nor_the_adapter() -> None:
    # Its start-up pays only for what it uses: the store's backends and the Responses adapter are loaded by
    # `--upstream-api responses` alone.
    check = (
        "import sys; from gateway import server; "
        "server.build_server(server.Settings(listen='127.0.0.1:0', base_url='http://127.0.0.1:9/v1')); "
        "print(sorted(n for n in sys.modules if n.startswith(('gateway.responses', 'gateway.store.', "
        "'sqlite3', 'asyncpg')) and n not in ('gateway.store.errors', 'gateway.store.model', "
        "'gateway.store.urls')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
