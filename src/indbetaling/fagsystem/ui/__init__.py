"""The case worker's pages of a hosted fagsystem (`/fagsystem/<id>/`), on its own services."""
