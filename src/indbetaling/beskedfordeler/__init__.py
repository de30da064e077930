"""Beskedfordeler: publish, subscribe, value lists, mailboxes, push delivery, error queue."""
