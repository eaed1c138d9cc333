"""What ships with twinlock besides its code: the default (any-symbol) ONNX model and its card,
the digits-only model, and the common-symbols gallery.

This folder is the package ``twinlock_assets`` (pyproject.toml maps it), so the app finds these
files through ``importlib.resources`` in a checkout and in an installed wheel alike
(``desktop_app.core.paths.ASSETS_DIR``)."""
