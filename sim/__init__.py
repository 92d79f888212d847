"""Simulated shifts: world clock, vehicle and crane models, scenarios, KPIs, bags."""
