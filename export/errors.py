"""The one exception export raises for problems the user can act on."""


class ExportError(RuntimeError):
    """Export refused or failed; the message says what and what to do. Nothing was written
    at the destination (an existing model there is unchanged)."""
