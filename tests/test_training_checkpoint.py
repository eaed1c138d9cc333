"""Checkpoint save/load round trip and clear errors (no MNIST needed)."""

import pytest

torch = pytest.importorskip("torch")

from training.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from training.model import build_model


def _fields(model, arch, kwargs):
    return dict(
        arch=arch,
        model_kwargs=kwargs,
        state_dict=model.state_dict(),
        config={
            "mean": 0.1307,
            "std": 0.3081,
            "margin": 1.0,
            "epochs": 1,
            "seed": 0,
            "batch_size": 8,
            "embedding_dim": kwargs.get("embedding_dim", 10),
            "normalized": model.normalized,
            "holdout_classes": [],
            "data_dir": "x",
            "recipe": "test",
        },
        metrics={},
        class_split={"train_classes": list(range(10)), "holdout_classes": []},
        val_indices=[1, 2, 3],
        epoch=1,
        optimizer=None,
        scheduler=None,
        rng=None,
    )


@pytest.mark.parametrize("arch,kwargs", [("seed", {}), ("twin", {"embedding_dim": 16, "width": 8})])
def test_round_trip_gives_same_embeddings(tmp_path, arch, kwargs):
    torch.manual_seed(0)
    model = build_model(arch, **kwargs).eval()
    x = torch.rand(4, 1, 28, 28)
    path = save_checkpoint(tmp_path / "sub" / "best.pt", **_fields(model, arch, kwargs))
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    ckpt = load_checkpoint(path)
    assert ckpt["versions"]["torch"] == torch.__version__ and ckpt["created"][:2] == "20"
    assert ckpt["val_indices"] == [1, 2, 3]
    loaded = model_from_checkpoint(ckpt)
    assert not loaded.training
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"hello": 1}, other)
    with pytest.raises(CheckpointError, match="not a twinlock"):
        load_checkpoint(other)
