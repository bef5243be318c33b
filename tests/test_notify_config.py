"""Notification settings: notifications.json and PASSIVX_NOTIFY_URLS, default events, and one clear
error line (never the URL's secret) for a bad file."""
from __future__ import annotations

import json

import pytest

from passivx.errors import ConfigError
from passivx.notify.config import DEFAULT_EVENTS, EVENTS, load_settings
from test_live_e2e import config, live_unreachable


def test_file_and_environment(tmp_path):
    f = tmp_path / "notifications.json"
    f.write_text(json.dumps({"urls": ["ntfy://topic-a", {"url": "json://127.0.0.1:9/x", "events": ["fills", "danger"]}],
                             "batch_seconds": 30, "liquidation_distance": 0.1}))
    s = load_settings(f, {"PASSIVX_NOTIFY_URLS": "tgram://123456789:AAsecretTOKENxyz/42, json://127.0.0.1:9/env"})
    assert [t.events for t in s.targets] == [DEFAULT_EVENTS, {"fills", "danger"}, DEFAULT_EVENTS, DEFAULT_EVENTS]
    assert DEFAULT_EVENTS == set(EVENTS) - {"fills"}
    assert (s.batch_seconds, s.liquidation_distance, s.untrusted_seconds) == (30.0, 0.1, 60.0)
    assert "AAsecretTOKENxyz" not in s.targets[2].label and "AAsecretTOKENxyz" not in repr(s)
    assert load_settings(tmp_path / "missing.json", {}).targets == ()


@pytest.mark.parametrize("data, message", [
    ({"urls": [{"url": "json://127.0.0.1:9/x", "events": ["fill"]}]}, "events must be a non-empty list of start"),
    ({"urls": ["nosuchservice://secret-token@host"]}, "apprise cannot use this URL (scheme 'nosuchservice')"),
    ({"url": ["json://127.0.0.1:9/x"]}, "unknown key 'url'"),
    ({"urls": ["json://127.0.0.1:9/x"], "batch_seconds": -1}, "batch_seconds must be a number > 0"),
    ({"urls": "json://127.0.0.1:9/x"}, "urls must be a list"),
])
def test_bad_settings_are_one_clear_error(tmp_path, data, message):
    f = tmp_path / "notifications.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as e:
        load_settings(f, {})
    assert message in str(e.value) and "secret-token" not in str(e.value)


def test_live_with_a_bad_notifications_file_stops_with_one_error_line(tmp_path):
    (tmp_path / "notifications.json").write_text("{oops")
    r = live_unreachable(tmp_path, config("bybit", "BTCUSD_default"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip().splitlines()[-1]]
    assert r.stderr.startswith("error: notifications.json: not valid JSON")
