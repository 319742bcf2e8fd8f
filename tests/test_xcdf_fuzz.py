"""Mutation fuzz of the XCDF reader: thousands of byte flips, truncations, splices and checksum-correct payload
mutations of the reference files. Whatever the damage, the only exception that may escape is `XCDFError`, and no
case may hang (each case has a time bound). The whole file runs in well under a minute on 2 cores."""
import contextlib, itertools, random, signal, struct, time, warnings, zlib

import numpy as np
import pytest

from conftest import SHARED
from hawcnb.xcdf import XCDFFile, XCDFError
from hawcnb.xcdf_frames import ByteSource, read_frame, frame_bytes, FILE_HEADER, FILE_TRAILER

TD = SHARED / "testdata" / "xcdf"
FILES = {p.stem: p.read_bytes() for p in sorted(TD.glob("*.xcd"))}
CASE_SECONDS = 5.0      # a case (open + read everything, twice) takes milliseconds; this only catches hangs
BUDGET_SECONDS = 9.0    # per test below, so the file stays bounded on a slow machine


class CaseTimeout(Exception):
    pass


@contextlib.contextmanager
def time_bound(seconds):
    "Raise CaseTimeout if the block runs longer than `seconds` (SIGALRM; main thread only)."
    def handler(*_):
        raise CaseTimeout(f"case ran longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def exercise(data):
    "Open and read everything in normal and recovery mode; only XCDFError may escape."
    for recover in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = XCDFFile(data, recover=recover, threads=1)
            with f:
                f.header(), f.field_stats(), repr(f), f.comments
                names = f.field_names
                if names:
                    f.read(names)
                    f.read(names, f.count // 3, f.count // 2)
                    list(itertools.islice(f.fields(names), 40))
                    list(itertools.islice(iter(f), 10))
                for a in f.aliases:
                    with contextlib.suppress(XCDFError):
                        f.read([a.name])
        except XCDFError as e:
            assert str(e)


def run_cases(cases, label):
    t0, n = time.perf_counter(), 0
    for desc, data in cases:
        with time_bound(CASE_SECONDS):
            try:
                exercise(data)
            except (XCDFError, CaseTimeout):
                raise
            except Exception as e:      # noqa: BLE001 - the point of the test
                raise AssertionError(f"{label}: {desc}: {type(e).__name__}: {e}") from e
        n += 1
        if time.perf_counter() - t0 > BUDGET_SECONDS:
            break
    return n


def byte_mutations(seed, count):
    rng = random.Random(seed)
    names = sorted(FILES)
    for k in range(count):
        name = rng.choice(names)
        b = bytearray(FILES[name])
        op = rng.randrange(5)
        if op == 0:                                 # flip 1-4 bytes
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] ^= rng.randint(1, 255)
            desc = "flip"
        elif op == 1:                               # truncate
            b = b[:rng.randrange(len(b))]
            desc = f"truncate to {len(b)}"
        elif op == 2:                               # splice two files
            other = FILES[rng.choice(names)]
            b = b[:rng.randrange(len(b) + 1)] + other[rng.randrange(len(other) + 1):]
            desc = "splice"
        elif op == 3:                               # insert or delete a few bytes
            i = rng.randrange(len(b) + 1)
            if rng.random() < 0.5:
                b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                del b[i:i + rng.randint(1, 8)]
            desc = f"insert/delete at {i}"
        else:                                       # overwrite a 4-byte word with an extreme value
            i = rng.randrange(max(len(b) - 3, 1))
            b[i:i + 4] = struct.pack("<I", rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, rng.getrandbits(32)]))
            desc = f"word at {i}"
        yield f"{name} #{k} {desc}", bytes(b)


def split_frames(data):
    "The frames of a single-part file: list of [type, deflated, payload]."
    src, pos, out = ByteSource(data), 0, []
    while pos < len(data):
        f = read_frame(src, pos)
        out.append([f.type, f.deflated, bytes(f.payload())])
        pos = f.end
    return out


def join_frames(frames):
    "Re-encode frames with correct checksums, pointing the header at the trailer again."
    hdr = bytearray(frames[0][2])
    body, pos = [], 0
    for typ, defl, pl in frames[1:]:
        body.append(frame_bytes(typ, pl, defl))
    head_len = 12 + len(hdr)
    tpos = head_len + sum(len(x) for x in body[:-1]) if frames[-1][0] == FILE_TRAILER else 0
    if len(hdr) >= 12 and struct.unpack_from("<Q", hdr, 4)[0]:
        struct.pack_into("<Q", hdr, 4, tpos)
    return frame_bytes(FILE_HEADER, bytes(hdr), False) + b"".join(body)


def payload_mutations(seed, count):
    "Mutations inside frame payloads with the checksums (and zlib streams) made valid again: reach the parsers."
    rng = random.Random(seed)
    good = sorted(n for n in FILES if not n.startswith("bad_") and n != "concatenated")
    parsed = {n: split_frames(FILES[n]) for n in good}
    for k in range(count):
        name = rng.choice(good)
        frames = [list(f) for f in parsed[name]]
        j = rng.randrange(len(frames))
        pl = bytearray(frames[j][2])
        op = rng.randrange(4)
        if op == 0 and pl:
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(pl))
                pl[i] ^= 1 << rng.randrange(8)
        elif op == 1 and len(pl) >= 4:
            i = rng.randrange(len(pl) - 3)
            pl[i:i + 4] = struct.pack("<I", rng.choice([0, 1, 2, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, rng.getrandbits(32)]))
        elif op == 2:
            pl = pl[:rng.randrange(len(pl) + 1)]
        else:
            pl += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        frames[j][2] = bytes(pl)
        yield f"{name} frame {j} payload op {op}", join_frames(frames)


def test_join_frames_is_identity():
    "The payload mutator's re-encoding gives back every (single-part) reference file unchanged."
    for n in FILES:
        if not n.startswith("bad_") and n != "concatenated":
            assert join_frames(split_frames(FILES[n])) == FILES[n], n


def test_reference_files_exercise_cleanly():
    for n, data in FILES.items():
        exercise(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_byte_mutations(seed):
    n = run_cases(byte_mutations(seed, 1500), "byte mutation")
    print(f"{n} byte-mutation cases")
    assert n >= 200, n


@pytest.mark.parametrize("seed", [3, 4])
def test_payload_mutations(seed):
    n = run_cases(payload_mutations(seed, 1500), "payload mutation")
    print(f"{n} payload-mutation cases")
    assert n >= 200, n


def test_time_bound_works():
    with pytest.raises(CaseTimeout):
        with time_bound(0.05):
            time.sleep(1)


def test_constant_huge_count_is_a_clear_error():
    "Found by the payload fuzzer: a count field constant in a block (0 bits) with an absurd minimum overflowed."
    import io
    from types import SimpleNamespace
    from hawcnb.xcdf import XCDFWriter
    from hawcnb.xcdf_codec import event_starts
    buf = io.BytesIO()
    with XCDFWriter(buf) as w:
        w.add_field('n', 'U', 1); w.add_field('x', 'F', 0.5, 'n')
        w.write_columns({'n': np.array([2, 2, 2], np.uint64), 'x': np.array([1.0, 2.0] * 3)})
    layout = XCDFFile(buf.getvalue())._layout
    bh = SimpleNamespace(event_count=3, widths=np.array([0, 1], np.uint8), mins=np.array([2**63 + 1, 0], np.uint64))
    with pytest.raises(XCDFError, match='too short'):
        event_starts(b'\x00' * 4, bh, layout, where=('x.xcd', 0))
