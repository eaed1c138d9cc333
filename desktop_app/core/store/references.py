"""Reference images: the 28x28 model image and the camera crop (PNG), the embedding and the
fingerprint of the model that made it, and the position it belongs to (0 for a one-symbol
profile; 0..symbols-1 for a passcode, left to right). An enrollment is one transaction: a
process killed half-way leaves all of it or none, and a passcode is never stored with a
position left empty."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..decision import AuditEvent
from .codec import _png, _unpng
from .errors import ProfileNotFound, StoreError
from .profiles import validate_profile_name, validate_symbols


@dataclass
class Reference:
    id: int
    profile: str
    image: np.ndarray
    crop: np.ndarray | None
    embedding: np.ndarray
    fingerprint: str
    created: float
    position: int = 0  # which symbol of a passcode (0: the first, or the only one)


class References:
    """The refs table. The ``*_in`` methods work inside a transaction the caller holds open
    (its connection ``con``); the others open their own."""

    def __init__(self, db, profiles, audit_log):
        self.db, self.profiles, self.audit_log = db, profiles, audit_log

    def add_references(
        self,
        name,
        images28,
        crops,
        embeddings,
        fingerprint,
        create: bool = False,
        source: str = "",
        positions=None,
        symbols: int | None = None,
    ) -> int:
        """Add references in ONE transaction (with the profile itself when ``create``).

        ``positions``: the position of each image (None: all 0, a one-symbol profile).
        ``symbols``: how many symbols the profile holds -- for a new profile (default: one
        more than the highest position), or checked against an existing one. ValueError
        when a position is out of range, or when the profile would be left with a position
        that has no reference; StoreError when ``symbols`` differs from an existing profile's."""
        name = validate_profile_name(name)
        imgs = np.asarray(images28)
        if imgs.ndim == 2:
            imgs = imgs[None]
        if imgs.ndim != 3 or imgs.shape[1:] != (28, 28) or imgs.dtype != np.uint8:
            raise ValueError(f"reference images must be uint8 [N,28,28], got {imgs.dtype} {imgs.shape}")
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None]
        if emb.ndim != 2 or emb.shape[0] != imgs.shape[0] or not np.all(np.isfinite(emb)):
            raise ValueError("embeddings must be finite float [N,D] with one row per image")
        n = imgs.shape[0]
        if n == 0:
            raise ValueError("no reference images to add")
        crops = list(crops) if crops is not None else [None] * n
        if len(crops) != n:
            raise ValueError("crops must be None or one per image")
        if not fingerprint:
            raise ValueError("the model fingerprint is required")
        pos = np.zeros(n, np.int64) if positions is None else np.asarray(positions)
        if pos.shape != (n,) or not np.issubdtype(pos.dtype, np.integer) or pos.min() < 0:
            raise ValueError("positions must be None or one whole number >= 0 per image")
        if symbols is not None:
            symbols = validate_symbols(symbols)
        blobs = [(_png(imgs[i]), _png(crops[i]), emb[i].tobytes(), int(pos[i])) for i in range(n)]
        with self.db.write() as con:
            found = self.profiles.lookup_in(con, name)
            if found is None:
                if not create:
                    raise ProfileNotFound(f"There is no profile '{name}'.")
                count = symbols if symbols is not None else validate_symbols(int(pos.max()) + 1)
                pid = self.profiles.insert_in(con, name, symbols=count)
            else:
                pid, have = found
                if symbols is not None and symbols != have:
                    raise StoreError(
                        f"Profile '{name}' holds {have} symbol{'s' if have != 1 else ''}, not {symbols}. "
                        "Enroll under another name, or remove the profile first."
                    )
                other = con.execute(
                    "SELECT DISTINCT fingerprint, dim FROM refs WHERE profile_id = ?", (pid,)
                ).fetchall()
                if any(fp != fingerprint for fp, _ in other):
                    raise StoreError(
                        f"Profile '{name}' holds references embedded by another model. "
                        "Re-embed it for the current model first ('twinlock doctor "
                        "--reembed')."
                    )
                count = have
            if int(pos.max()) >= count:
                raise ValueError(
                    f"a reference for symbol {int(pos.max()) + 1}, but profile '{name}' holds {count} "
                    f"symbol{'s' if count != 1 else ''}"
                )
            now = time.time()
            for image, crop, e, p in blobs:
                self.insert_in(con, pid, image, crop, e, emb.shape[1], fingerprint, now, p)
            self._check_positions(con, pid, name, count)
            detail = {"added": n, "source": source}
            if count > 1:
                detail.update(symbols=count, per_position=[int((pos == i).sum()) for i in range(count)])
            self.audit_log.log_in(con, name, AuditEvent.ENROLLED, fingerprint=fingerprint, detail=detail)
        return n

    def _check_positions(self, con, pid, name, count) -> None:
        """Every position of the profile holds a reference (inside the writing transaction:
        raising rolls it back, so a passcode is never stored with a symbol missing)."""
        have = {r[0] for r in con.execute("SELECT DISTINCT position FROM refs WHERE profile_id = ?", (pid,))}
        missing = [i + 1 for i in range(count) if i not in have]
        if missing:
            raise ValueError(
                f"profile '{name}' holds {count} symbols but symbol {', '.join(map(str, missing))} "
                "would have no reference: enroll every symbol of the card together"
            )

    def insert_in(self, con, pid, image, crop, emb_bytes, dim, fingerprint, now, position: int = 0) -> None:
        """One reference row (PNG blobs, embedding bytes) of the profile with id ``pid``."""
        con.execute(
            "INSERT INTO refs(profile_id, image, crop, embedding, dim, fingerprint, created, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, image, crop, emb_bytes, dim, fingerprint, now, int(position)),
        )

    def references(self, name) -> list[Reference]:
        pid = self.profiles.id_and_symbols(name)[0]
        rows = self.db.query(
            "SELECT id, image, crop, embedding, dim, fingerprint, created, position FROM refs "
            "WHERE profile_id = ? ORDER BY position, id",
            (pid,),
        )
        out = []
        for rid, image, crop, e, dim, fp, created, position in rows:
            emb = np.frombuffer(e, dtype=np.float32)
            if emb.size != dim:
                raise StoreError(f"Reference {rid} of profile '{name}' is damaged (embedding size).")
            out.append(
                Reference(int(rid), name, _unpng(image), _unpng(crop), emb.copy(), fp, float(created), int(position))
            )
        return out

    def reference_embeddings(self, name, fingerprint, position: int | None = None) -> np.ndarray:
        """The profile's reference embeddings [M, D]. A passcode's are per position: pass
        ``position`` (0-based), or use :meth:`position_embeddings`; asking a passcode for all
        of them at once is refused (StoreError), as its symbols must never be mixed."""
        pid, symbols = self.profiles.id_and_symbols(name)
        if position is None and symbols > 1:
            raise StoreError(
                f"Profile '{name}' is a passcode of {symbols} symbols: each symbol is checked against "
                "its own references, and this action reads one symbol's. It does not work on passcodes "
                "yet (enroll, verify, strength, profiles, export and import do); nothing was changed."
            )
        rows = self.db.query(
            "SELECT embedding, dim, fingerprint FROM refs WHERE profile_id = ? AND position = ? ORDER BY id",
            (pid, 0 if position is None else int(position)),
        )
        if not rows:
            raise StoreError(
                f"Profile '{name}' has no enrolled references. Enroll it first: twinlock enroll '{name}' ..."
            )
        if any(fp != fingerprint for _, _, fp in rows):
            raise StoreError(
                f"Profile '{name}' was enrolled with another model (fingerprint "
                f"{rows[0][2][:12]}, current {fingerprint[:12]}); its references must be "
                "re-embedded first ('twinlock doctor --reembed')."
            )
        return np.stack([np.frombuffer(e, dtype=np.float32) for e, _, _ in rows])

    def position_embeddings(self, name, fingerprint) -> list[np.ndarray]:
        """One [M_i, D] array per position, in order (a one-symbol profile: a list of one)."""
        symbols = self.profiles.id_and_symbols(name)[1]
        return [self.reference_embeddings(name, fingerprint, position=i) for i in range(symbols)]

    def remove_reference(self, name, ref_id) -> None:
        pid, symbols = self.profiles.id_and_symbols(name)
        with self.db.write() as con:
            cur = con.execute("DELETE FROM refs WHERE id = ? AND profile_id = ?", (int(ref_id), pid))
            if cur.rowcount == 0:
                raise StoreError(f"Profile '{name}' has no reference {ref_id}.")
            if symbols > 1:
                try:
                    self._check_positions(con, pid, name, symbols)
                except ValueError:
                    raise StoreError(
                        f"Reference {ref_id} is the last one of its symbol in passcode '{name}': a "
                        "passcode keeps at least one reference per symbol. Nothing was removed."
                    ) from None

    def check_references(self) -> list[str]:
        """Decode every stored reference image and crop and check every embedding: one line
        per damaged reference (empty when all are sound)."""
        bad = []
        rows = self.db.query(
            "SELECT r.id, p.name, r.image, r.crop, r.embedding, r.dim FROM refs r "
            "JOIN profiles p ON p.id = r.profile_id ORDER BY r.id"
        )
        for rid, name, image, crop, e, dim in rows:
            what = f"reference {rid} of profile '{name}'"
            try:
                img = _unpng(image)
                if img.shape != (28, 28) or img.dtype != np.uint8:
                    bad.append(f"{what}: its 28x28 image is {img.dtype} {list(img.shape)}")
                    continue
                if crop is not None:
                    c = _unpng(crop)
                    if c.dtype != np.uint8:
                        bad.append(f"{what}: its crop is not an 8-bit image")
                        continue
            except StoreError:
                bad.append(f"{what}: a stored image cannot be decoded")
                continue
            emb = np.frombuffer(e or b"", dtype=np.float32) if len(e or b"") % 4 == 0 else np.zeros(0)
            if emb.size != dim or emb.size == 0:
                bad.append(f"{what}: its embedding has the wrong size")
            elif not np.all(np.isfinite(emb)):
                bad.append(f"{what}: its embedding is not finite (NaN or infinity)")
        return bad

    def stale_references(self, fingerprint) -> int:
        """How many references were embedded by a model other than ``fingerprint``."""
        return int(self.db.query("SELECT COUNT(*) FROM refs WHERE fingerprint != ?", (fingerprint,))[0][0])

    def reembed_all(self, embedder, progress=None, batch: int = 256) -> int:
        """Re-embed every reference from its stored 28x28 image, all-or-nothing."""
        rows = self.db.query("SELECT id, image FROM refs ORDER BY id")
        total = len(rows)
        new = []
        for s in range(0, total, batch):
            chunk = rows[s : s + batch]
            imgs = np.stack([_unpng(img) for _, img in chunk])
            emb = np.asarray(embedder.embed_images(imgs), dtype=np.float32)
            new.extend((int(r[0]), emb[i]) for i, r in enumerate(chunk))
            if progress is not None:
                progress(min(s + batch, total), total)
        with self.db.write() as con:
            for rid, e in new:
                con.execute(
                    "UPDATE refs SET embedding = ?, dim = ?, fingerprint = ? WHERE id = ?",
                    (e.tobytes(), int(e.size), embedder.fingerprint, rid),
                )
        return total
