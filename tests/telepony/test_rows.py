"""The rows in MariaDB are what Asterisk's cdr_mysql would have written for the same CDRs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from telepony.errors import TableUnusable
from telepony.feed import TeleponyFeed
from tests.telepony.conftest import Rig, capture_cdrs, cdr_event, drained


async def fed(feed: TeleponyFeed, events: list[Any]) -> None:
    await feed.start()
    for event in events:
        await feed.on_ami_event(event)
    await drained(feed)


def row(**values: Any) -> dict[str, Any]:
    """A cdr row with cdr_mysql's defaults for what `values` leaves out."""
    base: dict[str, Any] = {"accountcode": "", "amaflags": 3, "userfield": "", "lastdata": ""}
    base.update(values)
    return base


ANSWERED_DIAL = row(
    calldate=datetime(2026, 11, 22, 1, 38, 12),
    clid='"" <0939876543>',
    src="0939876543",
    dst="101",
    dcontext="inbound-test",
    channel="Local/101@inbound-test-00000008;2",
    dstchannel="Local/s@campaign-test-00000009;1",
    lastapp="Dial",
    lastdata="Local/s@campaign-test,10",
    duration=1,
    billsec=1,
    disposition="ANSWERED",
    uniqueid="1795311492.18",
)
MISSED_DIAL = row(
    calldate=datetime(2026, 11, 22, 1, 38, 5),
    clid='"Абонент" <0671234567>',
    src="0671234567",
    dst="100",
    dcontext="inbound-test",
    channel="Local/100@inbound-test-00000006;2",
    dstchannel="Local/s@noanswer-test-00000007;1",
    lastapp="Dial",
    lastdata="Local/s@noanswer-test,4",
    duration=4,
    billsec=0,
    disposition="NO ANSWER",
    uniqueid="1795311485.14",
    userfield="in",
)
QUEUE_LEG = row(
    calldate=datetime(2026, 11, 22, 1, 38, 18),
    clid='"" <+380501112233>',
    src="+380501112233",
    dst="102",
    dcontext="inbound-test",
    channel="Local/102@inbound-test-0000000a;2",
    dstchannel="",
    lastapp="Hangup",
    duration=3,
    billsec=0,
    disposition="NO ANSWER",
    uniqueid="1795311498.22",
    userfield="in",
)


async def test_the_captures_cdr_events_become_cdr_mysql_rows(rig: Rig) -> None:
    events = capture_cdrs()
    assert len(events) == 9
    await fed(rig.feed(batch_size=4), events)

    rows = await rig.rows()
    assert len(rows) == 9  # one row per Cdr event, as cdr_mysql writes one per CDR
    assert ANSWERED_DIAL in rows  # the answered call's Dial leg
    assert MISSED_DIAL in rows  # the missed call's Dial leg (Cyrillic name kept)
    assert QUEUE_LEG in rows  # the caller who left the empty queue
    # every event's own values, header for header
    sent = Counter(
        (e.get("UniqueID"), e.get("LastApplication"), e.get("Disposition"), e.get("StartTime"))
        for e in events
    )
    got = Counter(
        (r["uniqueid"], r["lastapp"], r["disposition"], f"{r['calldate']:%Y-%m-%d %H:%M:%S}")
        for r in rows
    )
    assert got == sent
    assert {r["amaflags"] for r in rows} == {3}  # DOCUMENTATION, as a number
    assert rig.feeds[0].stats.written == 9
    assert rig.feeds[0].stats.batches == 3  # 4 + 4 + 1


async def test_telepony_groups_the_legs_into_the_captures_three_calls(rig: Rig) -> None:
    """Ubilling's PBXCdr groups rows by uniqueid and reads the last row of each flow: the
    flows of the missed and the queue call carry userfield `in` and end unanswered, the
    answered call's Dial flow ends ANSWERED with its billsec."""
    await fed(rig.feed(), capture_cdrs())
    rows = await rig.query("SELECT * FROM cdr ORDER BY calldate ASC")  # PBXCdr's query
    flows: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        flows.setdefault(r["uniqueid"], []).append(r)
    last = {uniqueid: legs[-1] for uniqueid, legs in flows.items()}
    assert last["1795311485.14"]["disposition"] == "NO ANSWER"
    assert last["1795311485.14"]["userfield"] == "in"
    assert last["1795311492.18"]["disposition"] == "ANSWERED"
    assert last["1795311492.18"]["billsec"] == 1
    assert last["1795311498.22"]["userfield"] == "in"


async def test_the_table_is_created_with_cdr_mysqls_columns(rig: Rig) -> None:
    await fed(rig.feed(), [cdr_event("1795311492.18")])
    columns = await rig.query(
        "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'cdr' ORDER BY ORDINAL_POSITION"
    )
    assert [(c["name"], c["type"]) for c in columns] == [
        ("calldate", "datetime"),
        ("clid", "varchar(80)"),
        ("src", "varchar(80)"),
        ("dst", "varchar(80)"),
        ("dcontext", "varchar(80)"),
        ("channel", "varchar(80)"),
        ("dstchannel", "varchar(80)"),
        ("lastapp", "varchar(80)"),
        ("lastdata", "varchar(80)"),
        ("duration", "int(11)"),
        ("billsec", "int(11)"),
        ("disposition", "varchar(45)"),
        ("amaflags", "int(11)"),
        ("accountcode", "varchar(80)"),
        ("uniqueid", "varchar(150)"),
        ("userfield", "varchar(255)"),
    ]
    assert {c["nullable"] for c in columns} == {"NO"}
    (table,) = await rig.query(
        "SELECT ENGINE AS engine, TABLE_COLLATION AS collation FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'cdr'"
    )
    assert table["engine"] == "InnoDB"
    assert table["collation"].startswith("utf8mb4")
    indexed = {
        r["column"]
        for r in await rig.query(
            "SELECT COLUMN_NAME AS `column` FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'cdr'"
        )
    }
    assert {"calldate", "dst", "accountcode", "uniqueid"} <= indexed


async def test_an_existing_table_is_written_as_asterisk_would_write_it(rig: Rig) -> None:
    """cdr_adaptive_odbc's layout: amaflags and disposition as text, an id of its own, a
    uniqueid of 32 and no userfield; pbxbridge writes the names, cuts what is too long
    and leaves out what the table lacks, as Asterisk does."""
    await rig.execute(
        "CREATE TABLE cdr (id INT AUTO_INCREMENT PRIMARY KEY, calldate DATETIME NOT NULL, "
        "clid VARCHAR(80), src VARCHAR(80), dst VARCHAR(80), dcontext VARCHAR(80), "
        "channel VARCHAR(80), dstchannel VARCHAR(80), lastapp VARCHAR(80), "
        "lastdata VARCHAR(80), duration INT, billsec INT, disposition VARCHAR(45), "
        "amaflags VARCHAR(45), accountcode VARCHAR(20), uniqueid VARCHAR(32), "
        "recordingfile VARCHAR(255) NOT NULL DEFAULT '') ENGINE=InnoDB CHARSET=utf8mb4"
    )
    long_id = "pbx-" + "1" * 40 + ".7"
    await fed(rig.feed(), [cdr_event(long_id, LastData="PJSIP/100&" * 20)])
    (written,) = await rig.rows()
    assert written["amaflags"] == "DOCUMENTATION"
    assert written["disposition"] == "ANSWERED"
    assert written["uniqueid"] == long_id[:32]
    assert written["lastdata"] == ("PJSIP/100&" * 20)[:80]
    assert written["recordingfile"] == ""
    assert written["id"] == 1


async def test_a_table_without_cdr_columns_is_refused_and_nothing_is_lost(rig: Rig) -> None:
    await rig.execute("CREATE TABLE cdr (something INT)")
    feed = rig.feed()
    await feed.on_ami_event(cdr_event("1.1"))
    batch = await feed.claim()
    assert batch is not None
    with pytest.raises(TableUnusable, match="none of cdr_mysql's columns"):
        await feed.write(batch)
    assert feed.queued == 1


@pytest.mark.parametrize(
    "name",
    [
        'O\'Brien "Jr"; DROP TABLE cdr; --',
        "Абонент \\ 'лапки' ; ґїєі",
        "emoji 📞 and NUL-free \t tab",
    ],
)
async def test_values_reach_mysql_as_they_were_sent(rig: Rig, name: str) -> None:
    clid = f'"{name}" <0671234567>'
    await fed(rig.feed(), [cdr_event("1795311492.18", CallerID=clid, UserField=name[:40])])
    (written,) = await rig.rows()
    assert written["clid"] == clid[:80]
    assert written["userfield"] == name[:40].strip()
