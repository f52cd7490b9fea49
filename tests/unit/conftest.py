import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """The daemon's state directory (intent records), never this machine's."""
    path = tmp_path / "state"
    monkeypatch.setattr("solidice_storage.engine.intents.STATE_DIR", path)
    return path
