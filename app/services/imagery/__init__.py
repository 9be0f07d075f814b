"""Imagery providers (one interface, chosen per area by name) and the synthetic scenes."""
