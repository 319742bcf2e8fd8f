"""hawcnb.parse and hawcnb.gridmap: exact inverses, the split, --legacy against the original algorithm, every --gen
mode on the toy simulator's XCDF files through the command, and the error paths (one line, exit 2, nothing written)."""
import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hawcnb.cli import main as hawcnb
from hawcnb.detector import make_layout
from hawcnb.gridmap import GridMap, derive_gridmap, load_gridmap
from hawcnb.parse import (GENS, HIT_FIELDS, ImageEncoding, MemorySource, ONE_DIM_FIELDS, Quantiser, condition_features,
                          hits_to_images, image_to_hits, image_to_physical, original_parse_images, parse_images,
                          parse_one_dim, pmt_hits, read_events, split_indices, synthetic_columns, write_events_npz,
                          write_xcdf)

LAY = make_layout()
GM = derive_gridmap(LAY)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = hawcnb(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def hawc(tmp_path_factory):
    """A HAWC/ folder from the toy simulator: two gamma files of 60 events, one proton file of 30, layout.csv."""
    from hawcnb.simulate import simulate
    d = tmp_path_factory.mktemp('hawc')
    simulate('gamma', 120, seed=20, out_dir=d, events_per_file=60, progress=False)
    simulate('proton', 30, seed=21, out_dir=d, events_per_file=30, progress=False)
    return d


def _enc(channels=2):
    return ImageEncoding(GM, channels, Quantiser(np.log(0.05), np.log(3e3)), Quantiser(-150, 400) if channels == 2 else None)


# ---------------------------------------------------------------- exact inverses

@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 2), st.floats(0.0, 1.0))
def test_image_hits_image_is_exact(seed, channels, fill):
    rng = np.random.default_rng(seed)
    enc = _enc(channels)
    live = enc.live
    img = np.zeros((5, 40, 40, channels), np.uint8)
    hit = (rng.random((5, 40, 40)) < fill) & live
    img[..., 0] = np.where(hit, rng.integers(1, 256, hit.shape), 0)
    if channels == 2: img[..., 1] = np.where(hit, rng.integers(1, 256, hit.shape), 0)
    back = hits_to_images(*image_to_hits(img, enc), enc)
    np.testing.assert_array_equal(back, img)


def test_physical_within_half_a_step():
    cols, _ = synthetic_columns(LAY, 80, seed=5)
    enc = _enc()
    img = hits_to_images(cols['event.nHit'], cols['event.hit.gridId'], cols['event.hit.charge'], cols['event.hit.time'], enc)
    key, q, t = pmt_hits(cols['event.nHit'], cols['event.hit.gridId'], cols['event.hit.charge'], cols['event.hit.time'],
                         GM.flat, 1600)
    phys = image_to_physical(img, enc).reshape(-1, 2)
    inside = (np.log(q) >= enc.charge.lo) & (np.log(q) <= enc.charge.hi)
    assert np.abs(np.log(phys[key, 0]) - np.log(q))[inside].max() <= enc.charge.step / 2 + 1e-9
    assert np.abs(phys[key, 1] - t).max() <= enc.time.step / 2 + 1e-9
    assert np.isnan(phys[:, 0]).sum() == len(phys) - len(key)


def test_repeated_hits_sum_charge_and_take_the_earliest_time():
    enc = _enc()
    counts, gid = [3], [17, 17, 17]
    img = hits_to_images(counts, gid, [1.0, 2.0, 4.0], [30.0, -20.0, 50.0], enc)
    c, g, q, t = image_to_hits(img, enc)
    assert list(g) == [17] and abs(np.log(q[0]) - np.log(7.0)) <= enc.charge.step / 2
    assert abs(t[0] + 20.0) <= enc.time.step / 2


@settings(max_examples=30, deadline=None)
@given(st.floats(-1e3, 1e3), st.floats(1e-3, 1e4))
def test_quantiser_inverse(lo, width):
    qz = Quantiser(lo, lo + width)
    k = np.arange(1, 256)
    np.testing.assert_array_equal(qz.level(qz.value(k)), k)
    v = np.linspace(lo, lo + width, 1001)
    assert np.abs(qz.value(qz.level(v)) - v).max() <= qz.step / 2 * (1 + 1e-9) + 1e-12 * abs(lo)


def test_gridmap_inverse_and_quality_on_the_toy_layout():
    q = GM.meta['quality']
    assert q['pairs_kept'] > 0.97 and q['distance_rho'] > 0.98
    r, c = GM.pixel_of(np.arange(1, 1201))
    np.testing.assert_array_equal(GM.grid_id_at(r, c), np.arange(1, 1201))
    assert GM.mapped.sum() == 1200


# ---------------------------------------------------------------- split

@pytest.mark.parametrize('n,seed,frac', [(10, 0, 0.2), (999, 3, 0.1), (1, 0, 0.0), (500, 7, 0.5)])
def test_split_is_a_partition(n, seed, frac):
    tr, te = split_indices(n, seed, frac)
    assert len(np.intersect1d(tr, te)) == 0
    np.testing.assert_array_equal(np.sort(np.r_[tr, te]), np.arange(n))
    assert len(tr) == int(n * (1 - frac))


def test_no_test_event_in_training_files(hawc, tmp_path):
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--seed', '5')[0] == 0
    m = json.loads((tmp_path/'gamma_image_mapping_data_2.json').read_text())
    assert not set(m['split']['train']) & set(m['split']['test'])
    truth_tr, truth_te = np.load(tmp_path/'gamma_truth_2.npy'), np.load(tmp_path/'gamma_test_truth_2.npy')
    assert not {tuple(r) for r in truth_tr} & {tuple(r) for r in truth_te}   # every event's truth is distinct
    assert len(truth_tr) + len(truth_te) == 120


# ---------------------------------------------------------------- --legacy against the original algorithm

def _file_events(folder):
    from hawcnb.xcdf import XCDFFile
    for p in sorted(Path(folder).glob('*.xcd')):
        with XCDFFile(p) as f:
            yield from f.fields('event.hit.charge, event.hit.time, event.hit.gridId, rec.zenithAngle, rec.azimuthAngle')


@pytest.mark.parametrize('gen,channels', [('one-channel-map', 1), ('two-channel-map', 2)])
def test_legacy_images_equal_the_original_loop(hawc, tmp_path, gen, channels):
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--gen', gen, '--legacy')[0] == 0
    s = '_2' if channels == 2 else ''
    ref = original_parse_images(_file_events(hawc/'gamma'), LAY.sqmap(), channels)
    for name, r in zip([f'gamma_image_mapping_data{s}', f'gamma_labels{s}', f'gamma_test_image_mapping_data{s}',
                        f'gamma_test_labels{s}'], ref):
        got = np.load(tmp_path/f'{name}.npy')
        assert got.dtype == r.dtype
        np.testing.assert_array_equal(got, r)


def _original_one_dim(events, seed=0):
    """The original gen_gamma_params, transcribed (seeded shuffle)."""
    data = []
    for e in events:
        if abs(e[3] - np.pi) > 0.01: data.append(e)
    data = np.array(data, dtype=np.float32)
    data[:, 1] = np.log(data[:, 1])
    data[:, 7] = np.log(data[:, 7] + 0.01)
    data[:, 8] = np.log(data[:, 8])
    assert data.shape[1] == 11
    np.random.RandomState(seed).shuffle(data)
    return data


def test_legacy_one_dim_equals_the_original(hawc, tmp_path):
    from hawcnb.xcdf import XCDFFile
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--gen', 'one-dim', '--legacy')[0] == 0
    ev = []
    for p in sorted((hawc/'gamma').glob('*.xcd')):
        with XCDFFile(p) as f: ev += list(f.fields(', '.join(ONE_DIM_FIELDS)))
    np.testing.assert_array_equal(np.load(tmp_path/'gamma_data.npy'), _original_one_dim(ev))
    assert not (tmp_path/'gamma_test_data.npy').exists()


def test_legacy_one_channel_on_memory_with_small_chunks():
    cols, par = synthetic_columns(LAY, 50, seed=9)
    sq = GridMap.from_dict(LAY.sqmap())
    outs = []
    for bs in (7, 1000):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            parse_images(['x'], d, 1, gridmap=sq, legacy=True, open_file=lambda f: MemorySource(cols, par, block_size=bs))
            outs.append(np.load(Path(d)/'gamma_image_mapping_data.npy'))
    np.testing.assert_array_equal(outs[0], outs[1])


# ---------------------------------------------------------------- every --gen mode on files

def test_every_gen_mode_shapes(hawc, tmp_path):
    for gen in GENS:
        rc, out, err = run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--gen', gen)
        assert (rc, err) == (0, '')
    sh = {p.name: np.load(p, mmap_mode='r') for p in tmp_path.glob('*.npy')}
    assert sh['layout.npy'].shape == (1200, 3)
    assert sh['gamma_data.npy'].shape[1] == 11 and sh['gamma_data.npy'].dtype == np.float32
    for s, c in (('', 1), ('_2', 2)):
        assert sh[f'gamma_image_mapping_data{s}.npy'].shape == (96, 40, 40, c)
        assert sh[f'gamma_test_image_mapping_data{s}.npy'].shape == (24, 40, 40, c)
        assert sh[f'gamma_image_mapping_data{s}.npy'].dtype == np.uint8
        assert sh[f'gamma_labels{s}.npy'].shape == (96, 2) and sh[f'gamma_test_truth{s}.npy'].shape == (24, 3)
        m = json.loads((tmp_path/f'gamma_image_mapping_data{s}.json').read_text())
        assert np.array(m['live_mask']).shape == (40, 40) and m['no_hit'] == [0] * c
    assert (tmp_path/'squaremapping.py').exists() and load_gridmap(tmp_path/'gridmap.json').mapped.sum() > 1100
    assert not list(tmp_path.glob('.*.part'))


def test_small_particle_and_mapping_options(hawc, tmp_path):
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--small', '--gen', 'one-channel-map')[0] == 0
    assert json.loads((tmp_path/'gamma_image_mapping_data.json').read_text())['n_events'] == 60
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--particle', 'proton')[0] == 0
    assert np.load(tmp_path/'proton_test_image_mapping_data_2.npy').shape == (6, 40, 40, 2)
    # --mapping with the layout's squaremapping.py gives the legacy map; the images follow it
    from hawcnb.detector import save_squaremapping
    save_squaremapping(LAY, tmp_path/'squaremapping.py')
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path/'m'), '--mapping',
               str(tmp_path/'squaremapping.py'))[0] == 0
    m = json.loads((tmp_path/'m'/'gamma_image_mapping_data_2.json').read_text())
    np.testing.assert_array_equal(GridMap.from_dict(m['gridmap']).pixel, GridMap.from_dict(LAY.sqmap()).pixel)


def test_outputs_are_deterministic(hawc, tmp_path):
    for d in ('a', 'b'): assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path/d))[0] == 0
    for p in (tmp_path/'a').glob('*.npy'):
        np.testing.assert_array_equal(np.load(p), np.load(tmp_path/'b'/p.name))


def test_hits_from_positions_when_there_is_no_layout_file(hawc, tmp_path):
    h = tmp_path/'h'
    shutil.copytree(hawc/'gamma', h/'gamma')
    assert run('parse', '--hawc-dir', str(h), '--save-dir', str(tmp_path/'o'), '--gen', 'one-channel-map')[0] == 0
    m = json.loads((tmp_path/'o'/'gamma_image_mapping_data.json').read_text())
    assert m['gridmap']['meta']['source'] == 'PMT positions seen in the hits'


# ---------------------------------------------------------------- errors

def test_errors_are_one_line_and_write_nothing(hawc, tmp_path):
    out = tmp_path/'out'
    out.mkdir(); (out/'keep.txt').write_text('x')
    (tmp_path/'empty').mkdir()
    cols, par = synthetic_columns(LAY, 10, seed=1)
    del cols['SimEvent.energyTrue']
    write_xcdf(tmp_path/'nofield'/'gamma'/'a.xcd', cols, par)
    (tmp_path/'corrupt'/'gamma').mkdir(parents=True)
    src = next((hawc/'gamma').glob('*.xcd')).read_bytes()
    (tmp_path/'corrupt'/'gamma'/'a.xcd').write_bytes(src[:len(src) // 2])
    (tmp_path/'bad.json').write_text('{"1": [0, 0], "2": [0, 0]}')
    cases = [(['--hawc-dir', str(tmp_path/'missing')], 'does not exist'),
             (['--hawc-dir', str(tmp_path/'empty')], 'no gamma files'),
             (['--hawc-dir', str(hawc), '--particle', 'iron'], 'no iron files'),
             (['--hawc-dir', str(tmp_path/'nofield')], "no field 'SimEvent.energyTrue'"),
             (['--hawc-dir', str(tmp_path/'corrupt')], ''),
             (['--hawc-dir', str(hawc), '--mapping', str(tmp_path/'bad.json')], 'more than one gridId'),
             (['--hawc-dir', str(hawc), '--gen', 'movie'], 'invalid choice'),
             (['--hawc-dir', str(hawc), '--test-fraction', '-0.1'], '--test-fraction'),
             (['--hawc-dir', str(hawc), '--seed', 'x'], 'invalid int')]
    for args, msg in cases:
        rc, o, err = run('parse', '--save-dir', str(out), *args)
        assert rc == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and msg in err, (args, err)
        assert sorted(p.name for p in out.iterdir()) == ['keep.txt'], args
    rc, _, _ = run('parse', '--hawc-dir', str(tmp_path/'empty'), '--save-dir', str(tmp_path/'never'))
    assert rc == 2 and not (tmp_path/'never').exists()


# ---------------------------------------------------------------- shared pieces

def test_condition_features():
    f = condition_features(np.array([[1e3, 0.0, 0.0], [10.0, 90.0, 270.0]]))
    assert f.dtype == np.float32 and f.shape == (2, 4)
    np.testing.assert_allclose(f[:, 1:], [[1, 1, 0], [0, 0, -1]], atol=1e-6)
    np.testing.assert_allclose(f[:, 0], (np.log10([1e3, 10.0]) - 3.357) / 0.743, rtol=1e-6)


def test_events_npz_round_trip(hawc, tmp_path):
    assert run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path))[0] == 0
    m = json.loads((tmp_path/'gamma_image_mapping_data_2.json').read_text())
    img = np.load(tmp_path/'gamma_test_image_mapping_data_2.npy')
    p = write_events_npz(tmp_path/'ev.npz', img, m, truth=np.load(tmp_path/'gamma_test_truth_2.npy'), model='x')
    ev = read_events(p)
    np.testing.assert_array_equal(ev.images, img)
    assert ev.generator == {'model': 'x'} and 'train' not in ev.meta['split'] and ev.truth.shape == (24, 3)
    enc = ImageEncoding.from_meta(ev.meta)
    np.testing.assert_array_equal(hits_to_images(*image_to_hits(ev.images, enc), enc), img)
    ev2 = read_events(tmp_path/'gamma_test_image_mapping_data_2.npy')        # a parse output with its metadata
    assert ev2.meta['encoding'] == m['encoding']


def test_display_writes_figures(hawc, tmp_path):
    for gen in ('layout', 'two-channel-map'):
        rc, out, err = run('parse', '--hawc-dir', str(hawc), '--save-dir', str(tmp_path), '--gen', gen, '--display')
        assert (rc, err) == (0, '')
    names = sorted(p.name for p in (tmp_path/'plots').iterdir())
    assert names == ['gamma_image_mapping_data_2_grid.png', 'gamma_image_mapping_data_2_hists.png',
                     'gamma_image_mapping_data_2_pmts.png', 'gridmap.png', 'layout_2d.png', 'layout_3d.png']
