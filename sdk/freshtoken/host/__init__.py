"""The host side: configuration (TOML + environment), the factory that builds a runtime, its KV and its
clients from it, each client's provider (options, OIDC / RFC 8414 discovery once, cache), and the host shell
every runtime uses around the refresher (:mod:`freshtoken.host.shell`)."""
