"""Running benchmarks: jobs, stages and their caching."""
