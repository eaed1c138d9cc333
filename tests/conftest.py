import os

# pytest-qt aborts the whole run without a display; tests never need a real one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
