"""What every window shares: the store, the active model (embedder) and where they came
from. Only holds and loads; decisions live in desktop_app.core."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core import passphrase
from desktop_app.core.contract import ContractError
from desktop_app.core.settings import load_embedder, set_admin_passphrase
from desktop_app.core.store import Store


@dataclass
class AppContext:
    store: object  # desktop_app.core.store.Store
    model_override: str | None = None  # --model
    embedder: object | None = None  # desktop_app.core.embedder.Embedder, None when unusable
    model_error: str = ""  # why there is no embedder
    camera_spec: object = None  # int (webcam) or a path (video / images) or None
    instance_lock: object | None = None  # desktop_app.core.instance.InstanceLock held by the app

    @classmethod
    def open(cls, db: str | os.PathLike | None = None, model: str | None = None, camera=None) -> AppContext:
        """Open the store (StoreError propagates: the caller shows it) and load the model
        (a ContractError is kept in :attr:`model_error`, the app still opens)."""
        ctx = cls(store=Store(db), model_override=model, camera_spec=camera)
        ctx.load_model()
        return ctx

    def load_model(self) -> bool:
        try:
            self.embedder = load_embedder(self.store, self.model_override)
            self.model_error = ""
            return True
        except ContractError as exc:
            self.embedder = None
            self.model_error = str(exc)
            return False

    def set_embedder(self, embedder) -> None:
        self.embedder = embedder
        self.model_error = ""

    # --- what the status bar and cards show -------------------------------------------
    @property
    def model_path(self) -> Path | None:
        return None if self.embedder is None else Path(self.embedder.path)

    def model_label(self) -> str:
        if self.embedder is None:
            return "no model"
        return f"{Path(self.embedder.path).name} ({self.embedder.contract.short_fingerprint})"

    def provider_label(self) -> str:
        return "—" if self.embedder is None else self.embedder.provider

    def profile_names(self) -> list[str]:
        return [p.name for p in self.store.list_profiles()]

    # --- admin passphrase ------------------------------------------------------------
    def passphrase_hash(self) -> str | None:
        h = self.store.get_setting("admin_passphrase")
        return h or None

    def admin_required(self) -> bool:
        return self.passphrase_hash() is not None

    def check_passphrase(self, text: str, action: str = "an admin action", profile: str | None = None, **extra) -> bool:
        """core passphrase.check_admin_passphrase: counted, delayed after wrong ones, a wrong
        one audited (PassphraseError -- a damaged hash, PassphraseDelayed -- propagates)."""
        if self.passphrase_hash() is None:
            return False
        return passphrase.check_admin_passphrase(self.store, text, action, profile, via="app", **extra)

    def set_passphrase(self, text: str | None) -> None:
        """Set (hash) or remove (None) the admin passphrase, audited (core settings.
        set_admin_passphrase). PassphraseError for a weak one."""
        set_admin_passphrase(self.store, text, via="app")

    def close(self) -> None:
        try:
            self.store.close()
        except Exception:
            pass
        lock, self.instance_lock = self.instance_lock, None
        if lock is not None:
            lock.release()
