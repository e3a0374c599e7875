"""The chaos run (`make chaos`): faults, killed workers and recovery, checked by invariants."""
