"""Exactness of the cached PixelCNN++ sampler (hawcnb.pixelcnn.fast).

Per layer: every cached layer type, kernel and stride, and stacks of down- and up-sampling layers scheduled at
full resolution, against the full layers of hawcnb.pixelcnn.layers fed the whole image. End to end: the cached
network's mixture parameters equal the full network's on random images (teacher forcing: every prefix), and the
fast and naive samplers turn the same pre-drawn noise into the same images, for C = 1 and 2, conditional or not.
"""
import itertools

import numpy as np

import pytest
import torch

from hawcnb.pixelcnn.layers import (DownShiftedConv2d, DownRightShiftedConv2d, DownShiftedConvTranspose2d,
                                    DownRightShiftedConvTranspose2d, GatedResnet)
from hawcnb.pixelcnn.fast import RowConv, PixelConv, RowDeconv, PixelDeconv, RowBlock, PixelBlock

torch.set_num_threads(1)   # tiny tensors: threads only contend (CI runs 2 workers on 2 cores)


def _rows(x): return x.permute(0, 2, 3, 1)


def _bias(layer):
    with torch.no_grad(): getattr(layer, 'conv', layer).b.normal_()
    return layer


def _close(a, b, tol=1e-5):
    err = (a - b).abs().max().item()
    assert err <= tol * (1 + b.abs().max().item()), err


@pytest.mark.parametrize('kernel,s,w', list(itertools.product([(2, 3), (1, 3), (3, 5), (2, 1)], [1, 2], [8, 9])))
def test_row_conv(kernel, s, w):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, w)
    layer = _bias(DownShiftedConv2d(3, 4, kernel, (s, s)))
    ref, rc = _rows(layer(x).detach()), RowConv(layer, w)
    rc.reset(2)
    n = 0
    for r in range(7):
        rc.push(_rows(x)[:, r])
        if r % s == 0: _close(rc.out(), ref[:, r // s]); n += 1
    assert n == ref.shape[1]


@pytest.mark.parametrize('kernel,s,w', list(itertools.product([(2, 2), (2, 1), (1, 2), (3, 3)], [1, 2], [8, 9])))
def test_pixel_conv(kernel, s, w):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, w)
    layer = _bias(DownRightShiftedConv2d(3, 4, kernel, (s, s)))
    ref, pc = _rows(layer(x).detach()), PixelConv(layer, w)
    pc.reset(2)
    seen = torch.zeros(ref.shape[1:3], dtype=torch.bool)
    for r in range(7):
        pc.start_input_row()
        if r % s == 0: pc.start_output_row()
        for c in range(w):
            pc.push(_rows(x)[:, r, c], c)
            if r % s == 0 and c % s == 0:
                _close(pc.out(c // s), ref[:, r // s, c // s]); seen[r // s, c // s] = True
    assert seen.all()


def test_deconvs():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6)
    layer = _bias(DownShiftedConvTranspose2d(3, 4))
    ref, rd = _rows(layer(x).detach()), RowDeconv(layer, 6)
    for k in range(5): _close(rd.rows(_rows(x)[:, k]), ref[:, 2 * k:2 * k + 2])
    layer = _bias(DownRightShiftedConvTranspose2d(3, 4))
    ref, pd = _rows(layer(x).detach()), PixelDeconv(layer, 6)
    pd.reset(2)
    for p in range(10):
        for q in range(12):
            if p % 2 == 0 and q % 2 == 0: pd.push(_rows(x)[:, p // 2, q // 2], q // 2)
            _close(pd.out(p, q), ref[:, p, q])


def test_deconv_needs_kernel_equal_stride():
    with pytest.raises(NotImplementedError): RowDeconv(DownShiftedConvTranspose2d(3, 4, (3, 3)), 4)
    with pytest.raises(NotImplementedError): PixelDeconv(DownRightShiftedConvTranspose2d(3, 4, (2, 3)), 4)


@pytest.mark.parametrize('H,W', [(16, 16), (8, 12)])
def test_vertical_stack(H, W):
    "conv /2, conv /2, transposed ×2, transposed ×2 in the vertical stream, scheduled on full-resolution rows."
    torch.manual_seed(0)
    a, b = _bias(DownShiftedConv2d(3, 4, (2, 3), (2, 2))), _bias(DownShiftedConv2d(4, 5, (2, 3), (2, 2)))
    c, d = _bias(DownShiftedConvTranspose2d(5, 4)), _bias(DownShiftedConvTranspose2d(4, 3))
    x = torch.randn(2, 3, H, W)
    ref = _rows(d(c(b(a(x)))).detach())
    A, B, Cd, Dd = RowConv(a, W), RowConv(b, W // 2), RowDeconv(c, W // 4), RowDeconv(d, W // 2)
    A.reset(2); B.reset(2)
    for r in range(H):
        A.push(_rows(x)[:, r])
        if r % 2 == 0: B.push(A.out())                      # resolution 1 fires
        if r % 4 == 0: c_rows = Cd.rows(B.out())            # resolution 2 fires: rows 2k, 2k+1 of resolution 1
        if r % 2 == 0: d_rows = Dd.rows(c_rows[:, (r // 2) % 2])
        _close(d_rows[:, r % 2], ref[:, r])


@pytest.mark.parametrize('H,W', [(16, 16), (8, 12)])
def test_horizontal_stack(H, W):
    "conv /2, conv /2, transposed ×2, transposed ×2 in the horizontal stream, scheduled on full-resolution pixels."
    torch.manual_seed(0)
    a, b = _bias(DownRightShiftedConv2d(3, 4, (2, 2), (2, 2))), _bias(DownRightShiftedConv2d(4, 5, (2, 2), (2, 2)))
    c, d = _bias(DownRightShiftedConvTranspose2d(5, 4)), _bias(DownRightShiftedConvTranspose2d(4, 3))
    x = torch.randn(2, 3, H, W)
    ref = _rows(d(c(b(a(x)))).detach())
    A, B, Cd, Dd = PixelConv(a, W), PixelConv(b, W // 2), PixelDeconv(c, W // 4), PixelDeconv(d, W // 2)
    for L in (A, B, Cd, Dd): L.reset(2)
    for r in range(H):
        A.start_input_row()
        if r % 2 == 0: A.start_output_row(); B.start_input_row()
        if r % 4 == 0: B.start_output_row()
        for col in range(W):
            A.push(_rows(x)[:, r, col], col)
            if r % 2 == 0 and col % 2 == 0: B.push(A.out(col // 2), col // 2)
            if r % 4 == 0 and col % 4 == 0: Cd.push(B.out(col // 4), col // 4)
            if r % 2 == 0 and col % 2 == 0: Dd.push(Cd.out(r // 2, col // 2), col // 2)
            _close(Dd.out(r, col), ref[:, r, col])


@pytest.mark.parametrize('n_aux,n_cond', [(0, 0), (6, 0), (6, 3)])
def test_row_block(n_aux, n_cond):
    torch.manual_seed(0)
    blk = GatedResnet(6, DownShiftedConv2d, n_aux=n_aux, n_cond=n_cond, dropout=0.).eval()
    for m in blk.modules():
        if hasattr(m, 'b'): _bias(m)
    x, a = torch.randn(2, 6, 6, 7), torch.randn(2, 6, 6, 7) if n_aux else None
    h = torch.randn(2, n_cond) if n_cond else None
    ref, rb = _rows(blk(x, a, h).detach()), RowBlock(blk, 7)
    rb.reset(2, h)
    for r in range(6): _close(rb.step(_rows(x)[:, r], _rows(a)[:, r] if n_aux else None), ref[:, r])


@pytest.mark.parametrize('n_pix,n_cond', [(0, 0), (6, 0), (6, 3), (0, 3)])
def test_pixel_block(n_pix, n_cond):
    torch.manual_seed(0)
    blk = GatedResnet(6, DownRightShiftedConv2d, n_aux=6 + n_pix, n_cond=n_cond, dropout=0.).eval()
    for m in blk.modules():
        if hasattr(m, 'b'): _bias(m)
    x, u, s = torch.randn(2, 6, 6, 7), torch.randn(2, 6, 6, 7), torch.randn(2, n_pix, 6, 7)
    h = torch.randn(2, n_cond) if n_cond else None
    ref, pb = _rows(blk(x, torch.cat([u, s], 1), h).detach()), PixelBlock(blk, 7, n_row=6)
    pb.reset(2, h)
    for r in range(6):
        pb.start_row(_rows(u)[:, r])
        for c in range(7): _close(pb.step(_rows(x)[:, r, c], c, _rows(s)[:, r, c] if n_pix else None), ref[:, r, c])


# ---------------------------------------------------------------- whole network and samplers
from hawcnb.pixelcnn.model import PixelCNN, PixelCNNConfig, draw_noise, sample_naive
from hawcnb.pixelcnn.fast import fast_forward, sample_fast, generate_images, inputs_as, FastPixelCNN
from hawcnb.pixelcnn.loss import to_unit


def _model(C, n_cond=0, nr_resnet=1, nr_filters=8, nr_mix=2, H=40, W=40, live=None, seed=0):
    "A random PixelCNN (weights moved far from their initialisation so that every layer matters)."
    torch.manual_seed(seed)
    cfg = PixelCNNConfig(channels=C, nr_resnet=nr_resnet, nr_filters=nr_filters, nr_mix=nr_mix, n_cond=n_cond,
                         dropout=0., height=H, width=W)
    m = PixelCNN(cfg, live=live).eval()
    with torch.no_grad():
        for p in m.parameters(): p.add_(0.3 * torch.randn_like(p))
    return m


ARCHS = [  # C, n_cond, nr_resnet, nr_filters, nr_mix, H, W
    (1, 0, 1, 8, 2, 40, 40), (2, 4, 2, 8, 3, 40, 40), (2, 0, 1, 12, 1, 12, 20), (1, 4, 3, 8, 2, 8, 12)]


@pytest.mark.parametrize('arch', ARCHS, ids=[f'C{a[0]}-cond{a[1]}-nr{a[2]}-F{a[3]}-M{a[4]}-{a[5]}x{a[6]}' for a in ARCHS])
def test_fast_forward_equals_forward(arch):
    "Teacher-forced on random images, the cached network gives the full network's mixture parameters."
    C, n_cond, nr, nf, M, H, W = arch
    m = _model(C, n_cond, nr, nf, M, H, W)
    x, h = torch.rand(2, C, H, W) * 2 - 1, (torch.randn(2, n_cond) if n_cond else None)
    with torch.no_grad(): ref = m(x, h)
    err = (fast_forward(m, x, h) - ref).abs().max().item()
    assert err < 1e-4, err
    if H * W <= 400 or nr == 2:   # float64: agreement to rounding
        m64 = m.double()
        with torch.no_grad(): ref64 = m64(x.double(), None if h is None else h.double())
        err = (fast_forward(m64, x.double(), h, torch.float64) - ref64).abs().max().item()
        assert err < 1e-10, err


CASES = [(C, n_cond) for C in (1, 2) for n_cond in (0, 4)]


def draw_margins(out, noise, C, levels=False):
    """How far the mixture draw of `sample_mixture` is from changing, in float64, per image: the smallest distance
    of a cumulative component probability to its uniform, and of each channel's value to a level boundary (levels)."""
    from hawcnb.pixelcnn.loss import split_params, coupling_pairs
    logits, mu, log_s, coeffs = (t[..., 0, 0] for t in split_params(out.double()[:, :, None, None], C))
    M, u0 = logits.shape[1], noise[:, 0].double()
    cdf = torch.softmax(logits, 1).cumsum(1)
    k = (cdf < u0[:, None]).sum(1).clamp(max=M - 1)
    m_comp = (cdf[:, :-1] - u0[:, None]).abs().min(1).values if M > 1 else torch.full_like(u0, float('inf'))
    pick = lambda t: t.gather(2, k[:, None, None].expand(-1, t.shape[1], 1))[:, :, 0]
    mu, log_s, coeffs = pick(mu), pick(log_s), pick(coeffs)
    u = noise[:, 1:].double()
    L, xs, m_val = torch.log(u) - torch.log1p(-u), torch.zeros_like(mu), []
    for c in range(C):
        loc = mu[:, c] + sum(coeffs[:, p] * xs[:, cp] for p, (cc, cp) in enumerate(coupling_pairs(C)) if cc == c)
        v = (loc + torch.exp(log_s[:, c]) * L[:, c] + 1) * 127.5
        m_val.append(torch.where((v < -0.5) | (v > 255.5), float('inf'), 0.5 - (v - torch.round(v)).abs()))
        xs[:, c] = (torch.round(v).clamp(0, 255) - 127.5) / 127.5
    res = m_comp, torch.stack(m_val, 1).min(1).values
    return res + (torch.round(xs * 127.5 + 127.5).long(),) if levels else res


def assert_equal_or_tie(m, fast, naive, noise, h, tol=1e-3):
    """Float32 images agree, except where the first differing pixel's draw was within rounding of a decision
    boundary (then everything after it may differ): any other difference is a bug."""
    for b in torch.nonzero((fast != naive).flatten(1).any(1)).flatten().tolist():
        r, c = divmod(int(torch.nonzero((fast[b] != naive[b]).any(0).flatten())[0]), m.cfg.width)
        x = to_unit(naive[b:b + 1], next(m.parameters()).dtype)            # the common prefix (and the rest)
        with torch.no_grad(): out = m(x, None if h is None else h[b:b + 1])[:, :, r, c]
        m_comp, m_val = draw_margins(out, noise[b:b + 1, :, r, c], m.cfg.channels)
        assert min(m_comp.item(), m_val.item()) < tol, (b, r, c, m_comp.item(), m_val.item())


def test_draw_margins_match_sample_mixture():
    "`draw_margins` follows the very draw of `sample_mixture`: its levels are sample_mixture's, away from ties."
    from hawcnb.pixelcnn.loss import sample_mixture
    torch.manual_seed(0)
    for C in (1, 2):
        out, noise = torch.randn(2000, 3 * (1 + 2 * C + C * (C - 1) // 2)) * 2, torch.rand(2000, 1 + C)
        m_comp, m_val, lv = draw_margins(out, noise, C, levels=True)
        ref = sample_mixture(out[:, :, None, None], noise[:, :, None, None], C)[:, :, 0, 0]
        clear = torch.minimum(m_comp, m_val) > 1e-4
        assert clear.float().mean() > 0.99 and torch.equal(lv[clear], ref[clear].long())


@pytest.mark.parametrize('C,n_cond', CASES)
def test_fast_equals_naive_float32(C, n_cond):
    "Float32: identical images, up to draws that fall within rounding of a decision boundary (none in these cases)."
    torch.manual_seed(10 * C + n_cond)
    m = _model(C, n_cond, nr_resnet=2, nr_mix=3, H=12, W=12, live=torch.rand(12, 12) > 0.2, seed=C + n_cond)
    noise = draw_noise(3, m.cfg, torch.Generator().manual_seed(C + n_cond))
    h = torch.randn(3, n_cond) if n_cond else None
    fast, naive = sample_fast(m, noise, h), sample_naive(m, noise, h)
    assert_equal_or_tie(m, fast, naive, noise, h)
    assert (fast[:, :, ~m.live] == 0).all() and fast.float().std() > 10


def test_float32_differences_are_ties():
    "Where float32 and float64 sampling do differ (1 image of 128 here), the first difference is a near-tie."
    m = _model(2, 0, nr_resnet=2, nr_filters=16, nr_mix=3, H=8, W=8, seed=4)
    noise = draw_noise(128, m.cfg, torch.Generator().manual_seed(4))
    a, b = sample_fast(m, noise), sample_fast(m.double(), noise, dtype=torch.float64)
    assert (a != b).any()
    assert_equal_or_tie(m.double(), a, b, noise, None)


@pytest.mark.parametrize('C', [1, 2])
def test_fast_equals_naive_float64(C):
    m = _model(C, 4, H=12, W=8, live=torch.rand(12, 8) > 0.2, seed=5).double()
    noise, h = draw_noise(2, m.cfg, torch.Generator().manual_seed(3)), torch.randn(2, 4)
    with inputs_as(m, torch.float64): naive = sample_naive(m, noise, h.double())
    assert torch.equal(sample_fast(m, noise, h, dtype=torch.float64), naive)


def test_fast_equals_naive_40x40():
    "Full-size maps, two channels, conditional; a sparse live mask keeps the naive sampler quick."
    torch.manual_seed(1)
    live = torch.rand(40, 40) < 0.06
    live[39, 39] = live[0, 0] = True
    m = _model(2, 4, live=live, seed=2)
    noise, h = draw_noise(2, m.cfg, torch.Generator().manual_seed(4)), torch.randn(2, 4)
    assert torch.equal(sample_fast(m, noise, h), sample_naive(m, noise, h))


def test_reused_caches_start_clean():
    "A `FastPixelCNN` reused for a second batch gives what a fresh one gives (every cache is reset)."
    m = _model(2, 0, H=8, W=8, seed=3)
    fn = FastPixelCNN(m)
    n1, n2 = (draw_noise(2, m.cfg, torch.Generator().manual_seed(s)) for s in (1, 2))
    sample_fast(m, n1, fast=fn)
    assert torch.equal(sample_fast(m, n2, fast=fn), sample_fast(m, n2))


def test_generate_images_batching_and_samplers():
    m = _model(1, 0, H=8, W=8, live=torch.rand(8, 8) > 0.3, seed=4)
    a = generate_images(m, 7, batch_size=3, sampler='fast', seed=11)
    assert a.shape == (7, 8, 8, 1) and a.dtype.name == 'uint8'
    assert (a == generate_images(m, 7, batch_size=7, sampler='naive', seed=11)).all()


# ---------------------------------------------------------------- command line, through the hawcnb entry point
def test_cli_sample_pixelcnn_fast_equals_naive(tmp_path, capsys):
    from hawcnb.cli import main
    from hawcnb.parse import read_events
    from hawcnb.pixelcnn.model import save_checkpoint, ema_copy
    m = _model(1, 4, H=8, W=8, live=torch.rand(8, 8) > 0.3, seed=6)
    save_checkpoint(tmp_path / 'ck.pt', m, ema_copy(m))
    truth = np.array([[1e3, 10., 30.], [5e3, 20., 300.], [2e4, 40., 100.], [1e2, 0., 0.]])
    np.save(tmp_path / 'truth.npy', truth)
    base = ['sample', 'pixelcnn', '--checkpoint', str(tmp_path / 'ck.pt'), '--n', '3', '--conditions', str(tmp_path / 'truth.npy')]
    assert main(base + ['--sampler', 'fast', '--batch-size', '2', '--out', str(tmp_path / 'f.npz')]) == 0
    assert main(base + ['--sampler', 'naive', '--batch-size', '3', '--out', str(tmp_path / 'n.npz')]) == 0
    assert (tmp_path / 'f.npz').read_bytes() == (tmp_path / 'n.npz').read_bytes()      # default float64
    ev = read_events(tmp_path / 'f.npz')
    assert ev.images.shape == (3, 8, 8, 1) and np.allclose(ev.truth, truth[:3]) and ev.generator['dtype'] == 'float64'
    assert main(base + ['--dtype', 'float32', '--out', str(tmp_path / 'f32.npz')]) == 0
    assert read_events(tmp_path / 'f32.npz').images.shape == (3, 8, 8, 1)
    capsys.readouterr()
    assert main(base[:-2] + ['--out', str(tmp_path / 'x.npz')]) == 2          # conditional model, no conditions
    assert 'conditional' in capsys.readouterr().err
    assert main(base + ['--n', '9', '--out', str(tmp_path / 'x.npz')]) == 2    # more images than conditions
    assert main(base + ['--device', 'nonsense', '--out', str(tmp_path / 'x.npz')]) == 2


def test_cli_to_xcdf_dispatch(tmp_path, capsys):
    "`hawcnb to-xcdf` reaches `cli_to_xcdf` (hyphen in the command name) and reports user errors in one line."
    from hawcnb.cli import main
    assert main(['to-xcdf', str(tmp_path / 'missing.npz'), '--out', str(tmp_path / 'x.xcd')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no such events file' in err[0]


def test_read_truth(tmp_path):
    from hawcnb.core import UserError
    from hawcnb.pixelcnn.fast import read_truth
    good = np.array([[1e3, 10., 30.], [5e3, 20., 300.]])
    np.save(tmp_path / 'a.npy', good)
    assert np.array_equal(read_truth(tmp_path / 'a.npy'), good)
    np.savez(tmp_path / 'e.npz', images=np.zeros((2, 4, 4, 1), np.uint8), truth=good)
    assert np.array_equal(read_truth(tmp_path / 'e.npz'), good)
    for name, arr, msg in [('b.npy', good[:, :2], 'shape (n, 3)'), ('c.npy', -good, 'energy > 0'),
                           ('d.npy', np.array([[np.nan, 1., 1.]]), 'finite')]:
        np.save(tmp_path / name, arr)
        with pytest.raises(UserError, match=msg.replace('(', r'\(').replace(')', r'\)')): read_truth(tmp_path / name)
    np.savez(tmp_path / 'f.npz', images=np.zeros(1))
    with pytest.raises(UserError, match='no .truth.'): read_truth(tmp_path / 'f.npz')
    with pytest.raises(UserError, match='no conditions file'): read_truth(tmp_path / 'missing.npy')
