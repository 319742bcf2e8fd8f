"""PixelCNN++ under DistributedDataParallel: torchrun, 2 CPU processes, gloo. Two processes with batch 4 take the
same steps as one process with batch 8, so they must end with the same weights and test bits/dim."""
import json, os, subprocess, sys

import torch

from conftest import ROOT
from hawcnb.pixelcnn.model import load_checkpoint
from hawcnb.pixelcnn.train import CHECKPOINT, train

TINY = dict(preset='tiny', channels=2, epochs=1, synthetic_train=64, synthetic_test=15, synthetic_size=16,
            n_samples=1, log_every=2, progress_interval=60., lr=3e-3)


def test_two_processes_match_one(tmp_path):
    ddp = tmp_path / 'ddp'
    (tmp_path / 's.json').write_text(json.dumps(dict(TINY, batch_size=4, out_dir=str(ddp))))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        '-m', 'hawcnb.pixelcnn.train', '--settings', str(tmp_path / 's.json')],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'on cpu x 2' in r.stdout and r.stdout.count('epoch 1: train') == 1    # rank 0 alone reports
    one = tmp_path / 'one'
    n = torch.get_num_threads(); torch.set_num_threads(1)
    try: hist = train(dict(TINY, batch_size=8, out_dir=str(one)))
    finally: torch.set_num_threads(n)
    a, b = load_checkpoint(ddp / CHECKPOINT), load_checkpoint(one / CHECKPOINT)
    assert a['train_state']['step'] == b['train_state']['step'] == 8
    for part in ('model', 'ema'):
        for k, v in b[part].items():
            torch.testing.assert_close(a[part][k], v, rtol=1e-4, atol=1e-5, msg=f'{part}.{k}')
    ha = a['train_state']['history']
    for x, y in zip(ha, hist):
        assert abs(x['test_bpd'] - y['test_bpd']) < 1e-4                        # test set split over 2 ranks
    assert (ddp / 'samples' / 'epoch_001.png').exists()
