"""DecodeSession: latest-wins, image switches, errors; prompt validation."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from samdesk.engine.decode import DecodeSession, Prompt
from samdesk.engine.embedding import Embedding

WAIT = 10.0


def _emb(key: str, value: float) -> Embedding:
    return Embedding(key, "m", np.full((1, 256, 64, 64), value, np.float32), (16, 24), (683, 1024))


def _click(x: float, output: str = "best") -> Prompt:
    return Prompt(points=[[x, 5.0]], labels=[1], output=output)


@pytest.fixture
def decoder(fake_decoder_cls):
    return fake_decoder_cls()


@pytest.fixture
def session(decoder) -> Iterator[tuple[DecodeSession, queue.Queue, queue.Queue]]:
    results: queue.Queue = queue.Queue()
    errors: queue.Queue = queue.Queue()
    s = DecodeSession(lambda: decoder, on_result=results.put, on_error=errors.put)
    yield s, results, errors
    assert s.close(timeout=WAIT)


def test_prompt_gets_best_mask_and_all_candidates(session, decoder) -> None:
    s, results, _ = session
    s.set_embedding(_emb("a.png", 7.0))
    best = s.submit(_click(3.0)).result(WAIT)
    assert best.best == ("best", 3.0, 7.0) and best.image_key == "a.png"
    assert results.get(timeout=WAIT) is best
    every = s.submit(_click(4.0, output="all")).result(WAIT)
    assert every.masks.shape == (3, 16, 24) and every.scores[0] == 4.0
    assert every.low_res_logits.shape == (3, 256, 256)


def test_latest_wins_while_a_decode_runs(session, decoder) -> None:
    s, results, _ = session
    s.set_embedding(_emb("a.png", 1.0))
    decoder.gate = gate = threading.Event()
    first = s.submit(_click(1.0))
    assert decoder.entered.get(timeout=WAIT) == 0  # first is decoding, blocked
    middles = [s.submit(_click(x)) for x in (2.0, 3.0, 4.0)]
    last = s.submit(_click(5.0))
    gate.set()
    assert last.result(WAIT).best[1] == 5.0
    assert first.cancelled() and all(m.cancelled() for m in middles)
    assert [x for _, x in decoder.calls] == [1.0, 5.0]  # the queue never grew
    assert results.get(timeout=WAIT).best[1] == 5.0
    assert results.empty()  # the superseded first answer was not delivered


def test_switching_image_drops_prompts_for_the_old_one(session, decoder) -> None:
    s, _, _ = session
    s.set_embedding(_emb("a.png", 1.0))
    decoder.gate = gate = threading.Event()
    old = s.submit(_click(1.0))
    assert decoder.entered.get(timeout=WAIT) == 0
    s.set_embedding(_emb("b.png", 2.0))
    new = s.submit(_click(2.0))
    gate.set()
    result = new.result(WAIT)
    assert old.cancelled()
    assert result.image_key == "b.png" and result.best == ("best", 2.0, 2.0)
    s.set_embedding(None)
    with pytest.raises(RuntimeError, match="no image"):
        s.submit(_click(1.0))


def test_decode_error_is_reported_and_session_continues(session, decoder) -> None:
    s, _, errors = session
    s.set_embedding(_emb("a.png", 1.0))
    decoder.fail_next = True
    with pytest.raises(ValueError, match="bad prompt"):
        s.submit(_click(1.0)).result(WAIT)
    error = errors.get(timeout=WAIT)
    assert error.image_key == "a.png" and "bad prompt" in error.message
    assert s.submit(_click(2.0)).result(WAIT).best[1] == 2.0


def test_missing_model_fails_prompts_with_its_message() -> None:
    def factory():
        raise RuntimeError("Cannot load the model: broken.pt is not a checkpoint")

    errors: queue.Queue = queue.Queue()
    s = DecodeSession(factory, on_error=errors.put)
    try:
        s.set_embedding(_emb("a.png", 1.0))
        with pytest.raises(RuntimeError, match="not a checkpoint"):
            s.submit(_click(1.0)).result(WAIT)
        assert "not a checkpoint" in errors.get(timeout=WAIT).message
    finally:
        assert s.close(timeout=WAIT)


def test_close_cancels_pending_prompt(decoder) -> None:
    s = DecodeSession(lambda: decoder)
    s.set_embedding(_emb("a.png", 1.0))
    decoder.gate = gate = threading.Event()
    running = s.submit(_click(1.0))
    assert decoder.entered.get(timeout=WAIT) == 0
    pending = s.submit(_click(2.0))
    closer = threading.Thread(target=s.close)
    closer.start()
    gate.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert pending.cancelled() and running.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        s.submit(_click(3.0))


def test_busy_reports_bracket_each_decode_on_the_session_thread(decoder) -> None:
    reports: list[tuple[bool, str]] = []
    s = DecodeSession(
        lambda: decoder,
        on_busy=lambda busy: reports.append((busy, threading.current_thread().name)),
    )
    try:
        s.set_embedding(_emb("a.png", 1.0))
        s.submit(_click(1.0)).result(WAIT)
        # Reported before the answer is delivered, so the order is settled here.
        assert reports == [(True, "samdesk-decoder"), (False, "samdesk-decoder")]
        decoder.fail_next = True
        with pytest.raises(ValueError, match="bad prompt"):
            s.submit(_click(2.0)).result(WAIT)
        assert [busy for busy, _ in reports] == [True, False, True, False]
    finally:
        assert s.close(timeout=WAIT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs points"),
        ({"points": [[1, 2]]}, "together"),
        ({"points": [[1, 2], [3, 4]], "labels": [1]}, "2 points but 1 labels"),
        ({"box": [1, 2, 3]}, "XYXY"),
        ({"mask_input": np.zeros((256, 256))}, "1×256×256"),
        ({"box": [0, 0, 1, 1], "output": "many"}, "output"),
    ],
)
def test_prompt_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Prompt(**kwargs)
