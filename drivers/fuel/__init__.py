"""Fuel sensors behind one interface: frames from LLS, Modbus RTU or J1939 → litres."""
