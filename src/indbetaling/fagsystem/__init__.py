"""Fagsystem: the reference business system that pays claims (master of its payments)."""
