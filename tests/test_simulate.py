"""hawcnb simulate: determinism across workers, no partial files, --overwrite/--resume, the files read back with
hawcnb.xcdf and through the original project's legacy `fields()` API, quantisation round trip, per-event rules.
The B10 bands and physics checks run in nbs/04b_validation.ipynb (executed by the notebook tests)."""
import os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from hawcnb.detector import make_layout, load_layout
from hawcnb.reco import reconstruct
from hawcnb.shower import ShowerSim
from hawcnb.simulate import simulate, event_columns, field_specs, cli_simulate
from hawcnb.validation import every_event_checks, sanity_table, load_sample
from hawcnb.xcdf import XCDFFile, XCDFWriter

ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}
ORIGINAL_PARAMS = ("rec.logNPE, rec.nHit, rec.nTankHit, rec.zenithAngle, rec.azimuthAngle, rec.coreX, rec.coreY, "
                   "rec.CxPE40, SimEvent.energyTrue, SimEvent.thetaTrue, SimEvent.phiTrue")


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "The same gamma simulation with 1 and with 2 workers (2 files each)."
    d = tmp_path_factory.mktemp('sim')
    simulate('gamma', 400, seed=5, out_dir=d / 'w1', workers=1, events_per_file=200, progress=False)
    simulate('gamma', 400, seed=5, out_dir=d / 'w2', workers=2, events_per_file=200, progress=False)
    return d


def test_files_identical_whatever_the_workers(runs):
    a, b = sorted((runs / 'w1' / 'gamma').glob('*.xcd')), sorted((runs / 'w2' / 'gamma').glob('*.xcd'))
    assert [p.name for p in a] == [p.name for p in b] == ['toyhawc_gamma_run000001.xcd', 'toyhawc_gamma_run000002.xcd']
    for p, q in zip(a, b): assert p.read_bytes() == q.read_bytes()
    assert (runs / 'w1' / 'layout.csv').read_bytes() == (runs / 'w2' / 'layout.csv').read_bytes()


def test_every_event_rules_and_some_b10_rows(runs):
    lay = load_layout(runs / 'w1' / 'layout.csv')
    assert lay.hash() == make_layout(0).hash()
    assert all(ok for _, ok in every_event_checks(runs / 'w1' / 'gamma', lay))
    rows = {r['check']: r for r in sanity_table(load_sample(runs / 'w1' / 'gamma'), lay.centroid)}
    for k in ('mean rec.logNPE', 'mean ln rec.nHit', 'mean rec.nTankHit', 'mean SimEvent.thetaTrue (deg)',
              'median nHitSP20 / nHit', 'median nHitTot - nHit', 'farthest rec core from centroid (m)'):
        assert rows[k]['ok'], rows[k]


def test_comments_hold_throws_and_n_thrown(runs):
    with XCDFFile(runs / 'w1' / 'gamma' / 'toyhawc_gamma_run000001.xcd') as f:
        c = dict(x.split('=', 1) for x in f.comments)
        assert f.count == 200
    assert c['particle'] == 'gamma' and c['run_seed'] == '5' and c['layout_seed'] == '0'
    assert c['energy_range_GeV'] == '30.0,300000.0' and c['spectral_index'] == '2.0' and c['zenith_max_deg'] == '60.0'
    assert c['core_throw_radius_m'] == '250.0' and int(c['n_thrown']) > 200 * 30
    assert c['layout_hash'] == make_layout(0).hash()
    assert 'sim.k_gamma' in c and 'reco.p_fail' in c


def test_legacy_fields_api_with_the_original_field_lists(runs):
    p = runs / 'w1' / 'gamma' / 'toyhawc_gamma_run000001.xcd'
    f = XCDFFile(str(p))
    rows = list(f.fields(ORIGINAL_PARAMS))                      # final gen_gamma_params
    assert len(rows) == 200 and all(len(r) == 11 for r in rows)
    kept = [r for r in rows if abs(r[3] - np.pi) > 0.01]
    assert all(r[1] > 0 and r[7] >= 0 for r in kept)            # log(nHit), log(CxPE40 + 0.01) are defined
    cols = XCDFFile(str(p)).read(ORIGINAL_PARAMS)
    np.testing.assert_array_equal([r[0] for r in rows], cols['rec.logNPE'])
    # gen_images_mapping: zip(charge, gridid, time) per event
    for charge, t, gid, zen, azi in XCDFFile(str(p)).fields(
            "event.hit.charge, event.hit.time, event.hit.gridId, rec.zenithAngle, rec.azimuthAngle"):
        assert len(charge) == len(gid) == len(t) >= 28
        assert min(charge) >= 0.1 and -500 <= min(t) and max(t) <= 1000
    # get_layout asserts exact equality of a gridId's coordinates across events
    seen = {}
    for xs, ys, zs, gids in XCDFFile(str(p)).fields("event.hit.xPMT, event.hit.yPMT, event.hit.zPMT, event.hit.gridId"):
        for x, y, z, g in zip(xs, ys, zs, gids):
            assert seen.setdefault(g, (x, y, z)) == (x, y, z)
    lay = make_layout(0)
    for g, xyz in seen.items(): assert xyz == (lay.x[g - 1], lay.y[g - 1], lay.z[g - 1])
    # the first version of the original requested angleFit.theta
    assert len(next(iter(XCDFFile(str(p)).fields("angleFit.theta, rec.azimuthAngle, rec.logNPE, rec.nHit")))) == 4


def test_round_trip_within_half_a_resolution(tmp_path):
    lay = make_layout(0)
    sim = ShowerSim(lay)
    b = sim.run(np.random.default_rng(9), 8000, 'proton')
    h = b['hits']
    rec = reconstruct(lay.grid_id[h['pmt']], h['charge'], h['time'], b['count'], lay, rng=np.random.default_rng(1))
    cols = event_columns(b, rec, lay, 'proton', 7, 0)
    p = tmp_path / 'rt.xcd'
    with XCDFWriter(p) as w:
        for spec in field_specs(): w.add_field(*spec)
        w.write_columns(cols)
    specs = {s[0]: s for s in field_specs()}
    assert set(cols) == set(specs)
    with XCDFFile(p) as f: back = f.read(list(specs))
    for name, (_, kind, res, _) in specs.items():
        a, v = np.asarray(cols[name]), back[name]
        assert len(a) == len(v), name
        if kind == 'U': np.testing.assert_array_equal(v, a.astype(np.uint64), err_msg=name)
        else: assert np.all(np.abs(v - a) <= res / 2 * (1 + 1e-9) + 1e-12), name


def _cli(*args, **kw):
    return subprocess.run([sys.executable, '-c', 'import sys; from hawcnb.cli import main; sys.exit(main(sys.argv[1:]))',
                           *args], env=ENV, capture_output=True, text=True, **kw)


def test_refuse_overwrite_resume_from_the_command_line(tmp_path):
    args = ['simulate', '--particle', 'gamma', '--events', '60', '--events-per-file', '30', '--seed', '2',
            '--out', str(tmp_path), '--quiet']
    assert _cli(*args).returncode == 0
    files = sorted((tmp_path / 'gamma').glob('*.xcd'))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    r = _cli(*args)
    assert r.returncode == 2 and 'not empty' in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli(*args, '--resume')
    assert r.returncode == 0 and 'in 0 file(s)' in r.stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before
    r = _cli(*(a if a != '2' else '3' for a in args), '--resume')
    assert r.returncode == 2 and 'another configuration' in r.stderr
    r = _cli(*(a if a != '2' else '3' for a in args), '--overwrite')
    assert r.returncode == 0
    assert all(p.read_bytes() != before[p.name][0] for p in files)
    r = _cli(*args, '--overwrite', '--resume')
    assert r.returncode == 2


def _interrupt(tmp_path, sig):
    "Start a 3-file run, interrupt it while it writes, return (return code, folder)."
    args = ['simulate', '--particle', 'gamma', '--events', '3000', '--events-per-file', '1000', '--seed', '4',
            '--out', str(tmp_path), '--quiet']
    proc = subprocess.Popen([sys.executable, '-c', 'import sys; from hawcnb.cli import main; sys.exit(main(sys.argv[1:]))',
                             *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pdir, t0 = tmp_path / 'gamma', time.time()
    while time.time() - t0 < 120 and proc.poll() is None and not list(pdir.glob('.*.part')): time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, pdir, err


def test_no_partial_file_after_ctrl_c(tmp_path):
    rc, pdir, err = _interrupt(tmp_path, signal.SIGINT)
    assert rc == 130 and 'interrupted' in err
    assert not list(pdir.glob('.*.part'))
    for p in pdir.glob('*.xcd'):
        with XCDFFile(p) as f: assert f.count == 1000      # whatever exists is complete


def test_killed_run_leaves_only_complete_files_and_resumes(tmp_path):
    rc, pdir, _ = _interrupt(tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    done = sorted(pdir.glob('*.xcd'))
    for p in done:
        with XCDFFile(p) as f: assert f.count == 1000
    r = _cli('simulate', '--particle', 'gamma', '--events', '3000', '--events-per-file', '1000', '--seed', '4',
             '--out', str(tmp_path), '--quiet', '--resume')
    assert r.returncode == 0, r.stderr
    assert f'in {3 - len(done)} file(s)' in r.stdout
    assert not list(pdir.glob('.*.part')) and len(list(pdir.glob('*.xcd'))) == 3
