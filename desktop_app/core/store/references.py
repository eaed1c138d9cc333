"""Reference images: the 28x28 model image and the camera crop (PNG), the embedding and the
fingerprint of the model that made it. An enrollment is one transaction: a process killed
half-way leaves all of it or none."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..decision import AuditEvent
from .codec import _png, _unpng
from .errors import ProfileNotFound, StoreError
from .profiles import validate_profile_name


@dataclass
class Reference:
    id: int
    profile: str
    image: np.ndarray
    crop: np.ndarray | None
    embedding: np.ndarray
    fingerprint: str
    created: float


class ReferencesMixin:
    """The refs table."""

    def add_references(
        self, name, images28, crops, embeddings, fingerprint, create: bool = False, source: str = ""
    ) -> int:
        """Add references in ONE transaction (with the profile itself when ``create``)."""
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
        blobs = [(_png(imgs[i]), _png(crops[i]), emb[i].tobytes()) for i in range(n)]
        with self._tx() as con:
            row = con.execute("SELECT id FROM profiles WHERE name = ?", (name,)).fetchone()
            if row is None:
                if not create:
                    raise ProfileNotFound(f"There is no profile '{name}'.")
                pid = self._insert_profile(con, name)
            else:
                pid = int(row[0])
                other = con.execute(
                    "SELECT DISTINCT fingerprint, dim FROM refs WHERE profile_id = ?", (pid,)
                ).fetchall()
                if any(fp != fingerprint for fp, _ in other):
                    raise StoreError(
                        f"Profile '{name}' holds references embedded by another model. "
                        "Re-embed it for the current model first ('twinlock doctor "
                        "--reembed')."
                    )
            now = time.time()
            for image, crop, e in blobs:
                self._insert_reference(con, pid, image, crop, e, emb.shape[1], fingerprint, now)
            self._log(con, name, AuditEvent.ENROLLED, fingerprint=fingerprint, detail={"added": n, "source": source})
        return n

    def _insert_reference(self, con, pid, image, crop, emb_bytes, dim, fingerprint, now) -> None:
        con.execute(
            "INSERT INTO refs(profile_id, image, crop, embedding, dim, fingerprint, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (pid, image, crop, emb_bytes, dim, fingerprint, now),
        )

    def references(self, name) -> list[Reference]:
        pid = self._profile_row(name)[0]
        rows = self._q(
            "SELECT id, image, crop, embedding, dim, fingerprint, created FROM refs WHERE profile_id = ? ORDER BY id",
            (pid,),
        )
        out = []
        for rid, image, crop, e, dim, fp, created in rows:
            emb = np.frombuffer(e, dtype=np.float32)
            if emb.size != dim:
                raise StoreError(f"Reference {rid} of profile '{name}' is damaged (embedding size).")
            out.append(Reference(int(rid), name, _unpng(image), _unpng(crop), emb.copy(), fp, float(created)))
        return out

    def reference_embeddings(self, name, fingerprint) -> np.ndarray:
        pid = self._profile_row(name)[0]
        rows = self._q("SELECT embedding, dim, fingerprint FROM refs WHERE profile_id = ? ORDER BY id", (pid,))
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

    def remove_reference(self, name, ref_id) -> None:
        pid = self._profile_row(name)[0]
        with self._tx() as con:
            cur = con.execute("DELETE FROM refs WHERE id = ? AND profile_id = ?", (int(ref_id), pid))
            if cur.rowcount == 0:
                raise StoreError(f"Profile '{name}' has no reference {ref_id}.")

    def check_references(self) -> list[str]:
        """Decode every stored reference image and crop and check every embedding: one line
        per damaged reference (empty when all are sound)."""
        bad = []
        rows = self._q(
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
        return int(self._q("SELECT COUNT(*) FROM refs WHERE fingerprint != ?", (fingerprint,))[0][0])

    def reembed_all(self, embedder, progress=None, batch: int = 256) -> int:
        """Re-embed every reference from its stored 28x28 image, all-or-nothing."""
        rows = self._q("SELECT id, image FROM refs ORDER BY id")
        total = len(rows)
        new = []
        for s in range(0, total, batch):
            chunk = rows[s : s + batch]
            imgs = np.stack([_unpng(img) for _, img in chunk])
            emb = np.asarray(embedder.embed_images(imgs), dtype=np.float32)
            new.extend((int(r[0]), emb[i]) for i, r in enumerate(chunk))
            if progress is not None:
                progress(min(s + batch, total), total)
        with self._tx() as con:
            for rid, e in new:
                con.execute(
                    "UPDATE refs SET embedding = ?, dim = ?, fingerprint = ? WHERE id = ?",
                    (e.tobytes(), int(e.size), embedder.fingerprint, rid),
                )
        return total
