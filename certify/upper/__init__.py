"""Upper-bound methods: each module registers one method that returns a `Certificate`."""
