"""Finance's web pages (`/finance/`)."""
