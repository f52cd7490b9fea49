from storage import HOST


async def test_host_answers(storage):
    assert (await storage.props(HOST, "Host"))["Version"] == "0.1.0"
