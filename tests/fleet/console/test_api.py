"""The console's HTTP API in process: the yard, snapshots, sign-in, every action and refusal."""

from __future__ import annotations

from typing import Any

import pytest
from console_rig import PASSWORDS, Rig, wait_for
from fastapi.testclient import TestClient

from fleet.protocol import InstantActions
from fleet.state import load

CRANE_CUTTER = "apron-u-01"
"""An apron lane whose closure cuts a quay crane off (see test_cutoff)."""


def sign_in(client: TestClient, name: str = "dana") -> dict[str, Any]:
    r = client.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def act(client: TestClient, csrf: str, kind: str, **args: Any) -> Any:
    return client.post(f"/api/actions/{kind}", json=args, headers={"X-CSRF-Token": csrf})


def events(rig: Rig, kind: str) -> list[dict[str, Any]]:
    return [e.body for _, e in rig.journal.events() if e.kind == kind]


def test_the_page_and_its_assets_are_served_without_sign_in(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "Fleet console" in page.text
    for asset in ("/static/console.js", "/static/console.css"):
        assert client.get(asset).status_code == 200
    assert "https://" not in page.text + client.get("/static/console.js").text  # nothing fetched


def test_nothing_but_the_page_without_a_session(client: TestClient) -> None:
    for path in ("/api/yard", "/api/snapshot", "/api/session"):
        assert client.get(path).status_code == 401, path
    r = client.post("/api/actions/close_lane", json={"lane": "x"}, headers={"X-CSRF-Token": "x"})
    assert r.status_code == 401


def test_a_wrong_password_or_an_unknown_name_does_not_sign_in(client: TestClient) -> None:
    r = client.post("/api/login", json={"name": "dana", "password": "not-her-password"})
    assert r.status_code == 401 and "wrong name or password" in r.text
    r = client.post("/api/login", json={"name": "nobody", "password": "whatever-pw"})
    assert r.status_code == 401
    assert "yardfleet_session" not in client.cookies


def test_sign_in_sets_an_httponly_samesite_strict_cookie(client: TestClient) -> None:
    r = client.post("/api/login", json={"name": "dana", "password": PASSWORDS["dana"]})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    who = client.get("/api/session").json()
    assert who["operator"] == "dana" and who["role"] == "dispatcher" and len(who["csrf"]) > 20


def test_the_yard_map_has_directed_lanes_blocks_cranes_gate_fuel_park(client: TestClient) -> None:
    sign_in(client)
    yard = client.get("/api/yard").json()
    assert yard["units"] == "m" and yard["id"] == "haiphong"
    lane = next(ln for ln in yard["lanes"] if ln["kind"] == "main")
    assert lane["start"] != lane["end"] and len(lane["points"]) >= 2
    kinds = {a["kind"] for a in yard["areas"]}
    assert {"block", "quay", "gate", "fuel_station", "park"} <= kinds
    assert any(a["name"] == "Block A1" for a in yard["areas"])
    assert [c["id"] for c in yard["quay_cranes"]] == [f"QC0{k}" for k in range(1, 7)]
    assert len(yard["junctions"]) > 100


def test_the_snapshot_shows_the_fleet_as_the_trucks_report(client: TestClient, rig: Rig) -> None:
    sign_in(client)
    rig.report("TT01", rig.parking(0), litres=300.0, theta=1.0)
    rig.report("TT02", rig.parking(1), litres=30.0)
    wait_for(lambda: rig.truck("TT02"))
    snap = client.get("/api/snapshot").json()
    t1 = next(t for t in snap["trucks"] if t["id"] == "TT01")
    assert t1["state"] == "idle" and t1["link"] == "connected" and t1["heading"] == 1.0
    assert t1["fuel"] == pytest.approx(0.75) and not t1["low_fuel"]
    node = rig.yard.node(rig.parking(0))
    assert (t1["x"], t1["y"]) == (pytest.approx(node.x, abs=0.01), pytest.approx(node.y, abs=0.01))
    t2 = next(t for t in snap["trucks"] if t["id"] == "TT02")
    assert t2["low_fuel"]
    assert set(snap["queues"]) == {f"QC0{k}" for k in range(1, 7)}
    alarms = {a["id"]: a for a in snap["alarms"]}
    assert alarms["fuel:TT02"]["tier"] == "critical"  # under 10 %: critical


def test_closing_and_reopening_a_lane_is_journalled_with_the_operator(
    client: TestClient, rig: Rig
) -> None:
    csrf = sign_in(client)["csrf"]
    r = act(client, csrf, "close_lane", lane="apron-u-02", reason="spill")
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "text": "lane apron-u-02 closed"}
    assert load(rig.journal).closed_lanes == {"apron-u-02": "spill (by dana)"}
    snap = client.get("/api/snapshot").json()
    assert snap["closed_lanes"] == {"apron-u-02": "spill (by dana)"}
    assert any(a["id"] == "lane:apron-u-02" for a in snap["alarms"])
    again = act(client, csrf, "close_lane", lane="apron-u-02")
    assert again.status_code == 409 and "closed already" in again.json()["text"]
    r = act(client, csrf, "open_lane", lane="apron-u-02")
    assert r.status_code == 200
    assert load(rig.journal).closed_lanes == {}
    done = events(rig, "operator.action")
    assert [(e["operator"], e["action"], e["ok"]) for e in done] == [
        ("dana", "close_lane", True),
        ("dana", "close_lane", False),
        ("dana", "open_lane", True),
    ]


def test_a_closure_that_cuts_a_crane_off_is_refused_with_why(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    r = act(client, csrf, "close_lane", lane=CRANE_CUTTER)
    assert r.status_code == 409
    assert r.json()["text"].startswith(f"closing lane {CRANE_CUTTER} would cut QC")
    assert load(rig.journal).closed_lanes == {}
    r = act(client, csrf, "close_lane", lane="no-such-lane")
    assert r.status_code == 409 and "no lane 'no-such-lane'" in r.json()["text"]
    r = act(client, csrf, "open_lane", lane="apron-u-02")
    assert r.status_code == 409 and "not closed" in r.json()["text"]


def test_a_job_is_added_with_the_work_queues_checks(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    job = {
        "JOB_ID": "C1",
        "JOB_TYPE": "DSCH",
        "VESSEL_CALL": "V1",
        "CONTAINER_NO": "CSQU3054383",
        "SIZE": "40",
        "WEIGHT_KG": "24000",
        "QC": "QC01",
        "QC_SEQ": "1",
        "YARD_BLOCK": "A1",
    }
    r = act(client, csrf, "add_job", job=job)
    assert r.status_code == 200 and r.json()["text"] == "job C1 added (DSCH CSQU3054383)"
    assert "C1" in load(rig.journal).jobs
    wait_for(lambda: client.get("/api/snapshot").json()["queues"]["QC01"]["open"] == 1)
    r = act(client, csrf, "add_job", job=job)
    assert r.status_code == 409 and "C1" in r.json()["text"]  # known already
    bad = {**job, "JOB_ID": "C2", "CONTAINER_NO": "CSQU3054384", "QC": "QC99"}
    r = act(client, csrf, "add_job", job=bad)
    text = r.json()["text"]
    assert r.status_code == 409 and "CONTAINER_NO" in text and "QC" in text
    assert "C2" not in load(rig.journal).jobs


def test_an_alarm_is_acknowledged_on_the_record(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    rig.report("TT05", rig.parking(4), litres=80.0)

    def alarms() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = client.get("/api/snapshot").json()["alarms"]
        return listed

    wait_for(lambda: any(a["id"] == "fuel:TT05" for a in alarms()))
    r = act(client, csrf, "ack_alarm", alarm="fuel:TT05")
    assert r.status_code == 200, r.text
    acked = events(rig, "alarm.acked")
    assert [(e["alarm"], e["operator"], e["truck"]) for e in acked] == [
        ("fuel:TT05", "dana", "TT05")
    ]
    alarm = next(a for a in alarms() if a["id"] == "fuel:TT05")
    assert alarm["acked_by"] == "dana" and alarm["acked_at"]
    r = act(client, csrf, "ack_alarm", alarm="fuel:NOPE")
    assert r.status_code == 409


def test_a_refused_message_raises_an_alarm_until_acknowledged(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    rig._inbox.put([b"TT09", b"uagv/v2/YardFleet/TT09/state", b"{not json"])

    def refused() -> list[dict[str, Any]]:
        alarms = client.get("/api/snapshot").json()["alarms"]
        return [a for a in alarms if a["kind"] == "refused_message"]

    alarm = wait_for(refused)[0]
    assert alarm["tier"] == "warning" and "TT09" in alarm["text"]
    assert act(client, csrf, "ack_alarm", alarm=alarm["id"]).status_code == 200
    wait_for(lambda: not refused())


def test_a_viewer_watches_and_may_not_act(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client, "vic")["csrf"]
    assert client.get("/api/snapshot").status_code == 200
    r = act(client, csrf, "close_lane", lane="apron-u-02")
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    assert load(rig.journal).closed_lanes == {}


def test_a_forged_cross_site_request_is_refused(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    no_token = client.post("/api/actions/close_lane", json={"lane": "apron-u-02"})
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    wrong = act(client, "forged-token", "close_lane", lane="apron-u-02")
    assert wrong.status_code == 403
    other_site = client.post(
        "/api/actions/close_lane",
        json={"lane": "apron-u-02"},
        headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    )
    assert other_site.status_code == 403
    assert load(rig.journal).closed_lanes == {}
    assert events(rig, "operator.action") == []


def test_an_unknown_action_or_a_body_that_is_no_object(client: TestClient) -> None:
    csrf = sign_in(client)["csrf"]
    assert act(client, csrf, "launch_rocket").status_code == 404
    r = client.post(
        "/api/actions/close_lane",
        content=b"[1]",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_signing_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client)["csrf"]
    assert client.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/snapshot").status_code == 401


def instant(rig: Rig, truck: str) -> list[str]:
    """The instant actions sent to a truck so far, by type."""
    return [
        a.action_type
        for who, m in list(rig.sent)
        if who == truck and isinstance(m, InstantActions)
        for a in m.actions
    ]


def test_a_truck_is_paused_and_resumed_by_an_operator(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    rig.report("TT01", rig.parking(0))
    wait_for(lambda: rig.truck("TT01"))
    r = act(client, csrf, "pause_truck", truck="TT01")
    assert r.status_code == 200 and r.json()["text"] == "TT01 told to stand"
    wait_for(lambda: "startPause" in instant(rig, "TT01"))
    t = wait_for(lambda: (rig.truck("TT01") or {}).get("operator_pause") and rig.truck("TT01"))
    assert t["state"] == "held"
    again = act(client, csrf, "pause_truck", truck="TT01")
    assert again.status_code == 409 and "paused already" in again.json()["text"]
    assert act(client, csrf, "resume_truck", truck="TT01").status_code == 200
    wait_for(lambda: "stopPause" in instant(rig, "TT01"))
    again = act(client, csrf, "resume_truck", truck="TT01")
    assert again.status_code == 409 and "not paused" in again.json()["text"]
    assert act(client, csrf, "pause_truck", truck="TT99").status_code == 409
    purposes = [b["purpose"] for b in events(rig, "msg.instantActions") if b["truck"] == "TT01"]
    assert "operator pause" in purposes and "operator resume" in purposes


def test_all_trucks_are_stopped_and_released(client: TestClient, rig: Rig) -> None:
    csrf = sign_in(client)["csrf"]
    for k, truck in enumerate(("TT01", "TT02")):
        rig.report(truck, rig.parking(k))
    wait_for(lambda: rig.truck("TT02"))
    r = act(client, csrf, "stop_all")
    assert r.status_code == 200 and r.json()["text"] == "2 truck(s) told to stand"
    assert act(client, csrf, "pause_truck", truck="TT02").status_code == 409
    r = act(client, csrf, "release_all")
    assert r.status_code == 200 and r.json()["text"] == "2 truck(s) told to go on"
    wait_for(lambda: all("stopPause" in instant(rig, t) for t in ("TT01", "TT02")))
