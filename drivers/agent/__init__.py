"""The onboard driver agent: GNSS + fuel over serial, state to the dispatcher over ZeroMQ.

`config` reads onboard.toml, `spool` keeps every outgoing message until it is
acknowledged, `link` drains the spool over a ZeroMQ DEALER, `orders` applies VDA 5050's
order rules, `progress` advances the order from map-matched fixes, `telemetry` turns
readings into wire pieces, `agent` ties them together and `cli` is `yardfleet agent`.
"""
