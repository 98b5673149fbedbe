"""Lower-bound methods: each module registers one search that returns a `Witness`."""
