"""Settings have one source: config.py; .env.example and docs/configuration.md follow it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import config
import settings.core
import settings.first_response
import settings.land_watch
from app import config_docs

ROOT = Path(__file__).resolve().parents[2]
ENV_READS = re.compile(r"os\.environ|os\.getenv|getenv\(|load_dotenv")


def test_the_committed_files_are_what_config_py_generates():
    assert config_docs.stale_files(ROOT) == [], (
        "config.py and the generated files differ: run `flask --app wsgi config docs`")


def test_the_generated_text_does_not_depend_on_this_processs_environment():
    script = "from app import config_docs; print(config_docs.render_markdown(), end='')"
    env = {**os.environ, "CPS_DOTENV": os.devnull, "INSTANCE_DIR": "/elsewhere", "PORT": "6000",
           "XYZ_TILE_URL": "https://t.example/{z}/{x}/{y}", "GROUND_UNIT_MAX_ETA_S": "ambulance=1"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == config_docs.render_markdown()


def test_every_setting_is_documented_once_with_its_default(tmp_path):
    markdown = config_docs.render_markdown()
    example = config_docs.render_env_example()
    for setting in config.SETTINGS.values():
        assert setting.help and setting.group, setting.name
        assert markdown.count(f"| `{setting.name}` |") == 1, setting.name
        assert re.search(rf"^# {setting.name}=", example, re.MULTILINE), setting.name
    row = next(line for line in markdown.splitlines() if line.startswith("| `NOTIFY_BATCH_SIZE`"))
    assert "| `500` |" in row
    assert "| `sqlite:///INSTANCE_DIR/cps.sqlite3` |" in markdown  # no path of this machine
    assert str(ROOT) not in markdown + example


def test_a_copy_of_the_env_example_changes_no_setting(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(config_docs.render_env_example())
    script = ("import config; print(config.Config.SQLALCHEMY_DATABASE_URI, config.Config.PORT, "
              "config.Config.RATELIMIT_ENABLED)")
    env = {key: value for key, value in os.environ.items() if key not in config.SETTINGS}
    results = [subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env={**env, "CPS_DOTENV": str(path)})
               for path in (dotenv, os.devnull)]
    assert results[0].returncode == 0, results[0].stderr
    assert results[0].stdout == results[1].stdout


def test_the_check_command_fails_while_a_file_differs(app, monkeypatch):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["config", "docs", "--check"]).exit_code == 0
    monkeypatch.setattr(config_docs, "render_markdown", lambda: "# Configuration\n\nold\n")
    result = runner.invoke(args=["config", "docs", "--check"])
    assert result.exit_code == 1 and "docs/configuration.md" in result.output


def test_writing_regenerates_what_drifted_and_leaves_the_rest(tmp_path):
    assert sorted(config_docs.write_files(tmp_path)) == sorted(config_docs.generated_files())
    (tmp_path / ".env.example").write_text("# hand-edited\n")
    assert config_docs.stale_files(tmp_path) == [Path(".env.example")]
    assert config_docs.write_files(tmp_path) == [Path(".env.example")]
    assert config_docs.stale_files(tmp_path) == []


def test_a_bad_value_names_its_setting():
    env = {**os.environ, "CPS_DOTENV": os.devnull, "XYZ_HEADERS": "no colon here"}
    result = subprocess.run([sys.executable, "-c", "import config"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "XYZ_HEADERS: expected 'Name: value'" in result.stderr


def test_every_class_of_settings_is_mixed_into_config():
    declared = {cls for module in (settings.core, settings.first_response, settings.land_watch)
                for cls in vars(module).values()
                if isinstance(cls, type) and cls.__module__ == module.__name__}
    assert declared and declared - set(config.Config.__mro__) == set(), (
        "a class of settings Config does not mix in is documented but never configured")


def test_only_config_py_reads_the_environment():
    modules = [*(ROOT / "app").rglob("*.py"), *(ROOT / "settings").rglob("*.py")]
    readers = [path.relative_to(ROOT).as_posix() for path in modules
               if ENV_READS.search(path.read_text(encoding="utf-8"))]
    assert readers == []
