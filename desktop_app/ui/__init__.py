"""twinlock's PySide6 desktop app: a thin Qt layer over the Qt-free ``desktop_app.core``.

The windows show and ask; every decision (match, threshold, lockout, policy, passphrase
check) is a core call. One module per screen or job:

- ``app``                 the ``twinlock-app`` entry point (options --camera, --video, --model, --db)
- ``context``             what all windows share: the store, the active model
- ``main_window``         live view, unlock attempts, menus
- ``capture``             the camera worker thread (frames handed over by signals)
- ``widgets``, ``imaging`` camera view with ROI, 28x28 view, distance bar, state banner
- ``enroll_wizard``  enrollment (the consistency summary is ``desktop_app.core.consistency``)
- ``calibration_dialog``, ``charts``  threshold calibration with QtCharts
- ``export_dialog``       export a new model (CLI subprocesses) and switch to it
- ``settings_dialog``, ``camera_dialog``, ``audit_viewer``, ``admin`` (passphrase gate)
- ``workers``             a background job with progress and cancel
"""
