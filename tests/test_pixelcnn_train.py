"""PixelCNN++ training: a killed run resumes to the same weights, a NaN stops training and keeps the last good
checkpoint, and a checkpoint of another model is not resumed."""
import json, os, signal, subprocess, sys, time

import numpy as np
import pytest
import torch

from conftest import ROOT
from hawcnb.core import UserError
from hawcnb.pixelcnn.data import synthetic_images
from hawcnb.pixelcnn.model import load_checkpoint
from hawcnb.pixelcnn.train import CHECKPOINT, TrainingDiverged, main, train

# 64 maps of 16x16, batch 8: 8 steps per epoch; dropout on, so resuming must restore the dropout masks too
TINY = dict(preset='tiny', channels=2, batch_size=8, epochs=2, synthetic_train=64, synthetic_test=16,
            synthetic_size=16, n_samples=0, log_every=1, progress_interval=60., lr=3e-3, dropout=0.2)


@pytest.fixture
def one_thread():
    "Single-threaded torch, as the subprocess: the same arithmetic order in both runs."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _weights(path):
    ck = load_checkpoint(path)
    return ck, {**{f'model.{k}': v for k, v in ck['model'].items()}, **{f'ema.{k}': v for k, v in ck['ema'].items()}}


def test_killed_run_resumes_to_the_same_weights(tmp_path, one_thread):
    whole = tmp_path / 'whole'
    train(dict(TINY, out_dir=str(whole)))
    # the same run in another process, checkpointing every 3 steps, killed (SIGKILL) after its first checkpoint
    killed = tmp_path / 'killed'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'hawcnb.pixelcnn.train', '--set', f'out_dir={killed}', '--set', 'ckpt_every=3']
    cmd += [a for k, v in TINY.items() for a in ('--set', f'{k}={json.dumps(v)}')]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while not (killed / CHECKPOINT).exists():
            assert p.poll() is None, p.stderr.read().decode()[-2000:]
            assert time.time() - t0 < 240, 'no checkpoint within 240 s'
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait()
    ck = load_checkpoint(killed / CHECKPOINT)
    ts = ck['train_state']
    assert (ts['epoch'], ts['batch']) < (2, 0), 'the run ended before it was killed: nothing resumed'
    hist = train(dict(TINY, out_dir=str(killed)))                      # resume in this process
    (_, a), (_, b) = _weights(whole / CHECKPOINT), _weights(killed / CHECKPOINT)
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), k
    whole_hist = json.loads((whole / 'history.json').read_text())
    assert [e['test_bpd'] for e in hist] == [e['test_bpd'] for e in whole_hist]


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, one_thread):
    data = synthetic_images(64, 16, channels=2, seed=1, size=16)
    perm = np.random.default_rng([1, 0]).permutation(64)                   # order of the first epoch (seed 1)
    data.h_train[perm[8 * 5]] = np.nan                                     # poisons its 6th batch (step 6)
    with pytest.raises(TrainingDiverged, match='last good checkpoint') as e:
        train(dict(TINY, out_dir=str(tmp_path), epochs=3, ckpt_every=2), data=data)
    assert 'loss is nan at epoch 1, step 6' in str(e.value) and '(step 4: epoch 1, batch 4)' in str(e.value)
    ck, w = _weights(tmp_path / CHECKPOINT)
    assert ck['train_state']['step'] == 4 and (ck['train_state']['epoch'], ck['train_state']['batch']) == (0, 4)
    assert all(torch.isfinite(v).all() for v in w.values() if v.is_floating_point())


def test_resume_refuses_another_model(tmp_path, one_thread):
    train(dict(TINY, out_dir=str(tmp_path), epochs=1))
    with pytest.raises(UserError, match='holds a different model'):
        train(dict(TINY, out_dir=str(tmp_path), epochs=2, nr_filters=12))


def test_command_line_errors():
    with pytest.raises(UserError, match='expected NAME=VALUE'):
        main(['--set', 'epochz=2'])
    with pytest.raises(UserError, match='unknown preset'):
        main(['--set', 'preset=huge'])
