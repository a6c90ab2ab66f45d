"""Alexandria's Discord bot: slash commands that call the backend on behalf of the member.

The bot holds no state worth keeping: the backend is the source of truth, review buttons carry
their task and member in ``custom_id`` so they keep working after a restart.
"""
