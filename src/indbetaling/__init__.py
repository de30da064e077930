"""Indbetaling: KOMBIT SF1590_B_03 "Afsend DebitorIndbetaling", implemented in full."""

__version__ = "0.1.0"
