"""Golden files: every reference file written by the C++ XCDF library decodes to exactly the values in its JSON
(floats bit for bit, NaN payloads and signed zeros included), and the writer rebuilds every good file byte for
byte from the JSON's `writer` calls and inputs (shared/testdata/xcdf/README.md)."""
import io, json, math, struct, warnings

import numpy as np
import pytest

from conftest import SHARED
from hawcnb.xcdf import XCDFFile, XCDFWriter, XCDFError
from hawcnb.xcdf_frames import raw_to_value, FLOAT

TD = SHARED / "testdata" / "xcdf"
GOOD = sorted(p.stem for p in TD.glob("*.xcd") if not p.stem.startswith("bad_"))
KINDS = {"unsigned": 0, "signed": 1, "float": 2}


def ref(name):
    return json.loads((TD / f"{name}.json").read_text())


def fbits(x):
    "Bit pattern of a JSON float (numbers, 'nan', 'inf', '-inf')."
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def hexbits(h):
    return int(h, 16)


def expected_bits(r, name, ev):
    "Expected 64-bit patterns of float field `name` in event `ev` (list for vectors)."
    if name in r.get("float_bits", {}):
        v = r["float_bits"][name][ev]
        return [hexbits(x) for x in v] if isinstance(v, list) else hexbits(v)
    v = r["values"][name][ev]
    return [fbits(x) for x in v] if isinstance(v, list) else fbits(v)


def test_all_good_files_listed():
    assert len(GOOD) == 13, GOOD


@pytest.mark.parametrize("name", GOOD)
def test_metadata(name):
    r = ref(name)
    with XCDFFile(TD / f"{name}.xcd") as f:
        assert f.version == r["file_version"]
        assert f.count == len(f) == r["event_count"]
        assert f.is_simple == r["cxx_is_simple"]
        assert [(s.name, s.kind, s.raw_resolution, s.parent) for s in f.field_specs] == \
            [(x["name"], x["type_code"], int(x["raw_resolution"], 16), x["parent"]) for x in r["fields"]]
        assert f.comments == r["comments"]
        assert [(a.name, a.expression, a.kind) for a in f.aliases] == \
            [(a["name"], a["expression"], a["type_code"]) for a in r["aliases"]]
        stats = f.field_stats()
        for x in r["fields"]:
            st = stats[x["name"]]   # from the trailer, or scanned from the data (version 2, block table disabled)
            assert st["bytes"] == x["total_bytes"]
            for k in ("min", "max"):
                want = x[f"global_{k}"]
                if x["type_code"] == 2:
                    assert fbits(st[k]) == fbits(want) or (math.isnan(st[k]) and want == "nan"), (x["name"], k)
                else:
                    assert st[k] == want, (x["name"], k)


@pytest.mark.parametrize("name", GOOD)
@pytest.mark.parametrize("threads", [1, 2])
def test_values_columnar(name, threads):
    r = ref(name)
    with XCDFFile(TD / f"{name}.xcd", threads=threads) as f:
        d = f.read(f.field_names)
        for x in r["fields"]:
            n = x["name"]
            want = r["values"][n]
            if x["parent"]:
                got = [a.tolist() for a in f.split_events(d, n)]
                got_arr = f.split_events(d, n)
            else:
                got = d[n].tolist()
            assert len(got) == r["event_count"]
            if x["type_code"] == 2:
                bits = d[n].view(np.uint64)
                if x["parent"]:
                    gb = [a.view(np.uint64).tolist() for a in got_arr]
                    assert gb == [expected_bits(r, n, e) for e in range(len(want))], n
                else:
                    assert bits.tolist() == [expected_bits(r, n, e) for e in range(len(want))], n
            else:
                assert got == want, n
                assert d[n].dtype == (np.uint64 if x["type_code"] == 0 else np.int64)


@pytest.mark.parametrize("name", GOOD)
def test_values_per_event_apis(name):
    "fields() tuples, the dict iterator and getRecord agree with the JSON (floats by bits)."
    r = ref(name)
    names = [x["name"] for x in r["fields"]]
    def norm(v):
        if isinstance(v, np.ndarray):
            return ("v", v.view(np.uint64).tolist() if v.dtype == np.float64 else v.tolist())
        return ("f", fbits(v)) if isinstance(v, float) else ("i", v)
    def want(e):
        out = []
        for x in r["fields"]:
            v = r["values"][x["name"]][e]
            if x["type_code"] == 2:
                b = expected_bits(r, x["name"], e)
                out.append(("v", b) if isinstance(b, list) else ("f", b))
            else:
                out.append(("v", v) if isinstance(v, list) else ("i", v))
        return out
    with XCDFFile(TD / f"{name}.xcd") as f:
        rows = list(f.fields(", ".join(names)))
        assert len(rows) == r["event_count"]
        for e, row in enumerate(rows):
            assert [norm(v) for v in row] == want(e), e
        assert list(f.fields(names)) .__len__() == len(rows)          # iterating again starts over
        for e, ev in enumerate(f):
            assert [norm(ev[n]) for n in names] == want(e)
        if r["event_count"]:
            e = r["event_count"] // 2
            assert [norm(v) for v in f.getRecord(e, names)] == want(e)


@pytest.mark.parametrize("name", GOOD)
def test_event_ranges(name):
    "Reading any event range gives the slice of the full read."
    with XCDFFile(TD / f"{name}.xcd") as f:
        full = f.read(f.field_names)
        n = f.count
        for a, b in [(0, n), (1, n - 1), (n // 3, 2 * n // 3), (n - 1, n), (5, 5)]:
            if not (0 <= a <= b <= n):
                continue
            part = f.read(f.field_names, a, b)
            for nm in f.field_names:
                ev_full = f.split_events(full, nm) if f._vector_name(nm) else list(full[nm])
                ev_part = f.split_events(part, nm) if f._vector_name(nm) else list(part[nm])
                assert len(ev_part) == b - a
                for x, y in zip(ev_full[a:b], ev_part):
                    assert np.array_equal(np.asarray(x).view(np.uint64) if np.asarray(x).dtype == np.float64 else x,
                                          np.asarray(y).view(np.uint64) if np.asarray(y).dtype == np.float64 else y)


# ---------------------------------------------------------------- writer: rebuild every good file byte for byte

def writer_inputs(r, name):
    "The exact writer input of field `name`: per event a value or a list (floats as float with exact bits)."
    def from_bits(v):
        return [from_bits(x) for x in v] if isinstance(v, list) else struct.unpack("<d", struct.pack("<Q", int(v, 16)))[0]
    if name in r.get("written_float_bits", {}):
        return from_bits(r["written_float_bits"][name])
    def num(v):
        return [num(x) for x in v] if isinstance(v, list) else float(v) if isinstance(v, str) else v
    if name in r.get("written", {}):
        return num(r["written"][name])
    if name in r.get("float_bits", {}):
        return from_bits(r["float_bits"][name])
    return num(r["values"][name])


class Pipe(io.BytesIO):
    def seekable(self):
        return False


def replay(part, values, events, out):
    "Re-run one writing session: `part` is a JSON writer section, values the inputs, events the event range."
    kinds = {}
    w = XCDFWriter(out, block_size=part["block_size"], version=3 if "v2" not in part.get("library", "") and
                   "version 2" not in part.get("library", "") else 2,
                   block_table=part.get("block_table", True), zero_align=part["zero_align"])
    calls = part["calls"]
    allocs = [c for c in calls if c["call"].startswith("allocate_")]
    for c in allocs:
        kind = {"allocate_unsigned": "U", "allocate_signed": "I", "allocate_float": "F"}[c["call"]]
        kinds[c["name"]] = kind
        w.add_field(c["name"], kind, c["resolution"], c["parent"] or None)
    others = [c for c in calls if not c["call"].startswith("allocate_")]
    done = 0
    def write_until(k):
        nonlocal done
        for e in range(done, k):
            w.write_event({n: values[n][events[0] + e] for n in kinds})
        done = max(done, k)
    for c in others:
        write_until(c["after_events"])
        if c["call"] == "add_comment":
            w.add_comment(c["text"])
        elif c["call"] == "create_alias":
            w.add_alias(c["name"], c["expression"])
        elif c["call"] == "start_new_block":
            w.start_new_block()
        else:
            raise AssertionError(c)
    write_until(events[1] - events[0])
    w.close()


@pytest.mark.parametrize("name", GOOD)
def test_writer_byte_exact(name, tmp_path):
    r = ref(name)
    want = (TD / f"{name}.xcd").read_bytes()
    values = {x["name"]: writer_inputs(r, x["name"]) for x in r["fields"]}
    parts = r["writer"].get("parts", [r["writer"]])
    out = b""
    e0 = 0
    for k, part in enumerate(parts):
        n = part.get("events_written", r["event_count"])
        if part.get("output") == "non-seekable stream":
            pipe = Pipe()
            replay(part, values, (e0, e0 + n), pipe)
            out += pipe.getvalue()
        else:
            p = tmp_path / f"part{k}.xcd"
            replay(part, values, (e0, e0 + n), p)
            out += p.read_bytes()
        e0 += n
    assert len(out) == len(want)
    assert out == want, next(i for i, (a, b) in enumerate(zip(out, want)) if a != b)


# ---------------------------------------------------------------- the two broken files

def test_bad_truncated():
    r = ref("bad_truncated")
    with pytest.raises(XCDFError, match=r"bad_truncated.xcd: byte 14135: read failed.*past the end of the file \(8000 bytes\)"):
        XCDFFile(TD / "bad_truncated.xcd")
    with pytest.warns(UserWarning, match="recovered 1024 events in 4 complete blocks"):
        f = XCDFFile(TD / "bad_truncated.xcd", recover=True)
    with f:
        assert f.count == r["events_in_complete_blocks"] == 1024
        good = ref("many_events")
        d = f.read(["evt", "hit.pe"])
        assert d["evt"].tolist() == good["values"]["evt"][:1024]
        assert [a.tolist() for a in f.split_events(d, "hit.pe")] == good["values"]["hit.pe"][:1024]


def test_bad_corrupt_block():
    good = ref("many_events")
    with XCDFFile(TD / "bad_corrupt_block.xcd") as f:
        assert f.count == 2000
        assert f.read("evt", 0, 512)["evt"].tolist() == good["values"]["evt"][:512]
        with pytest.raises(XCDFError, match=r"bad_corrupt_block.xcd: byte 3784: block data frame checksum failed"):
            f.read("evt", 512, 513)
        with pytest.raises(XCDFError, match="checksum failed"):
            list(f.fields("evt, hit.pe"))
        rows = []
        with pytest.raises(XCDFError):
            for row in f.fields("evt"):
                rows.append(row)
        assert len(rows) == 512
    with pytest.warns(UserWarning, match="recovered 512 events in 2 complete blocks"):
        with XCDFFile(TD / "bad_corrupt_block.xcd", recover=True) as f:
            assert f.read("evt")["evt"].tolist() == good["values"]["evt"][:512]


# ---------------------------------------------------------------- aliases: the library's evaluation of each alias

ALIASED = [n for n in GOOD if "alias_values" in ref(n)]


@pytest.mark.parametrize("name", ALIASED)
def test_alias_values(name):
    r = ref(name)
    with XCDFFile(TD / f"{name}.xcd") as f:
        for a in r["aliases"]:
            want = r["alias_values"][a["name"]]
            d = f.read([a["name"]])
            if f._vector_name(a["name"]):
                got = [x.tolist() for x in f.split_events(d, a["name"])]
            else:
                got = [[x] for x in d[a["name"]].tolist()]
            if a["type_code"] == 2:
                got = [[fbits(x) for x in ev] for ev in got]
                want = [[fbits(x) for x in ev] for ev in want]
            assert got == want, a["name"]
            # per-event API with aliases too
            rows = list(f.fields(a["name"]))
            assert len(rows) == r["event_count"]


def test_records_select():
    r = ref("aliases_comments")
    with XCDFFile(TD / "aliases_comments.xcd") as f:
        rows = list(f.records("a > 2 && b < 0", "a, b"))
        want = [(a, b) for a, b in zip(r["values"]["a"], r["values"]["b"]) if a > 2 and b < 0]
        assert rows == want and rows
        rows = list(f.records("v > 3.5", "a"))       # a vector selection: true if any entry is
        want = [(a,) for a, v in zip(r["values"]["a"], r["values"]["v"]) if any(x > 3.5 for x in v)]
        assert rows == want and rows
        with pytest.raises(XCDFError, match="unknown field 'zz'"):
            list(f.records("zz > 1"))
