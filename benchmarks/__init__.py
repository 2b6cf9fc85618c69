"""Speed benchmarks: ratios against references measured in the same process."""
