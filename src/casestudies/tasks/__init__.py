"""Synthetic, seeded, verifiable task generators shared by chapters."""
