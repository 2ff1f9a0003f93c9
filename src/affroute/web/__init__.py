"""The analyst dashboard: server-rendered pages behind a login, live by polling."""
