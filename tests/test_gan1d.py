"""`hawcnb sample gan1d|cgan1d` end to end through the `hawcnb` entry point: outputs, exit codes, one-line errors."""
import numpy as np
import pytest

from hawcnb import gan1d
from hawcnb.cli import main

TINY = dict(g_hidden=(16,), d_hidden=(16,), latent_dim=4, batch_size=128, optimizer='adam', lr=1e-3)


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp('gan1d')
    x, truth = gan1d.split_gamma_rows(gan1d.synthetic_gamma(500, seed=3))
    gan1d.train(x, gan1d.GANConfig(**TINY), d / 'plain', 1, progress=False)
    gan1d.train(x, gan1d.GANConfig(n_conditions=4, **TINY), d / 'cond', 1, truth=truth, progress=False)
    return d, truth


def _one_line_error(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0], err


def test_sample_plain(ckpts, capsys):
    d, _ = ckpts
    out = d / 'p.npz'
    assert main(['sample', 'gan1d', '--checkpoint', str(d / 'plain/last.pt'), '--n', '1000', '--out', str(out), '--seed', '5']) == 0
    z = np.load(out)
    assert z['features'].shape == (1000, 8) and list(z['feature_names']) == gan1d.FEATURES
    np.testing.assert_allclose(z['rec.CxPE40'], np.exp(z['features'][:, 7].astype(np.float64)) - 0.01, rtol=1e-6)
    again = d / 'p2.npz'
    main(['sample', 'gan1d', '--checkpoint', str(d / 'plain/last.pt'), '--n', '1000', '--out', str(again), '--seed', '5'])
    np.testing.assert_array_equal(np.load(again)['features'], z['features'])


def test_sample_conditional(ckpts, capsys):
    d, truth = ckpts
    np.save(d / 'rows.npy', gan1d.synthetic_gamma(40, seed=9))      # gamma_data rows (n, 11) work as conditions too
    assert main(['sample', 'cgan1d', '--checkpoint', str(d / 'cond/last.pt'), '--conditions', str(d / 'rows.npy'),
                 '--n', '30', '--out', str(d / 'c.npz')]) == 0
    z = np.load(d / 'c.npz')
    assert z['features'].shape == (30, 8) and z['truth'].shape == (30, 3)
    np.testing.assert_allclose(z['SimEvent.thetaTrue'], gan1d.synthetic_gamma(40, seed=9)[:30, 9], rtol=1e-6)


def test_sample_errors(ckpts, capsys):
    d, _ = ckpts
    ck = str(d / 'cond/last.pt')
    _one_line_error(capsys, ['sample', 'gan1d', '--checkpoint', ck, '--n', '5', '--out', str(d / 'x.npz')], 'is a cgan1d checkpoint')
    _one_line_error(capsys, ['sample', 'cgan1d', '--checkpoint', ck, '--uniform', '--out', str(d / 'x.npz')], '--uniform needs --n')
    _one_line_error(capsys, ['sample', 'cgan1d', '--checkpoint', ck, '--conditions', str(d / 'none.npy'), '--out', str(d / 'x.npz')],
                    'no conditions file')
    np.save(d / 'bad.npy', np.zeros((4, 5)))
    _one_line_error(capsys, ['sample', 'cgan1d', '--checkpoint', ck, '--conditions', str(d / 'bad.npy'), '--out', str(d / 'x.npz')],
                    'shape (n, 3) or (n, 11)')
    _one_line_error(capsys, ['sample', 'cgan1d', '--checkpoint', ck, '--uniform', '--n', '3', '--device', 'cuda:7', '--out', str(d / 'x.npz')],
                    'CUDA')
    (d / 'junk.pt').write_bytes(b'not a checkpoint')
    _one_line_error(capsys, ['sample', 'gan1d', '--checkpoint', str(d / 'junk.pt'), '--n', '5', '--out', str(d / 'x.npz')], 'cannot read checkpoint')
    _one_line_error(capsys, ['sample', 'gan1d', '--checkpoint', str(d / 'plain/last.pt'), '--n', '0', '--out', str(d / 'x.npz')], 'positive')
    _one_line_error(capsys, ['sample', 'pixelgan'], "unknown model 'pixelgan'")
    assert not (d / 'x.npz').exists()


def test_corrupt_checkpoint_resume_is_user_error(tmp_path):
    (tmp_path / 'last.pt').write_bytes(b'\0' * 10)
    x, _ = gan1d.split_gamma_rows(gan1d.synthetic_gamma(100))
    with pytest.raises(gan1d.UserError, match='cannot read checkpoint'):
        gan1d.train(x, gan1d.GANConfig(**TINY), tmp_path, 1, progress=False)


@pytest.mark.parametrize('nb, names', [
    ('train_gan1d', {'model', 'data_path', 'out_dir', 'epochs', 'batch_size', 'lr', 'latent_dim', 'device', 'seed'}),
    ('eval_gan1d', {'plain_checkpoint', 'cond_checkpoint', 'data_path', 'out_dir', 'device', 'seed'}),
    ('ablation_gan1d', {'variants', 'data_path', 'out_dir', 'epochs'})])
def test_papermill_sees_every_parameter(nb, names):
    "papermill skips a parameter line holding two `=` (e.g. in its comment): every parameter must be visible to it."
    import json
    from conftest import ROOT
    from hawcnb.runner import notebook_parameters
    path = ROOT / 'nbs' / 'experiments' / f'{nb}.ipynb'
    params = notebook_parameters(path)
    assert names <= set(params)
    cell = next(c for c in json.loads(path.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', []))
    assigned = [l.split('=')[0].strip() for l in ''.join(cell['source']).splitlines() if '=' in l and not l.lstrip().startswith('#')]
    assert set(assigned) == set(params)
