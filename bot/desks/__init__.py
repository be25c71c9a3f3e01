"""Desks: where staff decide on drafts. Each is an adapter on the one review core (``bot.review``),
as channels are adapters on intake: the Telegram staff chat here, the terminal in ``bot.cli.desk``."""
