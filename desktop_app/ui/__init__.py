"""twinlock's PySide6 desktop app: a thin Qt layer over the Qt-free ``desktop_app.core``.

The windows show and ask; every decision is a core call. Its modules, one per screen or
job, are mapped in docs/design.md.
"""
