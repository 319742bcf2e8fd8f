"""hawcnb to-xcdf on one- and two-channel maps: the file reads back, parses like a simulated one, and gives the
maps back when encoded with the original constants."""
import json
import shutil

import numpy as np
import pytest

from hawcnb.cli import main
from hawcnb.detector import load_layout
from hawcnb.parse import ImageEncoding, hits_to_images, parse, write_events_npz
from hawcnb.simulate import simulate
from hawcnb.xcdf import XCDFFile


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp('sim')
    simulate('gamma', 120, seed=11, out_dir=d / 'sim', progress=False)
    return d


@pytest.mark.parametrize('channels', [1, 2])
def test_to_xcdf_round_trip(sim, tmp_path, channels):
    meta = parse(sim / 'sim', tmp_path / 'data', 'two-channel-map' if channels == 2 else 'one-channel-map')
    meta = json.loads(json.dumps(meta, default=lambda o: o.tolist()))      # as stored on disk
    s = '_2' if channels == 2 else ''
    maps = np.load(tmp_path / 'data' / f'gamma_image_mapping_data{s}.npy')
    truth = np.load(tmp_path / 'data' / f'gamma_truth{s}.npy')
    write_events_npz(tmp_path / 'gen.npz', maps, meta, truth=None if channels == 1 else truth)
    out = tmp_path / 'gen' / 'gamma' / 'gen.xcd'
    assert main(['to-xcdf', str(tmp_path / 'gen.npz'), '--out', str(out), '--layout', str(sim / 'sim' / 'layout.csv')]) == 0
    enc = ImageEncoding.from_meta(meta)
    with XCDFFile(out) as f:
        c = f.read(['event.hit.gridId', 'event.hit.charge', 'event.hit.time', 'rec.zenithAngle', 'SimEvent.energyTrue',
                    'event.hit.xPMT'])
        assert f.count == len(maps)
    assert np.array_equal(hits_to_images(c['event.nHit'], c['event.hit.gridId'], c['event.hit.charge'],
                                         c['event.hit.time'], enc), maps)
    lay = load_layout(sim / 'sim' / 'layout.csv')
    assert np.allclose(c['event.hit.xPMT'], lay.x[c['event.hit.gridId'].astype(int) - 1], atol=2**-7)
    if channels == 1:
        assert (c['event.hit.time'] == 0).all() and np.isnan(c['SimEvent.energyTrue']).all()
    else:
        assert np.allclose(c['SimEvent.energyTrue'], truth[:, 0], atol=0.01)
    shutil.copy(sim / 'sim' / 'layout.csv', tmp_path / 'gen' / 'layout.csv')
    m2 = parse(tmp_path / 'gen', tmp_path / 'data2', 'two-channel-map' if channels == 2 else 'one-channel-map',
               test_fraction=0.0)
    assert m2['n_events'] == len(maps)


def test_to_xcdf_wrong_layout(sim, tmp_path, capsys):
    "A layout with fewer PMTs than the grid map knows is a one-line user error."
    meta = parse(sim / 'sim', tmp_path / 'data', 'two-channel-map')
    meta = json.loads(json.dumps(meta, default=lambda o: o.tolist()))
    maps = np.load(tmp_path / 'data' / 'gamma_image_mapping_data_2.npy')
    lines = (sim / 'sim' / 'layout.csv').read_text().splitlines()
    (tmp_path / 'small.csv').write_text('\n'.join(lines[:1 + 400]) + '\n')
    write_events_npz(tmp_path / 'gen.npz', maps, meta)
    rc = main(['to-xcdf', str(tmp_path / 'gen.npz'), '--out', str(tmp_path / 'x.xcd'), '--layout', str(tmp_path / 'small.csv')])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert not (tmp_path / 'x.xcd').exists()
