"""A small seeded mutational fuzzer: corpus seeds, byte mutations, a watchdog, and failure records.

No coverage feedback (``tools/fuzz.py --engine atheris`` has that); in return it is deterministic for a
given seed, needs nothing beyond the standard library, and runs inside the test suite. Each input is
one seed from the corpus changed by a few mutations (bit flips, FIX tokens, cut, duplicate, splice),
sometimes re-framed (BodyLength and CheckSum made right again, so the mutation reaches the field
splitter instead of stopping at a CheckSum mismatch), or plain random bytes.
"""

from __future__ import annotations

import hashlib
import random
import re
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .common import frame

__all__ = ["CORPUS", "Failure", "Report", "Hang", "load_corpus", "inputs", "run", "reframe"]

CORPUS = Path(__file__).resolve().parent / "corpus"

TOKENS = (
    b"\x01", b"=", b"8=FIX.4.4\x01", b"8=FIX.4.2\x01", b"9=", b"10=", b"35=", b"34=", b"49=", b"56=",
    b"52=", b"43=Y\x01", b"95=", b"96=", b"93=", b"89=", b"354=", b"355=", b"0=", b"=x", b"AB=1",
    b"\x01\x01", b"999999999=", b"1234567890=", b"35=A\x01", b"35=0\x01", b"35=4\x01", b"123=Y\x01",
    b"36=", b"141=Y\x01", b"7=", b"16=0\x01", b"108=", b"268=", b"453=", b"00000", b"-1", b"\xff",
    b"99999999999999999999",
)
_FRAME = re.compile(rb"8=FIX[^\x01]{0,30}\x019=[0-9]*\x01")


class Hang(Exception):
    """An input ran past the watchdog's limit."""


@dataclass
class Failure:
    target: str
    data: bytes
    error: str
    trace: str

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.data).hexdigest()[:12]


@dataclass
class Report:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    slowest: float = 0.0
    slowest_input: bytes = b""
    failures: list[Failure] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Inputs per CPU second (steadier than per wall second on a shared machine)."""
        return self.inputs / self.cpu_seconds if self.cpu_seconds else 0.0


def load_corpus(target: str) -> list[bytes]:
    """Return the seed inputs of ``target`` kept in ``corpus/<target>/``, in name order."""
    folder = CORPUS / target
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()] if folder.is_dir() else []


def reframe(data: bytes) -> bytes:
    """Make BodyLength and CheckSum right again for every ``8=FIX..|9=..|`` head found in ``data``."""
    heads = list(_FRAME.finditer(data))
    if not heads:
        return data
    out = [data[: heads[0].start()]]
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(data)
        chunk = data[m.end() : end]
        cut = chunk.rfind(b"10=")
        body = chunk[:cut] if cut >= 0 else chunk
        begin = m.group(0)[2 : m.group(0).index(b"\x01")]
        out.append(frame(begin, body))
    return b"".join(out)


def _mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(1 + rng.randrange(4)):
        op = rng.randrange(9)
        n = len(b)
        at = rng.randrange(n + 1)
        if op == 0 and n:
            b[at % n] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[at % n] = rng.randrange(256)
        elif op in (2, 3):
            b[at:at] = rng.choice(TOKENS)
        elif op == 4:
            b[at:at] = rng.randbytes(1 + rng.randrange(8))
        elif op == 5 and n:
            del b[at : at + 1 + rng.randrange(min(n, 32))]
        elif op == 6 and n:
            lo = rng.randrange(n)
            b[at:at] = b[lo : lo + 1 + rng.randrange(64)]
        elif op == 7:
            other = rng.choice(seeds)
            b = b[:at] + other[rng.randrange(len(other) + 1) :]
        else:
            b = b + rng.choice(seeds)
    return bytes(b)


def inputs(target: str, count: int, seed: int, *, reframing: bool = False) -> Iterator[bytes]:
    """Yield ``count`` inputs for ``target``: the corpus seeds first, then mutants and random bytes."""
    rng = random.Random(seed)
    seeds = load_corpus(target) or [b""]
    produced = 0
    for s in seeds:
        if produced >= count:
            return
        produced += 1
        yield s
    while produced < count:
        produced += 1
        if rng.random() < 0.05:
            yield rng.randbytes(rng.randrange(300))
            continue
        data = _mutate(rng, rng.choice(seeds), seeds)
        if reframing and rng.random() < 0.5:
            data = reframe(data)
        yield data


def _alarm(signum: int, frame_: object) -> None:
    raise Hang("input ran past the time limit")


def run(
    name: str,
    target: Callable[[bytes], None],
    data_iter: Iterator[bytes],
    *,
    time_limit: float = 0.0,
    max_failures: int = 10,
) -> Report:
    """Run ``target`` on every input; record failures (any exception) instead of stopping.

    ``time_limit`` > 0 arms a watchdog (SIGALRM, main thread only) that stops an input running longer;
    the slowest input is recorded either way.
    """
    report = Report(name)
    old = signal.signal(signal.SIGALRM, _alarm) if time_limit else None
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        for data in data_iter:
            t0 = time.perf_counter()
            if time_limit:
                signal.setitimer(signal.ITIMER_REAL, time_limit)
            try:
                target(data)
            except Exception as exc:  # noqa: BLE001 - every escape is a finding, recorded with its input
                report.failures.append(Failure(name, data, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            finally:
                if time_limit:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            dt = time.perf_counter() - t0
            report.inputs += 1
            if dt > report.slowest:
                report.slowest, report.slowest_input = dt, data
            if len(report.failures) >= max_failures:
                break
    finally:
        report.seconds = time.perf_counter() - t_start
        report.cpu_seconds = time.process_time() - cpu_start
        if old is not None:
            signal.signal(signal.SIGALRM, old)
    return report
