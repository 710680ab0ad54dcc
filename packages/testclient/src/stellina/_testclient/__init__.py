"""The machinery behind ``stellina.testclient``: app calls, the HTTP transport, WebSockets."""
