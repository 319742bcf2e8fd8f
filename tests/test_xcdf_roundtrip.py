"""Property test: random schemas (all three types, many resolutions, vectors with empty events, vectors of vectors,
many small blocks) written by XCDFWriter read back within the quantisation the format defines: floats within half a
resolution step (exact in 64-bit mode, NaN and inf included), integers floored onto multiples of the resolution
(the C++ library's rule, spec section 9.6). Writing the same events in arbitrary chunks gives the same bytes."""
import io, math

import numpy as np
from hypothesis import given, settings, strategies as st, HealthCheck

from hawcnb.xcdf import XCDFFile, XCDFWriter

RES = {"U": st.sampled_from([0, 1, 1, 2, 3, 10, 1000]),
       "I": st.sampled_from([1, 1, 2, 7, 100, 0, -5]),
       "F": st.sampled_from([0.5, 0.1, 0.01, 1e-4, 3.0, 2.0 ** -7, 0.0, -1.0])}


@st.composite
def schemas(draw):
    "A list of (name, kind, resolution, parent) in allocation order, with at least one scalar."
    fields = [("s0", draw(st.sampled_from("UIF")), None, None)]
    counters = []
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from("UIF"))
        parent = None
        if counters and draw(st.booleans()):
            parent = draw(st.sampled_from(counters))
        fields.append((f"f{k}", kind, None, parent))
        if kind == "U" and draw(st.booleans()):
            fields.append((f"n{k}", "U", 1, parent))   # a count field (a vector of counts when parent is set)
            counters.append(f"n{k}")
    return [(n, kind, res if res is not None else draw(RES[kind]), p) for n, kind, res, p in fields]


def values_for(rng, kind, res, n, special):
    if kind == "U":
        return rng.integers(0, 2 ** rng.integers(1, 40), n, dtype=np.uint64) if n else np.zeros(0, np.uint64)
    if kind == "I":
        return rng.integers(-2 ** 30, 2 ** 30, n) if n else np.zeros(0, np.int64)
    v = rng.normal(0, 10 ** rng.uniform(-2, 5), n)
    if special and n:
        idx = rng.integers(0, n, max(1, n // 5))
        v[idx] = rng.choice([np.nan, np.inf, -np.inf, -0.0, 5e-324], len(idx))
    return v


def make_events(schema, n, rng, special):
    "Columns for n events: count fields small (many zeros), vectors sized by their parents."
    cols, counts = {}, {}
    for name, kind, res, parent in schema:
        if parent is None:
            m = n
        else:
            m = int(counts[parent].sum())
        if name.startswith("n"):
            v = rng.integers(0, 4, m).astype(np.uint64)
            v[rng.random(m) < 0.4] = 0
            cols[name] = v
            # entries of children per event (or per entry of the parent vector)
            counts[name] = v.astype(np.int64)
        else:
            cols[name] = values_for(rng, kind, res, m, special)
    return cols


def write(schema, cols, n, block_size, chunks):
    buf = io.BytesIO()
    w = XCDFWriter(buf, block_size=block_size)
    for name, kind, res, parent in schema:
        w.add_field(name, kind, res, parent)
    # split the events into chunks; vectors follow their parents' counts
    bounds = [0] + sorted(chunks) + [n]
    per_event = {}
    def entries(name):
        "Entries of `name` per event."
        if name in per_event:
            return per_event[name]
        parent = next(p for nm, _, _, p in schema if nm == name)
        if parent is None:
            e = np.ones(n, np.int64)
        else:
            pe = entries(parent)
            pv = cols[parent].astype(np.int64)
            cs = np.r_[0, np.cumsum(pv)]
            off = np.r_[0, np.cumsum(pe)]
            e = cs[off[1:]] - cs[off[:-1]]
        per_event[name] = e
        return e
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == b:
            continue
        part = {}
        for name, *_ in schema:
            off = np.r_[0, np.cumsum(entries(name))]
            part[name] = cols[name][off[a]:off[b]]
        w.write_columns(part)
    w.close()
    return buf.getvalue(), per_event


TOL = 0.5     # half a resolution step


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas(), n=st.integers(0, 70), block_size=st.integers(1, 25), seed=st.integers(0, 2 ** 32 - 1),
       special=st.booleans(), chunks=st.lists(st.integers(0, 70), max_size=4))
def test_roundtrip(schema, n, block_size, seed, special, chunks):
    rng = np.random.default_rng(seed)
    cols = make_events(schema, n, rng, special)
    chunks = [min(c, n) for c in chunks]
    data, per_event = write(schema, cols, n, block_size, chunks)
    data_one_chunk, _ = write(schema, cols, n, block_size, [])
    assert data == data_one_chunk, "the bytes must not depend on how events are grouped in write_columns calls"
    with XCDFFile(data) as f:
        assert f.count == n
        assert len(f.blocks) == -(-n // block_size)
        names = [s[0] for s in schema]
        d = f.read(names)
        for name, kind, res, parent in schema:
            got, want = d[name], cols[name]
            assert len(got) == len(want), name
            if kind == "F":
                r = res if res > 0 else 0.0
                if r == 0:      # full precision: bit-exact
                    assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), name
                else:
                    # a block holding NaN or inf is stored raw (bit-exact), others within half a step
                    exact = got.view(np.uint64) == want.view(np.uint64)
                    with np.errstate(invalid="ignore"):
                        close = np.abs(got - want) <= TOL * r + 1e-9 * np.maximum(1, np.abs(want))
                    assert np.all(exact | close), (name, got[~(exact | close)][:5], want[~(exact | close)][:5])
            else:
                r = max(int(res), 1)
                g, wv = got.astype(object), want.astype(object)
                assert all(0 <= int(b) - int(a) < r for a, b in zip(g, wv)), name   # floor onto multiples of r
                assert got.dtype == (np.uint64 if kind == "U" else np.int64)
        # event-wise views agree with the columns
        if n:
            rows = list(f.fields(names))
            assert len(rows) == n
            for j, (name, kind, res, parent) in enumerate(schema):
                if parent is not None:
                    lens = [len(r[j]) for r in rows]
                    assert lens == per_event[name].tolist(), name
        if n > 3:
            a, b = n // 4, 3 * n // 4
            sub = f.read(names, a, b)
            for name, kind, res, parent in schema:
                off = np.r_[0, np.cumsum(per_event[name])]
                x, y = sub[name], d[name][off[a]:off[b]]
                assert np.array_equal(x.view(np.uint64) if kind == "F" else x, y.view(np.uint64) if kind == "F" else y)
