"""The debitorsystem: the authority's debtor ledger, provider of DebitorIndbetalingAfsend."""
