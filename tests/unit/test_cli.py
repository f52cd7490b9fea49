from solidice_storage.cli import human_size, table


def test_human_size_uses_binary_units():
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(10 * 1024**3) == "10.0 GiB"
    assert human_size(1536 * 1024**2) == "1.5 GiB"
    assert human_size(2**63 - 1) == "8.0 EiB"


def test_table_aligns_columns():
    assert table([["vmstore", "200.0 GiB"]], ["NAME", "SIZE"]).splitlines() == [
        "NAME     SIZE", "vmstore  200.0 GiB"]
