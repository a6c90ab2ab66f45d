"""``alexandria-bot``: run the Discord bot, or ``alexandria-bot sync`` its slash commands.

Configuration comes from the environment: DISCORD_TOKEN, ALEXANDRIA_API_URL, BOT_SERVICE_TOKEN,
DISCORD_MOD_CHANNEL_ID (required), DISCORD_GUILD_IDS (comma list, for ``sync``), STATUS_NOTIFY
(``dm`` or ``channel``: where submitters hear about their text's analysis).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import BotConfig, ConfigError

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alexandria-bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    sync = sub.add_parser("sync", help="sync slash commands, then exit")
    sync.add_argument(
        "--guild",
        type=int,
        action="append",
        default=[],
        help="guild id to sync to instantly (repeatable; default DISCORD_GUILD_IDS, "
        "or globally when that is empty too)",
    )
    return parser


async def _sync(config: BotConfig, guild_ids: tuple[int, ...]) -> dict[str, int]:
    # discord.py and the cogs load only once the configuration has been read (a bad one is
    # reported at once, without their import time); likewise in main().
    from bot.app import AlexandriaBot

    async with AlexandriaBot(config, background_tasks=False) as bot:
        await bot.login(config.discord_token)
        return await bot.sync_commands(guild_ids)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = BotConfig.from_env()
    except ConfigError as exc:
        print(f"alexandria-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "sync":
        synced = asyncio.run(_sync(config, tuple(args.guild) or config.guild_ids))
        for target, count in synced.items():
            print(f"synced {count} commands to {target}")
        return 0
    from bot.app import AlexandriaBot  # see _sync

    AlexandriaBot(config).run(config.discord_token, log_handler=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
