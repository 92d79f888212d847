"""The truck side: NMEA GNSS, fuel sensors, serial ports and the onboard agent."""
