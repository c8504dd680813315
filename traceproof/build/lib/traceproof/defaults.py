"""How long ``traces.get`` waits: its own defaults, in a module that imports nothing, so the plugin can read them for free."""

#: The SDK's default batch delay (5 s) and a second: a trace that holds still this long has all its services' batches.
QUIET_S = 6.0
#: How long a trace may take to arrive whole before the test fails and says what did.
TIMEOUT_S = 30.0
