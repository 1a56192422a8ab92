"""Shared building blocks of the shop's domain: domain errors, roles and state transitions."""
