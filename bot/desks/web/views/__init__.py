"""The web desk's pages, one module per page (login, queue, requests, search, kb, stats, state)."""
