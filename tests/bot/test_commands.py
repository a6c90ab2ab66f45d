"""Every slash command, group and option is something Discord will accept."""

import re

import pytest
from discord import app_commands

from bot.app import AlexandriaBot
from bot.cogs.volunteer import capabilities
from bot.config import BotConfig, ConfigError
from bot.main import EXIT_CONFIG, main

NAME = re.compile(r"^[-_\w]{1,32}$")
CONFIG = BotConfig(
    discord_token="t", api_url="http://127.0.0.1:9", service_token="s", mod_channel_id=1
)


@pytest.fixture
def tree(run):
    bot = AlexandriaBot(CONFIG, background_tasks=False)

    async def load():
        for cog in bot.cogs_to_load():
            await bot.add_cog(cog)

    run(load())
    yield bot.tree
    run(bot.api.aclose())


def test_every_command_is_valid_for_discord(tree):
    commands = list(tree.walk_commands())
    names = {command.qualified_name for command in commands}
    assert {
        "submit",
        "review",
        "ask",
        "volunteer register",
        "volunteer status",
        "apikey",
        "leaderboard",
        "me",
        "mod hide",
        "mod ban",
        "mod takedown",
    } <= names
    for command in commands:
        assert NAME.match(command.name) and command.name == command.name.lower(), command.name
        assert 1 <= len(command.description) <= 100, command.qualified_name
        if isinstance(command, app_commands.Group):
            assert len(command.commands) <= 25
            continue
        assert len(command.parameters) <= 25, command.qualified_name
        for parameter in command.parameters:
            assert NAME.match(parameter.name) and parameter.name == parameter.name.lower()
            assert 1 <= len(parameter.description) <= 100, (command.name, parameter.name)
            assert len(parameter.choices) <= 25
        payload = command.to_dict(tree)
        assert len(payload.get("options", [])) <= 25


def test_moderation_is_only_shown_to_moderators(tree):
    mod = tree.get_command("mod")
    assert mod.default_permissions.manage_messages


def test_volunteer_capabilities_come_from_the_worker_registry():
    from jobkinds import all_kinds

    llm = {kind.name for kind in all_kinds() if kind.runner == "llm"}
    clip = {kind.name for kind in all_kinds() if kind.runner == "clip"}
    assert set(capabilities("llm", "", "", 0)["kinds"]) == llm
    assert set(capabilities("clip", "", "", 0)["kinds"]) == clip
    assert set(capabilities("both", "a, b", "RTX", 8192)["kinds"]) == llm | clip
    assert capabilities("both", "a, b", "RTX", 8192)["models"] == ["a", "b"]


def test_config_lists_every_problem():
    with pytest.raises(ConfigError) as caught:
        BotConfig.from_env({"DISCORD_MOD_CHANNEL_ID": "abc", "STATUS_NOTIFY": "pigeon"})
    message = str(caught.value)
    for expected in ("DISCORD_TOKEN", "ALEXANDRIA_API_URL", "BOT_SERVICE_TOKEN", "abc", "pigeon"):
        assert expected in message
    config = BotConfig.from_env(
        {
            "DISCORD_TOKEN": "t",
            "ALEXANDRIA_API_URL": "https://a.example/",
            "BOT_SERVICE_TOKEN": "s",
            "DISCORD_MOD_CHANNEL_ID": "600000000000000001",
            "DISCORD_GUILD_IDS": "700000000000000001, 700000000000000002",
            "STATUS_NOTIFY": "channel",
        }
    )
    assert config.api_url == "https://a.example"
    assert config.guild_ids == (700000000000000001, 700000000000000002)


def test_missing_configuration_exits_2(monkeypatch, capsys):
    for name in ("DISCORD_TOKEN", "ALEXANDRIA_API_URL", "BOT_SERVICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["sync", "--guild", "1"]) == EXIT_CONFIG
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err
