from worldline import NewEvent
from worldline.ids import new_id


async def test_run_created_is_recorded(world, raw_events):
    run_id = new_id("run")
    await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf"}))
    assert [e["type"] for e in await raw_events(run_id)] == ["run_created"]
