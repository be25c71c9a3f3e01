"""Real servers on loopback for the tests and the benchmarks."""
