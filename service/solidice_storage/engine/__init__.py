"""What the host can do. No D-Bus in here: the `dbus` package calls these."""
