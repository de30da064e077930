"""The Beskedfordeler's web pages: a subscriber's administrator and the operator."""
