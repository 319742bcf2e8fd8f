"""The report notebook as the demo runs it: papermill, real (tiny) model checkpoints and samples, and its failure path."""
import contextlib, io, json, shutil

import numpy as np
import pytest

from hawcnb.core import UserError
from hawcnb.parse import write_events_npz
from hawcnb.runner import RunFailed, run_notebook


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny simulation and parse, a plain parameter GAN and a conditional WGAN trained for one epoch, and their samples."""
    from hawcnb import gan1d, image_gans
    from hawcnb.parse import cli_parse
    from hawcnb.simulate import simulate
    d = tmp_path_factory.mktemp("report")
    sim, data = d / "sim", d / "data"
    simulate("gamma", 200, 1, sim, progress=False)
    simulate("proton", 80, 2, sim, progress=False)
    with contextlib.redirect_stdout(io.StringIO()):
        for gen in ("one-dim", "two-channel-map"):
            cli_parse(["--hawc-dir", str(sim), "--save-dir", str(data), "--gen", gen])
    ds = gan1d.load_gamma(data)
    gan1d.train(ds["train"][0], gan1d.GANConfig(g_hidden=(32, 32), d_hidden=(32, 32), latent_dim=8, batch_size=64),
                d / "train_gan1d", 1, progress=False)
    meta = json.loads((data / "gamma_image_mapping_data_2.json").read_text())
    image_gans.train(image_gans.ImageGANConfig("wgan", 2, cond_dim=4, width=8, batch_size=32, n_critic=2),
                     np.load(data / "gamma_image_mapping_data_2.npy"), d / "train_wgan", 1, meta=meta,
                     truth=np.load(data / "gamma_truth_2.npy"), progress=False)
    with contextlib.redirect_stdout(io.StringIO()):
        gan1d.sample_cli_gan1d(["--checkpoint", str(d / "train_gan1d/last.pt"), "--n", "100", "--out", str(d / "gan1d.npz")])
        image_gans.sample_cli_wgan(["--checkpoint", str(d / "train_wgan/last.pt"), "--conditions",
                                    str(data / "gamma_test_truth_2.npy"), "--out", str(d / "wgan.npz")])
    return d


FAST = dict(n_splits=2, classifier_epochs=5, timing_budget_s=3.0, batch_sizes="1,100", sim_timing_events=30, threads=1)


def test_report_with_models(inputs):
    d = inputs
    # samples without a checkpoint (here simulated training events standing in): quoted with the stage's own timing
    stage = d / "sample_stage"; stage.mkdir()
    meta = json.loads((d / "data/gamma_image_mapping_data_2.json").read_text())
    write_events_npz(stage / "samples.npz", np.load(d / "data/gamma_image_mapping_data_2.npy"), meta,
                     truth=np.load(d / "data/gamma_truth_2.npy"), model="dcgan")
    (stage / "summary.json").write_text(json.dumps(dict(events_per_second=4000.0, batch_size=64)))
    out = run_notebook("experiments/report", dict(FAST, data_dir=str(d / "data"), gan1d_samples=str(d / "gan1d.npz"),
                                                  gan1d_checkpoint=str(d / "train_gan1d"), wgan_samples=str(d / "wgan.npz"),
                                                  wgan_checkpoint=str(d / "train_wgan/last.pt"),
                                                  dcgan_samples=str(stage / "samples.npz")),
                       out_dir=d / "run", progress=False)
    s = json.loads((out / "summary.json").read_text())
    # the one-epoch WGAN draws blank maps: its fidelity row says so, its cost row is there
    assert s["models"] in ("gan1d, dcgan", "gan1d, dcgan, wgan") and not s["ci_stand_ins"]
    for k in ("gan1d_ks_ratio_median", "gan1d_auc", "gan1d_n_params", "gan1d_cpu_us_per_event", "dcgan_image_auc",
              "dcgan_gh_gamma_pass", "wgan_n_params", "wgan_train_seconds", "wgan_cpu_us_per_event", "sim_us_per_event",
              "reco_us_per_event"):
        assert k in s, k
    assert s["gan1d_n_params"] == 8 * 32 + 32 + 32 * 32 + 32 + 32 * 8 + 8
    md = (out / "report.md").read_text()
    assert "| cgan1d | not run |" in md and "| pixelcnn | not run |" in md and "stand-in" not in md
    assert "sample stage: 250 µs per event at batch 64 (no checkpoint given)" in md
    assert "| dcgan | 9 rec.* from 2-ch images |" in md and "simulator (toy HAWC" in md
    assert "| wgan | 9 rec.* from 2-ch images |" in md or "| wgan | no usable events: 100% of the 40 generated events have no direction fit" in md
    for f in ("hists_gan1d.png", "hists_dcgan.png", "conditional.png", "gamma_hadron.png", "cost.png", "quantisation.png",
              "metrics_dcgan.csv", "report.ipynb"):
        assert (out / f).is_file(), f


def test_report_missing_samples_fails_with_pointer(inputs):
    with pytest.raises(RunFailed) as e:
        run_notebook("experiments/report", dict(FAST, data_dir=str(inputs / "data"), dcgan_samples=str(inputs / "nope.npz")),
                     out_dir=inputs / "bad", progress=False)
    assert "no such samples file" in str(e.value) and (inputs / "bad" / "report.ipynb").is_file()


def test_report_unknown_parameter():
    with pytest.raises(UserError, match="unknown parameter"):
        run_notebook("experiments/report", dict(vae_samples="x.npz"), progress=False)
