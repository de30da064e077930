"""The collections staff's web pages (`/debitorsystem/`)."""
