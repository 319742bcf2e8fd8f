"""Image GANs on tiny runs: both models and channel counts train, resume exactly, keep dead pixels empty,
stop on NaN with the last good checkpoint, and sample through the command-line entry points."""
import json

import numpy as np
import pytest
import torch

import hawcnb.image_gans as ig
from hawcnb.core import UserError


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    "Tiny convolutions: one thread is fastest, and avoids oversubscribing the cores when pytest runs in parallel."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data():
    return ig.synthetic_events(48, 2, seed=7)


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("model,channels,cond", [("dcgan", 1, False), ("dcgan", 2, True), ("wgan", 1, True), ("wgan", 2, False)])
def test_train_resume_and_mask(tmp_path, data, model, channels, cond):
    img, truth, meta = data
    cfg = ig.ImageGANConfig(model, channels, cond_dim=4 if cond else 0, width=4, z_dim=8, batch_size=16, n_critic=2)
    kw = dict(meta=meta, truth=truth if cond else None, progress=False)
    a = ig.train(cfg, img, tmp_path / "a", 2, **kw)
    ig.train(cfg, img, tmp_path / "b", 1, **kw)
    b = ig.train(cfg, img, tmp_path / "b", 2, **kw)          # resumed from epoch 1
    assert a.stopped == b.stopped == "done" and a.epoch == b.epoch == 2
    assert _same(a.G, b.G) and _same(a.D, b.D)
    live = np.array(meta["live_mask"])
    n = 20
    x, t, _ = ig.sample_events(tmp_path / "a" / "last.pt", n, uniform=cond, seed=3)
    assert x.shape == (n, 40, 40, channels) and x.dtype == np.uint8
    assert (x[:, ~live] == 0).all()
    assert (t is not None) == cond


def test_mask_holds_for_any_weights():
    "Dead pixels are no-hit whatever the weights: even a generator pushed to saturate every pixel."
    cfg = ig.ImageGANConfig("wgan", 2, width=4, z_dim=8)
    live = ig.synthetic_live_mask()
    G = ig.Generator(cfg, live, no_hit=[0, 0], tie_time=True)
    with torch.no_grad():
        for p in G.parameters(): p.fill_(0.5)
    x = ig.generate(G, 10)
    assert (x[:, ~live] == 0).all() and (x[:, live, 0] == 255).all()


def test_nan_stop_keeps_last_good(tmp_path, data, monkeypatch):
    img, truth, meta = data
    cfg = ig.ImageGANConfig("dcgan", 2, width=4, z_dim=8, batch_size=16)
    ig.train(cfg, img, tmp_path, 1, meta=meta, progress=False)
    good = (tmp_path / "last.pt").read_bytes()
    monkeypatch.setattr(ig, "generator_loss", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    st = ig.train(cfg, img, tmp_path, 3, meta=meta, progress=False)
    assert st.stopped == "nan" and (tmp_path / "last.pt").read_bytes() == good
    assert json.loads((tmp_path / "nan_stop.json").read_text())["epoch"] == 2


def test_checkpoint_is_plain_data(tmp_path, data):
    img, truth, meta = data
    ig.train(ig.ImageGANConfig("wgan", 1, width=4, z_dim=8, batch_size=16), img, tmp_path, 1, meta=meta, progress=False)
    sd = torch.load(tmp_path / "last.pt", weights_only=True)      # no pickled classes
    assert sd["config"]["model"] == "wgan" and sd["transforms"]["live_mask"] == meta["live_mask"]
    assert json.loads(sd["transforms"]["metadata"]) == meta


def test_sample_cli(tmp_path, data, capsys):
    img, truth, meta = data
    ig.train(ig.ImageGANConfig("dcgan", 1, width=4, z_dim=8, batch_size=16), img, tmp_path, 1, meta=meta, progress=False)
    out = tmp_path / "s.npz"
    assert ig.sample_cli_dcgan(["--checkpoint", str(tmp_path / "last.pt"), "--n", "9", "--out", str(out), "--seed", "2"]) == 0
    f = np.load(out)
    assert f["images"].shape == (9, 40, 40, 1) and "truth" not in f.files
    assert json.loads(str(f["generator"]))["seed"] == 2
    assert "events/s" in capsys.readouterr().out
    for argv, msg in [(["--n", "3", "--out", str(tmp_path / "x.npz"), "--uniform"], "not conditional"),
                      (["--n", "-1", "--out", str(tmp_path / "x.npz")], ">= 0"),
                      (["--n", "3", "--out", str(tmp_path / "x.npz"), "--device", "cuda:7"], "cuda"),
                      (["--n", "3"], "required")]:
        with pytest.raises(UserError, match=msg):
            ig.sample_cli_dcgan(["--checkpoint", str(tmp_path / "last.pt")] + argv)
    with pytest.raises(UserError, match="is a dcgan checkpoint"):
        ig.sample_cli_wgan(["--checkpoint", str(tmp_path / "last.pt"), "--n", "3", "--out", str(out)])
    assert not (tmp_path / "x.npz").exists()


def test_hawcnb_sample_command(tmp_path, data, capsys):
    "`hawcnb sample wgan ...` through the console entry point: exit 0, and one line + exit 2 for a user error."
    from hawcnb.cli import main
    img, truth, meta = data
    ig.train(ig.ImageGANConfig("wgan", 2, cond_dim=4, width=4, z_dim=8, batch_size=16), img, tmp_path, 1, meta=meta,
             truth=truth, progress=False)
    np.save(tmp_path / "truth.npy", truth[:5])
    ck, out = str(tmp_path / "last.pt"), str(tmp_path / "s.npz")
    assert main(["sample", "wgan", "--checkpoint", ck, "--out", out, "--conditions", str(tmp_path / "truth.npy")]) == 0
    from hawcnb.parse import read_events
    ev = read_events(out)
    assert ev.images.shape == (5, 40, 40, 2) and np.allclose(ev.truth, truth[:5])
    capsys.readouterr()
    assert main(["sample", "wgan", "--checkpoint", ck, "--out", out, "--n", "5"]) == 2
    err = capsys.readouterr().err
    assert "needs conditions" in err and len(err.strip().splitlines()) == 1


def test_bad_training_input(tmp_path):
    cfg = ig.ImageGANConfig("wgan", 2, width=4)
    with pytest.raises(UserError, match="uint8 maps"):
        ig.train(cfg, np.zeros((4, 40, 40, 2), np.float32), tmp_path)
    with pytest.raises(UserError, match="the model needs 2"):
        ig.train(cfg, np.zeros((4, 40, 40, 1), np.uint8), tmp_path)
    with pytest.raises(UserError, match="needs the true showers"):
        ig.train(ig.ImageGANConfig("wgan", 2, cond_dim=4, width=4), np.zeros((4, 40, 40, 2), np.uint8), tmp_path)
