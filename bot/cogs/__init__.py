"""One cog per domain; ``ALL_COGS`` is the order the bot loads them in."""
