"""A loopback OAuth authorization server with rotation, reuse detection and fault injection
(:mod:`freshtoken.sandbox.server`), and the demo that runs the main job against it
(:mod:`freshtoken.sandbox.demo`)."""
