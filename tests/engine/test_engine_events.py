"""CloudEvent envelopes (engine.events): id and time are required, never defaulted in the core."""
import pytest

from reconciler.engine.events import CloudEvent

RAW = {"specversion": "1.0", "id": "e-1", "source": "job-executor", "type": "sh.keptn.event.test.finished",
       "time": "2023-11-14T22:13:20.000Z", "shkeptncontext": "ctx", "triggeredid": "t-1", "data": {"a": 1}}


@pytest.mark.parametrize("missing", ["id", "time"])
def test_id_and_time_have_no_defaults(missing):
    kwargs = {"type": "sh.keptn.event.test.triggered", "data": {}, "shkeptncontext": "ctx", "id": "e-1",
              "time": "2023-11-14T22:13:20.000Z"}
    del kwargs[missing]
    with pytest.raises(TypeError, match=missing):
        CloudEvent(**kwargs)


def test_a_parsed_event_round_trips():
    event = CloudEvent.from_dict(RAW)
    assert (event.id, event.time, event.source, event.triggeredid) == ("e-1", RAW["time"], "job-executor", "t-1")
    assert CloudEvent.from_dict(event.to_dict()) == event


@pytest.mark.parametrize("key,value", [("id", None), ("id", ""), ("time", None), ("time", 5),
                                       ("type", None), ("shkeptncontext", "")])
def test_parsing_names_the_missing_attribute(key, value):
    raw = dict(RAW)
    if value is None:
        del raw[key]
    else:
        raw[key] = value
    with pytest.raises(ValueError, match=repr(key)):
        CloudEvent.from_dict(raw)


def test_source_defaults_to_the_reconciler():
    raw = {k: v for k, v in RAW.items() if k != "source"}
    assert CloudEvent.from_dict(raw).source == "reconciler"
