"""The crash suite: the gateway killed with SIGKILL at random instants of order bursts, nothing lost."""
