"""Local OSRM tooling for development, tests and benchmarks (pure Python, no Django).

`install` fetches the osrm-backend binaries from PyPI, `synthetic_map` writes a small OSM road
network of the Lausanne-Geneva area, `server` prepares it and runs `osrm-routed` on loopback,
and `fault_proxy` sits in front of it to inject timeouts, 5xx, bad JSON and dropped connections.
Nothing here is imported by the engine at run time.
"""
