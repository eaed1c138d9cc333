"""Every training default is declared once: the recipe modules hold their epochs and batch
size, TrainConfig the rest, the tower's constructor the same shape as TrainConfig, and the
command line passes on only what the user typed."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from training import seed_recipe, twin_recipe
from training.model import TwinNet, build_model
from training.train import TrainConfig


def test_the_seed_recipe_trains_as_the_notebook_did_from_python_too():
    c = TrainConfig(arch="seed").resolved()
    assert (c.epochs, c.batch_size) == (seed_recipe.EPOCHS, seed_recipe.BATCH_SIZE) == (10, 16)
    assert (c.mean, c.std, c.embedding_dim) == (0.0, 1.0, 10)
    assert c.recipe == seed_recipe.DESCRIPTION
    t = TrainConfig().resolved()
    assert (t.epochs, t.batch_size) == (twin_recipe.EPOCHS, twin_recipe.BATCH_SIZE) == (12, 256)
    assert TrainConfig(epochs=3, batch_size=32).resolved().epochs == 3  # what is given stays


def test_the_tower_defaults_are_the_training_defaults():
    c = TrainConfig()
    net = TwinNet()
    ref = build_model("twin", embedding_dim=c.embedding_dim, width=c.width, stem=c.stem)
    assert [p.shape for p in net.parameters()] == [p.shape for p in ref.parameters()]
    with pytest.raises(ValueError, match="unknown stem"):
        TwinNet(stem="double")  # the first layout's shim is gone


def test_the_description_is_built_from_its_parts():
    c = TrainConfig(aux_weight=0.2).resolved()
    assert "CosFace head" in c.recipe and "Omniglot" not in c.recipe
    o = TrainConfig().resolved(omniglot_given=True)
    assert "Omniglot background characters" in o.recipe and o.recipe.index("Omniglot") < o.recipe.index("AdamW")
    assert "hard positives" not in o.recipe  # retired knobs are not described


def test_cli_passes_on_only_what_was_typed(tmp_path):
    from desktop_app.cli.main import build_parser
    from desktop_app.cli.train import _new_config

    args = build_parser().parse_args(["train", "--out", str(tmp_path)])
    c = _new_config(args)
    base = TrainConfig(out_dir=str(tmp_path)).resolved(describe=False)
    assert dataclasses.asdict(c) == dataclasses.asdict(base)
    args = build_parser().parse_args(["train", "--arch", "seed", "--out", str(tmp_path)])
    assert (_new_config(args).epochs, _new_config(args).batch_size) == (10, 16)
    args = build_parser().parse_args(["train", "--width", "8", "--lr", "0.01", "--out", str(tmp_path)])
    c = _new_config(args)
    assert (c.width, c.lr, c.epochs) == (8, 0.01, 12)
