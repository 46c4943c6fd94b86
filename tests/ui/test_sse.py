"""Server-sent events: their format, and the log stream's ids and end."""

from __future__ import annotations

from tideflow._ui._sse import LogEvents, StateEvents, event


def test_event_format() -> None:
    assert (
        event("a\nb", id=7, name="end") == b"retry: 1000\nevent: end\nid: 7\ndata: a\ndata: b\n\n"
    )


async def test_log_events_resume_from_their_position() -> None:
    """Each line's id is the position after it; the stream ends once the task has ended."""
    batches = [([(4, "one"), (8, "two")], False), ([], False), ([(14, "three")], True), ([], True)]
    asked = []

    async def read(position: int) -> tuple[list[tuple[int, str]], bool]:
        asked.append(position)
        return batches.pop(0)

    events = [chunk async for chunk in LogEvents(read, 0)]
    assert asked == [0, 8, 8, 14]
    assert events[0].endswith(b"id: 4\ndata: one\n\n")
    assert events[2].endswith(b"id: 14\ndata: three\n\n")
    assert events[-1] == event("", id=14, name="end")


async def test_state_events_send_changes_then_end() -> None:
    states = [("a", False), ("a", False), ("b", False), ("c", True)]

    async def read() -> tuple[str, bool]:
        return states.pop(0)

    events = [chunk async for chunk in StateEvents(read, interval=0)]
    assert [e.split(b"data: ")[1].split(b"\n")[0] for e in events] == [b"a", b"b", b"c", b""]
    assert events[-1] == event("", name="end")
