"""Rendering of analysis and estimate results; no computation happens here."""
