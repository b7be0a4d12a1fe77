"""The test suite: a package, so benchmarks import its lab and support packages by name."""
