"""Guichet: an assistant for the information desk of an international-solidarity network."""

from __future__ import annotations

__version__ = "0.1.0"
